// greeting comes from the layer, under /opt/nodejs/node_modules (NODE_PATH).
const greeting = require('greeting');

exports.handler = async () => ({ greeting: greeting.hello() });
