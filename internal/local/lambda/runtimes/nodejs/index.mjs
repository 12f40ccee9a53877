// stackflow's Lambda runtime client for Node.js: what Lambda's nodejs20.x,
// nodejs22.x and nodejs24.x runtimes run as /var/runtime/index.mjs, for a
// function run by `stackflow local` on the host's Node.js.
//
// stackflow does not use AWS's npm aws-lambda-ric: its current version is
// the nodejs24.x runtime's client only and asks for Node.js 22 or later,
// and every version compiles curl and aws-lambda-cpp from source when
// installed (see nodejs in ../../runtime_node.go). This file follows that
// client's behaviour over the Lambda Runtime API
// (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html):
//
//   - The handler string (_HANDLER) is [dir/]module.export[.nested]; the
//     module is loaded from LAMBDA_TASK_ROOT/dir: an extensionless file, or
//     module.js by require unless the nearest package.json says
//     "type": "module", then module.js as an ES module, module.mjs,
//     module.cjs, and last require.resolve of the module name.
//   - A module that is not found is Runtime.ImportModuleError, a syntax
//     error Runtime.UserCodeSyntaxError, a bad handler string
//     Runtime.MalformedHandlerName, a missing export Runtime.HandlerNotFound;
//     any other error thrown while loading is reported as it is. Init errors
//     go to /runtime/init/error, and the process exits.
//   - Handlers may return a promise (async) or, but on nodejs24.x, call the
//     callback (event, context, callback); context.callbackWaitsForEmptyEventLoop
//     (true by default) makes a callback's result wait until the event loop
//     is empty. On nodejs24.x a handler that takes a callback fails init
//     with Runtime.CallbackHandlerDeprecated, as Lambda's runtime does.
//   - Errors are posted as Lambda shapes them for Node.js:
//     {errorType: error.name, errorMessage, trace: stack lines}, with the
//     type in Lambda-Runtime-Function-Error-Type. Uncaught exceptions and
//     unhandled rejections during an invocation fail it and end the process.
//   - console.* writes "<ISO time>\t<request ID>\t<LEVEL>\t<message>" lines.
//     Unlike Lambda, which writes a message's line breaks as \r so that a
//     message stays one log event, this keeps them: the log is a file here.
//   - awslambda.streamifyResponse handlers run, their stream buffered into
//     one response (kumo does not stream).

import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { format, types } from 'node:util';

const require = createRequire(import.meta.url);

const runtimeMajor = Number((/^AWS_Lambda_nodejs(\d+)\.x$/.exec(process.env.AWS_EXECUTION_ENV || '') || [])[1] || 0);
const callbacksRemoved = runtimeMajor >= 24;

const CALLBACK_REMOVED =
  'ERROR: AWS Lambda has removed support for callback-based function handlers starting with Node.js 24. ' +
  'You need to modify this function to use a supported handler signature to use Node.js 24 or later. ' +
  'For more information see https://docs.aws.amazon.com/lambda/latest/dg/nodejs-handler.html.';

const STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const STREAM_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';

// runtimeError makes an error of one of the runtime's own types
// (Runtime.ImportModuleError, ...), whose message is the cause's string
// as Lambda's is ("Error: Cannot find module 'app'...").
function runtimeError(type, cause) {
  const err = new Error(typeof cause === 'string' ? cause : String(cause));
  err.name = 'Runtime.' + type;
  return err;
}

function isError(v) {
  return types.isNativeError(v) || (v && typeof v.name === 'string' && typeof v.message === 'string' && typeof v.stack === 'string');
}

// rapidError is the error document posted to the Runtime API.
function rapidError(err) {
  try {
    if (isError(err)) {
      return { errorType: err.name, errorMessage: err.message, trace: err.stack.split('\n') };
    }
    return { errorType: typeof err, errorMessage: String(err), trace: [] };
  } catch {
    return {
      errorType: 'handled',
      errorMessage: 'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
    };
  }
}

// formatted is how an error is logged: a tab, then JSON with its name,
// message, code, enumerable properties and stack lines.
function formatted(err) {
  const withProps = (_k, v) => {
    if (!(v instanceof Error)) return v;
    const out = Object.assign({ errorType: v.name, errorMessage: v.message, code: v.code }, v);
    if (typeof v.stack === 'string') out.stack = v.stack.split('\n');
    return out;
  };
  try {
    return '\t' + JSON.stringify(err, withProps);
  } catch {
    return '\t' + JSON.stringify(rapidError(err));
  }
}

// --- logging

let requestId; // the invocation being served; undefined during init

function patchConsole() {
  const levels = { log: 'INFO', info: 'INFO', warn: 'WARN', error: 'ERROR', debug: 'DEBUG', trace: 'TRACE', fatal: 'FATAL' };
  for (const [method, level] of Object.entries(levels)) {
    console[method] = (message, ...params) => {
      process.stdout.write([new Date().toISOString(), requestId, level, format(message, ...params)].join('\t') + '\n');
    };
  }
}

function logError(what, err) {
  console.error(what, formatted(err));
}

// --- the Runtime API

