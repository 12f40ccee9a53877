package sfn

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// The tests in this file cover what the pipeline's safe promotion relies on
// the service to do as Step Functions does: runs that stop themselves,
// approvals that time out, runs that wait without holding others back, and
// the ASL details its state machine uses.

// waitForEvent waits until an execution's history has an event of type typ
// and returns the history.
func waitForEvent(t *testing.T, c *awssfn.Client, executionArn string, typ types.HistoryEventType) []types.HistoryEvent {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		events := historyOn(t, c, executionArn, nil)
		if countEvents(events, typ) > 0 {
			return events
		}
		ended := countEvents(events, types.HistoryEventTypeExecutionSucceeded) + countEvents(events, types.HistoryEventTypeExecutionFailed) +
			countEvents(events, types.HistoryEventTypeExecutionAborted) + countEvents(events, types.HistoryEventTypeExecutionTimedOut)
		if ended > 0 || time.Now().After(deadline) {
			t.Fatalf("no %s event in %s: %v", typ, executionArn, eventTypes(events))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// outputOf decodes a finished execution's output into v.
func outputOf(t *testing.T, got *awssfn.DescribeExecutionOutput, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(aws.ToString(got.Output)), v); err != nil {
		t.Fatalf("output %s: %v", aws.ToString(got.Output), err)
	}
}

func TestStopExecutionTask(t *testing.T) {
	t.Parallel()
	t.Run("an execution stops itself", func(t *testing.T) {
		t.Parallel()
		arn := machine(t, `{"StartAt": "Check for a newer push", "States": {
			"Check for a newer push": {"Type": "Pass", "Next": "Stop superseded run"},
			"Stop superseded run": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sfn:stopExecution",
				"Parameters": {"ExecutionArn.$": "$$.Execution.Id", "Error": "Superseded", "Cause.$": "States.Format('superseded by {}', $.newer)"},
				"Next": "Deploy"},
			"Deploy": {"Type": "Task", "Resource": "FUNCTION", "Parameters": {"tag.$": "$$.Execution.Name"}, "End": true}}}`)
		execArn := start(t, arn, unique("superseded"), `{"newer": "def4567"}`)
		got := finished(t, execArn)
		if got.Status != types.ExecutionStatusAborted {
			t.Fatalf("got status %s, want ABORTED (error %q, cause %q)", got.Status, aws.ToString(got.Error), aws.ToString(got.Cause))
		}
		if e, c := aws.ToString(got.Error), aws.ToString(got.Cause); e != "Superseded" || c != "superseded by def4567" {
			t.Errorf("got error %q, cause %q; want Superseded, superseded by def4567", e, c)
		}
		events := history(t, execArn, nil)
		want := []string{
			"ExecutionStarted", "PassStateEntered", "PassStateExited",
			"TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateAborted",
			"ExecutionAborted",
		}
		if got := eventTypes(events); !slices.Equal(got, want) {
			t.Fatalf("got events\n%v\nwant\n%v", got, want)
		}
		scheduled := events[4].TaskScheduledEventDetails
		if rt, r := aws.ToString(scheduled.ResourceType), aws.ToString(scheduled.Resource); rt != "aws-sdk:sfn" || r != "stopExecution" {
			t.Errorf("got TaskScheduled resource type %q, resource %q; want aws-sdk:sfn, stopExecution", rt, r)
		}
		var params struct{ ExecutionArn, Error, Cause string }
		if err := json.Unmarshal([]byte(aws.ToString(scheduled.Parameters)), &params); err != nil {
			t.Fatalf("TaskScheduled parameters %s: %v", aws.ToString(scheduled.Parameters), err)
		}
		if params.ExecutionArn != execArn || params.Error != "Superseded" || params.Cause != "superseded by def4567" {
			t.Errorf("got parameters %+v, want the execution's own ARN, Superseded, superseded by def4567", params)
		}
		succeeded := events[6].TaskSucceededEventDetails
		if rt, r := aws.ToString(succeeded.ResourceType), aws.ToString(succeeded.Resource); rt != "aws-sdk:sfn" || r != "stopExecution" {
			t.Errorf("got TaskSucceeded resource type %q, resource %q; want aws-sdk:sfn, stopExecution", rt, r)
		}
		var out struct{ StopDate string }
		if err := json.Unmarshal([]byte(aws.ToString(succeeded.Output)), &out); err != nil {
			t.Fatalf("TaskSucceeded output %s: %v", aws.ToString(succeeded.Output), err)
		}
		if stopped, err := time.Parse(time.RFC3339Nano, out.StopDate); err != nil || !stopped.Equal(*got.StopDate) {
			t.Errorf("got StopDate %q in the task's output, want the execution's stop date %v", out.StopDate, got.StopDate)
		}
		if d := events[8].ExecutionAbortedEventDetails; d == nil || aws.ToString(d.Error) != "Superseded" || aws.ToString(d.Cause) != "superseded by def4567" {
			t.Errorf("got ExecutionAborted details %+v, want Superseded, superseded by def4567", d)
		}
	})

	t.Run("an execution stops another", func(t *testing.T) {
		t.Parallel()
		target := start(t, machine(t, waitingMachine), unique("older-push"), `{}`)
		waitForEvent(t, client, target, types.HistoryEventTypeWaitStateEntered)
		stopper := machine(t, `{"StartAt": "Stop older run", "States": {
			"Stop older run": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sfn:stopExecution",
				"Parameters": {"ExecutionArn.$": "$.older", "Error": "Superseded", "Cause": "superseded by def4567"},
				"ResultPath": "$.stopped", "End": true}}}`)
		input, _ := json.Marshal(map[string]string{"older": target})
		got := finished(t, start(t, stopper, unique("newer-push"), string(input)))
		if got.Status != types.ExecutionStatusSucceeded {
			t.Fatalf("got status %s, want SUCCEEDED (error %q, cause %q)", got.Status, aws.ToString(got.Error), aws.ToString(got.Cause))
		}
		stopped := finished(t, target)
		if stopped.Status != types.ExecutionStatusAborted || aws.ToString(stopped.Error) != "Superseded" || aws.ToString(stopped.Cause) != "superseded by def4567" {
			t.Errorf("got the older run %s %q %q, want ABORTED Superseded, superseded by def4567", stopped.Status, aws.ToString(stopped.Error), aws.ToString(stopped.Cause))
		}
		var out struct{ Stopped struct{ StopDate string } }
		outputOf(t, got, &out)
		if at, err := time.Parse(time.RFC3339Nano, out.Stopped.StopDate); err != nil || !at.Equal(*stopped.StopDate) {
			t.Errorf("got StopDate %q, want the older run's stop date %v", out.Stopped.StopDate, stopped.StopDate)
		}
		want := []string{"ExecutionStarted", "WaitStateEntered", "WaitStateAborted", "ExecutionAborted"}
		if got := eventTypes(history(t, target, nil)); !slices.Equal(got, want) {
			t.Errorf("got the older run's events %v, want %v", got, want)
		}
	})

	t.Run("an execution that does not exist", func(t *testing.T) {
		t.Parallel()
		arn := machine(t, `{"StartAt": "Stop older run", "States": {
			"Stop older run": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sfn:stopExecution",
				"Parameters": {"ExecutionArn.$": "$.older"},
				"Catch": [{"ErrorEquals": ["Sfn.ExecutionDoesNotExistException"], "ResultPath": "$.error", "Next": "Already gone"}],
				"End": true},
			"Already gone": {"Type": "Pass", "End": true}}}`)
		older := strings.Replace(arn, ":stateMachine:", ":execution:", 1) + ":never-started"
		input, _ := json.Marshal(map[string]string{"older": older})
		got := finished(t, start(t, arn, unique("gone"), string(input)))
		if got.Status != types.ExecutionStatusSucceeded {
			t.Fatalf("got status %s, want SUCCEEDED (error %q, cause %q)", got.Status, aws.ToString(got.Error), aws.ToString(got.Cause))
		}
		var out struct{ Error struct{ Error, Cause string } }
		outputOf(t, got, &out)
		if out.Error.Error != "Sfn.ExecutionDoesNotExistException" || !strings.Contains(out.Error.Cause, "never-started") {
			t.Errorf("got caught %+v, want Sfn.ExecutionDoesNotExistException naming the execution", out.Error)
		}
	})

	t.Run("other AWS SDK integrations are refused", func(t *testing.T) {
		t.Parallel()
		arn := machine(t, `{"StartAt": "Read", "States": {
			"Read": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
				"Parameters": {"Bucket": "b", "Key": "k"},
				"Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": true},
			"Caught": {"Type": "Pass", "End": true}}}`)
		got := finished(t, start(t, arn, unique("s3"), `{}`))
		if got.Status != types.ExecutionStatusFailed || aws.ToString(got.Error) != "States.Runtime" {
			t.Fatalf("got %s %q, want FAILED States.Runtime", got.Status, aws.ToString(got.Error))
		}
		if c := aws.ToString(got.Cause); !strings.Contains(c, "aws-sdk:s3:getObject") {
			t.Errorf("got cause %q, want it to name the resource", c)
		}
	})

	t.Run("a parameter StopExecution does not take", func(t *testing.T) {
		t.Parallel()
		_, err := client.CreateStateMachine(context.Background(), &awssfn.CreateStateMachineInput{
			Name: aws.String(unique(t.Name())), RoleArn: aws.String(role),
			Definition: aws.String(`{"StartAt": "Stop", "States": {"Stop": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sfn:stopExecution",
				"Parameters": {"executionArn.$": "$$.Execution.Id"}, "End": true}}}`),
		})
		var invalid *types.InvalidDefinition
		if !errors.As(err, &invalid) || !strings.Contains(err.Error(), "executionArn") {
			t.Errorf("got %v, want InvalidDefinition naming executionArn", err)
		}
	})
}

func TestCallbackTimeoutsFromPaths(t *testing.T) {
	t.Parallel()
	// The paths are read from the state's input, not from its Parameters,
	// which do not carry them; States.TaskFailed must not catch a timeout.
	arn := machine(t, `{"StartAt": "Wait for approval", "States": {
		"Wait for approval": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
			"Parameters": {"FunctionName": "FUNCTION", "Payload": {"tag.$": "$$.Execution.Name", "value.$": "$$.Task.Token"}},
			"TimeoutSecondsPath": "$.approval.timeout", "HeartbeatSecondsPath": "$.approval.heartbeat",
			"Catch": [
				{"ErrorEquals": ["States.HeartbeatTimeout"], "ResultPath": "$.error", "Next": "Heartbeat lapsed"},
				{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "Wrongly caught"},
				{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.error", "Next": "Timed out"}],
			"End": true},
		"Heartbeat lapsed": {"Type": "Pass", "Result": "heartbeat lapsed", "ResultPath": "$.outcome", "End": true},
		"Wrongly caught": {"Type": "Pass", "Result": "caught by States.TaskFailed", "ResultPath": "$.outcome", "End": true},
		"Timed out": {"Type": "Pass", "Result": "timed out", "ResultPath": "$.outcome", "End": true}}}`)
	tests := []struct {
		name          string
		input         string
		wantStatus    types.ExecutionStatus
		wantOutcome   string
		wantError     string
		wantTimeout   int32
		wantHeartbeat int32
	}{
		{
			name:        "timeout",
			input:       `{"approval": {"timeout": 1, "heartbeat": 3600}}`,
			wantStatus:  types.ExecutionStatusSucceeded,
			wantOutcome: "timed out", wantError: "States.Timeout",
			wantTimeout: 1, wantHeartbeat: 3600,
		},
		{
			name:        "heartbeat",
			input:       `{"approval": {"timeout": 3600, "heartbeat": 1}}`,
			wantStatus:  types.ExecutionStatusSucceeded,
			wantOutcome: "heartbeat lapsed", wantError: "States.HeartbeatTimeout",
			wantTimeout: 3600, wantHeartbeat: 1,
		},
		{
			name:       "timeout missing from the input",
			input:      `{"approval": {"heartbeat": 3600}}`,
			wantStatus: types.ExecutionStatusFailed, wantError: "States.Runtime",
		},
		{
			name:       "timeout that is not a positive integer",
			input:      `{"approval": {"timeout": 0, "heartbeat": 3600}}`,
			wantStatus: types.ExecutionStatusFailed, wantError: "States.Runtime",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			execArn := start(t, arn, unique(tt.name), tt.input)
			got := finished(t, execArn)
			if got.Status != tt.wantStatus {
				t.Fatalf("got status %s, want %s (error %q, cause %q)", got.Status, tt.wantStatus, aws.ToString(got.Error), aws.ToString(got.Cause))
			}
			if tt.wantStatus == types.ExecutionStatusFailed {
				if e := aws.ToString(got.Error); e != tt.wantError {
					t.Errorf("got error %q, want %q", e, tt.wantError)
				}
				return
			}
			var out struct {
				Outcome string
				Error   struct{ Error, Cause string }
			}
			outputOf(t, got, &out)
			if out.Outcome != tt.wantOutcome || out.Error.Error != tt.wantError {
				t.Errorf("got outcome %q with error %q, want %q with %q", out.Outcome, out.Error.Error, tt.wantOutcome, tt.wantError)
			}

			events := history(t, execArn, nil)
			var timedOut *types.TaskTimedOutEventDetails
			for _, e := range events {
				if d := e.TaskScheduledEventDetails; d != nil {
					if aws.ToInt64(d.TimeoutInSeconds) != int64(tt.wantTimeout) || aws.ToInt64(d.HeartbeatInSeconds) != int64(tt.wantHeartbeat) {
						t.Errorf("got TaskScheduled timeout %d, heartbeat %d; want %d, %d", aws.ToInt64(d.TimeoutInSeconds), aws.ToInt64(d.HeartbeatInSeconds), tt.wantTimeout, tt.wantHeartbeat)
					}
				}
				if e.TaskTimedOutEventDetails != nil {
					timedOut = e.TaskTimedOutEventDetails
				}
			}
			if timedOut == nil || aws.ToString(timedOut.Error) != tt.wantError || aws.ToString(timedOut.Resource) != "invoke.waitForTaskToken" {
				t.Errorf("got TaskTimedOut %+v, want error %s on invoke.waitForTaskToken", timedOut, tt.wantError)
			}
			if n := countEvents(events, types.HistoryEventTypeTaskSucceeded) + countEvents(events, types.HistoryEventTypeTaskFailed); n != 0 {
				t.Errorf("got %d TaskSucceeded or TaskFailed events after the timeout, want none", n)
			}

			// The token as the task handed it out; on a busy machine the
			// function may not have answered (TaskSubmitted) before the
			// timeout, which changes nothing here.
			token := scheduledToken(t, events)
			if token == "" {
				t.Fatalf("no task token in the TaskScheduled event: %v", eventTypes(events))
			}
			var late *types.TaskTimedOut
			_, err := client.SendTaskSuccess(context.Background(), &awssfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(`{}`)})
			if !errors.As(err, &late) {
				t.Errorf("SendTaskSuccess after the timeout: got %v, want TaskTimedOut", err)
			}
		})
	}
}

