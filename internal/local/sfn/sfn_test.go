package sfn

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/stackflow/stackflow/internal/pipeline"

	"github.com/stackflow/stackflow/internal/local/cachedir"
)

const role = "arn:aws:iam::000000000000:role/sfn-test"

var (
	unsafeName = regexp.MustCompile(`[^0-9A-Za-z_-]+`)
	names      atomic.Int64
)

// unique returns a state machine or execution name that starts with base
// and that no other test (nor another -count round) uses.
func unique(base string) string {
	suffix := fmt.Sprintf("-%d", names.Add(1))
	base = unsafeName.ReplaceAllString(base, "-")
	if len(base)+len(suffix) > 80 {
		base = base[len(base)+len(suffix)-80:]
	}
	return base + suffix
}

// machine creates a state machine named after the test from def, in which
// FUNCTION stands for the test function's ARN.
func machine(t *testing.T, def string) string {
	t.Helper()
	return machineOn(t, client, def)
}

// machineOn is machine on the service that c calls.
func machineOn(t *testing.T, c *awssfn.Client, def string) string {
	t.Helper()
	def = strings.ReplaceAll(def, "FUNCTION", functionID)
	out, err := c.CreateStateMachine(context.Background(), &awssfn.CreateStateMachineInput{
		Name:       aws.String(unique(t.Name())),
		Definition: aws.String(def),
		RoleArn:    aws.String(role),
	})
	if err != nil {
		t.Fatalf("CreateStateMachine: %v", err)
	}
	return aws.ToString(out.StateMachineArn)
}

func start(t *testing.T, machineArn, name, input string) string {
	t.Helper()
	return startOn(t, client, machineArn, name, input)
}

// startOn is start on the service that c calls.
func startOn(t *testing.T, c *awssfn.Client, machineArn, name, input string) string {
	t.Helper()
	out, err := c.StartExecution(context.Background(), &awssfn.StartExecutionInput{
		StateMachineArn: aws.String(machineArn),
		Name:            aws.String(name),
		Input:           aws.String(input),
	})
	if err != nil {
		t.Fatalf("StartExecution %s: %v", name, err)
	}
	return aws.ToString(out.ExecutionArn)
}

// finished waits for an execution to end and describes it.
func finished(t *testing.T, executionArn string) *awssfn.DescribeExecutionOutput {
	t.Helper()
	return finishedOn(t, client, executionArn)
}

// finishedOn is finished on the service that c calls.
func finishedOn(t *testing.T, c *awssfn.Client, executionArn string) *awssfn.DescribeExecutionOutput {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		out, err := c.DescribeExecution(context.Background(), &awssfn.DescribeExecutionInput{ExecutionArn: aws.String(executionArn)})
		if err != nil {
			t.Fatalf("DescribeExecution: %v", err)
		}
		if out.Status != types.ExecutionStatusRunning {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("execution %s still runs after a minute", executionArn)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// history returns an execution's whole history, page by page.
func history(t *testing.T, executionArn string, edit func(*awssfn.GetExecutionHistoryInput)) []types.HistoryEvent {
	t.Helper()
	return historyOn(t, client, executionArn, edit)
}

// historyOn is history on the service that c calls.
func historyOn(t *testing.T, c *awssfn.Client, executionArn string, edit func(*awssfn.GetExecutionHistoryInput)) []types.HistoryEvent {
	t.Helper()
	in := &awssfn.GetExecutionHistoryInput{ExecutionArn: aws.String(executionArn)}
	if edit != nil {
		edit(in)
	}
	var events []types.HistoryEvent
	for {
		out, err := c.GetExecutionHistory(context.Background(), in)
		if err != nil {
			t.Fatalf("GetExecutionHistory: %v", err)
		}
		events = append(events, out.Events...)
		if out.NextToken == nil {
			return events
		}
		in.NextToken = out.NextToken
	}
}

func eventTypes(events []types.HistoryEvent) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = string(e.Type)
	}
	return out
}

