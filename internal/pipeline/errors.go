package pipeline

import (
	"errors"
	"fmt"
	"strings"
)

// The error types below are the names the state machine matches in Retry and
// Catch and that the Step Functions console shows as a failed state's Error:
// aws-lambda-go reports a returned error's type name as its errorType. A
// handler therefore returns them unwrapped, through ForStateMachine.
//
// Their messages are for people: they say what failed and what to do, and
// never carry a token, a secret or a signature.

// ConfigInvalid is a stackflow.yml or samconfig.toml that cannot be used.
type ConfigInvalid struct {
	File    string
	Line    int
	Problem string
	// Fix says what to change, when that is not plain from Problem.
	Fix string
}

// Error names the file, the line, the problem and the fix.
func (e *ConfigInvalid) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	b.WriteString(e.Problem)
	if e.Fix != "" {
		b.WriteString(" (")
		b.WriteString(e.Fix)
		b.WriteString(")")
	}
	return b.String()
}

// SourceUnavailable is a commit whose archive cannot be had for a reason that
// retrying will not cure: it does not exist, or the token may not read it;
// or a repository whose default branch and its files cannot be read.
type SourceUnavailable struct {
	Repository string
	// Commit is empty when the failure is the repository's, not a commit's.
	Commit string
	Reason string
}

// Error names the repository, the commit and why its source cannot be had.
func (e *SourceUnavailable) Error() string {
	if e.Commit == "" {
		return fmt.Sprintf("source of %s: %s", e.Repository, e.Reason)
	}
	return fmt.Sprintf("source of %s at %s: %s", e.Repository, ShortSHA(e.Commit), e.Reason)
}

// BitbucketUnavailable is a Bitbucket request that failed in a way worth
// retrying: rate limited (429), a server error, or no answer.
type BitbucketUnavailable struct {
	Operation string
	Reason    string
}

// Error names the Bitbucket request and how it failed.
func (e *BitbucketUnavailable) Error() string {
	return fmt.Sprintf("bitbucket %s: %s", e.Operation, e.Reason)
}

// ChecksFailed is a check command of the app that did not pass.
type ChecksFailed struct {
	Check string
	// Tail is the last lines of the check's output.
	Tail string
	// LogKey is the artifact-bucket key of the full output.
	LogKey string
}

// Error names the check and carries the end of its output.
func (e *ChecksFailed) Error() string {
	msg := fmt.Sprintf("check %q failed", e.Check)
	if e.Tail != "" {
		msg += ":\n" + e.Tail
	}
	return msg
}

// PackageFailed is a function of the app's template that could not be built
// or packaged.
type PackageFailed struct {
	Function string
	Reason   string
	// Tail is the last lines of the build output.
	Tail string
}

// Error names the function and why it could not be packaged.
func (e *PackageFailed) Error() string {
	msg := fmt.Sprintf("package %s: %s", e.Function, e.Reason)
	if e.Tail != "" {
		msg += ":\n" + e.Tail
	}
	return msg
}

// PackageRefused is a package the publish step would not publish: what the
// package step staged is not what it said it made (a zip whose SHA-256 or
// size differs from its output's, an object outside its run's own keys, a
// missing template), so nothing of it reaches an environment or a later
// run.
type PackageRefused struct {
	Reason string
}

// Error says why the package was refused.
func (e *PackageRefused) Error() string { return "package refused: " + e.Reason }

// StackDeployFailed is a stack that could not be deployed. The previous
// release keeps serving: CloudFormation rolled the stack back.
type StackDeployFailed struct {
	Stack  string
	Status string
	// Resource and Reason are the first failing resource and why it failed.
	Resource string
	Reason   string
}

// Error names the stack, its status and the first failing resource.
func (e *StackDeployFailed) Error() string {
	msg := "deploy " + e.Stack
	if e.Status != "" {
		msg += " (" + e.Status + ")"
	}
	if e.Resource != "" {
		msg += ": " + e.Resource
	}
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

// StackRefused is a stack the run may not deploy: it belongs to another
// environment (its stackflow:environment tag), or stackflow did not create
// it for this repository (its stackflow:repository tag). Nothing was
// changed.
type StackRefused struct {
	Stack       string
	Environment string
	// Reason says whose the stack is, and Fix what a person can do.
	Reason string
	Fix    string
}

// Error names the stack, the environment, whose the stack is and the fix.
func (e *StackRefused) Error() string {
	msg := fmt.Sprintf("refused to deploy %s to stack %s: %s", e.Environment, e.Stack, e.Reason)
	if e.Fix != "" {
		msg += "; " + e.Fix
	}
	return msg
}

// SmokeTestFailed is a smoke check whose answer was not what it wants.
type SmokeTestFailed struct {
	Environment string
	Check       string
	// Method is the request's method; empty means GET.
	Method string
	URL    string
	// Function is the function an invoke check invoked; when it is set,
	// Method and URL are empty.
	Function string
	Got      string
	Want     string
}

// Error names the check, the request or invocation, what came back and
// what was wanted.
func (e *SmokeTestFailed) Error() string {
	if e.Function != "" {
		return fmt.Sprintf("smoke test %q of %s failed: invoke %s: got %s, want %s",
			e.Check, e.Environment, e.Function, e.Got, e.Want)
	}
	method := e.Method
	if method == "" {
		method = "GET"
	}
	return fmt.Sprintf("smoke test %q of %s failed: %s %s: got %s, want %s",
		e.Check, e.Environment, method, e.URL, e.Got, e.Want)
}

// Throttled is an AWS request that was still throttled after the SDK's own
// retries; the state machine retries it with backoff.
type Throttled struct {
	Operation string
}

// Error names the throttled operation.
func (e *Throttled) Error() string { return e.Operation + ": throttled by AWS" }

// UnexpectedError is any other failure of a step. Its message is the step's
// own wrapped error text, which never holds secrets.
type UnexpectedError struct {
	Message string
}

// Error is the failed step's own message.
func (e *UnexpectedError) Error() string { return e.Message }

func (*ConfigInvalid) stateError()        {}
func (*SourceUnavailable) stateError()    {}
func (*BitbucketUnavailable) stateError() {}
func (*ChecksFailed) stateError()         {}
func (*PackageFailed) stateError()        {}
func (*PackageRefused) stateError()       {}
func (*StackDeployFailed) stateError()    {}
func (*StackRefused) stateError()         {}
func (*SmokeTestFailed) stateError()      {}
func (*Throttled) stateError()            {}
func (*UnexpectedError) stateError()      {}

// ErrorNames lists the names of every error type above, as the state
// machine's Retry and Catch match them.
var ErrorNames = []string{
	"ConfigInvalid", "SourceUnavailable", "BitbucketUnavailable", "ChecksFailed",
	"PackageFailed", "PackageRefused", "StackDeployFailed", "StackRefused", "SmokeTestFailed", "Throttled", "UnexpectedError",
	"Superseded", "RolledBack", "RollbackFailed", "Frozen", "Refused",
}

type stateErr interface {
	error
	stateError()
}

// ForStateMachine returns err in the form a handler returns it to Lambda:
// the first of this package's error types in err's chain, unwrapped so that
// its type name becomes the Error the state machine sees, or an
// UnexpectedError carrying err's text. It returns nil for nil.
func ForStateMachine(err error) error {
	if err == nil {
		return nil
	}
	var se stateErr
	if errors.As(err, &se) {
		return se
	}
	return &UnexpectedError{Message: err.Error()}
}
