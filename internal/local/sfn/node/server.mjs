// The local Step Functions service of `stackflow local`: the
// aws-local-stepfunctions interpreter behind the Step Functions API (AWS JSON
// 1.0, as aws-sdk-go-v2's sfn client speaks it), with AWS's execution
// semantics around it: names and their idempotency, statuses, history events,
// StopExecution, task tokens, and Lambda errors shaped as AWS shapes them.
//
// Usage: node server.mjs [--port N] [--region R] [--account A] [--retry-wait-ms N]
// The Lambda API is reached at AWS_ENDPOINT_URL_LAMBDA (or AWS_ENDPOINT_URL).
// When AWS_ENDPOINT_URL_STS is set, each execution invokes its functions as
// its state machine's role, as Step Functions does: the service assumes the
// role there (sts:AssumeRole, with its own credentials) and signs the
// invocations with the session's.
// Each execution is traced as Step Functions traces one: its Lambda Invoke
// calls carry X-Amzn-Trace-Id (the StartExecution traceHeader's Root and
// Sampled, or a new root, with Parent = the execution's segment), and when
// AWS_XRAY_DAEMON_ADDRESS is set the execution's segment is sent there.
// The first line on stdout is {"port":N} once the server listens; the process
// exits when its stdin closes, so it never outlives its parent.

