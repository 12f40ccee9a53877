package local

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
)

// TestNoSecretInAnyLogOrStepOutput delivers a run, then reads every log
// line of every handler and service and every state's input and output of
// every execution so far, looking for the webhook secret, the Bitbucket
// token and the package indexes' credentials: none may be there.
func TestNoSecretInAnyLogOrStepOutput(t *testing.T) {
	t.Parallel()
	repo, dir := app(t, "secretive", nil)
	res := run(t, repo, dir)
	if !res.Succeeded() {
		t.Fatalf("got %s %s, want SUCCEEDED", res.Status, res.Error)
	}
	noSecrets(t, res, map[string]string{"the webhook secret": shared.secret, "the Bitbucket token": shared.token,
		"the package index password": indexPassword, "the package index token": indexToken})
}

// The checks get the package indexes' credentials (the shared pipeline
// has some), and a check that prints them shows them hidden: in the
// cause, on the commit, in the checks log, in every log and step output.
func TestPackageIndexCredentialsAreHiddenFromWhatTheChecksPrint(t *testing.T) {
	t.Parallel()
	repo, dir := app(t, "indexed", map[string]func(string) string{
		"stackflow.yml": func(s string) string {
			return strings.Replace(s, "checks:\n", "checks:\n  - cat \"$NETRC\" \"$npm_config_userconfig\"; exit 1\n", 1)
		},
	})
	res := run(t, repo, dir)
	if res.Status != "FAILED" || res.Error != "ChecksFailed" {
		t.Fatalf("got %s %s: %s, want FAILED ChecksFailed", res.Status, res.Error, res.Cause)
	}
	for _, want := range []string{"machine pypi.invalid login ci password ****", "//npm.invalid/:_authToken=****"} {
		if !strings.Contains(res.Cause, want) {
			t.Errorf("cause %q: want the check's output with %q", res.Cause, want)
		}
	}
	if log := checksLog(t, res); !strings.Contains(log, "password ****") {
		t.Errorf("checks log lacks the hidden password:\n%s", log)
	}
	noSecrets(t, res, map[string]string{"the package index password": indexPassword, "the package index token": indexToken})
}

// noSecrets fails t when a log of the shared pipeline, an input or output
// of a state of any execution so far, or res's commit statuses hold one of
// secrets (what it is -> its value).
func noSecrets(t *testing.T, res *Result, secrets map[string]string) {
	t.Helper()
	for what, s := range secrets {
		if len(s) < 16 {
			t.Fatalf("%s is %q: too short to look for", what, s)
		}
	}
	look := func(where, text string) {
		for what, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s holds %s", where, what)
			}
		}
	}

	logs, err := filepath.Glob(filepath.Join(shared.LogDir(), "*.log"))
	if err != nil || len(logs) == 0 {
		t.Fatalf("no logs in %s: %v", shared.LogDir(), err)
	}
	for _, f := range logs {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		look(filepath.Base(f), string(data))
	}

	ctx := context.Background()
	execs, err := shared.sfn.ListExecutions(ctx, &awssfn.ListExecutionsInput{StateMachineArn: aws.String(shared.Outputs()["StateMachineArn"])})
	if err != nil {
		t.Fatal(err)
	}
	scanned := 0
	for _, e := range execs.Executions {
		pages := awssfn.NewGetExecutionHistoryPaginator(shared.sfn, &awssfn.GetExecutionHistoryInput{ExecutionArn: e.ExecutionArn, IncludeExecutionData: aws.Bool(true)})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range page.Events {
				scanned++
				where := aws.ToString(e.Name) + " event " + string(ev.Type)
				if d := ev.StateEnteredEventDetails; d != nil {
					look(where, aws.ToString(d.Input))
				}
				if d := ev.StateExitedEventDetails; d != nil {
					look(where, aws.ToString(d.Output))
				}
				if d := ev.LambdaFunctionFailedEventDetails; d != nil {
					look(where, aws.ToString(d.Cause))
				}
				if d := ev.ExecutionFailedEventDetails; d != nil {
					look(where, aws.ToString(d.Cause))
				}
			}
		}
	}
	if scanned == 0 {
		t.Fatal("no history event was scanned")
	}
	look("the run's cause", res.Cause)
	for _, s := range res.Statuses {
		look("commit status "+s.Key, s.Description+" "+s.URL)
	}
}
