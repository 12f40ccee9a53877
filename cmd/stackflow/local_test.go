package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stackflow/stackflow/internal/local"
)

func TestLocalArguments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "a positional argument", args: []string{"local", "examples/hello"}, want: `unexpected "examples/hello" (the app is given with --repo DIR)`},
		{name: "an unknown flag", args: []string{"local", "--nope"}, want: "unknown flag: --nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, _, errOut := runCLI(t, tt.args...)
			if code != 2 || !strings.Contains(errOut, tt.want) {
				t.Errorf("got exit %d, stderr %q; want 2 and %q", code, errOut, tt.want)
			}
		})
	}
}

func TestPrintOutcome(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	printOutcome(&b, &local.Result{
		Status:    "FAILED",
		Execution: "arn:aws:states:us-east-1:000000000000:execution:m:smoky-main-e515d8f",
		Error:     "SmokeTestFailed",
		Cause:     `smoke test "greets" of staging failed`,
		Seconds:   5.25,
		Environments: []local.Environment{
			{Name: "staging", Stack: "smoky-staging", Status: "CREATE_COMPLETE", Outputs: map[string]string{"ApiUrl": "http://127.0.0.1:1/", "Name": "fn"}},
			{Name: "prod", Stack: "smoky-prod"},
		},
		Statuses: []local.Status{{Key: "stackflow", State: "FAILED", Description: "SmokeTestFailed: smoke test failed"}},
	})
	got := b.String()
	for _, want := range []string{
		"FAILED in 5.2s: arn:aws:states:us-east-1:000000000000:execution:m:smoky-main-e515d8f",
		`SmokeTestFailed: smoke test "greets" of staging failed`,
		"staging    smoky-staging        CREATE_COMPLETE        ApiUrl=http://127.0.0.1:1/\n",
		"prod       smoky-prod           not deployed",
		"stackflow    FAILED      SmokeTestFailed: smoke test failed",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("got\n%s\nwant it to contain %q", got, want)
		}
	}
}
