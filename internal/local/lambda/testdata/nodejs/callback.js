// A callback handler. With callbackWaitsForEmptyEventLoop (the default),
// Lambda sends the result once the event loop is empty: the timer has run
// and set late by then.
exports.handler = (event, context, callback) => {
  const out = { message: `hello ${event.name}`, style: 'callback', late: false };
  setTimeout(() => {
    out.late = true;
  }, 1);
  callback(null, out);
};
