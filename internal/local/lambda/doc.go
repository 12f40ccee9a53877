// Package lambda runs Lambda functions on this machine for `stackflow
// local`: each function is a real process that takes its invocations from
// kumo's Lambda service over the Lambda Runtime API.
//
// A Supervisor registers each function in kumo's Lambda (CreateFunction, or
// UpdateFunctionConfiguration when it exists), so Invoke by name or by ARN
// reaches it, and runs its processes as its runtime does (the table in
// runtime.go; Runtimes lists them):
//
//   - provided.al2023, provided.al2, provided: <Dir>/bootstrap.
//   - python3.11 to python3.14: the host's python3 runs
//     runtimes/python/bootstrap.py, stackflow's stand-in for Lambda's
//     /var/runtime/bootstrap.py, which puts the code and the layers on
//     sys.path and hands over to AWS's runtime interface client,
//     awslambdaric (PyPI, 4.2.2, pinned with hashes in
//     runtimes/python/requirements.txt), which pip installs once per host
//     Python under Options.CacheDir. It is what Lambda's own Python runtimes
//     run: handlers, the context object, errors (errorType is the
//     exception's class, with a stackTrace) and init errors
//     (Runtime.ImportModuleError, Runtime.HandlerNotFound, ...) are Lambda's.
//   - nodejs20.x to nodejs24.x: the host's node runs
//     runtimes/nodejs/index.mjs, stackflow's runtime client, written after
//     AWS's (see nodejs in runtime_node.go for why AWS's npm aws-lambda-ric
//     is not used and that file for what it does).
//
// A runtime whose interpreter is missing fails Start with an error that
// says what to install; Start notes on the function's log which
// interpreter and version runs it, and warns when that is not the
// runtime's version (a python3.12 function on the host's Python 3.11).
//
// Each process gets:
//
//   - AWS_LAMBDA_RUNTIME_API=127.0.0.1:<port>, a relay of its own that
//     forwards to kumo's Runtime API for the function
//     (<host:port>/_runtime/<name>, at the host of the configuration New
//     was given: kumo's, or a Front's before it), as Lambda gives each
//     execution environment a host:port. While the process holds an
//     invocation, a request for the next one (from a child process that
//     found the variable, say) waits until the invocation is answered: an
//     execution environment gets one invocation at a time, and never
//     another process's;
//   - TMPDIR, a directory of its own (unless the function's Env sets
//     one), removed when the process stops, as each execution environment
//     has a /tmp of its own;
//   - the variables Lambda sets: AWS_LAMBDA_FUNCTION_NAME,
//     AWS_LAMBDA_FUNCTION_VERSION, AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
//     AWS_LAMBDA_LOG_GROUP_NAME, AWS_LAMBDA_LOG_STREAM_NAME,
//     AWS_LAMBDA_INITIALIZATION_TYPE, AWS_REGION, AWS_DEFAULT_REGION,
//     LAMBDA_TASK_ROOT, _HANDLER, TZ, and for Python and Node.js
//     AWS_EXECUTION_ENV, LAMBDA_RUNTIME_DIR (the runtime client's directory)
//     and NODE_PATH (Python's bootstrap sets PYTHONPATH as Lambda's does);
//   - dummy credentials, AWS_XRAY_CONTEXT_MISSING=IGNORE_ERROR (there is no
//     X-Ray segment outside Lambda) and AWS_ENDPOINT_URL=<kumo> unless the
//     caller's Env sets it;
//   - the caller's Env, which wins over all of the above except
//     AWS_LAMBDA_RUNTIME_API and AWS_LAMBDA_FUNCTION_NAME.
//
// Layers: Function.Opt is a directory laid out as Lambda's /opt (the
// layers unpacked in order) that stands in for it, reached as Lambda
// reaches /opt: Python's site directories <Opt>/python and
// <Opt>/python/lib/pythonX.Y/site-packages, NODE_PATH's
// <Opt>/nodejs/nodeNN/node_modules and <Opt>/nodejs/node_modules, PATH's
// <Opt>/bin and LD_LIBRARY_PATH's <Opt>/lib.
//
// What differs from AWS:
//
//   - One process per function (Concurrency: several), started at once
//     and kept running: there is no cold start per concurrent request, and
//     no freezing between invocations.
//   - The process inherits the host's environment except every AWS_*
//     variable (so no host credential or profile reaches a local function)
//     and the host's interpreter settings (PYTHONPATH, PYTHONHOME,
//     VIRTUAL_ENV, NODE_PATH, NODE_OPTIONS and the like), and runs in its
//     code directory, as Lambda runs in /var/task. Locally a function may
//     use the host's tools (the Go toolchain for checks and builds) and
//     packages installed in the host Python's site-packages (python3 -s
//     leaves out only the user's); the Timeout is enforced by kumo,
//     MemorySize and EphemeralStorage are not enforced.
//   - Python and Node.js functions run on the host's python3 and node,
//     whatever their version, and without the packages Lambda's runtimes
//     bring (boto3, the AWS SDK for JavaScript v3): give them in the
//     function's code or a layer.
//   - The layers' /opt is a directory of the function's own, not /opt: code
//     that opens /opt/... by path does not find its layers.
//   - A process that dies is started again: at once when it died during an
//     invocation, which fails with Runtime.ExitError as on Lambda; after a
//     growing pause, up to 5 s, when it died while waiting for work. One
//     whose init failed is started again with the next invocation, which
//     fails with the init's error (or Runtime.ExitError), as Lambda fails
//     each invocation after a failed init. Without this, kumo would leave
//     invocations waiting 30 s for a handler that is gone.
//   - Stop and Close end a process with SIGTERM and, 2 s later, SIGKILL,
//     to its whole process group. Close must run before kumo's server closes.
//
// A Front stands before kumo to trace invocations as Lambda does with
// active tracing: give its URL to New and to the callers' Lambda clients,
// and each handler gets its caller's trace in Lambda-Runtime-Trace-Id while
// the front sends a function segment per invocation to the X-Ray daemon
// (see Front for how it matches invocations and what it cannot tell
// apart).
//
// FirstPoll measures a bootstrap's start-up time: from starting the process
// to its first request for an invocation.
package lambda