func countEvents(events []types.HistoryEvent, typ types.HistoryEventType) int {
	n := 0
	for _, e := range events {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// checkCause checks that cause is what AWS gives for a Lambda function
// error: the function's error payload, here a pipeline.ChecksFailed.
func checkCause(t *testing.T, cause string, want *pipeline.ChecksFailed) {
	t.Helper()
	if !strings.HasPrefix(cause, `{"errorMessage":`) {
		t.Errorf("got cause %q, want the function's error payload", cause)
	}
	var payload struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}
	if err := json.Unmarshal([]byte(cause), &payload); err != nil {
		t.Fatalf("cause %q: %v", cause, err)
	}
	if payload.ErrorType != "ChecksFailed" {
		t.Errorf("got errorType %q, want ChecksFailed", payload.ErrorType)
	}
	if payload.ErrorMessage != want.Error() {
		t.Errorf("got errorMessage %q, want %q", payload.ErrorMessage, want.Error())
	}
}

func TestHandlerErrorsReachRetryAndCatch(t *testing.T) {
	t.Parallel()
	const failing = `{"tag.$": "$$.Execution.Name", "fail": true, "check": "go vet", "tail": "main.go:3:2: unreachable code"}`
	checks := &pipeline.ChecksFailed{Check: "go vet", Tail: "main.go:3:2: unreachable code"}
	tests := []struct {
		name       string
		def        string
		wantStatus types.ExecutionStatus
		wantCalls  int
		failed     types.HistoryEventType
	}{
		{
			name: "function ARN retried then caught",
			def: `{"StartAt": "Run checks", "States": {
				"Run checks": {"Type": "Task", "Resource": "FUNCTION", "Parameters": ` + failing + `,
					"Retry": [{"ErrorEquals": ["ChecksFailed"], "MaxAttempts": 2}],
					"Catch": [{"ErrorEquals": ["ChecksFailed"], "ResultPath": "$.error", "Next": "Report failure"}],
					"End": true},
				"Report failure": {"Type": "Pass", "End": true}}}`,
			wantStatus: types.ExecutionStatusSucceeded,
			wantCalls:  3,
			failed:     types.HistoryEventTypeLambdaFunctionFailed,
		},
		{
			name: "lambda invoke retried then failing the execution",
			def: `{"StartAt": "Run checks", "States": {
				"Run checks": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
					"Parameters": {"FunctionName": "FUNCTION", "Payload": ` + failing + `},
					"Retry": [{"ErrorEquals": ["ChecksFailed"], "MaxAttempts": 1}],
					"End": true}}}`,
			wantStatus: types.ExecutionStatusFailed,
			wantCalls:  2,
			failed:     types.HistoryEventTypeTaskFailed,
		},
		{
			name: "States.TaskFailed catches without retrying other names",
			def: `{"StartAt": "Run checks", "States": {
				"Run checks": {"Type": "Task", "Resource": "FUNCTION", "Parameters": ` + failing + `,
					"Retry": [{"ErrorEquals": ["BitbucketUnavailable"], "MaxAttempts": 3}],
					"Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "Report failure"}],
					"End": true},
				"Report failure": {"Type": "Pass", "End": true}}}`,
			wantStatus: types.ExecutionStatusSucceeded,
			wantCalls:  1,
			failed:     types.HistoryEventTypeLambdaFunctionFailed,
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			arn := machine(t, tt.def)
			name := unique(fmt.Sprintf("errors-%d", i))
			got := finished(t, start(t, arn, name, `{"commit": "abc123"}`))

			if got.Status != tt.wantStatus {
				t.Fatalf("got status %s, want %s (error %q, cause %q)", got.Status, tt.wantStatus, aws.ToString(got.Error), aws.ToString(got.Cause))
			}
			if calls := invocations(t, name); len(calls) != tt.wantCalls {
				t.Errorf("got %d invocations, want %d", len(calls), tt.wantCalls)
			}
			events := history(t, aws.ToString(got.ExecutionArn), nil)
			if n := countEvents(events, tt.failed); n != tt.wantCalls {
				t.Errorf("got %d %s events, want %d", n, tt.failed, tt.wantCalls)
			}
			for _, e := range events {
				switch {
				case e.LambdaFunctionFailedEventDetails != nil:
					if got := aws.ToString(e.LambdaFunctionFailedEventDetails.Error); got != "ChecksFailed" {
						t.Errorf("got LambdaFunctionFailed error %q, want ChecksFailed", got)
					}
					checkCause(t, aws.ToString(e.LambdaFunctionFailedEventDetails.Cause), checks)
				case e.TaskFailedEventDetails != nil:
					if got := aws.ToString(e.TaskFailedEventDetails.Error); got != "ChecksFailed" {
						t.Errorf("got TaskFailed error %q, want ChecksFailed", got)
					}
					checkCause(t, aws.ToString(e.TaskFailedEventDetails.Cause), checks)
				}
			}

			if tt.wantStatus == types.ExecutionStatusFailed {
				if got := aws.ToString(got.Error); got != "ChecksFailed" {
					t.Errorf("got execution error %q, want ChecksFailed", got)
				}
				checkCause(t, aws.ToString(got.Cause), checks)
				return
			}
			var out struct {
				Commit string
				Error  struct{ Error, Cause string }
			}
			if err := json.Unmarshal([]byte(aws.ToString(got.Output)), &out); err != nil {
				t.Fatalf("output %s: %v", aws.ToString(got.Output), err)
			}
			if out.Commit != "abc123" {
				t.Errorf("got commit %q in the output, want the input's abc123 kept beside the error", out.Commit)
			}
			if out.Error.Error != "ChecksFailed" {
				t.Errorf("got caught Error %q, want ChecksFailed", out.Error.Error)
			}
			checkCause(t, out.Error.Cause, checks)
		})
	}
}