const [apiHost, apiPort] = (process.env.AWS_LAMBDA_RUNTIME_API || '').split(':');

function call(method, urlPath, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(body);
    const req = http.request(
      {
        host: apiHost,
        port: Number(apiPort),
        method,
        path: '/2018-06-01/runtime/' + urlPath,
        agent: false,
        headers: data ? { 'Content-Length': data.length, ...headers } : headers,
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

async function post(urlPath, body, headers) {
  const res = await call('POST', urlPath, body, headers);
  if (res.status !== 202 && res.status !== 200) {
    throw new Error(`POST ${urlPath}: HTTP ${res.status}: ${res.body.toString()}`);
  }
}

function postError(urlPath, err) {
  const doc = rapidError(err);
  return post(urlPath, JSON.stringify(doc), {
    'Content-Type': 'application/json',
    'Lambda-Runtime-Function-Error-Type': doc.errorType,
  });
}

async function postResponse(id, result) {
  let body;
  try {
    body = JSON.stringify(result === undefined ? null : result);
  } catch {
    return postError(`invocation/${encodeURIComponent(id)}/error`, new Error('Unable to stringify response body'));
  }
  return post(`invocation/${encodeURIComponent(id)}/response`, body, { 'Content-Type': 'application/json' });
}

function postInvocationError(id, err) {
  return postError(`invocation/${encodeURIComponent(id)}/error`, err);
}

// fatal ends the process when the Runtime API cannot be reached: the
// supervisor starts it again.
function fatal(err) {
  process.stderr.write(`stackflow runtime client: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
}

// --- loading the handler

function hasTypeModule(dir) {
  for (;;) {
    if (dir.endsWith(path.sep + 'node_modules')) return false;
    const pj = path.join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        return JSON.parse(readFileSync(pj, 'utf8')).type === 'module';
      } catch (err) {
        console.warn(`${pj} cannot be read, it will be ignored for ES module detection purposes.`, err);
        return false;
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) return false;
    dir = parent;
  }
}

function requireFile(file) {
  return existsSync(file) ? require(file) : undefined;
}

async function importFile(file) {
  return existsSync(file) ? import(pathToFileURL(file).href) : undefined;
}

async function loadModule(appRoot, moduleRoot, name) {
  const base = path.resolve(appRoot, moduleRoot, name);
  const extensionless = requireFile(base);
  if (extensionless) return extensionless;
  const esm = hasTypeModule(path.dirname(base));
  if (!esm) {
    const loaded = requireFile(base + '.js');
    if (loaded) return loaded;
  }
  const loaded = (esm && (await importFile(base + '.js'))) || (await importFile(base + '.mjs')) || requireFile(base + '.cjs');
  if (loaded) return loaded;
  return require(require.resolve(name, { paths: [appRoot, moduleRoot] }));
}

async function loadHandler(appRoot, handlerString) {
  if (handlerString.includes('..')) {
    throw runtimeError(
      'MalformedHandlerName',
      `'${handlerString}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const moduleAndHandler = path.basename(handlerString);
  const moduleRoot = handlerString.substring(0, handlerString.indexOf(moduleAndHandler));
  const match = /^([^.]*)\.(.*)$/.exec(moduleAndHandler);
  if (!match) throw runtimeError('MalformedHandlerName', 'Bad handler');
  const [, name, exportPath] = match;

  globalThis.awslambda = {
    streamifyResponse(handler) {
      handler[STREAMING] = 'response';
      return handler;
    },
    HttpResponseStream: {
      from(stream, prelude) {
        stream.setContentType(STREAM_CONTENT_TYPE);
        stream.write(JSON.stringify(prelude));
        stream.write(Buffer.alloc(8));
        return stream;
      },
    },
  };
  let mod;
  try {
    mod = await loadModule(appRoot, moduleRoot, name);
  } catch (err) {
    if (err instanceof SyntaxError) throw runtimeError('UserCodeSyntaxError', err);
    if (err && err.code === 'MODULE_NOT_FOUND') throw runtimeError('ImportModuleError', err);
    throw err;
  }
  const handler = exportPath.split('.').reduce((o, key) => o && o[key], mod);
  if (!handler) throw runtimeError('HandlerNotFound', `${handlerString} is undefined or not exported`);
  if (typeof handler !== 'function') throw runtimeError('HandlerNotFound', `${handlerString} is not a function`);
  return handler;
}

// --- invocations

// beforeExit runs when the event loop is empty: what a callback's result
// waits for, and how a handler that never answers is noticed.
let beforeExit = null;
process.on('beforeExit', () => {
  const f = beforeExit;
  beforeExit = null;
  if (f) f();
});

// onFatal answers what a process-ending error fails: the init, then each
// invocation in turn.
let onFatal = (err, code) => postError('init/error', err).finally(() => process.exit(code));

process.on('uncaughtException', (err) => {
  logError('Uncaught Exception', err);
  onFatal(err, 129);
});

process.on('unhandledRejection', (reason) => {
  const err = runtimeError('UnhandledPromiseRejection', reason);
  err.reason = reason;
  logError('Unhandled Promise Rejection', err);
  onFatal(err, 128);
});

function contextFor(headers, extra) {
  const deadline = Number(headers['lambda-runtime-deadline-ms']);
  const json = (name, v) => {
    if (v === undefined) return undefined;
    try {
      return JSON.parse(v);
    } catch (err) {
      throw new Error(`Cannot parse ${name} as json: ${err}`);
    }
  };
  return Object.assign(extra, {
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    clientContext: json('ClientContext', headers['lambda-runtime-client-context']),
    identity: json('CognitoIdentity', headers['lambda-runtime-cognito-identity']),
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    awsRequestId: headers['lambda-runtime-aws-request-id'],
    getRemainingTimeInMillis: () => deadline - Date.now(),
  });
}

// serve takes the next invocation and hands it to the handler; the
// handler's answer schedules the next.
async function serve(handler) {
  const res = await call('GET', 'invocation/next');
  if (res.status !== 200) throw new Error(`GET invocation/next: HTTP ${res.status}`);
  const headers = res.headers;
  const id = headers['lambda-runtime-aws-request-id'];
  requestId = id;
  if (headers['lambda-runtime-trace-id']) process.env._X_AMZN_TRACE_ID = headers['lambda-runtime-trace-id'];
  else delete process.env._X_AMZN_TRACE_ID;

  const next = () => setImmediate(() => serve(handler).catch(fatal));
  onFatal = (err, code) => postInvocationError(id, err).finally(() => process.exit(code));

  let answered = false; // a result or an error was posted
  const answer = (err, result) => {
    if (answered) {
      console.error('Invocation has already been reported as done. Cannot call complete more than once per invocation.');
      return;
    }
    answered = true;
    beforeExit = null;
    if (err !== undefined && err !== null) {
      logError('Invoke Error', err);
      postInvocationError(id, err).then(next, fatal);
    } else {
      postResponse(id, result).then(next, fatal);
    }
  };
  let called = false; // only the first of callback, succeed, fail, done counts
  const first = (f) => (...args) => {
    if (!called) {
      called = true;
      f(...args);
    }
  };
  let waits = true;
  const callback = first((err, result) => {
    if ((err !== undefined && err !== null) || !waits) {
      answer(err, result);
    } else {
      beforeExit = () => setImmediate(() => answer(null, result));
    }
  });
  const done = first((err, result) => answer(err, result));
  const context = contextFor(headers, {
    get callbackWaitsForEmptyEventLoop() {
      return waits;
    },
    set callbackWaitsForEmptyEventLoop(v) {
      waits = v;
    },
    succeed: (result) => done(null, result),
    fail: (err) => done(err === undefined || err === null ? 'handled' : err, null),
    done: (err, result) => done(err, result),
  });

  let event;
  try {
    event = JSON.parse(res.body.toString() || 'null');
  } catch (err) {
    done(err);
    return;
  }
  if (handler[STREAMING]) {
    await serveStreaming(handler, id, event, context, next);
    return;
  }

  // A handler that never answers: a sync one succeeds with null when the
  // event loop empties, an async one fails.
  const isAsync = handler.constructor && handler.constructor.name === 'AsyncFunction';
  beforeExit = () => {
    if (answered) return;
    answered = true;
    if (isAsync) {
      const err = runtimeError('NodeJsExit', 'The Lambda runtime client detected an unexpected Node.js exit code. This is most commonly caused by a Promise that was never settled.');
      logError('Invoke Error', err);
      postInvocationError(id, err).then(next, fatal);
    } else {
      postResponse(id, null).then(next, fatal);
    }
  };

  try {
    const result = callbacksRemoved ? handler(event, context) : handler(event, context, callback);
    if (result && typeof result.then === 'function') {
      result.then(context.succeed, context.fail).catch(context.fail);
    } else if (callbacksRemoved) {
      context.succeed(result);
    }
  } catch (err) {
    done(err);
  }
}

// serveStreaming runs a streamifyResponse handler, buffering its stream
// into one response.
async function serveStreaming(handler, id, event, context, next) {
  const chunks = [];
  let contentType = 'application/octet-stream';
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(Buffer.from(chunk));
      cb();
    },
  });
  stream.setContentType = (t) => {
    contentType = t;
  };
  try {
    await handler(event, stream, context);
    if (!stream.writableEnded) throw new Error('Response stream is not finished.');
    await finished(stream);
    await post(`invocation/${encodeURIComponent(id)}/response`, Buffer.concat(chunks), { 'Content-Type': contentType });
    next();
  } catch (err) {
    logError('Invoke Error', err);
    postInvocationError(id, err).then(next, fatal);
  }
}

async function main() {
  patchConsole();
  let handler;
  try {
    handler = await loadHandler(process.env.LAMBDA_TASK_ROOT, process.env._HANDLER || '');
    if (callbacksRemoved && handler.length >= 3 && !handler[STREAMING]) {
      throw runtimeError('CallbackHandlerDeprecated', CALLBACK_REMOVED);
    }
  } catch (err) {
    logError('Init Error', err);
    await postError('init/error', err).catch(() => {});
    process.exit(129);
  }
  serve(handler).catch(fatal);
}

main();
