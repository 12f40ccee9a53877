// Package bench measures stackflow's own overhead on a local pipeline
// (internal/local): how fast the webhook answers a burst of signed
// Bitbucket deliveries and whether each push started exactly one
// execution, and how many state transitions a run costs as Step Functions
// bills them. cmd/stackflow-bench prints these figures and bench/run
// prints them with the rest of the figures (webhook benchmark,
// handler binary sizes, package and checks timings).
//
// Nothing here asserts a duration: the package's tests check the
// arithmetic, the counting of a recorded history and that a small load run
// starts each push exactly once; the figures are for people to read.
package bench