func TestHistoryListsEveryStateInOrder(t *testing.T) {
	t.Parallel()
	arn := machine(t, `{"StartAt": "Prepare", "States": {
		"Prepare": {"Type": "Pass", "Result": {"go": true}, "ResultPath": "$.prepared", "Next": "Choose"},
		"Choose": {"Type": "Choice", "Choices": [{"Variable": "$.prepared.go", "BooleanEquals": true, "Next": "Pause"}], "Default": "Give up"},
		"Give up": {"Type": "Fail", "Error": "NoGo"},
		"Pause": {"Type": "Wait", "Seconds": 0, "Next": "Fan out"},
		"Fan out": {"Type": "Parallel", "Branches": [{"StartAt": "Branch", "States": {"Branch": {"Type": "Pass", "End": true}}}],
			"ResultPath": null, "Next": "Call"},
		"Call": {"Type": "Task", "Resource": "FUNCTION", "Parameters": {"tag.$": "$$.Execution.Name", "value.$": "$.prepared"}, "ResultPath": "$.called", "Next": "Done"},
		"Done": {"Type": "Succeed"}}}`)
	name := unique("history")
	got := finished(t, start(t, arn, name, `{}`))
	if got.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("got status %s, want SUCCEEDED (error %q, cause %q)", got.Status, aws.ToString(got.Error), aws.ToString(got.Cause))
	}
	execArn := aws.ToString(got.ExecutionArn)
	events := history(t, execArn, nil)

	wantTypes := []string{
		"ExecutionStarted",
		"PassStateEntered", "PassStateExited",
		"ChoiceStateEntered", "ChoiceStateExited",
		"WaitStateEntered", "WaitStateExited",
		"ParallelStateEntered", "ParallelStateStarted", "PassStateEntered", "PassStateExited", "ParallelStateSucceeded", "ParallelStateExited",
		"TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionSucceeded", "TaskStateExited",
		"SucceedStateEntered", "SucceedStateExited",
		"ExecutionSucceeded",
	}
	if got := eventTypes(events); !slices.Equal(got, wantTypes) {
		t.Fatalf("got events\n%v\nwant\n%v", got, wantTypes)
	}
	var entered, exited []string
	for i, e := range events {
		if e.Id != int64(i+1) || e.PreviousEventId != int64(i) {
			t.Errorf("event %d: got id %d, previous %d; want %d, %d", i, e.Id, e.PreviousEventId, i+1, i)
		}
		if e.Timestamp == nil {
			t.Errorf("event %d (%s) has no timestamp", i, e.Type)
		}
		if d := e.StateEnteredEventDetails; d != nil {
			entered = append(entered, aws.ToString(d.Name))
		}
		if d := e.StateExitedEventDetails; d != nil {
			exited = append(exited, aws.ToString(d.Name))
		}
	}
	wantStates := []string{"Prepare", "Choose", "Pause", "Fan out", "Branch", "Call", "Done"}
	if !slices.Equal(entered, wantStates) {
		t.Errorf("got states entered %v, want %v", entered, wantStates)
	}
	wantExited := []string{"Prepare", "Choose", "Pause", "Branch", "Fan out", "Call", "Done"}
	if !slices.Equal(exited, wantExited) {
		t.Errorf("got states exited %v, want %v", exited, wantExited)
	}
	scheduled := events[slices.Index(wantTypes, "LambdaFunctionScheduled")].LambdaFunctionScheduledEventDetails
	if scheduled == nil || aws.ToString(scheduled.Resource) != functionID {
		t.Errorf("got LambdaFunctionScheduled details %+v, want resource %s", scheduled, functionID)
	} else if in := aws.ToString(scheduled.Input); in != `{"tag":"`+name+`","value":{"go":true}}` {
		t.Errorf("got function input %s, want the task's parameters", in)
	}
	if out := aws.ToString(events[len(events)-1].ExecutionSucceededEventDetails.Output); out != aws.ToString(got.Output) {
		t.Errorf("got ExecutionSucceeded output %s, want the execution's %s", out, aws.ToString(got.Output))
	}

	reversed := slices.Clone(wantTypes)
	slices.Reverse(reversed)
	views := []struct {
		name string
		edit func(*awssfn.GetExecutionHistoryInput)
		want []string
	}{
		{"pages of four", func(in *awssfn.GetExecutionHistoryInput) { in.MaxResults = 4 }, wantTypes},
		{"reverse order", func(in *awssfn.GetExecutionHistoryInput) { in.ReverseOrder = true }, reversed},
		{"reverse order in pages of two", func(in *awssfn.GetExecutionHistoryInput) {
			in.ReverseOrder = true
			in.MaxResults = 2
		}, reversed},
	}
	for _, v := range views {
		t.Run(v.name, func(t *testing.T) {
			if got := eventTypes(history(t, execArn, v.edit)); !slices.Equal(got, v.want) {
				t.Errorf("got events\n%v\nwant\n%v", got, v.want)
			}
		})
	}
	t.Run("without execution data", func(t *testing.T) {
		for _, e := range history(t, execArn, func(in *awssfn.GetExecutionHistoryInput) { in.IncludeExecutionData = aws.Bool(false) }) {
			if d := e.StateEnteredEventDetails; d != nil && d.Input != nil {
				t.Errorf("got input %s in %s, want none", aws.ToString(d.Input), e.Type)
			}
		}
	})
}

// waitingMachine is a state machine whose executions run until stopped.
const waitingMachine = `{"StartAt": "Wait for a long time", "States": {
	"Wait for a long time": {"Type": "Wait", "Seconds": 3600, "End": true}}}`

func stop(t *testing.T, executionArn string) {
	t.Helper()
	if _, err := client.StopExecution(context.Background(), &awssfn.StopExecutionInput{ExecutionArn: aws.String(executionArn)}); err != nil {
		t.Errorf("StopExecution: %v", err)
	}
}