// TestWaitingExecutionsGiveTheirSlotUp runs a service on which one
// execution progresses at a time: an execution that waits (for a task
// token, in a Wait state, in a Map iteration, in one Parallel branch while
// the other has ended) must let another run to its end meanwhile, and take
// a slot back when it resumes.
func TestWaitingExecutionsGiveTheirSlotUp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	svc, err := Start(ctx, Options{LambdaEndpoint: kumoURL, RetryWait: time.Millisecond, Env: []string{"STACKFLOW_SFN_MAX_ACTIVE=1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	c := awssfn.New(awssfn.Options{Region: "us-east-1", Credentials: client.Options().Credentials, BaseEndpoint: aws.String(svc.URL())})

	const callback = `{"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
		"Parameters": {"FunctionName": "FUNCTION", "Payload": {"tag.$": "$$.Execution.Name", "value.$": "$$.Task.Token"}}, "ResultPath": "$.approval"`
	runner := machineOn(t, c, `{"StartAt": "Prepare", "States": {
		"Prepare": {"Type": "Pass", "Next": "Deploy"},
		"Deploy": {"Type": "Task", "Resource": "FUNCTION", "Parameters": {"tag.$": "$$.Execution.Name"}, "ResultPath": null, "Next": "Done"},
		"Done": {"Type": "Succeed"}}}`)
	tests := []struct {
		name    string
		def     string
		waiting types.HistoryEventType
		token   bool // resumed with SendTaskSuccess; otherwise stopped
	}{
		{
			name: "task token",
			def: `{"StartAt": "Wait for approval", "States": {
				"Wait for approval": ` + callback + `, "Next": "Deploy"},
				"Deploy": {"Type": "Task", "Resource": "FUNCTION", "Parameters": {"tag": "after approval"}, "ResultPath": null, "End": true}}}`,
			waiting: types.HistoryEventTypeTaskSubmitted,
			token:   true,
		},
		{
			name:    "wait state",
			def:     waitingMachine,
			waiting: types.HistoryEventTypeWaitStateEntered,
		},
		{
			name: "wait state in a map iteration",
			def: `{"StartAt": "Each", "States": {"Each": {"Type": "Map", "ItemsPath": "$.environments", "MaxConcurrency": 1,
				"ItemProcessor": {"StartAt": "Wait for the lock", "States": {"Wait for the lock": {"Type": "Wait", "Seconds": 3600, "End": true}}},
				"End": true}}}`,
			waiting: types.HistoryEventTypeWaitStateEntered,
		},
		{
			name: "task token in a parallel branch",
			def: `{"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "Branches": [
					{"StartAt": "Quick", "States": {"Quick": {"Type": "Pass", "End": true}}},
					{"StartAt": "Wait for approval", "States": {"Wait for approval": ` + callback + `, "End": true}}}],
				"End": true}}}`,
			waiting: types.HistoryEventTypeTaskSubmitted,
			token:   true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			waiter := startOn(t, c, machineOn(t, c, tt.def), unique("waiter"), `{"environments": ["staging"]}`)
			events := waitForEvent(t, c, waiter, tt.waiting)
			// A Parallel branch that ended has no event of its own: wait
			// for the Pass state's exit.
			if tt.name == "task token in a parallel branch" {
				for countEvents(events, types.HistoryEventTypePassStateExited) == 0 {
					events = waitForEvent(t, c, waiter, types.HistoryEventTypePassStateExited)
				}
			}

			if got := finishedOn(t, c, startOn(t, c, runner, unique("runner"), `{}`)); got.Status != types.ExecutionStatusSucceeded {
				t.Fatalf("got the other execution %s, want SUCCEEDED (error %q)", got.Status, aws.ToString(got.Error))
			}

			if !tt.token {
				if _, err := c.StopExecution(ctx, &awssfn.StopExecutionInput{ExecutionArn: aws.String(waiter)}); err != nil {
					t.Fatalf("StopExecution: %v", err)
				}
				if got := finishedOn(t, c, waiter); got.Status != types.ExecutionStatusAborted {
					t.Errorf("got the waiting execution %s, want ABORTED", got.Status)
				}
				return
			}
			var token string
			for _, e := range historyOn(t, c, waiter, nil) {
				if d := e.TaskScheduledEventDetails; d != nil {
					var params struct{ Payload struct{ Value string } }
					if err := json.Unmarshal([]byte(aws.ToString(d.Parameters)), &params); err != nil {
						t.Fatalf("TaskScheduled parameters: %v", err)
					}
					token = params.Payload.Value
				}
			}
			if _, err := c.SendTaskSuccess(ctx, &awssfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(`{"approvedBy":"alice"}`)}); err != nil {
				t.Fatalf("SendTaskSuccess: %v", err)
			}
			if got := finishedOn(t, c, waiter); got.Status != types.ExecutionStatusSucceeded {
				t.Errorf("got the resumed execution %s, want SUCCEEDED (error %q, cause %q)", got.Status, aws.ToString(got.Error), aws.ToString(got.Cause))
			}
		})
	}
}

