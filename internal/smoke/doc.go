// Package smoke runs an environment's smoke checks against its freshly
// deployed stack: HTTP requests to URLs made from the stack's outputs, each
// retried with backoff for a while, because a new stack often answers 5xx
// or 404 for its first seconds. A check that never gives the answer it wants
// fails the environment with a *pipeline.SmokeTestFailed.
package smoke