func TestStartExecutionIsIdempotentByName(t *testing.T) {
	t.Parallel()
	arn := machine(t, waitingMachine)
	name := unique("push-abc123")
	first, err := client.StartExecution(context.Background(), &awssfn.StartExecutionInput{
		StateMachineArn: aws.String(arn), Name: aws.String(name), Input: aws.String(`{"commit":"abc123"}`),
	})
	if err != nil {
		t.Fatalf("StartExecution: %v", err)
	}
	execArn := aws.ToString(first.ExecutionArn)
	if want := strings.Replace(arn, ":stateMachine:", ":execution:", 1) + ":" + name; execArn != want {
		t.Errorf("got execution ARN %s, want %s", execArn, want)
	}

	tests := []struct {
		name     string
		input    string
		stopped  bool
		wantSame bool
	}{
		{name: "same name and input while running", input: `{"commit":"abc123"}`, wantSame: true},
		{name: "same name with another input while running", input: `{"commit":"def456"}`},
		{name: "same name and input after it stopped", input: `{"commit":"abc123"}`, stopped: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.stopped {
				stop(t, execArn)
			}
			again, err := client.StartExecution(context.Background(), &awssfn.StartExecutionInput{
				StateMachineArn: aws.String(arn), Name: aws.String(name), Input: aws.String(tt.input),
			})
			if !tt.wantSame {
				var exists *types.ExecutionAlreadyExists
				if !errors.As(err, &exists) {
					t.Fatalf("got %v, want ExecutionAlreadyExists", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("StartExecution again: %v", err)
			}
			if got := aws.ToString(again.ExecutionArn); got != execArn {
				t.Errorf("got execution %s, want the first one %s", got, execArn)
			}
			if !again.StartDate.Equal(*first.StartDate) {
				t.Errorf("got start date %v, want the first one's %v", again.StartDate, first.StartDate)
			}
		})
	}

	list, err := client.ListExecutions(context.Background(), &awssfn.ListExecutionsInput{StateMachineArn: aws.String(arn)})
	if err != nil {
		t.Fatalf("ListExecutions: %v", err)
	}
	if len(list.Executions) != 1 {
		t.Errorf("got %d executions, want 1", len(list.Executions))
	}
}

func TestStopExecutionAborts(t *testing.T) {
	t.Parallel()
	arn := machine(t, waitingMachine)
	execArn := start(t, arn, unique("to-be-stopped"), `{}`)
	stopped, err := client.StopExecution(context.Background(), &awssfn.StopExecutionInput{
		ExecutionArn: aws.String(execArn),
		Error:        aws.String("Superseded"),
		Cause:        aws.String("a newer push to main"),
	})
	if err != nil {
		t.Fatalf("StopExecution: %v", err)
	}
	got := finished(t, execArn)
	if got.Status != types.ExecutionStatusAborted {
		t.Errorf("got status %s, want ABORTED", got.Status)
	}
	if aws.ToString(got.Error) != "Superseded" || aws.ToString(got.Cause) != "a newer push to main" {
		t.Errorf("got error %q, cause %q; want Superseded, a newer push to main", aws.ToString(got.Error), aws.ToString(got.Cause))
	}
	if got.StopDate == nil || !got.StopDate.Equal(*stopped.StopDate) {
		t.Errorf("got stop date %v, want StopExecution's %v", got.StopDate, stopped.StopDate)
	}
	events := history(t, execArn, nil)
	want := []string{"ExecutionStarted", "WaitStateEntered", "WaitStateAborted", "ExecutionAborted"}
	if got := eventTypes(events); !slices.Equal(got, want) {
		t.Fatalf("got events %v, want %v", got, want)
	}
	if d := events[3].ExecutionAbortedEventDetails; d == nil || aws.ToString(d.Error) != "Superseded" {
		t.Errorf("got ExecutionAborted details %+v, want error Superseded", d)
	}
}

func TestMapWithMaxConcurrencyOneKeepsItemOrder(t *testing.T) {
	t.Parallel()
	arn := machine(t, `{"StartAt": "Deploy each", "States": {
		"Deploy each": {"Type": "Map", "ItemsPath": "$.environments", "MaxConcurrency": 1,
			"ItemSelector": {"tag.$": "$$.Map.Item.Value", "value.$": "$$.Map.Item.Index"},
			"ItemProcessor": {"StartAt": "Deploy", "States": {
				"Deploy": {"Type": "Task", "Resource": "FUNCTION", "End": true}}},
			"End": true}}}`)
	name := unique("map")
	var items []string
	for i := range 5 {
		items = append(items, fmt.Sprintf("%s-env%d", name, i))
	}
	input, err := json.Marshal(map[string]any{"environments": items})
	if err != nil {
		t.Fatal(err)
	}
	got := finished(t, start(t, arn, name, string(input)))
	if got.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("got status %s, want SUCCEEDED (error %q, cause %q)", got.Status, aws.ToString(got.Error), aws.ToString(got.Cause))
	}

	if calls := invocations(t, name+"-"); !slices.Equal(calls, items) {
		t.Errorf("got invocations %v, want %v", calls, items)
	}
	var out []struct {
		Tag   string
		Value int
	}
	if err := json.Unmarshal([]byte(aws.ToString(got.Output)), &out); err != nil {
		t.Fatalf("output %s: %v", aws.ToString(got.Output), err)
	}
	for i, o := range out {
		if o.Tag != items[i] || o.Value != i {
			t.Errorf("got result %d %+v, want tag %s, index %d", i, o, items[i], i)
		}
	}

	var iterations []string
	for _, e := range history(t, aws.ToString(got.ExecutionArn), nil) {
		if d := e.MapStateStartedEventDetails; d != nil && d.Length != int32(len(items)) {
			t.Errorf("got MapStateStarted length %d, want %d", d.Length, len(items))
		}
		if d := e.MapIterationStartedEventDetails; d != nil {
			iterations = append(iterations, fmt.Sprintf("started %d", d.Index))
		}
		if d := e.MapIterationSucceededEventDetails; d != nil {
			iterations = append(iterations, fmt.Sprintf("succeeded %d", d.Index))
		}
	}
	var want []string
	for i := range items {
		want = append(want, fmt.Sprintf("started %d", i), fmt.Sprintf("succeeded %d", i))
	}
	if !slices.Equal(iterations, want) {
		t.Errorf("got iterations %v, want %v", iterations, want)
	}
}