// TestWhatThePipelineReliesOn checks ASL details of the pipeline's state
// machine against what Step Functions does with them.
func TestWhatThePipelineReliesOn(t *testing.T) {
	t.Parallel()

	const supersededMap = `{"StartAt": "Deploy each", "States": {
		"Deploy each": {"Type": "Map", "ItemsPath": "$.environments", "MaxConcurrency": 1,
			"ItemSelector": {"environment.$": "$$.Map.Item.Value", "error": "Superseded", "cause.$": "States.Format('superseded by {} before {}', $.newer, $$.Map.Item.Value)"},
			"ItemProcessor": {"StartAt": "Stop here", "States": {
				"Stop here": {"Type": "Fail", "ErrorPath": "$.error", "CausePath": "$.cause"}}},
			TAIL},
		"Report superseded": {"Type": "Pass", "End": true}}}`
	const choose = `{"StartAt": "Lock free?", "States": {
		"Lock free?": {"Type": "Choice", "Choices": [
				{"And": [{"Variable": "$.lock", "IsPresent": true}, {"Variable": "$.superseded", "IsPresent": false}], "Next": "Go"},
				{"Variable": "$.lock", "IsNull": false, "Next": "Wait"}],
			"Default": "Missing"},
		"Go": {"Type": "Pass", "Result": "go", "End": true},
		"Wait": {"Type": "Pass", "Result": "wait", "End": true},
		"Missing": {"Type": "Pass", "Result": "missing", "End": true}}}`
	const holder = `{"StartAt": "Read holder", "States": {
		"Read holder": {"Type": "Pass", "Parameters": {"holder.$": "$.lock.holder", "message.$": "States.Format('waiting for {} (held by {})', $.env, $.sha7)"}, "End": true}}}`
	tests := []struct {
		name       string
		def        string
		input      string
		wantStatus types.ExecutionStatus
		wantError  string
		wantCause  string
		wantOutput string
	}{
		{
			name:       "a map iteration's Fail state reaches the map's Catch",
			def:        strings.Replace(supersededMap, "TAIL", `"Catch": [{"ErrorEquals": ["Superseded"], "ResultPath": "$.stopped", "Next": "Report superseded"}], "End": true`, 1),
			input:      `{"environments": ["staging", "prod"], "newer": "def4567"}`,
			wantStatus: types.ExecutionStatusSucceeded,
			wantOutput: `{"environments":["staging","prod"],"newer":"def4567","stopped":{"Error":"Superseded","Cause":"superseded by def4567 before staging"}}`,
		},
		{
			name:       "a map iteration's Fail state fails the execution",
			def:        strings.Replace(supersededMap, "TAIL", `"Next": "Report superseded"`, 1),
			input:      `{"environments": ["staging", "prod"], "newer": "def4567"}`,
			wantStatus: types.ExecutionStatusFailed,
			wantError:  "Superseded", wantCause: "superseded by def4567 before staging",
		},
		{name: "IsPresent of a null value and of an absent one", def: choose, input: `{"lock": null}`, wantStatus: types.ExecutionStatusSucceeded, wantOutput: `"go"`},
		{name: "IsPresent of a value and IsNull false", def: choose, input: `{"lock": {}, "superseded": "def4567"}`, wantStatus: types.ExecutionStatusSucceeded, wantOutput: `"wait"`},
		{name: "IsNull of an absent value", def: choose, input: `{"superseded": "def4567"}`, wantStatus: types.ExecutionStatusFailed, wantError: "States.Runtime"},
		{
			name: "a path to null", def: holder, input: `{"lock": {"holder": null}, "env": "staging", "sha7": "abc1234"}`,
			wantStatus: types.ExecutionStatusSucceeded, wantOutput: `{"holder":null,"message":"waiting for staging (held by abc1234)"}`,
		},
		{name: "a path to nothing", def: holder, input: `{"lock": {}, "env": "staging", "sha7": "abc1234"}`, wantStatus: types.ExecutionStatusFailed, wantError: "States.Runtime"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := finished(t, start(t, machine(t, tt.def), unique("relies"), tt.input))
			if got.Status != tt.wantStatus {
				t.Fatalf("got status %s, want %s (error %q, cause %q)", got.Status, tt.wantStatus, aws.ToString(got.Error), aws.ToString(got.Cause))
			}
			if e := aws.ToString(got.Error); e != tt.wantError {
				t.Errorf("got error %q, want %q", e, tt.wantError)
			}
			if c := aws.ToString(got.Cause); tt.wantCause != "" && c != tt.wantCause {
				t.Errorf("got cause %q, want %q", c, tt.wantCause)
			}
			if o := aws.ToString(got.Output); o != tt.wantOutput {
				t.Errorf("got output %s, want %s", o, tt.wantOutput)
			}
		})
	}
}

