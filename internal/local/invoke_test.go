package local

import (
	"strings"
	"testing"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// greeterParameters are each environment's configuration in the shared
// pipeline's SSM Parameter Store, as --ssm puts it there: the greeter apps
// below read the stage their function names with {{resolve:ssm:...}}.
var greeterParameters = map[string]string{
	"/greeter/staging/stage-name": "staging via SSM",
	"/greeter/prod/stage-name":    "prod via SSM",
}

// greeter is examples/hello whose function takes the stage it greets from
// from each environment's SSM parameter, and whose smoke checks of each
// environment invoke it by logical ID, wanting stagingWants and prodWants.
func greeter(t *testing.T, name, stagingWants, prodWants string, staging string) (pipeline.Repository, string) {
	t.Helper()
	invoke := func(want string) string {
		return "      - name: invokes\n        function: HelloFunction\n        payload: {rawPath: /hello}\n        contains: " + want + "\n        timeout: 20s\n"
	}
	return app(t, name, map[string]func(string) string{
		"template.yaml": func(s string) string {
			return strings.Replace(s, "STAGE: !Ref Stage", `STAGE: !Sub "{{resolve:ssm:/greeter/${Stage}/stage-name}}"`, 1)
		},
		"stackflow.yml": func(s string) string {
			s = strings.Replace(s, "        contains: hello from staging\n", "        contains: hello from staging\n"+invoke(stagingWants), 1)
			s = strings.Replace(s, "        contains: hello from prod\n", "        contains: hello from prod\n"+invoke(prodWants), 1)
			return strings.Replace(s, "  - name: staging\n", "  - name: staging\n"+staging, 1)
		},
	})
}

// TestAnInvokeCheckSeesEachEnvironmentsSSMValue: each stack's function
// takes its greeting from its own environment's SSM parameter (a dynamic
// reference), and each environment's smoke test invokes the function and
// finds its own value.
func TestAnInvokeCheckSeesEachEnvironmentsSSMValue(t *testing.T) {
	t.Parallel()
	repo, dir := greeter(t, "greeter", "hello from staging via SSM", "hello from prod via SSM", "")
	res := run(t, repo, dir)
	if !res.Succeeded() {
		t.Fatalf("got %s %s: %s, want SUCCEEDED", res.Status, res.Error, res.Cause)
	}
	delivered(t, repo, res, "hello", func(stage string) string { return "hello from " + stage + " via SSM\n" })
	if s := status(t, res); s.State != pipeline.StateSuccessful {
		t.Errorf("got status %+v, want SUCCESSFUL", s)
	}
}

// TestAFailedInvokeCheckSaysWhatTheFunctionAnswered: an invoke check whose
// function's result lacks the text fails staging's smoke test; the cause
// and the commit's status quote the result, and prod is untouched.
func TestAFailedInvokeCheckSaysWhatTheFunctionAnswered(t *testing.T) {
	t.Parallel()
	repo, dir := greeter(t, "greeter-wrong", "hello from the moon", "hello from prod via SSM", "    smoke_timeout: 2s\n")
	res := run(t, repo, dir)
	wantStagingSmokeFailed(t, res, `smoke test "invokes" of staging failed: invoke `+repo.Slug+"-staging-HelloFunction", `hello from staging via SSM`,
		`want no function error and a result containing "hello from the moon"`)
	// The status has room for the start of the result only (Bitbucket
	// keeps 255 characters); the cause above has it whole.
	if s := status(t, res); s.State != pipeline.StateFailed || !strings.Contains(s.Description, `got result {"statusCode":200,`) {
		t.Errorf("got status %+v, want FAILED quoting what the function answered", s)
	}
}
