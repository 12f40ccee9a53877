// A CommonJS module with an async handler.
exports.handler = async (event) => ({ message: `hello ${event.name}`, style: 'commonjs' });
