// Package lambda runs Lambda functions on this machine for `stackflow
// local`: each function is a real `bootstrap` process that takes its
// invocations from kumo's Lambda service over the Lambda Runtime API.
//
// A Supervisor registers each function in kumo's Lambda (CreateFunction, or
// UpdateFunctionConfiguration when it exists), so Invoke by name or by ARN
// reaches it, and runs <Dir>/bootstrap with
//
//   - AWS_LAMBDA_RUNTIME_API=<host:port>/_runtime/<name>, the endpoint
//     kumo serves the Runtime API on for that function, at the host of the
//     configuration New was given: kumo's, or a Front's before it;
//   - the variables Lambda sets: AWS_LAMBDA_FUNCTION_NAME,
//     AWS_LAMBDA_FUNCTION_VERSION, AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
//     AWS_LAMBDA_LOG_GROUP_NAME, AWS_LAMBDA_LOG_STREAM_NAME, AWS_REGION,
//     AWS_DEFAULT_REGION, LAMBDA_TASK_ROOT, _HANDLER;
//   - dummy credentials, AWS_XRAY_CONTEXT_MISSING=IGNORE_ERROR (there is no
//     X-Ray segment outside Lambda) and AWS_ENDPOINT_URL=<kumo> unless the
//     caller's Env sets it;
//   - the caller's Env, which wins over all of the above except
//     AWS_LAMBDA_RUNTIME_API and AWS_LAMBDA_FUNCTION_NAME.
//
// What differs from AWS:
//
//   - One process per function, started at once and kept running: there is
//     no cold start per concurrent request, no concurrency (kumo hands
//     invocations to the one process in turn), and no freezing between
//     invocations.
//   - The process inherits the host's environment except every AWS_*
//     variable (so no host credential or profile reaches a local function),
//     and runs in its code directory, as Lambda runs in /var/task. Locally
//     a function may use the host's tools (the Go toolchain for checks and
//     builds); the Timeout is enforced by kumo, MemorySize and
//     EphemeralStorage are not enforced.
//   - A process that dies is started again (with a growing pause, up to 5 s,
//     when it keeps dying): kumo would otherwise leave invocations waiting
//     30 s for a handler that is gone.
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
