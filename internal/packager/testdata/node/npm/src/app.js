const { crc32 } = require("@node-rs/crc32");
const ms = require("ms");

exports.handler = async () => ({ crc: crc32("hello"), wait: ms(1000) });
