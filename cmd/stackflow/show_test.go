package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/runs"
)

func TestPrintTimeline(t *testing.T) {
	t.Parallel()
	arn := "arn:aws:states:eu-west-1:123456789012:execution:Pipeline:smoky-main-e515d8f"
	var b bytes.Buffer
	printTimeline(&b, &runs.Timeline{
		Run: runs.Run{Execution: "smoky-main-e515d8f", ARN: arn, Repository: "acme/smoky", Branch: "main",
			Commit: "e515d8f0000000000000000000000000000000000", Status: "FAILED", Started: time.Date(2026, 5, 4, 10, 0, 0, 0, time.Local), Seconds: 75,
			Failure: &runs.Failure{State: "Smoke test the environment", Environment: "staging", Error: "SmokeTestFailed",
				Cause: "smoke test \"greets\" of staging failed:\nGET http://x/hello: got 500"}},
		Steps: []runs.Step{
			{Name: "Run the checks", Type: "Task", Phase: runs.PhaseChecks, StartSeconds: 0.1, Seconds: 4.25, Status: runs.StepSucceeded, Summary: "2 checks passed in 4.2s"},
			{Name: "Promote through the environments", Type: "Map", StartSeconds: 65, Seconds: 10, Status: runs.StepFailed,
				Error: "SmokeTestFailed", Cause: "smoke test \"greets\" of staging failed:\nmore"},
			{Name: "Smoke test the environment", Type: "Task", Environment: "staging", StartSeconds: 70, Seconds: 5, Status: runs.StepFailed, Retries: 2,
				Error: "SmokeTestFailed", Cause: "smoke test \"greets\" of staging failed: " + strings.Repeat("x", 100)},
			{Name: "Run failed", Type: "Fail", StartSeconds: 75, Status: runs.StepFailed, Error: "SmokeTestFailed"},
		},
		Checks: []pipeline.CheckResult{{Command: "go test ./...", Passed: true, Seconds: 3}},
		Environments: []runs.EnvironmentResult{
			{Name: "staging", Stack: "smoky-staging", Status: runs.EnvFailed, URL: "http://127.0.0.1:1/", ChangeSet: "smoky-staging: 2 to add",
				Changes: []string{"+ HelloFunction AWS::Lambda::Function"}, Deploy: "smoky-staging CREATE_COMPLETE",
				Failure: &runs.Failure{State: "Smoke test the environment", Error: "SmokeTestFailed", Cause: "smoke test \"greets\" of staging failed:\nmore"}},
			{Name: "prod", Stack: "smoky-prod", Status: runs.EnvNotReached},
		},
		Links: runs.Links{Console: runs.ConsoleURL(arn), Logs: map[runs.Phase]string{runs.PhaseChecks: "s3://b/logs/acme/smoky/smoky-main-e515d8f/checks.log"}},
		Note:  "commit e515d8f has 2 runs; this is the newest",
	})
	got := b.String()
	for _, want := range []string{
		"(commit e515d8f has 2 runs; this is the newest)\nsmoky-main-e515d8f: FAILED after 1m15s\n",
		"  stopped at  [staging] Smoke test the environment: SmokeTestFailed\n              smoke test \"greets\" of staging failed:\n              GET http://x/hello: got 500\n",
		"    +0.1s    4.2s  ✓ Run the checks                          2 checks passed in 4.2s\n",
		"   +1m05s   10.0s  ✗ Promote through the environments        SmokeTestFailed\n",
		"   +1m10s    5.0s  ✗   [staging] Smoke test the environment  2 retries; SmokeTestFailed: smoke test \"greets\" of staging failed: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…\n",
		"   +1m15s    0.0s  ✗ Run failed\n",
		"  ✓ go test ./...                  3.0s\n",
		"  staging    smoky-staging        FAILED      http://127.0.0.1:1/\n    change set  smoky-staging: 2 to add\n                  + HelloFunction AWS::Lambda::Function\n    deploy      smoky-staging CREATE_COMPLETE\n",
		"    failed      Smoke test the environment: SmokeTestFailed: smoke test \"greets\" of staging failed:\n",
		"  prod       smoky-prod           NOT_REACHED\n",
		"  console      https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/" + arn + "\n",
		"  checks log   s3://b/logs/acme/smoky/smoky-main-e515d8f/checks.log  (stackflow logs smoky-main-e515d8f --step checks)\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("got\n%s\nwant it to contain\n%s", got, want)
		}
	}
}