import http from 'node:http';
import dgram from 'node:dgram';
import https from 'node:https';
import Module, { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { createHash, createHmac, randomFillSync, randomUUID } from 'node:crypto';

// aws-local-stepfunctions 3 asks for Node >= 22, yet of Node 22 it uses only
// Promise.withResolvers (and AbortSignal.any, in Node since 20.3): give older
// Nodes both before the library loads.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new this((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

// Map and Parallel states combine abort signals with AbortSignal.any, which
// came in Node 20.3.
if (typeof AbortSignal.any !== 'function') {
  AbortSignal.any = function any(signals) {
    const controller = new AbortController();
    for (const signal of signals) {
      if (signal.aborted) {
        controller.abort(signal.reason);
        break;
      }
      signal.addEventListener('abort', () => controller.abort(signal.reason), { once: true });
    }
    return controller.signal;
  };
}

// The pinned SDK runs on Node 20; its notice about later versions is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// A Map state whose iteration fails must start no further iterations, as on
// AWS: a failed staging must never lead to a deploy of prod. The library
// aborts the iterations already running but lets p-limit start the queued
// ones. Every limit it makes is therefore wrapped, before the library loads
// p-limit, so that once one of its tasks has failed the queued ones fail
// without running. (The library's CommonJS build is loaded below for this:
// ESM's CommonJS interop would not see the wrapped exports.)
const require = createRequire(import.meta.url);
{
  const libDir = require.resolve('aws-local-stepfunctions');
  const pLimitPath = createRequire(libDir).resolve('p-limit');
  const pLimit = createRequire(libDir)('p-limit');
  const stopping = function stoppingLimit(concurrency) {
    const limit = pLimit(concurrency);
    let failed = false;
    const wrapped = (fn, ...args) => limit(async () => {
      if (failed) throw new Error('not started: an earlier iteration failed');
      try {
        return await fn(...args);
      } catch (err) {
        failed = true;
        throw err;
      }
    });
    Object.defineProperties(wrapped, {
      activeCount: { get: () => limit.activeCount },
      pendingCount: { get: () => limit.pendingCount },
      clearQueue: { value: () => limit.clearQueue() },
    });
    return wrapped;
  };
  stopping.default = stopping;
  require.cache[pLimitPath].exports = stopping;
}

// The interpreter evaluates every path with jsonpath-plus, which throws and
// catches an Error (a stack trace) for each scalar it returns. Paths made
// of names and indexes only ($.a.b, $.a[0], $['a-b']), nearly all of a
// pipeline's, are walked directly instead; anything else, and a walk that
// meets a string or number, is left to jsonpath-plus, whose results the
// walk gives exactly.
const jsonPathPlus = (() => {
  const libDir = require.resolve('aws-local-stepfunctions');
  const mod = createRequire(libDir)('jsonpath-plus');
  const original = mod.JSONPath;
  const SEGMENT = /\.([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\['([^'\\[\]]*)'\]/guy;
  const parsed = new Map(); // path -> its segments, or null when not simple
  const parse = (p) => {
    if (typeof p !== 'string' || p[0] !== '$') return null;
    const segs = [];
    SEGMENT.lastIndex = 1;
    while (SEGMENT.lastIndex < p.length) {
      const m = SEGMENT.exec(p);
      if (!m) return null;
      segs.push(m[1] ?? (m[2] !== undefined ? Number(m[2]) : m[3]));
    }
    return segs;
  };
  const fast = function JSONPath(opts, ...rest) {
    if (rest.length === 0 && opts && typeof opts === 'object' && opts.wrap === false && !new.target) {
      let segs = parsed.get(opts.path);
      if (segs === undefined) {
        segs = parse(opts.path);
        if (parsed.size < 10000) parsed.set(opts.path, segs);
      }
      let v = opts.json;
      if (segs && v !== null && typeof v === 'object') {
        let i = 0;
        for (; i < segs.length; i++) {
          if (!Object.hasOwn(v, segs[i])) return undefined;
          v = v[segs[i]];
          if (i < segs.length - 1 && (v === null || typeof v !== 'object')) break;
        }
        if (i >= segs.length - 1) return v;
      }
    }
    return new.target ? new original(opts, ...rest) : original(opts, ...rest);
  };
  mod.JSONPath = fast;
  return { JSONPath: fast };
})();

// The interpreter's CommonJS build is compiled here with a line added at its
// end that hands out the internals this server adjusts to AWS's behaviour
// (see "the interpreter, adjusted" below); every one of them is checked, so a
// changed package fails at start-up with a clear message instead of running
// differently.
const INTERNALS = [
  'StateMachine', 'StateExecutor', 'TaskStateAction', 'WaitStateAction', 'ChoiceStateAction',
  'StatesTimeoutError', 'StatesRuntimeError', 'processInputPath', 'jsonPathQuery',
];
const interpreter = (() => {
  const file = require.resolve('aws-local-stepfunctions');
  const mod = new Module(file, undefined);
  mod.filename = file;
  mod.paths = Module._nodeModulePaths(path.dirname(file));
  const exported = INTERNALS.map((n) => `${n}: typeof ${n} === 'undefined' ? undefined : ${n}`).join(', ');
  mod._compile(`${fs.readFileSync(file, 'utf8')}\n;module.exports.stackflowInternals = { ${exported} };\n`, file);
  const internals = mod.exports.stackflowInternals;
  for (const n of INTERNALS) {
    if (typeof internals?.[n] !== 'function') throw new Error(`aws-local-stepfunctions changed: ${n} is gone`);
  }
  const methods = {
    StateMachine: ['execute'],
    StateExecutor: ['execute', 'executeTaskState'],
    TaskStateAction: ['buildExecutionResult'],
    WaitStateAction: ['execute'],
    ChoiceStateAction: ['testChoiceRule'],
  };
  for (const [n, names] of Object.entries(methods)) {
    for (const m of names) {
      if (typeof internals[n].prototype[m] !== 'function') throw new Error(`aws-local-stepfunctions changed: ${n}.prototype.${m} is gone`);
    }
  }
  return internals;
})();
const { StateMachine, StateExecutor, TaskStateAction, WaitStateAction, ChoiceStateAction } = interpreter;
const { StatesTimeoutError, StatesRuntimeError, processInputPath, jsonPathQuery } = interpreter;
const { JSONPath } = jsonPathPlus;

// ---- configuration ----

function flag(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0 && i + 1 < process.argv.length) return process.argv[i + 1];
  return fallback;
}

const config = {
  port: Number(flag('port', process.env.STACKFLOW_SFN_PORT ?? '0')),
  region: flag('region', process.env.AWS_REGION ?? 'us-east-1'),
  account: flag('account', '000000000000'),
  retryWaitMs: Number(flag('retry-wait-ms', '0')),
  // SecondsPath -> milliseconds that Wait states with that path wait.
  pollWaitsMs: JSON.parse(flag('poll-waits-ms', '{}')),
};

// Longest timer Node keeps (2^31-1 ms); a longer one fires at once.
const MAX_TIMER_SECONDS = 2147483;
// Largest input or output Step Functions accepts (256 KiB).
const MAX_PAYLOAD = 262144;
const MAX_BODY = 8 * 1024 * 1024;
const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;

// The Lambda API that Task states invoke (kumo locally), called with Node's
// own HTTP client and a Signature Version 4 made here: the AWS SDK's client
// cost more CPU per invoke than the rest of an execution's work together
// (its middleware stack and async context), all of it on the thread that
// answers the API.
const lambdaEndpoint = process.env.AWS_ENDPOINT_URL_LAMBDA || process.env.AWS_ENDPOINT_URL || undefined;
const lambdaBase = lambdaEndpoint ? new URL(lambdaEndpoint) : undefined;
const lambdaTransport = lambdaBase?.protocol === 'https:' ? https : http;
const lambdaAgent = new lambdaTransport.Agent({ keepAlive: true, maxSockets: 256 });
const lambdaCredentials = {
  accessKeyId: process.env.AWS_ACCESS_KEY_ID || 'local',
  secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY || 'local',
  sessionToken: process.env.AWS_ACCESS_KEY_ID ? process.env.AWS_SESSION_TOKEN : undefined,
};

// log writes a line to stdout; the lines of one turn of the event loop go
// out in one write.
let logged = '';
function log(line) {
  if (logged === '') setImmediate(flushLog);
  logged += `${line}\n`;
}

function flushLog() {
  process.stdout.write(logged);
  logged = '';
}

// randomHex returns n random bytes in hex, drawn from a pool filled 4 KiB
// at a time (two calls to randomBytes per execution were a tenth of the
// cost of StartExecution).
const randomPool = Buffer.alloc(4096);
let randomUsed = randomPool.length;
function randomHex(n) {
  if (randomUsed + n > randomPool.length) {
    randomFillSync(randomPool);
    randomUsed = 0;
  }
  randomUsed += n;
  return randomPool.toString('hex', randomUsed - n, randomUsed);
}

// ---- tracing ----
//
// As Step Functions with tracing does: an execution belongs to the trace
// its StartExecution traceHeader names (or a new one), its segment hangs
// from the header's Parent, and every Lambda Invoke it makes carries
// X-Amzn-Trace-Id with Parent = the execution's segment, so the function's
// segment hangs from it. Segments go to the X-Ray daemon over UDP; with no
// daemon they are lost, silently.

const MAX_TRACE_HEADER = 256;

function newTraceId(ms) {
  return `1-${Math.floor(ms / 1000).toString(16).padStart(8, '0')}-${randomHex(12)}`;
}

// executionTrace is the trace of an execution started with header (the
// StartExecution traceHeader, maybe absent) at ms.
function executionTrace(header, ms) {
  const fields = {};
  for (const part of String(header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) fields[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  const trace = { id: randomHex(8) };
  if (fields.Root) {
    trace.root = fields.Root;
    trace.parent = fields.Parent || undefined;
    trace.sampled = fields.Sampled !== '0';
    trace.header = header;
  } else {
    trace.root = newTraceId(ms);
    trace.sampled = true;
  }
  trace.downstream = `Root=${trace.root};Parent=${trace.id};Sampled=${trace.sampled ? 1 : 0}`;
  trace.header ??= trace.downstream;
  return trace;
}

// The daemon's UDP address from AWS_XRAY_DAEMON_ADDRESS ("host:port" or
// "tcp:host:port udp:host:port"); none when it is not set.
const daemon = (() => {
  const v = (process.env.AWS_XRAY_DAEMON_ADDRESS ?? '').trim();
  if (v === '') return undefined;
  const fields = v.split(/\s+/u);
  let addr = fields.find((f) => f.startsWith('udp:'))?.slice(4);
  if (addr === undefined && !fields[0].startsWith('tcp:')) addr = fields[0];
  if (addr === undefined) return undefined;
  const i = addr.lastIndexOf(':');
  const host = addr.slice(0, i).replace(/^\[|\]$/gu, '');
  const port = Number(addr.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port <= 0) return undefined;
  return { host, port, family: host.includes(':') ? 'udp6' : 'udp4' };
})();

let daemonSocket;

function sendSegment(doc) {
  if (!daemon) return;
  if (!daemonSocket) {
    daemonSocket = dgram.createSocket(daemon.family);
    daemonSocket.on('error', () => {});
    daemonSocket.unref();
  }
  const datagram = Buffer.from(`{"format":"json","version":1}\n${JSON.stringify(doc)}`);
  daemonSocket.send(datagram, daemon.port, daemon.host, () => {});
}

// sendExecutionSegment sends the segment of exec, which has ended.
function sendExecutionSegment(exec) {
  const t = exec.trace;
  if (!t.sampled) return;
  const doc = {
    name: exec.machineName,
    id: t.id,
    trace_id: t.root,
    start_time: exec.startDate / 1000,
    end_time: exec.stopDate / 1000,
    origin: 'AWS::StepFunctions::StateMachine',
    resource_arn: exec.arn,
  };
  if (t.parent) doc.parent_id = t.parent;
  if (exec.status === 'FAILED' || exec.status === 'TIMED_OUT') doc.fault = true;
  if (exec.status === 'ABORTED') doc.error = true;
  sendSegment(doc);
}

// ---- API errors ----

class ApiError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

function required(req, field) {
  const v = req[field];
  if (v === undefined || v === null || v === '') {
    throw new ApiError(
      'ValidationException',
      `1 validation error detected: Value null at '${field}' failed to satisfy constraint: Member must not be null`,
    );
  }
  return v;
}

// Names: 1-80 characters without whitespace, brackets, wildcards, special
// characters or control characters, as Step Functions checks them.
const BAD_NAME = /[\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]/u;

function checkName(name) {
  if (typeof name !== 'string' || name.length < 1 || name.length > 80 || BAD_NAME.test(name)) {
    throw new ApiError('InvalidName', `Invalid Name: '${name}'`);
  }
}

function seconds(ms) {
  return ms / 1000;
}

// ---- state machines ----

const machines = new Map(); // arn -> machine

function machineArn(name) {
  return `arn:aws:states:${config.region}:${config.account}:stateMachine:${name}`;
}

function executionArn(machineName, name) {
  return `arn:aws:states:${config.region}:${config.account}:execution:${machineName}:${name}`;
}

function checkArn(arn, kind) {
  const prefix = 'arn:aws:states:';
  if (typeof arn !== 'string' || !arn.startsWith(prefix) || !arn.includes(`:${kind}:`)) {
    throw new ApiError('InvalidArn', `Invalid Arn: '${arn}'`);
  }
}

function getMachine(arn) {
  checkArn(arn, 'stateMachine');
  const m = machines.get(arn);
  if (!m) throw new ApiError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
  return m;
}

// Visit every state of a definition, nested ones (Map, Parallel) included.
function eachState(def, visit) {
  if (!def || typeof def !== 'object' || !def.States || typeof def.States !== 'object') return;
  for (const [name, state] of Object.entries(def.States)) {
    visit(name, state);
    if (state && state.Type === 'Map') eachState(state.ItemProcessor ?? state.Iterator, visit);
    if (state && state.Type === 'Parallel' && Array.isArray(state.Branches)) {
      for (const branch of state.Branches) eachState(branch, visit);
    }
  }
}

// The interpreter's validation (asl-validator) compiles its JSON schemas
// anew on every call: about half a second of CPU, on the critical path of
// every stackflow local start, which creates the pipeline's state machine
// with the same definition but for its functions' names, random per stack.
// So a definition that passed is remembered, as a file named by the SHA-256
// of its text with every Lambda function's name replaced by one name (an ARN
// of the same shape validates alike), in a folder beside this script: the
// install directory of this exact package tree, which a new validator
// version replaces.
const VALIDATED_DIR = path.join(path.dirname(new URL(import.meta.url).pathname), 'validated');
const FUNCTION_ARNS = /arn:aws:lambda:([a-z0-9-]+):(\d{12}):function:[A-Za-z0-9_-]{1,64}/gu;

function validationKey(text) {
  const shape = text.replace(FUNCTION_ARNS, 'arn:aws:lambda:$1:$2:function:f');
  return createHash('sha256').update('checkArn checkPaths\n').update(shape).digest('hex');
}

function validatedBefore(key) {
  return fs.existsSync(path.join(VALIDATED_DIR, key));
}

// rememberValidated notes key as validated; a failure only costs a
// validation next time. The file is renamed into place, so processes
// sharing the directory never see half of one.
function rememberValidated(key) {
  try {
    fs.mkdirSync(VALIDATED_DIR, { recursive: true });
    const tmp = path.join(VALIDATED_DIR, `.tmp-${process.pid}-${randomUUID()}`);
    fs.writeFileSync(tmp, '');
    fs.renameSync(tmp, path.join(VALIDATED_DIR, key));
  } catch {
    // not remembered
  }
}

// parseDefinition validates a definition the way the interpreter will run it
// and returns it parsed.
function parseDefinition(text) {
  let def;
  try {
    def = JSON.parse(text);
  } catch (err) {
    throw new ApiError('InvalidDefinition', `Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: ${err.message}'`);
  }
  const shape = validationKey(text);
  if (!validatedBefore(shape)) {
    try {
      new StateMachine(def, { validationOptions: { checkArn: true, checkPaths: true } });
    } catch (err) {
      const msg = String(err.message).replace(/^State machine definition is invalid, see error\(s\) below:\s*/u, '');
      throw new ApiError('InvalidDefinition', `Invalid State Machine Definition: '${msg.trim()}'`);
    }
    rememberValidated(shape);
  }
  // The interpreter knows JSONPath only: it would run JSONata and variables
  // as if they were not there, so refuse them plainly instead.
  const unsupported = (where) => {
    throw new ApiError(
      'InvalidDefinition',
      `Invalid State Machine Definition: 'UNSUPPORTED_FEATURE: the local Step Functions service runs JSONPath definitions only; JSONata (QueryLanguage) and variables (Assign) are not supported, at ${where}'`,
    );
  };
  if (def.QueryLanguage !== undefined && def.QueryLanguage !== 'JSONPath') unsupported('/QueryLanguage');
  // Step Functions names states uniquely across the whole machine; the
  // interpreter's per-name overrides rely on it too.
  const seen = new Set();
  eachState(def, (name, state) => {
    if (seen.has(name)) {
      throw new ApiError('InvalidDefinition', `Invalid State Machine Definition: 'DUPLICATE_STATE_NAME: Duplicate State name: ${name}'`);
    }
    seen.add(name);
    if (state.QueryLanguage !== undefined && state.QueryLanguage !== 'JSONPath') unsupported(`state ${name}`);
    if (state.Assign !== undefined) unsupported(`state ${name}`);
    for (const c of state.Catch ?? []) if (c.Assign !== undefined) unsupported(`a Catch of state ${name}`);
    checkSdkParameters(name, state);
  });
  return def;
}

// runnable returns the copy of def that the interpreter runs: without the
// execution's TimeoutSeconds, which startExecution keeps itself (the
// interpreter's single timer would lapse at once beyond about 24 days).
// Task timeouts are runTaskState's.
function runnable(def) {
  const copy = structuredClone(def);
  delete copy.TimeoutSeconds;
  return copy;
}

// checkSdkParameters refuses, as Step Functions does, parameters that an
// AWS SDK integration task of the service (SDK_ACTIONS) does not take.
function checkSdkParameters(name, state) {
  if (state.Type !== 'Task' || typeof state.Resource !== 'string') return;
  const m = SERVICE_ARN.exec(state.Resource);
  const fields = m && m[1] === 'aws-sdk' ? SDK_ACTIONS[m[2]] : undefined;
  if (!fields || !state.Parameters || typeof state.Parameters !== 'object') return;
  for (const key of Object.keys(state.Parameters)) {
    const field = key.endsWith('.$') ? key.slice(0, -2) : key;
    if (!Object.hasOwn(fields, field)) {
      throw new ApiError(
        'InvalidDefinition',
        `Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The field "${field}" is not supported by Step Functions at /States/${name}/Parameters' (${m[2]} takes ${Object.keys(fields).join(', ')})`,
      );
    }
  }
}

// prepare returns what every execution of a machine with the definition
// def shares, made once: the copy the interpreter runs, the states by name,
// the Map and Parallel state that owns each nested definition, and the
// interpreter's overrides.
function prepare(def) {
  const runDef = runnable(def);
  const states = new Map();
  eachState(def, (n, s) => states.set(n, s));
  const owners = new WeakMap(); // nested definition in runDef -> its Map or Parallel state
  eachState(runDef, (n, s) => {
    if (s.Type === 'Map') owners.set(s.ItemProcessor ?? s.Iterator, { kind: 'map', name: n });
    if (s.Type === 'Parallel') for (const b of s.Branches) owners.set(b, { kind: 'parallel', name: n });
  });
  const overrides = {};
  if (config.retryWaitMs > 0) {
    overrides.retryIntervalOverrides = {};
    for (const [n, s] of states) {
      if (Array.isArray(s.Retry)) overrides.retryIntervalOverrides[n] = config.retryWaitMs;
    }
  }
  for (const [n, s] of states) {
    if (s.Type === 'Wait' && Object.hasOwn(config.pollWaitsMs, s.SecondsPath)) {
      overrides.waitTimeOverrides ??= {};
      overrides.waitTimeOverrides[n] = config.pollWaitsMs[s.SecondsPath];
    }
  }
  return { runDef, states, owners, overrides };
}

function createStateMachine(req) {
  const name = required(req, 'name');
  checkName(name);
  const definition = required(req, 'definition');
  const roleArn = required(req, 'roleArn');
  const type = req.type ?? 'STANDARD';
  if (type !== 'STANDARD' && type !== 'EXPRESS') {
    throw new ApiError('ValidationException', `Value '${type}' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]`);
  }
  const def = parseDefinition(definition);
  const arn = machineArn(name);
  const existing = machines.get(arn);
  if (existing) {
    if (existing.definition === definition && existing.roleArn === roleArn && existing.type === type) {
      return { stateMachineArn: arn, creationDate: seconds(existing.creationDate) };
    }
    throw new ApiError('StateMachineAlreadyExists', `State Machine Already Exists: '${arn}'`);
  }
  const m = {
    arn,
    name,
    definition,
    def,
    roleArn,
    type,
    creationDate: Date.now(),
    loggingConfiguration: req.loggingConfiguration ?? { level: 'OFF', includeExecutionData: false },
    tracingConfiguration: req.tracingConfiguration ?? { enabled: false },
    revisionId: randomUUID(),
    tags: new Map((req.tags ?? []).map((t) => [t.key, t.value])),
  };
  machines.set(arn, m);
  return { stateMachineArn: arn, creationDate: seconds(m.creationDate) };
}

function describeMachine(m) {
  return {
    stateMachineArn: m.arn,
    name: m.name,
    status: 'ACTIVE',
    definition: m.definition,
    roleArn: m.roleArn,
    type: m.type,
    creationDate: seconds(m.creationDate),
    loggingConfiguration: m.loggingConfiguration,
    tracingConfiguration: m.tracingConfiguration,
    revisionId: m.revisionId,
  };
}

function updateStateMachine(req) {
  const m = getMachine(required(req, 'stateMachineArn'));
  if (req.definition === undefined && req.roleArn === undefined && req.loggingConfiguration === undefined && req.tracingConfiguration === undefined) {
    throw new ApiError('MissingRequiredParameter', 'Either the definition, the role ARN, the LoggingConfiguration, or the TracingConfiguration must be specified');
  }
  if (req.definition !== undefined) {
    m.def = parseDefinition(req.definition);
    m.definition = req.definition;
    m.prepared = undefined; // made again from the new definition
  }
  if (req.roleArn !== undefined) m.roleArn = req.roleArn;
  if (req.loggingConfiguration !== undefined) m.loggingConfiguration = req.loggingConfiguration;
  if (req.tracingConfiguration !== undefined) m.tracingConfiguration = req.tracingConfiguration;
  m.revisionId = randomUUID();
  return { updateDate: seconds(Date.now()), revisionId: m.revisionId };
}

function deleteStateMachine(req) {
  const arn = required(req, 'stateMachineArn');
  checkArn(arn, 'stateMachine');
  // Running executions go on, as on AWS.
  machines.delete(arn);
  return {};
}

function pageSize(n) {
  if (n === undefined || n === null || n === 0) return DEFAULT_PAGE;
  if (!Number.isInteger(n) || n < 0 || n > MAX_PAGE) {
    throw new ApiError('ValidationException', `Value '${n}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to ${MAX_PAGE}`);
  }
  return n;
}

function encodeToken(v) {
  return Buffer.from(JSON.stringify(v)).toString('base64');
}

function decodeToken(token) {
  try {
    return JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
  } catch {
    throw new ApiError('InvalidToken', `Invalid Token: '${token}'`);
  }
}

function listStateMachines(req) {
  const size = pageSize(req.maxResults);
  const all = [...machines.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let start = 0;
  if (req.nextToken) {
    const after = decodeToken(req.nextToken).after;
    start = all.findIndex((m) => m.name > after);
    if (start < 0) start = all.length;
  }
  const page = all.slice(start, start + size);
  const out = {
    stateMachines: page.map((m) => ({ stateMachineArn: m.arn, name: m.name, type: m.type, creationDate: seconds(m.creationDate) })),
  };
  if (start + size < all.length) out.nextToken = encodeToken({ after: page[page.length - 1].name });
  return out;
}

function tagsOf(arn) {
  const m = getMachine(arn);
  return m.tags;
}

// ---- executions ----

const executions = new Map(); // arn -> execution
const executionOrder = []; // executions in start order
const tokens = new Map(); // task token -> execution
let executionSeq = 0;

function getExecution(arn) {
  checkArn(arn, 'execution');
  const e = executions.get(arn);
  if (!e) throw new ApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
  return e;
}

function json(v) {
  return v === undefined ? 'null' : JSON.stringify(v);
}

function dataDetails() {
  return { truncated: false };
}

// record appends a history event. Timestamps never go backwards.
function record(exec, type, details = {}, at = Date.now()) {
  if (exec.closed) return;
  const last = exec.events[exec.events.length - 1];
  const ts = last && last.timestamp > at ? last.timestamp : at;
  const id = exec.events.length + 1;
  exec.events.push({ id, previousEventId: id - 1, timestamp: ts, type, ...details });
}

// ---- task tokens ----

function issueToken(exec) {
  const token = Buffer.from(
    JSON.stringify({ e: exec.arn, n: ++exec.tokenSeq, r: randomHex(12) }),
  ).toString('base64');
  const entry = { status: 'issued' };
  exec.tokens.set(token, entry);
  tokens.set(token, exec);
  return token;
}

// findToken returns the first task token of exec that occurs in v.
function findToken(exec, v) {
  if (typeof v === 'string') return exec.tokens.get(v)?.status === 'issued' ? v : undefined;
  if (Array.isArray(v)) {
    for (const x of v) {
      const t = findToken(exec, x);
      if (t) return t;
    }
  } else if (v && typeof v === 'object') {
    for (const x of Object.values(v)) {
      const t = findToken(exec, x);
      if (t) return t;
    }
  }
  return undefined;
}

function closeToken(exec, token) {
  const entry = exec.tokens.get(token);
  if (!entry) return;
  entry.status = 'closed';
  entry.stopHeartbeat?.();
}

function closeAllTokens(exec, reason) {
  for (const [token, entry] of exec.tokens) {
    if (entry.status === 'waiting') entry.reject(reason);
    closeToken(exec, token);
  }
}

function taskToken(req) {
  const token = required(req, 'taskToken');
  let parsed;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (!parsed || typeof parsed.e !== 'string') {
    throw new ApiError('InvalidToken', 'Invalid token');
  }
  const exec = tokens.get(token);
  const entry = exec?.tokens.get(token);
  if (!entry || entry.status === 'issued') {
    throw new ApiError('TaskDoesNotExist', 'Task does not exist');
  }
  if (entry.status === 'closed') {
    throw new ApiError('TaskTimedOut', "Task Timed Out: 'Provided task does not exist anymore'");
  }
  return { exec, token, entry };
}

function sendTaskSuccess(req) {
  const output = required(req, 'output');
  let value;
  try {
    value = JSON.parse(output);
  } catch {
    throw new ApiError('InvalidOutput', 'Invalid Output: the output is not valid JSON');
  }
  if (output.length > MAX_PAYLOAD) throw new ApiError('InvalidOutput', 'Invalid Output: the output exceeds 262144 characters');
  const { exec, token, entry } = taskToken(req);
  closeToken(exec, token);
  entry.resolve(value);
  return {};
}

function sendTaskFailure(req) {
  const { exec, token, entry } = taskToken(req);
  closeToken(exec, token);
  entry.reject(taskError(req.error ?? '', req.cause ?? ''));
  return {};
}

function sendTaskHeartbeat(req) {
  const { entry } = taskToken(req);
  entry.heartbeat?.();
  return {};
}

// ---- tasks ----

// taskError is a task failure the way Retry, Catch and the history see it:
// name is the Error, message the Cause.
function taskError(name, cause, { retryable = true, catchable = true } = {}) {
  const err = new Error(typeof cause === 'string' ? cause : JSON.stringify(cause));
  err.name = name;
  Object.defineProperty(err, 'isRetryable', { value: retryable });
  Object.defineProperty(err, 'isCatchable', { value: catchable });
  return err;
}

// runtimeError fails the execution with States.Runtime: Retry and Catch do
// not see it, as on AWS.
function runtimeError(cause) {
  return taskError('States.Runtime', cause, { retryable: false, catchable: false });
}

const LAMBDA_ARN = /^arn:aws[a-zA-Z-]*:lambda:[^:]*:[^:]*:function:[^:]+(:[^:]+)?$/u;
const SERVICE_ARN = /^arn:aws[a-zA-Z-]*:states:::([^:]+):([^.]+)(\.(sync|sync:2|waitForTaskToken))?$/u;

// The AWS SDK integrations the service runs: the Step Functions API's own
// StopExecution, so that an execution can stop itself or another,
// StartExecution, so that one starts others (a push's run starting each
// app's), and DescribeExecution, so that one waits for another. Each maps
// a parameter's name to whether it is required.
const SDK_ACTIONS = {
  'sfn:stopExecution': { ExecutionArn: true, Error: false, Cause: false },
  'sfn:startExecution': { StateMachineArn: true, Name: false, Input: false, TraceHeader: false },
  'sfn:describeExecution': { ExecutionArn: true, IncludedData: false },
};

// taskIds are a service task's resourceType and resource as its history
// events name them: lambda and invoke.waitForTaskToken, or aws-sdk:sfn and
// stopExecution.
function taskIds(resource) {
  const m = SERVICE_ARN.exec(resource ?? '');
  if (!m) return {};
  let [, type, action] = m;
  if (type === 'aws-sdk' && action.includes(':')) {
    const i = action.indexOf(':');
    type = `aws-sdk:${action.slice(0, i)}`;
    action = action.slice(i + 1);
  }
  return { resourceType: type, resource: m[4] ? `${action}.${m[4]}` : action };
}

// sigV4 adds to headers (which hold the request's own, lower-case names
// but host) the Signature Version 4 of a request to service, made with
// creds (the service's own by default).
const signingKeys = new Map(); // secret and service -> { day, key }
function sigV4(service, method, url, query, headers, body, creds = lambdaCredentials) {
  const now = new Date().toISOString().replace(/[-:]|\.\d{3}/gu, '');
  const day = now.slice(0, 8);
  const cacheKey = `${creds.secretAccessKey}\n${service}`;
  let cached = signingKeys.get(cacheKey);
  if (cached?.day !== day) {
    const hmac = (key, data) => createHmac('sha256', key).update(data).digest();
    cached = { day, key: hmac(hmac(hmac(hmac(`AWS4${creds.secretAccessKey}`, day), config.region), service), 'aws4_request') };
    signingKeys.set(cacheKey, cached);
  }
  const signingKey = cached.key;
  headers['x-amz-date'] = now;
  if (creds.sessionToken) headers['x-amz-security-token'] = creds.sessionToken;
  const signed = { ...headers, host: url.host };
  const names = Object.keys(signed).sort();
  const canonicalHeaders = names.map((n) => `${n}:${String(signed[n]).trim()}\n`).join('');
  const canonicalPath = url.pathname.split('/').map((seg) => encodeURIComponent(seg)).join('/');
  const canonical = [method, canonicalPath, query, canonicalHeaders, names.join(';'), createHash('sha256').update(body).digest('hex')].join('\n');
  const scope = `${day}/${config.region}/${service}/aws4_request`;
  const toSign = `AWS4-HMAC-SHA256\n${now}\n${scope}\n${createHash('sha256').update(canonical).digest('hex')}`;
  const signature = createHmac('sha256', signingKey).update(toSign).digest('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`;
}

// The STS that state machines' roles are assumed at, and the sessions
// assumed, by role ARN (a promise of { accessKeyId, secretAccessKey,
// sessionToken, expires }).
const stsEndpoint = process.env.AWS_ENDPOINT_URL_STS ? new URL(process.env.AWS_ENDPOINT_URL_STS) : undefined;
const roleSessions = new Map();

// roleCredentials returns the credentials of a session of roleArn, assumed
// once and again shortly before it expires; without an STS endpoint, the
// service's own.
async function roleCredentials(roleArn) {
  if (!stsEndpoint || !roleArn) return lambdaCredentials;
  const have = roleSessions.get(roleArn);
  if (have) {
    const creds = await have.catch(() => undefined);
    if (creds && creds.expires - Date.now() > 5 * 60 * 1000) return creds;
    if (roleSessions.get(roleArn) === have) roleSessions.delete(roleArn);
  }
  let pending = roleSessions.get(roleArn);
  if (!pending) {
    pending = assumeRole(roleArn);
    roleSessions.set(roleArn, pending);
    pending.catch(() => roleSessions.delete(roleArn));
  }
  return pending;
}

// assumeRole calls STS's AssumeRole (the query protocol) for roleArn.
function assumeRole(roleArn) {
  return new Promise((resolve, reject) => {
    const body = Buffer.from(new URLSearchParams({ Action: 'AssumeRole', Version: '2011-06-15', RoleArn: roleArn, RoleSessionName: 'StepFunctions' }).toString());
    const headers = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', 'content-length': String(body.length) };
    const url = new URL(`${stsEndpoint.pathname.replace(/\/+$/u, '')}/`, stsEndpoint);
    sigV4('sts', 'POST', url, '', headers, body);
    const transport = stsEndpoint.protocol === 'https:' ? https : http;
    const req = transport.request({ protocol: stsEndpoint.protocol, hostname: stsEndpoint.hostname, port: stsEndpoint.port, method: 'POST', path: url.pathname, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const xml = Buffer.concat(chunks).toString('utf8');
        const field = (name) => xml.match(new RegExp(`<${name}>([^<]*)</${name}>`, 'u'))?.[1];
        if (res.statusCode !== 200) {
          reject(new Error(`assume the state machine's role ${roleArn}: ${field('Code') ?? res.statusCode}: ${field('Message') ?? xml}`));
          return;
        }
        resolve({
          accessKeyId: field('AccessKeyId'),
          secretAccessKey: field('SecretAccessKey'),
          sessionToken: field('SessionToken'),
          expires: Date.parse(field('Expiration') ?? '') || Date.now() + 3600 * 1000,
        });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

// lambdaInvoke sends the Lambda API's Invoke (POST
// /2015-03-31/functions/{name}/invocations) and resolves with its status,
// headers and body, or rejects when no answer comes.
function lambdaInvoke(params, traceHeader, signal, creds) {
  return new Promise((resolve, reject) => {
    if (!lambdaBase) {
      reject(new Error('No Lambda endpoint: set AWS_ENDPOINT_URL_LAMBDA to the local Lambda API (stackflow local and Options.LambdaEndpoint do)'));
      return;
    }
    const body = Buffer.from(params.Payload);
    const headers = { 'content-type': 'application/json', 'content-length': String(body.length), 'x-amzn-trace-id': traceHeader };
    if (params.InvocationType) headers['x-amz-invocation-type'] = params.InvocationType;
    if (params.ClientContext) headers['x-amz-client-context'] = params.ClientContext;
    const url = new URL(`${lambdaBase.pathname.replace(/\/+$/u, '')}/2015-03-31/functions/${encodeURIComponent(params.FunctionName)}/invocations`, lambdaBase);
    const query = params.Qualifier ? `Qualifier=${encodeURIComponent(params.Qualifier)}` : '';
    sigV4('lambda', 'POST', url, query, headers, body, creds);
    const target = query ? `${url.pathname}?${query}` : url.pathname;
    const req = lambdaTransport.request({
      protocol: lambdaBase.protocol,
      hostname: lambdaBase.hostname,
      port: lambdaBase.port,
      method: 'POST',
      path: target,
      headers,
      agent: lambdaAgent,
      signal,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

// invoke calls a function through the Lambda API and returns its response;
// a function error becomes the task error Step Functions reports: Error is
// the errorType, Cause the function's error payload as it was returned.
// The Lambda API's own errors are Lambda.<Exception>, as the AWS SDK names
// them.
async function invoke(exec, params) {
  let res;
  let creds;
  try {
    creds = await roleCredentials(exec.roleArn);
  } catch (err) {
    throw taskError('Lambda.AWSLambdaException', `${err.message} (Service: Lambda, Status Code: 403, Request ID: )`);
  }
  try {
    res = await lambdaInvoke(params, exec.trace.downstream, exec.abort.signal, creds);
  } catch (err) {
    throw taskError('Lambda.SdkClientException', `Unable to execute HTTP request: ${err.message} (Service: Lambda, Status Code: 0, Request ID: )`);
  }
  const requestId = res.headers['x-amzn-requestid'] ?? '';
  if (res.status >= 300) {
    let code = String(res.headers['x-amzn-errortype'] ?? '').split(':')[0];
    let message = res.body.toString('utf8');
    try {
      const e = JSON.parse(message);
      code ||= String(e.__type ?? e.Type ?? e.code ?? '').split('#').pop();
      message = e.Message ?? e.message ?? message;
    } catch {
      // Not JSON: the body is the message.
    }
    throw taskError(
      `Lambda.${code || (res.status >= 500 ? 'ServiceException' : 'LambdaException')}`,
      `${message} (Service: Lambda, Status Code: ${res.status}, Request ID: ${requestId})`,
    );
  }
  res.FunctionError = res.headers['x-amz-function-error'];
  res.ExecutedVersion = res.headers['x-amz-executed-version'];
  res.StatusCode = res.status;
  res.requestId = requestId;
  const text = res.body.toString('utf8');
  if (res.FunctionError) {
    let name = 'Lambda.Unknown';
    try {
      const p = JSON.parse(text);
      if (p && typeof p.errorType === 'string' && p.errorType !== '') name = p.errorType;
    } catch {
      // Not JSON: keep Lambda.Unknown with the raw payload as the cause.
    }
    throw taskError(name, text);
  }
  let payload = null;
  if (text !== '') {
    try {
      payload = JSON.parse(text);
    } catch {
      payload = text;
    }
  }
  return { res, payload };
}

function serviceResult(res, payload) {
  const requestId = res.requestId || randomUUID();
  return {
    ExecutedVersion: res.ExecutedVersion ?? '$LATEST',
    Payload: payload,
    SdkHttpMetadata: {
      HttpHeaders: { 'Content-Type': 'application/json', 'X-Amz-Executed-Version': res.ExecutedVersion ?? '$LATEST', 'x-amzn-RequestId': requestId },
      HttpStatusCode: res.StatusCode ?? 200,
    },
    SdkResponseMetadata: { RequestId: requestId },
    StatusCode: res.StatusCode ?? 200,
  };
}

function invokeParams(input) {
  if (!input || typeof input !== 'object' || typeof input.FunctionName !== 'string') {
    throw runtimeError("The lambda:invoke task's parameters need a FunctionName");
  }
  let payload = '{}';
  if (input.Payload !== undefined) payload = typeof input.Payload === 'string' ? input.Payload : JSON.stringify(input.Payload);
  return { ...input, Payload: payload };
}

// taskSeconds is a Task state's TimeoutSeconds or HeartbeatSeconds (field),
// given as a number or read through <field>Path from the state's input after
// InputPath, as Step Functions reads it; undefined when the state sets
// neither.
function taskSeconds(state, field, input, context) {
  if (typeof state[field] === 'number') return state[field];
  const p = state[`${field}Path`];
  if (typeof p !== 'string') return undefined;
  const v = jsonPathQuery(p, input, context);
  if (!Number.isInteger(v) || v < 1) {
    throw new StatesRuntimeError(`The ${field}Path '${p}' must select a positive integer; it selected ${JSON.stringify(v)}`);
  }
  return v;
}

// after calls fn once ms have passed, however long that is (a single Node
// timer lapses at once beyond about 24 days), unless the function it returns
// is called first.
function after(ms, fn) {
  let timer;
  const arm = (left) => {
    const step = Math.min(left, MAX_TIMER_SECONDS * 1000);
    timer = setTimeout(() => (left > step ? arm(left - step) : fn()), step);
  };
  arm(ms);
  return () => clearTimeout(timer);
}

// runTaskState runs one attempt of the Task state `name` of exec, in place
// of the interpreter's own (see "the interpreter, adjusted"): it gives the
// attempt its TimeoutSeconds or TimeoutSecondsPath (without either a task
// waits as long as it takes, as on AWS, where the default is 99999999
// seconds), and takes back a progressing slot before the execution goes on
// if the attempt gave its own up to wait.
async function runTaskState(exec, name, state, rawInput, input, context) {
  if (exec.closed) throw runtimeError('Execution is no longer running');
  const effective = processInputPath(state.InputPath, rawInput, context);
  const attempt = {
    ids: taskIds(state.Resource),
    timeout: taskSeconds(state, 'TimeoutSeconds', effective, context),
    heartbeat: taskSeconds(state, 'HeartbeatSeconds', effective, context),
    over: false, // the attempt has timed out: what it does next is not recorded
    token: undefined, // a callback task's token
    wait: undefined, // a callback task's wait for its token
  };
  let stopTimer = () => {};
  const timedOut = new Promise((_, reject) => {
    if (attempt.timeout === undefined) return;
    stopTimer = after(attempt.timeout * 1000, () => {
      const err = new StatesTimeoutError();
      err.message = `The task did not end within its timeout of ${attempt.timeout} seconds`;
      timeOut(exec, state, attempt, err);
      reject(err);
    });
  });
  timedOut.catch(() => {});
  try {
    const result = await Promise.race([runTask(exec, name, state, input, attempt), timedOut]);
    return new TaskStateAction(state, name).buildExecutionResult(result);
  } finally {
    stopTimer();
    endWait(exec, attempt.wait);
    await holdSlot(exec);
  }
}

// timeOut ends an attempt that ran out of time: its history event, and a
// callback task's token, which answers TaskTimedOut from then on.
function timeOut(exec, state, attempt, err) {
  if (attempt.over || exec.closed) return;
  attempt.over = true;
  const details = { error: err.name, cause: err.message };
  if (LAMBDA_ARN.test(state.Resource)) {
    record(exec, 'LambdaFunctionTimedOut', { lambdaFunctionTimedOutEventDetails: details });
  } else {
    record(exec, 'TaskTimedOut', { taskTimedOutEventDetails: { ...attempt.ids, ...details } });
  }
  if (attempt.token !== undefined) {
    const entry = exec.tokens.get(attempt.token);
    const waiting = entry?.status === 'waiting';
    closeToken(exec, attempt.token);
    if (waiting) entry.reject(err);
  }
}

// runTask runs one attempt of the Task state `name` of exec and returns its
// result.
async function runTask(exec, name, state, input, attempt) {
  const note = (type, details, at) => {
    if (!attempt.over) record(exec, type, details, at);
  };
  const resource = state.Resource;
  if (LAMBDA_ARN.test(resource)) {
    note('LambdaFunctionScheduled', {
      lambdaFunctionScheduledEventDetails: {
        resource,
        input: json(input),
        inputDetails: dataDetails(),
        ...(attempt.timeout !== undefined ? { timeoutInSeconds: attempt.timeout } : {}),
      },
    });
    note('LambdaFunctionStarted');
    try {
      const { payload } = await invoke(exec, { FunctionName: resource, Payload: JSON.stringify(input ?? null) });
      note('LambdaFunctionSucceeded', { lambdaFunctionSucceededEventDetails: { output: json(payload), outputDetails: dataDetails() } });
      return payload;
    } catch (err) {
      note('LambdaFunctionFailed', { lambdaFunctionFailedEventDetails: { error: err.name, cause: err.message } });
      throw err;
    }
  }

  const m = SERVICE_ARN.exec(resource);
  const unsupported = () => runtimeError(
    `The local Step Functions service does not run Task resource '${resource}': it runs Lambda functions, lambda:invoke, the optimized integrations ${Object.keys(OPTIMIZED).join(', ')}, aws-sdk:sfn:stopExecution, startExecution and describeExecution, and .waitForTaskToken callbacks`,
  );
  if (!m) throw unsupported();
  const [, service, action, , pattern] = m;
  const { ids } = attempt;
  const isLambda = service === 'lambda' && action === 'invoke';
  if (pattern === 'waitForTaskToken') return runCallbackTask(exec, name, state, input, attempt, note, isLambda);
  if (pattern === undefined && service === 'aws-sdk' && SDK_ACTIONS[action]) return runSdkTask(exec, state, action, input, attempt, note);
  if (pattern === undefined && OPTIMIZED[`${service}:${action}`]) return runOptimizedTask(exec, state, `${service}:${action}`, input, attempt, note);
  if (!isLambda || pattern !== undefined) throw unsupported();

  const params = invokeParams(input);
  scheduled(state, input, attempt, note);
  try {
    const { res, payload } = await invoke(exec, params);
    const result = serviceResult(res, payload);
    note('TaskSucceeded', { taskSucceededEventDetails: { ...ids, output: json(result), outputDetails: dataDetails() } });
    return result;
  } catch (err) {
    note('TaskFailed', { taskFailedEventDetails: { ...ids, error: err.name, cause: err.message } });
    throw err;
  }
}

function scheduled(state, input, attempt, note) {
  note('TaskScheduled', {
    taskScheduledEventDetails: {
      ...attempt.ids,
      region: config.region,
      parameters: json(input),
      ...(attempt.timeout !== undefined ? { timeoutInSeconds: attempt.timeout } : {}),
      ...(attempt.heartbeat !== undefined ? { heartbeatInSeconds: attempt.heartbeat } : {}),
    },
  });
  note('TaskStarted', { taskStartedEventDetails: attempt.ids });
}

// runCallbackTask runs a .waitForTaskToken task: it invokes the function
// (lambda:invoke; other services' calls are not made, only recorded) and
// waits for SendTaskSuccess, SendTaskFailure, the heartbeat to lapse or the
// attempt to time out (runTaskState). While it waits the execution does
// not hold a progressing slot.
async function runCallbackTask(exec, name, state, input, attempt, note, isLambda) {
  const { ids } = attempt;
  const token = findToken(exec, input);
  if (!token) {
    throw runtimeError(`The task '${name}' waits for a task token but its parameters do not pass $$.Task.Token`);
  }
  const entry = exec.tokens.get(token);
  attempt.token = token;
  const done = new Promise((resolve, reject) => {
    entry.resolve = resolve;
    entry.reject = reject;
  });
  done.catch(() => {});
  entry.status = 'waiting';
  if (attempt.heartbeat !== undefined) {
    const lapse = () => {
      if (entry.status !== 'waiting') return;
      closeToken(exec, token);
      entry.reject(taskError('States.HeartbeatTimeout', `The task did not send a heartbeat within ${attempt.heartbeat} seconds`));
    };
    entry.heartbeat = () => {
      entry.stopHeartbeat?.();
      entry.stopHeartbeat = after(attempt.heartbeat * 1000, lapse);
    };
    entry.heartbeat();
  }

  scheduled(state, input, attempt, note);
  let submitted = {};
  if (isLambda) {
    try {
      const { res, payload } = await invoke(exec, invokeParams(input));
      submitted = serviceResult(res, payload);
    } catch (err) {
      closeToken(exec, token);
      note('TaskFailed', { taskFailedEventDetails: { ...ids, error: err.name, cause: err.message } });
      throw err;
    }
  }
  note('TaskSubmitted', { taskSubmittedEventDetails: { ...ids, output: json(submitted), outputDetails: dataDetails() } });
  attempt.wait = beginWait(exec);
  try {
    const output = await done;
    note('TaskSucceeded', { taskSucceededEventDetails: { ...ids, output: json(output), outputDetails: dataDetails() } });
    return output;
  } catch (err) {
    if (err.name === 'States.HeartbeatTimeout') {
      note('TaskTimedOut', { taskTimedOutEventDetails: { ...ids, error: err.name, cause: err.message } });
    } else {
      note('TaskFailed', { taskFailedEventDetails: { ...ids, error: err.name, cause: err.message } });
    }
    throw err;
  } finally {
    endWait(exec, attempt.wait);
  }
}

// sdkError is the task error of an AWS SDK integration whose call failed:
// <Service>.<Code>Exception, as Step Functions names them.
function sdkError(service, err) {
  const code = err instanceof ApiError ? err.code : 'InternalServerError';
  const name = `${service}.${code.endsWith('Exception') ? code : `${code}Exception`}`;
  const status = err instanceof ApiError ? 400 : 500;
  return taskError(name, `${err.message} (Service: ${service}, Status Code: ${status}, Request ID: ${randomUUID()})`);
}

// runSdkTask runs an AWS SDK integration task (SDK_ACTIONS):
// sfn:stopExecution, which answers {"StopDate": ...} as the SDK's
// StopExecutionOutput (an execution that stops itself ends ABORTED after
// the task's TaskSucceeded event, as on AWS), sfn:startExecution and
// sfn:describeExecution, which answer as theirs; a failed call is
// Sfn.<Code>Exception (Sfn.ExecutionAlreadyExistsException).
function runSdkTask(exec, state, action, input, attempt, note) {
  const { ids } = attempt;
  scheduled(state, input, attempt, note);
  const failed = (err) => {
    note('TaskFailed', { taskFailedEventDetails: { ...ids, error: err.name, cause: err.message } });
    return err;
  };
  if (!input || typeof input !== 'object' || Array.isArray(input)) {
    throw failed(runtimeError(`The parameters of the ${action} task must be an object`));
  }
  for (const [field, needed] of Object.entries(SDK_ACTIONS[action])) {
    if (needed && input[field] === undefined) throw failed(runtimeError(`The ${action} task needs the parameter ${field}`));
    if (input[field] !== undefined && typeof input[field] !== 'string') {
      throw failed(runtimeError(`The parameter ${field} of the ${action} task must be a string, not ${JSON.stringify(input[field])}`));
    }
  }
  if (action !== 'sfn:stopExecution') {
    let output;
    try {
      output = action === 'sfn:startExecution' ? sdkStart(input) : sdkDescribe(input);
    } catch (err) {
      throw failed(sdkError('Sfn', err));
    }
    note('TaskSucceeded', { taskSucceededEventDetails: { ...ids, output: json(output), outputDetails: dataDetails() } });
    return output;
  }
  let target;
  try {
    target = getExecution(input.ExecutionArn);
    checkStopReason(input.Error, input.Cause);
  } catch (err) {
    throw failed(sdkError('Sfn', err));
  }
  // The task succeeds and the target stops at one instant, so that the
  // StopDate the task answers is the one the execution keeps, even when it
  // stops itself (its history never runs backwards: an ABORTED recorded
  // after a TaskSucceeded a millisecond later would take that later time).
  const last = exec.events[exec.events.length - 1];
  const at = Math.max(Date.now(), last ? last.timestamp : 0, target.events.length ? target.events[target.events.length - 1].timestamp : 0);
  const output = { StopDate: new Date(target.status === 'RUNNING' ? at : target.stopDate).toISOString() };
  note('TaskSucceeded', { taskSucceededEventDetails: { ...ids, output: json(output), outputDetails: dataDetails() } }, at);
  stop(target, input.Error, input.Cause, at);
  return output;
}

// ---- optimized integrations ----
//
// The request-response integrations apps' state machines use most,
// called on the local AWS at the Lambda endpoint (AWS_ENDPOINT_URL_LAMBDA,
// else AWS_ENDPOINT_URL: kumo, locally behind the IAM proxy, which serves
// every service) as the state machine's role, as
// Step Functions calls them: DynamoDB's GetItem, PutItem, UpdateItem and
// DeleteItem, SQS's SendMessage, SNS's Publish, EventBridge's PutEvents
// (the AWS JSON and query protocols), and Step Functions' own
// StartExecution (this service). Parameters are the API's; a MessageBody,
// Message, an entry's Detail or an Input given as JSON is sent as its
// text, as Step Functions sends it. The result is the API's answer with
// SdkHttpMetadata and SdkResponseMetadata; a failed call is
// <Service>.<Code> (DynamoDB.ConditionalCheckFailedException).
const servicesEndpoint = lambdaEndpoint;
const OPTIMIZED = {
  'dynamodb:getItem': { signing: 'dynamodb', prefix: 'DynamoDB', json: '1.0', target: 'DynamoDB_20120810.GetItem' },
  'dynamodb:putItem': { signing: 'dynamodb', prefix: 'DynamoDB', json: '1.0', target: 'DynamoDB_20120810.PutItem' },
  'dynamodb:updateItem': { signing: 'dynamodb', prefix: 'DynamoDB', json: '1.0', target: 'DynamoDB_20120810.UpdateItem' },
  'dynamodb:deleteItem': { signing: 'dynamodb', prefix: 'DynamoDB', json: '1.0', target: 'DynamoDB_20120810.DeleteItem' },
  'sqs:sendMessage': { signing: 'sqs', prefix: 'SQS', json: '1.0', target: 'AmazonSQS.SendMessage', text: ['MessageBody'] },
  'sns:publish': { signing: 'sns', prefix: 'SNS', query: 'Publish', version: '2010-03-31', text: ['Message'] },
  'events:putEvents': { signing: 'events', prefix: 'EventBridge', json: '1.1', target: 'AWSEvents.PutEvents' },
  'states:startExecution': { prefix: 'StepFunctions', text: ['Input'] },
};

// asText is a parameter that the API takes as text: JSON given as an
// object is sent as its text.
function asText(v) {
  return v === undefined || typeof v === 'string' ? v : JSON.stringify(v);
}

// queryForm flattens parameters into the query protocol's form fields
// (SNS's MessageAttributes as MessageAttributes.entry.N.Name and .Value.*).
function queryForm(action, version, params) {
  const form = new URLSearchParams({ Action: action, Version: version });
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null) continue;
    if (k === 'MessageAttributes' && typeof v === 'object') {
      Object.entries(v).forEach(([name, attr], i) => {
        form.set(`MessageAttributes.entry.${i + 1}.Name`, name);
        for (const [f, fv] of Object.entries(attr ?? {})) form.set(`MessageAttributes.entry.${i + 1}.Value.${f}`, String(fv));
      });
    } else {
      form.set(k, typeof v === 'object' ? JSON.stringify(v) : String(v));
    }
  }
  return form.toString();
}

// awsCall sends one request of an AWS JSON or query protocol to the local
// AWS, signed with creds, and resolves with its status and body.
function awsCall(spec, params, creds, signal) {
  return new Promise((resolve, reject) => {
    if (!servicesEndpoint) {
      reject(new Error('No AWS endpoint: set AWS_ENDPOINT_URL_LAMBDA to the local AWS (stackflow local and Options.LambdaEndpoint do)'));
      return;
    }
    const base = new URL(servicesEndpoint);
    const url = new URL(`${base.pathname.replace(/\/+$/u, '')}/`, base);
    let body;
    const headers = {};
    if (spec.json) {
      body = Buffer.from(JSON.stringify(params));
      headers['content-type'] = `application/x-amz-json-${spec.json}`;
      headers['x-amz-target'] = spec.target;
    } else {
      body = Buffer.from(queryForm(spec.query, spec.version, params));
      headers['content-type'] = 'application/x-www-form-urlencoded; charset=utf-8';
    }
    headers['content-length'] = String(body.length);
    sigV4(spec.signing, 'POST', url, '', headers, body, creds);
    const transport = base.protocol === 'https:' ? https : http;
    const req = transport.request({ protocol: base.protocol, hostname: base.hostname, port: base.port, method: 'POST', path: url.pathname, headers, signal }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

// xmlField is the text of the first <name> element of an XML answer.
function xmlField(xml, name) {
  return xml.match(new RegExp(`<${name}>([^<]*)</${name}>`, 'u'))?.[1];
}

// callOptimized makes the call of an optimized integration and returns its
// result, or throws its task error.
async function callOptimized(exec, key, input) {
  const spec = OPTIMIZED[key];
  const params = { ...input };
  for (const f of spec.text ?? []) if (params[f] !== undefined) params[f] = asText(params[f]);
  if (key === 'events:putEvents' && Array.isArray(params.Entries)) {
    params.Entries = params.Entries.map((e) => ({ ...e, Detail: asText(e?.Detail) }));
  }
  if (key === 'states:startExecution') {
    try {
      return sdkStart(params);
    } catch (err) {
      throw sdkError('StepFunctions', err);
    }
  }
  let creds;
  try {
    creds = await roleCredentials(exec.roleArn);
  } catch (err) {
    throw taskError(`${spec.prefix}.AccessDeniedException`, `${err.message} (Service: ${spec.prefix}, Status Code: 403, Request ID: )`);
  }
  let res;
  try {
    res = await awsCall(spec, params, creds, exec.abort.signal);
  } catch (err) {
    throw taskError(`${spec.prefix}.SdkClientException`, `Unable to execute HTTP request: ${err.message} (Service: ${spec.prefix}, Status Code: 0, Request ID: )`);
  }
  const requestId = res.headers['x-amzn-requestid'] ?? res.headers['x-amz-request-id'] ?? randomUUID();
  if (res.status >= 300) {
    let code = String(res.headers['x-amzn-errortype'] ?? '').split(':')[0];
    let message = res.body;
    if (spec.json) {
      try {
        const e = JSON.parse(res.body);
        code ||= String(e.__type ?? e.code ?? '').split('#').pop();
        message = e.Message ?? e.message ?? message;
      } catch {
        // Not JSON: the body is the message.
      }
    } else {
      code ||= xmlField(res.body, 'Code') ?? '';
      message = xmlField(res.body, 'Message') ?? message;
    }
    code ||= 'ServiceException';
    throw taskError(`${spec.prefix}.${code.endsWith('Exception') ? code : `${code}Exception`}`,
      `${message} (Service: ${spec.prefix}, Status Code: ${res.status}, Request ID: ${requestId})`);
  }
  let out = {};
  if (spec.json) {
    out = res.body ? JSON.parse(res.body) : {};
  } else {
    out = { MessageId: xmlField(res.body, 'MessageId') };
    const seq = xmlField(res.body, 'SequenceNumber');
    if (seq !== undefined) out.SequenceNumber = seq;
  }
  return {
    ...out,
    SdkHttpMetadata: { HttpHeaders: { 'x-amzn-RequestId': requestId }, HttpStatusCode: res.status },
    SdkResponseMetadata: { RequestId: requestId },
  };
}

// runOptimizedTask runs a Task state of an optimized integration, with its
// history events (TaskScheduled, TaskStarted, TaskSucceeded or TaskFailed
// with resourceType dynamodb and resource putItem, say).
async function runOptimizedTask(exec, state, key, input, attempt, note) {
  const { ids } = attempt;
  scheduled(state, input, attempt, note);
  try {
    if (!input || typeof input !== 'object' || Array.isArray(input)) {
      throw runtimeError(`The parameters of the ${key} task must be an object`);
    }
    const output = await callOptimized(exec, key, input);
    note('TaskSucceeded', { taskSucceededEventDetails: { ...ids, output: json(output), outputDetails: dataDetails() } });
    return output;
  } catch (err) {
    note('TaskFailed', { taskFailedEventDetails: { ...ids, error: err.name, cause: err.message } });
    throw err;
  }
}

// sdkStart is sfn:startExecution as an SDK integration answers it:
// StartExecutionOutput's fields, capitalised, and the date as ISO 8601.
function sdkStart(input) {
  const out = startExecution({ stateMachineArn: input.StateMachineArn, name: input.Name, input: input.Input, traceHeader: input.TraceHeader });
  return { ExecutionArn: out.executionArn, StartDate: new Date(out.startDate * 1000).toISOString() };
}

// sdkDescribe is sfn:describeExecution as an SDK integration answers it.
function sdkDescribe(input) {
  const d = describeExecution({ executionArn: input.ExecutionArn });
  const out = {
    ExecutionArn: d.executionArn,
    StateMachineArn: d.stateMachineArn,
    Name: d.name,
    Status: d.status,
    StartDate: new Date(d.startDate * 1000).toISOString(),
  };
  if (d.stopDate !== undefined) out.StopDate = new Date(d.stopDate * 1000).toISOString();
  if (input.IncludedData !== 'METADATA_ONLY') {
    out.Input = d.input;
    if (d.output !== undefined) out.Output = d.output;
  }
  if (d.error !== undefined) out.Error = d.error;
  if (d.cause !== undefined) out.Cause = d.cause;
  return out;
}

// ---- progressing slots ----
//
// Executions progress a bounded number at a time. The interpreter shares
// this one thread with the API: with every execution of a burst progressing
// at once, an API call (a webhook's StartExecution) would wait behind all of
// their work (measured: 1,000 pushes from 50 senders, webhook p99 1.3 s with
// no bound, 0.16 s with 4). Queued executions are RUNNING, as on AWS, and
// start in order. An execution that only waits (a Wait state, a task token,
// every part of it) gives its slot up, so that one waiting days for an
// approval or a lock never holds others back, and queues again behind the
// others to take one back when it resumes.
//
// An execution progresses while one of its runs (the root, a Map iteration,
// a Parallel branch) is neither waiting nor parked in a Map or Parallel state
// on runs of its own: runs - blocked - waits > 0.

const MAX_ACTIVE = Math.max(1, Number(process.env.STACKFLOW_SFN_MAX_ACTIVE) || 4);
let active = 0;
const queue = []; // executions waiting for a slot, in the order they asked
let pumping = false;

function progressing(exec) {
  return exec.runs - exec.blocked.size - exec.waits;
}

// holdSlot resolves once exec holds a slot (at once if it does) or has
// ended.
function holdSlot(exec) {
  if (exec.held || exec.closed) return Promise.resolve();
  if (!exec.acquiring) {
    exec.acquiring = new Promise((resolve) => {
      exec.granted = resolve;
    });
    queue.push(exec);
    schedulePump();
  }
  return exec.acquiring;
}

function schedulePump() {
  if (pumping) return;
  pumping = true;
  setImmediate(pump);
}

// A burst of StartExecution calls (BURST_STARTS within BURST_MS, 200 a
// second or more) is answered first: the executions it starts begin once it
// has passed, or when they have waited HOLD_MS, as on AWS an execution's
// first state may come a little after StartExecution has answered.
// Executions already under way go on. Each execution's run costs the
// machine about ten times what its StartExecution does (its Lambda
// functions, the local AWS, git), and on two shared cores that work delayed
// the burst's answers (measured, 1,000 pushes from 50 senders, median of 5
// runs: webhook p50 48 ms at 950 deliveries/s without the hold, 33 ms at
// 1,300/s with it).
const BURST_STARTS = 20;
const BURST_MS = 100;
const HOLD_MS = 1000;
const recentStarts = new Array(BURST_STARTS).fill(-Infinity); // ring of start times
let recentNext = 0;

function noteStart(at) {
  recentStarts[recentNext] = at;
  recentNext = (recentNext + 1) % BURST_STARTS;
}

function inBurst(now) {
  // recentStarts[recentNext] is the oldest of the last BURST_STARTS starts.
  return now - recentStarts[recentNext] < BURST_MS;
}

let holdTimer;

function pump() {
  pumping = false;
  const now = Date.now();
  const burst = inBurst(now);
  let held = false;
  for (let i = 0; active < MAX_ACTIVE && i < queue.length;) {
    const exec = queue[i];
    if (burst && exec.runs === 0 && !exec.closed && now - exec.startDate < HOLD_MS) {
      held = true;
      i++;
      continue;
    }
    queue.splice(i, 1);
    grant(exec);
  }
  if (held && !holdTimer) {
    holdTimer = setTimeout(() => {
      holdTimer = undefined;
      pump();
    }, BURST_MS / 4);
  }
}

function grant(exec) {
  const granted = exec.granted;
  exec.acquiring = undefined;
  exec.granted = undefined;
  if (!exec.closed) {
    exec.held = true;
    active++;
  }
  granted();
}

function releaseSlot(exec) {
  if (exec.held) {
    exec.held = false;
    active--;
    schedulePump();
  }
  if (exec.closed && exec.acquiring) {
    queue.splice(queue.indexOf(exec), 1);
    grant(exec);
  }
}

// beginWait notes that a run of exec begins to wait and gives its slot up
// if nothing else of it progresses; endWait (once per wait) notes its end.
// The run then takes a slot back with holdSlot before it goes on.
function beginWait(exec) {
  exec.waits++;
  if (exec.held && progressing(exec) <= 0) releaseSlot(exec);
  return { ended: false };
}

function endWait(exec, wait) {
  if (!wait || wait.ended) return;
  wait.ended = true;
  exec.waits--;
}

// schedule starts exec's run with begin once it holds a slot.
function schedule(exec, begin) {
  holdSlot(exec).then(() => {
    if (exec.closed) return undefined;
    return begin().finally(() => releaseSlot(exec));
  });
}

// ---- the interpreter, adjusted ----
//
// Where aws-local-stepfunctions differs from Step Functions in what a
// pipeline relies on, its internals are adjusted here:
//   - the Context Object's Execution.Input and StartTime are the
//     execution's everywhere (the interpreter sets them anew for each Map
//     iteration and Parallel branch, and when the run begins, which may be
//     after the execution started);
//   - Task states run through runTaskState (Lambda, lambda:invoke,
//     callbacks, aws-sdk:sfn:stopExecution; TimeoutSecondsPath and
//     HeartbeatSecondsPath; timeouts as long as AWS allows);
//   - a Wait state gives the execution's progressing slot up while it
//     sleeps;
//   - a Choice rule's type test set to false (IsPresent, IsNull, IsNumeric,
//     IsString, IsBoolean, IsTimestamp) matches when the test fails: the
//     interpreter never matches one.

// execOf is the execution a state runs in, from its Context Object.
function execOf(context) {
  const id = context?.Execution?.Id;
  return id === undefined ? undefined : executions.get(id);
}

const originalStateExecute = StateExecutor.prototype.execute;
StateExecutor.prototype.execute = function execute(input, context, options) {
  const exec = execOf(context);
  if (exec && context.Execution.StartTime !== exec.startTime) {
    context.Execution.Input = exec.inputValue;
    context.Execution.StartTime = exec.startTime;
  }
  return originalStateExecute.call(this, input, context, options);
};

const originalTaskState = StateExecutor.prototype.executeTaskState;
StateExecutor.prototype.executeTaskState = function executeTaskState(state, rawInput, input, context, name, options) {
  const exec = execOf(context);
  if (!exec) return originalTaskState.call(this, state, rawInput, input, context, name, options);
  return runTaskState(exec, name, state, rawInput, input, context);
};

const originalWait = WaitStateAction.prototype.execute;
WaitStateAction.prototype.execute = async function execute(input, context, options) {
  const exec = execOf(context);
  if (!exec) return originalWait.call(this, input, context, options);
  const wait = beginWait(exec);
  try {
    return await originalWait.call(this, input, context, options);
  } finally {
    endWait(exec, wait);
    await holdSlot(exec);
  }
};

const TYPE_TESTS = ['IsPresent', 'IsNull', 'IsNumeric', 'IsString', 'IsBoolean', 'IsTimestamp'];
const originalChoiceRule = ChoiceStateAction.prototype.testChoiceRule;
ChoiceStateAction.prototype.testChoiceRule = function testChoiceRule(rule, input, context) {
  const negated = TYPE_TESTS.find((t) => rule?.[t] === false);
  if (negated) return !originalChoiceRule.call(this, { ...rule, [negated]: true }, input, context);
  return originalChoiceRule.call(this, rule, input, context);
};

// ---- history from the interpreter's event log ----
//
// The interpreter hands its events out through async generators, nested
// machines (Map iterations, Parallel branches) through one more generator
// each, so they arrive late and out of order: a sequential Map's next
// iteration can show up before the previous one's end. The history is built
// instead from every machine's event logger the moment an event is
// dispatched: StateMachine.prototype.execute, which each run (root or
// nested) calls with its logger, is wrapped to tap that logger. The wrapper
// also counts the execution's runs for its progressing slot, and a nested
// run that begins while the execution holds none takes one first.

const execByContext = new WeakMap(); // Context Object -> execution
let scopeSeq = 0;

const originalExecute = StateMachine.prototype.execute;
StateMachine.prototype.execute = async function execute(input, options, cleanupFn) {
  const exec = execByContext.get(options?.runOptions?.context);
  if (!exec) return originalExecute.call(this, input, options, cleanupFn);
  if (options.eventLogger) watch(exec, this, options.eventLogger);
  const nested = this.definition !== exec.runDef;
  if (nested && !exec.held) await holdSlot(exec);
  exec.runs++;
  try {
    return await originalExecute.call(this, input, options, cleanupFn);
  } finally {
    exec.runs--;
    if (nested && exec.held && exec.waits > 0 && progressing(exec) <= 0) releaseSlot(exec);
  }
};

// watch taps the event logger of one run of machine (the execution's root
// machine, a Map iteration or a Parallel branch) within exec.
function watch(exec, machine, logger) {
  let scope;
  if (machine.definition === exec.runDef) {
    scope = { id: ++scopeSeq, kind: 'root' };
  } else {
    const owner = exec.owners.get(machine.definition);
    if (!owner) return;
    scope = { id: ++scopeSeq, kind: owner.kind, name: owner.name };
    if (owner.kind === 'map') {
      // A Map state runs its items through one machine, in item order.
      scope.index = exec.iterationCounts.get(machine) ?? 0;
      exec.iterationCounts.set(machine, scope.index + 1);
    }
  }
  const dispatch = logger.dispatch;
  logger.dispatch = function tapped(ev) {
    if (!this.isLoggerClosed) {
      try {
        onEvent(exec, scope, ev);
      } catch (err) {
        log(`stackflow local sfn: history of ${exec.arn}: ${err.stack ?? err}`);
      }
    }
    return dispatch.call(this, ev);
  };
  // Nested events are taken where they happen, not forwarded again.
  logger.forwardNestedMapEvent = () => {};
  logger.forwardNestedParallelEvent = () => {};
}

const ABORTABLE = new Set(['Task', 'Wait', 'Map', 'Parallel']);

function mapLength(exec, ev) {
  const state = exec.states.get(ev.state.name);
  try {
    let input = ev.state.input;
    if (state?.InputPath === null) input = {};
    else if (state?.InputPath) input = JSONPath({ path: state.InputPath, json: input, wrap: false });
    const items = state?.ItemsPath ? JSONPath({ path: state.ItemsPath, json: input, wrap: false }) : input;
    return Array.isArray(items) ? items.length : 0;
  } catch {
    return 0;
  }
}

function onEvent(exec, scope, ev) {
  const at = ev.timestamp;
  const key = ev.state ? `${scope.id}\u0000${ev.state.name}` : '';
  switch (ev.type) {
    case 'ExecutionStarted':
      // The root's ExecutionStarted is recorded when StartExecution is
      // answered (startExecution), as on AWS, not when its run begins.
      if (scope.kind === 'map') {
        exec.iterations.set(scope.id, { name: scope.name, index: scope.index });
        record(exec, 'MapIterationStarted', { mapIterationStartedEventDetails: { name: scope.name, index: scope.index } }, at);
      }
      return;
    case 'ExecutionSucceeded':
    case 'ExecutionFailed':
    case 'ExecutionAborted':
      if (scope.kind === 'root') {
        if (ev.type === 'ExecutionSucceeded') finish(exec, 'SUCCEEDED', { output: ev.output }, at);
        if (ev.type === 'ExecutionFailed') finish(exec, 'FAILED', failure(exec, ev), at);
        // ExecutionAborted: StopExecution has recorded it already.
      } else if (scope.kind === 'map') {
        exec.iterations.delete(scope.id);
        const type = { ExecutionSucceeded: 'MapIterationSucceeded', ExecutionFailed: 'MapIterationFailed', ExecutionAborted: 'MapIterationAborted' }[ev.type];
        const field = `${type[0].toLowerCase()}${type.slice(1)}EventDetails`;
        record(exec, type, { [field]: { name: scope.name, index: scope.index } }, at);
      }
      return;
    case 'StateEntered': {
      const t = ev.state.type;
      exec.open.set(key, t);
      exec.lastEntered = t;
      record(exec, `${t}StateEntered`, {
        stateEnteredEventDetails: { name: ev.state.name, input: json(ev.state.input), inputDetails: dataDetails() },
      }, at);
      if (t === 'Map') record(exec, 'MapStateStarted', { mapStateStartedEventDetails: { length: mapLength(exec, ev) } }, at);
      if (t === 'Parallel') record(exec, 'ParallelStateStarted', {}, at);
      if (t === 'Map' || t === 'Parallel') exec.blocked.add(key);
      return;
    }
    case 'StateExited': {
      const t = ev.state.type;
      exec.open.delete(key);
      exec.blocked.delete(key);
      if ((t === 'Map' || t === 'Parallel') && !exec.failed.delete(key)) record(exec, `${t}StateSucceeded`, {}, at);
      record(exec, `${t}StateExited`, {
        stateExitedEventDetails: { name: ev.state.name, output: json(ev.state.output), outputDetails: dataDetails() },
      }, at);
      return;
    }
    case 'StateFailed': {
      const t = ev.state.type;
      if (t === 'Map' || t === 'Parallel') {
        exec.failed.add(key);
        exec.blocked.delete(key);
        record(exec, `${t}StateFailed`, {}, at);
      }
      // A Task's own failure events are recorded by runTask.
      return;
    }
    case 'StateRetried':
      exec.failed.delete(key);
      if (ev.state.type === 'Map' || ev.state.type === 'Parallel') exec.blocked.add(key);
      return;
    default:
      // StateCaught has no history event of its own on AWS.
  }
}

function failure(exec, ev) {
  let error = typeof ev.Error === 'string' ? ev.Error : undefined;
  let cause = ev.Cause === undefined || typeof ev.Cause === 'string' ? ev.Cause : JSON.stringify(ev.Cause);
  if (exec.lastEntered === 'Fail') {
    // A Fail state without Error or Cause has none on AWS either.
    if (error === 'FailStateError') error = undefined;
    if (cause === 'Execution failed because of a Fail state') cause = undefined;
  }
  return { error, cause };
}

function finish(exec, status, { output, error, cause }, at = Date.now()) {
  if (exec.closed) return;
  const details = {};
  if (error !== undefined) details.error = error;
  if (cause !== undefined) details.cause = cause;
  switch (status) {
    case 'SUCCEEDED':
      exec.output = json(output);
      record(exec, 'ExecutionSucceeded', { executionSucceededEventDetails: { output: exec.output, outputDetails: dataDetails() } }, at);
      break;
    case 'FAILED':
      record(exec, 'ExecutionFailed', { executionFailedEventDetails: details }, at);
      break;
    case 'TIMED_OUT':
      record(exec, 'ExecutionTimedOut', { executionTimedOutEventDetails: details }, at);
      break;
    case 'ABORTED':
      for (const [key, t] of exec.open) {
        if (ABORTABLE.has(t)) record(exec, `${t}StateAborted`, {}, at);
        exec.open.delete(key);
      }
      for (const it of exec.iterations.values()) {
        record(exec, 'MapIterationAborted', { mapIterationAbortedEventDetails: it }, at);
      }
      record(exec, 'ExecutionAborted', { executionAbortedEventDetails: details }, at);
      break;
    default:
  }
  exec.status = status;
  exec.error = error;
  exec.cause = cause;
  exec.stopDate = exec.events[exec.events.length - 1].timestamp;
  exec.closed = true;
  exec.stopTimer?.();
  if (exec.tokens.size > 0) closeAllTokens(exec, runtimeError('Execution is no longer running'));
  releaseSlot(exec);
  exec.abort.abort();
  sendExecutionSegment(exec);
  log(`stackflow local sfn: execution ${exec.arn} ${status}`);
}

// drain reads the interpreter's own copy of the events, which the history
// does not need (see watch), so that it does not pile up.
async function drain(eventLogs) {
  for await (const ev of eventLogs) void ev;
}

function startExecution(req) {
  const m = getMachine(required(req, 'stateMachineArn'));
  const name = req.name ?? randomUUID();
  checkName(name);
  const input = req.input ?? '{}';
  let value;
  try {
    value = JSON.parse(input);
  } catch (err) {
    throw new ApiError('InvalidExecutionInput', `Invalid State Machine Execution Input: '${err.message}'`);
  }
  if (input.length > MAX_PAYLOAD) throw new ApiError('InvalidExecutionInput', 'Invalid State Machine Execution Input: the input exceeds 262144 characters');
  if (req.traceHeader !== undefined && (typeof req.traceHeader !== 'string' || req.traceHeader.length > MAX_TRACE_HEADER || !/^[\x00-\x7f]*$/u.test(req.traceHeader))) {
    throw new ApiError('ValidationException', `1 validation error detected: Value at 'traceHeader' failed to satisfy constraint: Member must have length less than or equal to ${MAX_TRACE_HEADER} and match pattern \\p{ASCII}*`);
  }
  const arn = executionArn(m.name, name);
  const existing = executions.get(arn);
  if (existing) {
    // Standard workflows: the same name and input while the first execution
    // runs is the same request; anything else reuses a name.
    if (existing.status === 'RUNNING' && existing.input === input) {
      return { executionArn: arn, startDate: seconds(existing.startDate) };
    }
    throw new ApiError('ExecutionAlreadyExists', `Execution Already Exists: '${arn}'`);
  }

  const exec = {
    seq: ++executionSeq,
    arn,
    name,
    machineArn: m.arn,
    machineName: m.name,
    roleArn: m.roleArn,
    definition: m.definition,
    def: m.def,
    input,
    status: 'RUNNING',
    events: [],
    open: new Map(),
    failed: new Set(),
    iterations: new Map(),
    tokens: new Map(),
    tokenSeq: 0,
    abort: new AbortController(),
    closed: false,
    iterationCounts: new WeakMap(), // Map iterator machine -> iterations started
    // progressing slots (see "progressing slots")
    held: false,
    acquiring: undefined,
    granted: undefined,
    runs: 0,
    waits: 0,
    blocked: new Set(),
  };
  m.prepared ??= prepare(m.def);
  exec.runDef = m.prepared.runDef;
  exec.states = m.prepared.states;
  exec.owners = m.prepared.owners;

  const task = {};
  Object.defineProperty(task, 'Token', { enumerable: true, get: () => issueToken(exec) });
  const startDate = Date.now();
  exec.trace = executionTrace(req.traceHeader, startDate);
  exec.startTime = new Date(startDate).toISOString();
  exec.inputValue = value;
  const context = {
    Execution: { Id: arn, Name: name, Input: value, RoleArn: m.roleArn, StartTime: exec.startTime, RedriveCount: 0 },
    StateMachine: { Id: m.arn, Name: m.name },
    Task: task,
  };
  exec.startDate = startDate;
  executions.set(arn, exec);
  executionOrder.push(exec);
  execByContext.set(context, exec);

  record(exec, 'ExecutionStarted', {
    executionStartedEventDetails: { input: exec.input, inputDetails: dataDetails(), roleArn: exec.roleArn },
  }, startDate);
  if (typeof m.def.TimeoutSeconds === 'number') {
    exec.stopTimer = after(m.def.TimeoutSeconds * 1000, () => {
      if (exec.status !== 'RUNNING') return;
      finish(exec, 'TIMED_OUT', { error: 'States.Timeout', cause: `The execution ran longer than its TimeoutSeconds (${m.def.TimeoutSeconds})` });
      exec.stop?.();
    });
  }
  schedule(exec, () => {
    const machine = new StateMachine(exec.runDef, { validationOptions: { noValidate: true } });
    const run = machine.run(value, { overrides: m.prepared.overrides, context, noThrowOnAbort: true });
    exec.stop = run.abort;
    drain(run.eventLogs);
    return run.result.catch(() => {});
  });
  noteStart(startDate);
  log(`stackflow local sfn: execution ${arn} started`);
  return { executionArn: arn, startDate: seconds(startDate) };
}

function describeExecution(req) {
  const e = getExecution(required(req, 'executionArn'));
  const out = {
    executionArn: e.arn,
    stateMachineArn: e.machineArn,
    name: e.name,
    status: e.status,
    startDate: seconds(e.startDate),
    input: e.input,
    inputDetails: { included: true },
    redriveCount: 0,
    redriveStatus: 'NOT_REDRIVABLE',
  };
  if (e.stopDate !== undefined) out.stopDate = seconds(e.stopDate);
  if (e.status === 'SUCCEEDED') {
    out.output = e.output;
    out.outputDetails = { included: true };
  }
  if (e.error !== undefined) out.error = e.error;
  if (e.cause !== undefined) out.cause = e.cause;
  out.traceHeader = e.trace.header;
  return out;
}

function describeStateMachineForExecution(req) {
  const e = getExecution(required(req, 'executionArn'));
  const m = machines.get(e.machineArn);
  return {
    stateMachineArn: e.machineArn,
    name: e.machineName,
    definition: e.definition,
    roleArn: e.roleArn,
    updateDate: seconds(m?.creationDate ?? e.startDate),
  };
}

const STATUSES = new Set(['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE']);

function listExecutions(req) {
  if (req.mapRunArn) throw new ApiError('ValidationException', 'The local Step Functions service has no Distributed Map runs');
  const m = getMachine(required(req, 'stateMachineArn'));
  if (req.statusFilter !== undefined && !STATUSES.has(req.statusFilter)) {
    throw new ApiError('ValidationException', `Value '${req.statusFilter}' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: [${[...STATUSES].join(', ')}]`);
  }
  const size = pageSize(req.maxResults);
  const before = req.nextToken ? decodeToken(req.nextToken).before : Infinity;
  const page = [];
  let more = false;
  for (let i = executionOrder.length - 1; i >= 0; i--) {
    const e = executionOrder[i];
    if (e.machineArn !== m.arn || e.seq >= before) continue;
    if (req.statusFilter && e.status !== req.statusFilter) continue;
    if (page.length === size) {
      more = true;
      break;
    }
    page.push(e);
  }
  const out = {
    executions: page.map((e) => {
      const item = { executionArn: e.arn, stateMachineArn: e.machineArn, name: e.name, status: e.status, startDate: seconds(e.startDate) };
      if (e.stopDate !== undefined) item.stopDate = seconds(e.stopDate);
      return item;
    }),
  };
  if (more) out.nextToken = encodeToken({ before: page[page.length - 1].seq });
  return out;
}

function withoutData(ev) {
  const out = {};
  for (const [k, v] of Object.entries(ev)) {
    if (k.endsWith('EventDetails') && v && typeof v === 'object') {
      const { input, output, parameters, ...rest } = v;
      out[k] = rest;
    } else {
      out[k] = v;
    }
  }
  return out;
}

function getExecutionHistory(req) {
  const e = getExecution(required(req, 'executionArn'));
  const size = pageSize(req.maxResults);
  const reverse = req.reverseOrder === true;
  let list = e.events;
  if (req.nextToken) {
    const { after, before } = decodeToken(req.nextToken);
    list = reverse ? list.filter((ev) => ev.id < before) : list.filter((ev) => ev.id > after);
  }
  if (reverse) list = [...list].reverse();
  const page = list.slice(0, size);
  const withData = req.includeExecutionData !== false;
  const out = {
    events: page.map((ev) => {
      const item = withData ? ev : withoutData(ev);
      return { ...item, timestamp: seconds(ev.timestamp) };
    }),
  };
  if (list.length > size) {
    const last = page[page.length - 1].id;
    out.nextToken = encodeToken(reverse ? { before: last } : { after: last });
  }
  return out;
}

// checkStopReason checks StopExecution's error and cause as Step Functions
// does.
function checkStopReason(error, cause) {
  const tooLong = (field, max) => new ApiError(
    'ValidationException',
    `1 validation error detected: Value at '${field}' failed to satisfy constraint: Member must have length less than or equal to ${max}`,
  );
  if (typeof error === 'string' && error.length > 256) throw tooLong('error', 256);
  if (typeof cause === 'string' && cause.length > 32768) throw tooLong('cause', 32768);
}

// stop ends exec ABORTED with error and cause if it still runs.
function stop(exec, error, cause, at = Date.now()) {
  if (exec.status !== 'RUNNING') return;
  finish(exec, 'ABORTED', { error, cause }, at);
  exec.stop?.(); // not there while the execution waits its turn
}

function stopExecution(req) {
  const e = getExecution(required(req, 'executionArn'));
  checkStopReason(req.error, req.cause);
  stop(e, req.error, req.cause);
  return { stopDate: seconds(e.stopDate) };
}

// ---- the API ----

const operations = {
  CreateStateMachine: createStateMachine,
  DescribeStateMachine: (req) => describeMachine(getMachine(required(req, 'stateMachineArn'))),
  UpdateStateMachine: updateStateMachine,
  DeleteStateMachine: deleteStateMachine,
  ListStateMachines: listStateMachines,
  StartExecution: startExecution,
  DescribeExecution: describeExecution,
  DescribeStateMachineForExecution: describeStateMachineForExecution,
  ListExecutions: listExecutions,
  GetExecutionHistory: getExecutionHistory,
  StopExecution: stopExecution,
  SendTaskSuccess: sendTaskSuccess,
  SendTaskFailure: sendTaskFailure,
  SendTaskHeartbeat: sendTaskHeartbeat,
  ListTagsForResource: (req) => ({
    tags: [...tagsOf(required(req, 'resourceArn'))].map(([key, value]) => ({ key, value })),
  }),
  TagResource: (req) => {
    const tags = tagsOf(required(req, 'resourceArn'));
    for (const t of req.tags ?? []) tags.set(t.key, t.value);
    return {};
  },
  UntagResource: (req) => {
    const tags = tagsOf(required(req, 'resourceArn'));
    for (const k of req.tagKeys ?? []) tags.delete(k);
    return {};
  },
};

function reply(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/x-amz-json-1.0',
    'Content-Length': Buffer.byteLength(text),
    'x-amzn-RequestId': randomUUID(),
  });
  res.end(text);
}

function fail(res, code, message, status = 400) {
  reply(res, status, { __type: `com.amazonaws.sfn#${code}`, message });
}

const server = http.createServer((req, res) => {
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size <= MAX_BODY) chunks.push(c);
  });
  req.on('end', () => {
    if (req.method !== 'POST') return fail(res, 'UnknownOperationException', 'The local Step Functions service takes POST requests only');
    if (size > MAX_BODY) return fail(res, 'ValidationException', 'Request body too large', 413);
    const target = req.headers['x-amz-target'] ?? '';
    const op = target.startsWith('AWSStepFunctions.') ? operations[target.slice('AWSStepFunctions.'.length)] : undefined;
    if (!op) return fail(res, 'UnknownOperationException', `Unknown operation '${target}'`);
    let body;
    try {
      const text = Buffer.concat(chunks).toString('utf8');
      body = text === '' ? {} : JSON.parse(text);
    } catch {
      return fail(res, 'SerializationException', 'The request body is not valid JSON');
    }
    try {
      reply(res, 200, op(body ?? {}));
    } catch (err) {
      if (err instanceof ApiError) return fail(res, err.code, err.message);
      log(`stackflow local sfn: ${target}: ${err.stack ?? err}`);
      return fail(res, 'InternalServerError', 'The local Step Functions service failed; see its log', 500);
    }
  });
});

process.on('unhandledRejection', (err) => {
  log(`stackflow local sfn: unhandled rejection: ${err?.stack ?? err}`);
});

// Outlive the SDK clients' idle connections so that a request never meets a
// connection the server is closing.
server.keepAliveTimeout = 120000;
server.headersTimeout = 121000;

server.listen(config.port, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});

// The parent holds our stdin open; when it goes, so do we.
function exit() {
  if (logged !== '') flushLog();
  process.exit(0);
}
process.stdin.on('end', exit);
process.stdin.on('error', exit);
process.stdin.resume();
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, exit);
