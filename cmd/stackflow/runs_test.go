package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/stackflow/stackflow/internal/local/sfn"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/runs"
)

func TestRunsShowLogsArguments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "runs with a positional argument", args: []string{"runs", "acme/hello"}, want: `unexpected "acme/hello" (filter with --repo and --branch)`},
		{name: "runs with no room", args: []string{"runs", "--limit", "0"}, want: "--limit 0: want at least 1"},
		{name: "runs of a repository without workspace", args: []string{"runs", "--repo", "hello"}, want: `--repo: repository "hello": want workspace/slug`},
		{name: "runs with an unknown flag", args: []string{"runs", "--all"}, want: "unknown flag: --all"},
		{name: "show of nothing", args: []string{"show"}, want: "give one run: its execution name, its execution ARN or its commit SHA"},
		{name: "show of two runs", args: []string{"show", "a", "b"}, want: "give one run"},
		{name: "logs of nothing", args: []string{"logs", "--step", "checks"}, want: "stackflow logs: give one run"},
		{name: "logs of an unknown step", args: []string{"logs", "hello-main-0123456", "--step", "build"}, want: "--step build: want checks, package, deploy or smoke"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runCLI(t, tt.args...)
			if code != 2 || !strings.Contains(errOut, tt.want) || out != "" {
				t.Errorf("got exit %d, stdout %q, stderr %q; want 2 and %q", code, out, errOut, tt.want)
			}
		})
	}
}

// noAWS clears every AWS setting of the environment for the test.
func noAWS(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "",
		"AWS_PROFILE": "", "AWS_DEFAULT_PROFILE": "", "AWS_REGION": "", "AWS_DEFAULT_REGION": "",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "", "AWS_WEB_IDENTITY_TOKEN_FILE": "",
		"AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_SFN": "", "AWS_ENDPOINT_URL_CLOUDFORMATION": "", "AWS_ENDPOINT_URL_S3": "",
		"STACKFLOW_STATE_MACHINE_ARN": "", "STACKFLOW_ARTIFACT_BUCKET": "",
	} {
		t.Setenv(k, v)
	}
}

func TestRunsWithoutCredentials(t *testing.T) {
	noAWS(t)
	t.Setenv("AWS_REGION", "eu-west-1")
	for _, command := range []string{"runs", "show", "logs"} {
		args := []string{command}
		if command != "runs" {
			args = append(args, "hello-main-0123456")
		}
		code, _, errOut := runCLI(t, args...)
		if code != 1 || !strings.Contains(errOut, "stackflow "+command+": no AWS credentials: set AWS_PROFILE") ||
			!strings.Contains(errOut, "point AWS_ENDPOINT_URL at stackflow local --serve") {
			t.Errorf("%s: got exit %d, stderr %q; want 1 and no AWS credentials", command, code, errOut)
		}
	}
}

