require('not-a-module-anywhere');

exports.handler = async () => ({});
