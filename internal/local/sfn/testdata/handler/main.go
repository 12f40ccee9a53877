// Command handler is the Lambda function that the sfn tests run through
// kumo: it notes each invocation's tag in the file HANDLER_LOG names, then
// fails with pipeline.ChecksFailed when asked to or echoes its input.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/stackflow/stackflow/internal/pipeline"
)

// Input is what the tests' state machines pass.
type Input struct {
	// Tag is written to HANDLER_LOG, one line per invocation.
	Tag string `json:"tag,omitempty"`
	// Fail, when set, makes the function fail with ChecksFailed{Check, Tail}.
	Fail  bool   `json:"fail,omitempty"`
	Check string `json:"check,omitempty"`
	Tail  string `json:"tail,omitempty"`
	// Value is echoed back.
	Value any `json:"value,omitempty"`
}

func handle(_ context.Context, in Input) (Input, error) {
	if path := os.Getenv("HANDLER_LOG"); path != "" && in.Tag != "" {
		if err := appendLine(path, in.Tag); err != nil {
			return Input{}, pipeline.ForStateMachine(fmt.Errorf("note invocation: %w", err))
		}
	}
	if in.Fail {
		return Input{}, pipeline.ForStateMachine(fmt.Errorf("run checks: %w", &pipeline.ChecksFailed{Check: in.Check, Tail: in.Tail}))
	}
	return in, nil
}

func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(line + "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func main() {
	lambda.Start(handle)
}
