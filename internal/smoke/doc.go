// Package smoke runs an environment's smoke checks against its freshly
// deployed stack, each retried with backoff for a while, because a new
// stack often answers 5xx or 404 for its first seconds:
//
//   - HTTP checks: requests to URLs made from the stack's outputs;
//   - invoke checks: invocations of one of the stack's own functions
//     (named by an output or by its logical ID) through the Lambda API,
//     with a JSON payload, passing when the function returns no error and
//     its result holds the text wanted. The function must be one of the
//     environment's own stack (the step lists the stack's resources), and
//     an environment with a role is reached as that role, under a session
//     policy that allows only reading its stack and invoking that one
//     function.
//
// A check that never gives the answer it wants fails the environment with
// a *pipeline.SmokeTestFailed, which quotes the start of the last answer
// with the step's credentials hidden.
package smoke