// TestAgainstALocalStepFunctions reads a run of a one-state machine from
// the local Step Functions service, the way the commands read a pipeline's:
// the JSON parses back, and a wrong name says which machine was searched.
func TestAgainstALocalStepFunctions(t *testing.T) {
	noAWS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	svc, err := sfn.Start(ctx, sfn.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	c := awssfn.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(svc.URL()),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	machine, err := c.CreateStateMachine(ctx, &awssfn.CreateStateMachineInput{
		Name:       aws.String("Pipeline"),
		RoleArn:    aws.String("arn:aws:iam::000000000000:role/pipeline"),
		Definition: aws.String(`{"StartAt":"Deliver","States":{"Deliver":{"Type":"Pass","End":true}}}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(machine.StateMachineArn)
	run := pipeline.Run{Repository: pipeline.Repository{Workspace: "acme", Slug: "hello"}, Branch: "main", Commit: "0123456789abcdef0123456789abcdef01234567"}
	name := pipeline.ExecutionName(run.Repository, run.Branch, run.Commit)
	input, _ := json.Marshal(pipeline.ExecutionInput{Run: run})
	exec, err := c.StartExecution(ctx, &awssfn.StartExecutionInput{StateMachineArn: machine.StateMachineArn, Name: aws.String(name), Input: aws.String(string(input))})
	if err != nil {
		t.Fatal(err)
	}
	for {
		d, err := c.DescribeExecution(ctx, &awssfn.DescribeExecutionInput{ExecutionArn: exec.ExecutionArn})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != types.ExecutionStatusRunning {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Only the SFN endpoint is local; with the bucket given, nothing else
	// is asked.
	t.Setenv("AWS_ENDPOINT_URL_SFN", svc.URL())
	pipelineFlags := []string{"--state-machine", arn, "--bucket", "artifacts"}

	code, out, errOut := runCLI(t, append([]string{"runs", "--json"}, pipelineFlags...)...)
	var list []runs.Run
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 {
		t.Fatalf("runs --json: got exit %d, stdout %q, stderr %q; want one run as JSON", code, out, errOut)
	}
	if r := list[0]; r.Execution != name || r.Repository != "acme/hello" || r.Branch != "main" || r.Commit != run.Commit ||
		r.Status != "SUCCEEDED" || r.ARN != aws.ToString(exec.ExecutionArn) {
		t.Errorf("runs --json: got %+v, want %s of acme/hello main %s SUCCEEDED", r, name, run.Commit)
	}

	t.Setenv("STACKFLOW_STATE_MACHINE_ARN", arn)
	t.Setenv("STACKFLOW_ARTIFACT_BUCKET", "artifacts")
	code, out, errOut = runCLI(t, "runs", "--branch", "main")
	if code != 0 || !strings.Contains(out, "EXECUTION") || !strings.Contains(out, name+"  acme/hello  main    0123456  SUCCEEDED") {
		t.Errorf("runs (state machine from the environment): got exit %d, stdout %q, stderr %q; want the run in a table", code, out, errOut)
	}

	code, out, errOut = runCLI(t, "show", "--json", run.Commit[:9])
	var tl runs.Timeline
	if code != 0 || json.Unmarshal([]byte(out), &tl) != nil {
		t.Fatalf("show --json: got exit %d, stdout %q, stderr %q; want the run as JSON", code, out, errOut)
	}
	if tl.Execution != name || len(tl.Steps) != 1 || tl.Steps[0].Name != "Deliver" || tl.Steps[0].Status != runs.StepSucceeded ||
		!strings.HasSuffix(tl.Links.Console, "#/v2/executions/details/"+tl.ARN) {
		t.Errorf("show --json: got %+v, want %s with the state Deliver and a console link", tl, name)
	}

	for _, args := range [][]string{{"show", "nope-main-1234567"}, {"logs", "nope-main-1234567"}} {
		code, out, errOut = runCLI(t, args...)
		want := `stackflow ` + args[0] + `: no run "nope-main-1234567" in state machine ` + arn
		if code != 1 || out != "" || !strings.Contains(errOut, want) {
			t.Errorf("%s: got exit %d, stdout %q, stderr %q; want 1 and %q", args[0], code, out, errOut, want)
		}
	}
	code, _, errOut = runCLI(t, "logs", name)
	if code != 1 || !strings.Contains(errOut, "stackflow logs: no checks output of "+name+": the step did not run") {
		t.Errorf("logs of a run without checks: got exit %d, stderr %q; want 1 and that the checks did not run", code, errOut)
	}
}

func TestPrintRuns(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 5, 4, 10, 0, 0, 0, time.Local)
	var b bytes.Buffer
	printRuns(&b, []runs.Run{
		{Execution: "hello-main-1111111", Repository: "acme/hello", Branch: "main", Commit: "1111111aaaa", Status: "FAILED", Started: start, Seconds: 63.2,
			Failure: &runs.Failure{State: "Smoke test the environment", Environment: "staging", Error: "SmokeTestFailed"}},
		{Execution: "hello-feature-x-2222222", Repository: "acme/hello", Branch: "feature/x", Commit: "2222222bbbb", Status: "SUCCEEDED", Started: start.Add(-time.Hour), Seconds: 4.24},
		{Execution: "manual", Status: "ABORTED", Started: start, Seconds: 0.5, Failure: &runs.Failure{State: "Run the checks"}},
	})
	want := `EXECUTION                REPOSITORY  BRANCH     COMMIT   STATUS     STARTED              DURATION  STOPPED AT
hello-main-1111111       acme/hello  main       1111111  FAILED     2026-05-04 10:00:00  1m03s     [staging] Smoke test the environment: SmokeTestFailed
hello-feature-x-2222222  acme/hello  feature/x  2222222  SUCCEEDED  2026-05-04 09:00:00  4.2s      
manual                   -           -          -        ABORTED    2026-05-04 10:00:00  0.5s      Run the checks
`
	if got := b.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	b.Reset()
	printRuns(&b, nil)
	if got := b.String(); got != "no runs\n" {
		t.Errorf("no runs: got %q", got)
	}
}