func TestContextObject(t *testing.T) {
	t.Parallel()
	arn := machine(t, `{"StartAt": "Read context", "States": {
		"Read context": {"Type": "Pass", "Parameters": {
			"id.$": "$$.Execution.Id", "name.$": "$$.Execution.Name", "input.$": "$$.Execution.Input",
			"start.$": "$$.Execution.StartTime", "machine.$": "$$.StateMachine.Id", "machineName.$": "$$.StateMachine.Name"},
			"ResultPath": "$.context", "Next": "Pass it on"},
		"Pass it on": {"Type": "Task", "Resource": "FUNCTION",
			"Parameters": {"tag.$": "$$.Execution.Name", "value.$": "$$.Execution.Id"}, "ResultPath": "$.seen", "End": true}}}`)
	name := unique("context")
	got := finished(t, start(t, arn, name, `{"commit":"abc123"}`))
	if got.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("got status %s, want SUCCEEDED (error %q, cause %q)", got.Status, aws.ToString(got.Error), aws.ToString(got.Cause))
	}
	var out struct {
		Context struct {
			ID          string `json:"id"`
			Name        string `json:"name"`
			Input       struct{ Commit string }
			Start       string `json:"start"`
			Machine     string `json:"machine"`
			MachineName string `json:"machineName"`
		}
		Seen struct{ Value string }
	}
	if err := json.Unmarshal([]byte(aws.ToString(got.Output)), &out); err != nil {
		t.Fatalf("output %s: %v", aws.ToString(got.Output), err)
	}
	machineName := arn[strings.LastIndex(arn, ":")+1:]
	wantID := "arn:aws:states:us-east-1:000000000000:execution:" + machineName + ":" + name
	checks := []struct{ field, got, want string }{
		{"Execution.Id", out.Context.ID, wantID},
		{"Execution.Id as the function saw it", out.Seen.Value, wantID},
		{"Execution.Name", out.Context.Name, name},
		{"Execution.Input.commit", out.Context.Input.Commit, "abc123"},
		{"StateMachine.Id", out.Context.Machine, arn},
		{"StateMachine.Name", out.Context.MachineName, machineName},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("got %s %q, want %q", c.field, c.got, c.want)
		}
	}
	if _, err := time.Parse(time.RFC3339, out.Context.Start); err != nil {
		t.Errorf("got Execution.StartTime %q: %v", out.Context.Start, err)
	}
}

// taskToken waits until a callback task has handed out its token and
// returns it, read from the TaskScheduled event's parameters.
func taskToken(t *testing.T, executionArn string) string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		events := history(t, executionArn, nil)
		if countEvents(events, types.HistoryEventTypeTaskSubmitted) == 1 {
			if token := scheduledToken(t, events); token != "" {
				return token
			}
		}
		if countEvents(events, types.HistoryEventTypeExecutionFailed) > 0 || time.Now().After(deadline) {
			t.Fatalf("no task token handed out: %v", eventTypes(events))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// scheduledToken is the task token the TaskScheduled event of events
// handed to its function (in its payload's value), or "".
func scheduledToken(t *testing.T, events []types.HistoryEvent) string {
	t.Helper()
	for _, e := range events {
		if d := e.TaskScheduledEventDetails; d != nil {
			var params struct{ Payload struct{ Value string } }
			if err := json.Unmarshal([]byte(aws.ToString(d.Parameters)), &params); err != nil {
				t.Fatalf("TaskScheduled parameters %s: %v", aws.ToString(d.Parameters), err)
			}
			return params.Payload.Value
		}
	}
	return ""
}

func TestWaitForTaskToken(t *testing.T) {
	t.Parallel()
	arn := machine(t, `{"StartAt": "Wait for approval", "States": {
		"Wait for approval": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
			"Parameters": {"FunctionName": "FUNCTION", "Payload": {"tag.$": "$$.Execution.Name", "value.$": "$$.Task.Token"}},
			"HeartbeatSeconds": 3600, "End": true}}}`)
	tests := []struct {
		name       string
		send       func(ctx context.Context, token string) error
		wantStatus types.ExecutionStatus
		wantOutput string
		wantError  string
	}{
		{
			name: "approved",
			send: func(ctx context.Context, token string) error {
				_, err := client.SendTaskSuccess(ctx, &awssfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(`{"approvedBy":"alice"}`)})
				return err
			},
			wantStatus: types.ExecutionStatusSucceeded,
			wantOutput: `{"approvedBy":"alice"}`,
		},
		{
			name: "rejected",
			send: func(ctx context.Context, token string) error {
				_, err := client.SendTaskFailure(ctx, &awssfn.SendTaskFailureInput{TaskToken: aws.String(token), Error: aws.String("Rejected"), Cause: aws.String("not today")})
				return err
			},
			wantStatus: types.ExecutionStatusFailed,
			wantError:  "Rejected",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			execArn := start(t, arn, unique(tt.name), `{}`)
			token := taskToken(t, execArn)
			if _, err := client.SendTaskHeartbeat(ctx, &awssfn.SendTaskHeartbeatInput{TaskToken: aws.String(token)}); err != nil {
				t.Errorf("SendTaskHeartbeat: %v", err)
			}
			if err := tt.send(ctx, token); err != nil {
				t.Fatalf("send: %v", err)
			}
			got := finished(t, execArn)
			if got.Status != tt.wantStatus {
				t.Fatalf("got status %s, want %s", got.Status, tt.wantStatus)
			}
			if out := aws.ToString(got.Output); out != tt.wantOutput {
				t.Errorf("got output %q, want %q", out, tt.wantOutput)
			}
			if e := aws.ToString(got.Error); e != tt.wantError {
				t.Errorf("got error %q, want %q", e, tt.wantError)
			}
			var timedOut *types.TaskTimedOut
			if err := tt.send(ctx, token); !errors.As(err, &timedOut) {
				t.Errorf("sending again: got %v, want TaskTimedOut", err)
			}
		})
	}
}

func TestAPIErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	arn := machine(t, waitingMachine)
	machineName := arn[strings.LastIndex(arn, ":")+1:]
	unknownToken := base64.StdEncoding.EncodeToString([]byte(`{"e":"arn:aws:states:us-east-1:000000000000:execution:x:y","n":1,"r":"00"}`))
	tests := []struct {
		name string
		call func() error
		want any
	}{
		{"invalid definition", func() error {
			_, err := client.CreateStateMachine(ctx, &awssfn.CreateStateMachineInput{Name: aws.String("invalid-definition"), RoleArn: aws.String(role),
				Definition: aws.String(`{"StartAt": "Nowhere", "States": {"Somewhere": {"Type": "Succeed"}}}`)})
			return err
		}, new(*types.InvalidDefinition)},
		{"definition that is not JSON", func() error {
			_, err := client.CreateStateMachine(ctx, &awssfn.CreateStateMachineInput{Name: aws.String("not-json"), RoleArn: aws.String(role), Definition: aws.String(`{`)})
			return err
		}, new(*types.InvalidDefinition)},
		{"JSONata", func() error {
			_, err := client.CreateStateMachine(ctx, &awssfn.CreateStateMachineInput{Name: aws.String("jsonata"), RoleArn: aws.String(role),
				Definition: aws.String(`{"QueryLanguage": "JSONata", "StartAt": "Done", "States": {"Done": {"Type": "Pass", "Output": "{% $states.input %}", "End": true}}}`)})
			return err
		}, new(*types.InvalidDefinition)},
		{"duplicate state names", func() error {
			_, err := client.CreateStateMachine(ctx, &awssfn.CreateStateMachineInput{Name: aws.String("duplicate-names"), RoleArn: aws.String(role),
				Definition: aws.String(`{"StartAt": "Each", "States": {"Each": {"Type": "Map", "ItemProcessor": {"StartAt": "Each", "States": {"Each": {"Type": "Succeed"}}}, "End": true}}}`)})
			return err
		}, new(*types.InvalidDefinition)},
		{"state machine name with a space", func() error {
			_, err := client.CreateStateMachine(ctx, &awssfn.CreateStateMachineInput{Name: aws.String("has space"), RoleArn: aws.String(role), Definition: aws.String(waitingMachine)})
			return err
		}, new(*types.InvalidName)},
		{"existing name with another definition", func() error {
			_, err := client.CreateStateMachine(ctx, &awssfn.CreateStateMachineInput{Name: aws.String(machineName), RoleArn: aws.String(role),
				Definition: aws.String(`{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}`)})
			return err
		}, new(*types.StateMachineAlreadyExists)},
		{"unknown state machine", func() error {
			_, err := client.DescribeStateMachine(ctx, &awssfn.DescribeStateMachineInput{StateMachineArn: aws.String(arn + "-unknown")})
			return err
		}, new(*types.StateMachineDoesNotExist)},
		{"malformed ARN", func() error {
			_, err := client.DescribeExecution(ctx, &awssfn.DescribeExecutionInput{ExecutionArn: aws.String("not-an-arn")})
			return err
		}, new(*types.InvalidArn)},
		{"unknown execution", func() error {
			_, err := client.DescribeExecution(ctx, &awssfn.DescribeExecutionInput{ExecutionArn: aws.String(strings.Replace(arn, ":stateMachine:", ":execution:", 1) + ":nope")})
			return err
		}, new(*types.ExecutionDoesNotExist)},
		{"execution input that is not JSON", func() error {
			_, err := client.StartExecution(ctx, &awssfn.StartExecutionInput{StateMachineArn: aws.String(arn), Input: aws.String(`{"commit":`)})
			return err
		}, new(*types.InvalidExecutionInput)},
		{"execution name with a slash", func() error {
			_, err := client.StartExecution(ctx, &awssfn.StartExecutionInput{StateMachineArn: aws.String(arn), Name: aws.String("feature/x")})
			return err
		}, new(*types.InvalidName)},
		{"task token that is not one", func() error {
			_, err := client.SendTaskSuccess(ctx, &awssfn.SendTaskSuccessInput{TaskToken: aws.String("not a token"), Output: aws.String(`{}`)})
			return err
		}, new(*types.InvalidToken)},
		{"task token of no task", func() error {
			_, err := client.SendTaskSuccess(ctx, &awssfn.SendTaskSuccessInput{TaskToken: aws.String(unknownToken), Output: aws.String(`{}`)})
			return err
		}, new(*types.TaskDoesNotExist)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil || !errors.As(err, tt.want) {
				t.Errorf("got %v, want %T", err, tt.want)
			}
		})
	}
}

func TestStateMachineLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	arn := machine(t, waitingMachine)
	machineName := arn[strings.LastIndex(arn, ":")+1:]

	again, err := client.CreateStateMachine(ctx, &awssfn.CreateStateMachineInput{Name: aws.String(machineName), RoleArn: aws.String(role), Definition: aws.String(waitingMachine)})
	if err != nil {
		t.Fatalf("CreateStateMachine again with the same definition: %v", err)
	}
	if got := aws.ToString(again.StateMachineArn); got != arn {
		t.Errorf("got %s creating it again, want %s", got, arn)
	}

	const updated = `{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}`
	if _, err := client.UpdateStateMachine(ctx, &awssfn.UpdateStateMachineInput{StateMachineArn: aws.String(arn), Definition: aws.String(updated)}); err != nil {
		t.Fatalf("UpdateStateMachine: %v", err)
	}
	desc, err := client.DescribeStateMachine(ctx, &awssfn.DescribeStateMachineInput{StateMachineArn: aws.String(arn)})
	if err != nil {
		t.Fatalf("DescribeStateMachine: %v", err)
	}
	if aws.ToString(desc.Definition) != updated || aws.ToString(desc.RoleArn) != role || desc.Status != types.StateMachineStatusActive || desc.Type != types.StateMachineTypeStandard {
		t.Errorf("got %s %s %s %s, want the updated definition, %s, ACTIVE, STANDARD", aws.ToString(desc.Definition), aws.ToString(desc.RoleArn), desc.Status, desc.Type, role)
	}
	if got := finished(t, start(t, arn, unique("after-update"), `{}`)); got.Status != types.ExecutionStatusSucceeded {
		t.Errorf("got status %s running the updated machine, want SUCCEEDED", got.Status)
	}

	found := false
	pages := awssfn.NewListStateMachinesPaginator(client, &awssfn.ListStateMachinesInput{MaxResults: 1})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListStateMachines: %v", err)
		}
		for _, m := range page.StateMachines {
			found = found || aws.ToString(m.StateMachineArn) == arn
		}
	}
	if !found {
		t.Errorf("ListStateMachines does not list %s", arn)
	}

	if _, err := client.DeleteStateMachine(ctx, &awssfn.DeleteStateMachineInput{StateMachineArn: aws.String(arn)}); err != nil {
		t.Fatalf("DeleteStateMachine: %v", err)
	}
	var gone *types.StateMachineDoesNotExist
	if _, err := client.DescribeStateMachine(ctx, &awssfn.DescribeStateMachineInput{StateMachineArn: aws.String(arn)}); !errors.As(err, &gone) {
		t.Errorf("got %v describing a deleted machine, want StateMachineDoesNotExist", err)
	}
}