// TestContextObjectInMapIterations checks that $$.Execution.StartTime is
// AWS's ISO 8601 time in milliseconds of the execution's start, and that it
// and $$.Execution.Input are the execution's inside Map iterations too
// (which begin a second later here), and that an ItemSelector keeps a
// literal object.
func TestContextObjectInMapIterations(t *testing.T) {
	t.Parallel()
	arn := machine(t, `{"StartAt": "Read start", "States": {
		"Read start": {"Type": "Pass", "Parameters": {"start.$": "$$.Execution.StartTime"}, "ResultPath": "$.context", "Next": "Pause"},
		"Pause": {"Type": "Wait", "Seconds": 1, "Next": "Each"},
		"Each": {"Type": "Map", "ItemsPath": "$.environments",
			"ItemSelector": {"environment.$": "$$.Map.Item.Value", "lock": {}, "selectedAt.$": "$$.Execution.StartTime"},
			"ItemProcessor": {"StartAt": "Read context", "States": {
				"Read context": {"Type": "Pass", "Parameters": {
					"environment.$": "$.environment", "lock.$": "$.lock", "selectedAt.$": "$.selectedAt",
					"start.$": "$$.Execution.StartTime", "commit.$": "$$.Execution.Input.commit"}, "End": true}}},
			"ResultPath": "$.iterations", "End": true}}}`)
	got := finished(t, start(t, arn, unique("context-map"), `{"commit": "abc1234", "environments": ["staging", "prod"]}`))
	if got.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("got status %s, want SUCCEEDED (error %q, cause %q)", got.Status, aws.ToString(got.Error), aws.ToString(got.Cause))
	}
	var out struct {
		Context    struct{ Start string }
		Iterations []struct {
			Environment string
			Lock        json.RawMessage
			SelectedAt  string
			Start       string
			Commit      string
		}
	}
	outputOf(t, got, &out)
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`).MatchString(out.Context.Start) {
		t.Errorf("got StartTime %q, want ISO 8601 in UTC with milliseconds", out.Context.Start)
	}
	if want := got.StartDate.UTC().Format("2006-01-02T15:04:05.000Z"); out.Context.Start != want {
		t.Errorf("got StartTime %q, want the execution's start %s", out.Context.Start, want)
	}
	envs := []string{"staging", "prod"}
	if len(out.Iterations) != len(envs) {
		t.Fatalf("got %d iterations, want %d", len(out.Iterations), len(envs))
	}
	for i, it := range out.Iterations {
		if it.Environment != envs[i] || string(it.Lock) != "{}" || it.Commit != "abc1234" {
			t.Errorf("got iteration %d %s, lock %s, commit %q; want %s, {}, abc1234", i, it.Environment, it.Lock, it.Commit, envs[i])
		}
		if it.Start != out.Context.Start || it.SelectedAt != out.Context.Start {
			t.Errorf("got StartTime %q in iteration %d and %q in its ItemSelector, want the execution's %q", it.Start, i, it.SelectedAt, out.Context.Start)
		}
	}
}

// TestABurstOfStartsAllRun starts executions faster than the service
// answers a burst first (more than 200 a second): the executions it holds
// back must still all run to their end.
func TestABurstOfStartsAllRun(t *testing.T) {
	t.Parallel()
	arn := machine(t, `{"StartAt": "Deploy", "States": {
		"Deploy": {"Type": "Task", "Resource": "FUNCTION", "Parameters": {"tag.$": "$$.Execution.Name"}, "End": true}}}`)
	const n = 60
	names := make([]string, n)
	arns := make([]string, n)
	errs := make(chan error, n)
	for i := range n {
		names[i] = unique("burst")
		go func() {
			out, err := client.StartExecution(context.Background(), &awssfn.StartExecutionInput{StateMachineArn: aws.String(arn), Name: aws.String(names[i]), Input: aws.String(`{}`)})
			if err == nil {
				arns[i] = aws.ToString(out.ExecutionArn)
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatalf("StartExecution: %v", err)
		}
	}
	for i, a := range arns {
		if got := finished(t, a); got.Status != types.ExecutionStatusSucceeded {
			t.Errorf("got execution %d %s, want SUCCEEDED (error %q)", i, got.Status, aws.ToString(got.Error))
		}
		// Names share prefixes (burst-5, burst-50): count exact ones.
		calls := invocations(t, names[i])
		if n := len(slices.DeleteFunc(calls, func(c string) bool { return c != names[i] })); n != 1 {
			t.Errorf("got %d invocations of %s, want 1", n, names[i])
		}
	}
}

// One execution starts another through aws-sdk:sfn:startExecution (a
// second start of the same name is Sfn.ExecutionAlreadyExistsException,
// which Catch sees), and waits for it through describeExecution, as a
// push's run starts its apps' and an app's waits for those it comes after.
func TestStartAndDescribeExecutionTasks(t *testing.T) {
	t.Parallel()
	child := machine(t, `{"StartAt": "Done", "States": {"Done": {"Type": "Pass", "Result": {"ok": true}, "End": true}}}`)
	name := unique("app-run")
	parent := machine(t, `{"StartAt": "Start it", "States": {
		"Start it": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sfn:startExecution",
			"Parameters": {"StateMachineArn.$": "$.machine", "Name.$": "$.name", "Input": "{\"app\":\"api\"}"},
			"ResultSelector": {"arn.$": "$.ExecutionArn"}, "ResultPath": "$.started", "Next": "Start it again"},
		"Start it again": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sfn:startExecution",
			"Parameters": {"StateMachineArn.$": "$.machine", "Name.$": "$.name", "Input": "{\"app\":\"web\"}"},
			"Catch": [{"ErrorEquals": ["Sfn.ExecutionAlreadyExistsException"], "ResultPath": "$.again", "Next": "Look at it"}],
			"End": true},
		"Look at it": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sfn:describeExecution",
			"Parameters": {"ExecutionArn.$": "$.started.arn"},
			"ResultSelector": {"status.$": "$.Status", "name.$": "$.Name", "input.$": "$.Input"}, "ResultPath": "$.seen", "Next": "Done yet?"},
		"Done yet?": {"Type": "Choice", "Choices": [{"Variable": "$.seen.status", "StringEquals": "RUNNING", "Next": "Wait"}], "Default": "End"},
		"Wait": {"Type": "Wait", "Seconds": 1, "Next": "Look at it"},
		"End": {"Type": "Succeed"}}}`)
	got := finished(t, start(t, parent, unique("push-run"), `{"machine": "`+child+`", "name": "`+name+`"}`))
	if got.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("got %s (%s: %s), want SUCCEEDED", got.Status, aws.ToString(got.Error), aws.ToString(got.Cause))
	}
	var out struct {
		Started struct{ Arn string }
		Again   struct{ Error string }
		Seen    struct{ Status, Name, Input string }
	}
	outputOf(t, got, &out)
	if !strings.HasSuffix(out.Started.Arn, ":"+name) || out.Again.Error != "Sfn.ExecutionAlreadyExistsException" {
		t.Errorf("got started %q, second start %q; want the child's ARN and Sfn.ExecutionAlreadyExistsException", out.Started.Arn, out.Again.Error)
	}
	if out.Seen.Status != "SUCCEEDED" || out.Seen.Name != name || out.Seen.Input != `{"app":"api"}` {
		t.Errorf("described %+v, want the child SUCCEEDED with the first start's input", out.Seen)
	}
}
