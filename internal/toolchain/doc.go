// Package toolchain finds the Go toolchain that a module asks for, the way
// the go command's GOTOOLCHAIN=auto does: the go.mod (or go.work) "go" and
// "toolchain" lines name the least version; the host's go command is used
// when it is at least that new, and otherwise the golang.org/toolchain
// module is downloaded from the Go module proxy, unpacked into a cache
// directory once and reused on warm starts.
//
// A resolved Toolchain also builds the environment that checks and builds
// run in: an allow-list of the process environment (never AWS credentials
// or tokens) with the toolchain's bin directory first on PATH and
// GOTOOLCHAIN=local, so the go command never switches toolchains again.
package toolchain