func TestListExecutionsNewestFirst(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	arn := machine(t, `{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}`)
	var started []string
	for _, name := range []string{"first", "second", "third"} {
		name = unique(name)
		started = append(started, name)
		finished(t, start(t, arn, name, `{}`))
	}
	newestFirst := slices.Clone(started)
	slices.Reverse(newestFirst)
	tests := []struct {
		name   string
		status types.ExecutionStatus
		want   []string
	}{
		{"all", "", newestFirst},
		{"succeeded", types.ExecutionStatusSucceeded, newestFirst},
		{"failed", types.ExecutionStatusFailed, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			pages := awssfn.NewListExecutionsPaginator(client, &awssfn.ListExecutionsInput{StateMachineArn: aws.String(arn), StatusFilter: tt.status, MaxResults: 2})
			for pages.HasMorePages() {
				page, err := pages.NextPage(ctx)
				if err != nil {
					t.Fatalf("ListExecutions: %v", err)
				}
				for _, e := range page.Executions {
					got = append(got, aws.ToString(e.Name))
					if e.StopDate == nil || e.Status != types.ExecutionStatusSucceeded {
						t.Errorf("got %s %s stopped %v, want SUCCEEDED with a stop date", aws.ToString(e.Name), e.Status, e.StopDate)
					}
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMissingFunctionFailsTheTask(t *testing.T) {
	t.Parallel()
	missing := strings.TrimSuffix(functionID, handlerFunction) + "no-such-function"
	arn := machine(t, `{"StartAt": "Call", "States": {
		"Call": {"Type": "Task", "Resource": "`+missing+`", "End": true}}}`)
	got := finished(t, start(t, arn, unique("missing"), `{}`))
	if got.Status != types.ExecutionStatusFailed {
		t.Fatalf("got status %s, want FAILED", got.Status)
	}
	if e := aws.ToString(got.Error); e != "Lambda.ResourceNotFoundException" {
		t.Errorf("got error %q, want Lambda.ResourceNotFoundException", e)
	}
	if c := aws.ToString(got.Cause); !strings.Contains(c, "no-such-function") {
		t.Errorf("got cause %q, want it to name the function", c)
	}
}

// TestMapStopsAtTheFirstFailedIteration is the promotion's safety: when
// staging fails, prod is never started. On AWS a Map whose iteration fails
// fails at once and starts no further iterations.
func TestMapStopsAtTheFirstFailedIteration(t *testing.T) {
	t.Parallel()
	arn := machine(t, `{"StartAt": "Deploy each", "States": {
		"Deploy each": {"Type": "Map", "ItemsPath": "$.environments", "MaxConcurrency": 1,
			"ItemSelector": {"tag.$": "$$.Map.Item.Value.tag", "fail.$": "$$.Map.Item.Value.fail"},
			"ItemProcessor": {"StartAt": "Deploy", "States": {
				"Deploy": {"Type": "Task", "Resource": "FUNCTION", "End": true}}},
			"End": true}}}`)
	name := unique("mapfail")
	input := fmt.Sprintf(`{"environments": [{"tag": "%[1]s-staging", "fail": true}, {"tag": "%[1]s-prod", "fail": false}, {"tag": "%[1]s-dr", "fail": false}]}`, name)
	got := finished(t, start(t, arn, name, input))
	if got.Status != types.ExecutionStatusFailed || aws.ToString(got.Error) != "ChecksFailed" {
		t.Fatalf("got %s %s, want FAILED ChecksFailed", got.Status, aws.ToString(got.Error))
	}
	// Give a wrongly queued iteration the time to run before looking.
	time.Sleep(300 * time.Millisecond)
	if calls := invocations(t, name+"-"); !slices.Equal(calls, []string{name + "-staging"}) {
		t.Errorf("got invocations %v, want only %s-staging", calls, name)
	}
	var started []int32
	for _, e := range history(t, aws.ToString(got.ExecutionArn), nil) {
		if d := e.MapIterationStartedEventDetails; d != nil {
			started = append(started, d.Index)
		}
	}
	if !slices.Equal(started, []int32{0}) {
		t.Errorf("got iterations started %v, want only [0]", started)
	}
}

// TestPollWaits: a Wait state whose SecondsPath Options.PollWaits names
// waits the given time, inside a Map as outside it, however many seconds
// the path names; a Wait state with another path waits what it says.
func TestPollWaits(t *testing.T) {
	t.Parallel()
	const day = `{"poll": 86400, "other": 86400, "items": [1, 2]}`
	polls := machine(t, `{
	  "StartAt": "Poll",
	  "States": {
	    "Poll": {"Type": "Wait", "SecondsPath": "$.poll", "Next": "Each"},
	    "Each": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1,
	      "ItemSelector": {"poll.$": "$.poll"},
	      "ItemProcessor": {"StartAt": "Poll again", "States": {
	        "Poll again": {"Type": "Wait", "SecondsPath": "$.poll", "End": true}}},
	      "ResultPath": null, "End": true}
	  }
	}`)
	if out := finished(t, start(t, polls, unique("polls"), day)); out.Status != types.ExecutionStatusSucceeded {
		t.Errorf("waits a day each, shortened: got %s, want SUCCEEDED", out.Status)
	}

	other := machine(t, `{"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "SecondsPath": "$.other", "End": true}}}`)
	arn := start(t, other, unique("other"), day)
	defer stop(t, arn)
	// Started after the first machine's run ended and waits a day: it
	// runs still, in its Wait state.
	for deadline := time.Now().Add(time.Minute); countEvents(history(t, arn, nil), types.HistoryEventTypeWaitStateEntered) == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("execution %s has not entered its Wait state after a minute", arn)
		}
		time.Sleep(5 * time.Millisecond)
	}
	out, err := client.DescribeExecution(context.Background(), &awssfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != types.ExecutionStatusRunning {
		t.Errorf("a Wait on another path: got %s, want RUNNING (waiting a day)", out.Status)
	}
}

// TestValidatedDefinitionsAreRemembered: a definition that passed the
// interpreter's validation is remembered beside the engine, named by its
// text with the Lambda functions' names set aside, so that the same
// definition over other functions is not validated again; one that failed
// is not remembered, and is refused again.
func TestValidatedDefinitionsAreRemembered(t *testing.T) {
	t.Parallel()
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	pkg, _ := engine.ReadFile("node/package.json")
	lock, _ := engine.ReadFile("node/package-lock.json")
	dir := filepath.Join(cache, "stackflow", "node", "sfn-"+cachedir.Digest(pkg, lock), "validated")
	key := func(def string) string {
		shape := regexp.MustCompile(`arn:aws:lambda:([a-z0-9-]+):(\d{12}):function:[A-Za-z0-9_-]{1,64}`).
			ReplaceAllString(def, "arn:aws:lambda:$1:$2:function:f")
		sum := sha256.Sum256([]byte("checkArn checkPaths\n" + shape))
		return filepath.Join(dir, hex.EncodeToString(sum[:]))
	}
	// A comment of its own, so that no earlier run remembered it.
	def := `{"Comment": "` + unique(t.Name()) + "-" + rand.Text() + `", "StartAt": "Call",
	  "States": {"Call": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:one", "End": true}}}`
	if _, err := os.Stat(key(def)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("remembered before it was created: %v", err)
	}
	machine(t, def)
	t.Cleanup(func() { os.Remove(key(def)) })
	if _, err := os.Stat(key(def)); err != nil {
		t.Fatalf("a valid definition is not remembered: %v", err)
	}
	other := strings.Replace(def, "function:one", "function:another-one", 1)
	if key(other) != key(def) {
		t.Fatalf("the same definition over another function has another key")
	}
	machine(t, other)

	bad := strings.Replace(def, `"End": true`, `"Next": "Nowhere"`, 1)
	for range 2 {
		_, err := client.CreateStateMachine(context.Background(), &awssfn.CreateStateMachineInput{
			Name: aws.String(unique(t.Name())), Definition: aws.String(bad), RoleArn: aws.String(role)})
		var invalid *types.InvalidDefinition
		if !errors.As(err, &invalid) {
			t.Errorf("an invalid definition: got %v, want InvalidDefinition", err)
		}
	}
	if _, err := os.Stat(key(bad)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an invalid definition is remembered: %v", err)
	}
}
