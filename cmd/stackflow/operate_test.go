package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/stackflow/stackflow/internal/approvals"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/releases"
	"github.com/stackflow/stackflow/internal/runs"
	"github.com/stackflow/stackflow/internal/testaws"
)

func TestOperateArguments(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"approve"}, "give the run waiting for approval"},
		{[]string{"approve", "a", "b"}, "give the run waiting for approval"},
		{[]string{"reject", "hello-main-1a2b3c4"}, "give the reason with --reason TEXT"},
		{[]string{"reject", "--reason", "  ", "hello-main-1a2b3c4"}, "give the reason with --reason TEXT"},
		{[]string{"rollback", "acme/hello"}, "give the repository (WORKSPACE/SLUG) and the environment"},
		{[]string{"rollback", "hello", "prod"}, "want workspace/slug"},
	} {
		code, _, errOut := runCLI(t, tt.args...)
		if code != 2 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: got exit %d, stderr %q; want 2 and %q", tt.args, code, errOut, tt.want)
		}
	}
}

// TestPromoteRollbackAndRetryTakeTheApp runs promote, rollback and retry
// with --app against kumo's DynamoDB and Step Functions: each reads the
// app's releases (releases.EnvKey) and starts a run of the app, named as
// the app's runs are; without --app the app's releases are not found.
func TestPromoteRollbackAndRetryTakeTheApp(t *testing.T) {
	cfg := testaws.Start(t)
	ctx := context.Background()
	table := testaws.Table(t, cfg, "releases")
	machine, err := awssfn.NewFromConfig(cfg).CreateStateMachine(ctx, &awssfn.CreateStateMachineInput{
		Name:       aws.String(testaws.Name("pipeline")),
		RoleArn:    aws.String("arn:aws:iam::000000000000:role/pipeline"),
		Definition: aws.String(`{"StartAt":"Deliver","States":{"Deliver":{"Type":"Pass","End":true}}}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	store := releases.New(dynamodb.NewFromConfig(cfg), table)
	t0 := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	sha := func(c string) string { return strings.Repeat(c, 40) }
	for i, r := range []releases.Release{
		{Environment: "staging", Commit: sha("1")},
		{Environment: "prod", Commit: sha("2")},
		{Environment: "prod", Commit: sha("3")},
	} {
		r.Repository, r.App, r.Branch, r.Stack = "acme/platform", "api", "main", "platform-api-"+r.Environment
		r.Execution = "arn:aws:states:us-east-1:000000000000:execution:m:platform-api-main-" + r.Commit[:7]
		r.DeployedAt = t0.Add(time.Duration(i) * time.Minute)
		r.Package = &pipeline.Package{}
		r.Deployed = &pipeline.Environment{Name: r.Environment, Stack: r.Stack, App: "api"}
		if err := store.Record(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	// App gated's prod wants approval, by the on-call role only.
	gated := releases.Release{Repository: "acme/platform", App: "gated", Environment: "prod", Branch: "main", Stack: "platform-gated-prod",
		Commit: sha("4"), Execution: "arn:aws:states:us-east-1:000000000000:execution:m:platform-gated-main-4444444", DeployedAt: t0,
		Package: &pipeline.Package{}, Deployed: &pipeline.Environment{Name: "prod", Stack: "platform-gated-prod", App: "gated",
			ApprovalRequired: true, Approvers: []string{"arn:aws:iam::000000000000:role/oncall"}}}
	if err := store.Record(ctx, gated); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ENDPOINT_URL", aws.ToString(cfg.BaseEndpoint))
	t.Setenv("AWS_REGION", testaws.Region)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	// The approval function (AuthType AWS_IAM), as Lambda hands it a
	// request: the caller is who AWS says signed it.
	rc := runs.New(cfg, runs.Pipeline{StateMachineARN: aws.ToString(machine.StateMachineArn), ReleasesTable: table})
	decider := &approvals.Decider{Rollback: func(ctx context.Context, repo pipeline.Repository, app, env, to, by string) (string, string, time.Time, error) {
		arn, r, err := rc.Rollback(ctx, repo, app, env, to, by)
		return arn, r.Commit, r.DeployedAt, err
	}, Approvers: rc.Approvers, Promote: rc.PromoteFor, Retry: rc.RetryFor, Gate: rc.ApprovalGate,
		StateMachine: aws.ToString(machine.StateMachineArn)}
	const caller = "arn:aws:iam::000000000000:user/ada"
	approval := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req := events.LambdaFunctionURLRequest{Body: string(body)}
		req.RequestContext.HTTP.Method = r.Method
		req.RequestContext.Authorizer = &events.LambdaFunctionURLRequestContextAuthorizerDescription{IAM: &events.LambdaFunctionURLRequestContextAuthorizerIAMDescription{UserARN: caller}}
		res, err := decider.HandleURL(r.Context(), req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(res.StatusCode)
		_, _ = io.WriteString(w, res.Body)
	}))
	t.Cleanup(approval.Close)
	flags := []string{"--state-machine", aws.ToString(machine.StateMachineArn), "--bucket", "b", "--table", table, "--approval-url", approval.URL, "--by", "ada"}
	started := func(out string) pipeline.Run {
		t.Helper()
		_, name, ok := strings.Cut(strings.TrimSpace(out), "stackflow show ")
		if !ok {
			t.Fatalf("got %q, want the run to show", out)
		}
		arn := strings.Replace(aws.ToString(machine.StateMachineArn), ":stateMachine:", ":execution:", 1) + ":" + name
		d, err := awssfn.NewFromConfig(cfg).DescribeExecution(ctx, &awssfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			t.Fatalf("describe %s: %v", name, err)
		}
		var in pipeline.ExecutionInput
		if err := json.Unmarshal([]byte(aws.ToString(d.Input)), &in); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(name, "platform-api-") {
			t.Errorf("started %s, want a run named as the app's runs are (platform-api-...)", name)
		}
		return in.Run
	}

	code, out, errOut := runCLI(t, append([]string{"promote", "acme/platform", "prod", "--app", "api", "--from", "staging"}, flags...)...)
	if code != 0 || !strings.Contains(out, "promoting 1111111 from staging to prod") {
		t.Fatalf("promote --app api: got exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if !strings.Contains(out, "as "+caller) || !strings.Contains(out+errOut, "--by has been deprecated") {
		t.Errorf("promote --by ada: got stdout %q, stderr %q; want it asked as %s, and --by deprecated", out, errOut, caller)
	}
	if run := started(out); run.AppName() != "api" || run.Promote == nil || run.Promote.From != "staging" || run.Commit != sha("1") || run.Promote.By != caller {
		t.Errorf("promote --app api started %+v, want api's promotion of 1111111 from staging asked by %s (not --by)", run, caller)
	}
	// The caller is not gated prod's approver: refused, nothing started.
	code, _, errOut = runCLI(t, append([]string{"promote", "acme/platform", "prod", "--app", "gated", "--from", "staging"}, flags...)...)
	if want := "refused: " + caller + " may not promote to prod of app gated of acme/platform, which wants approval"; code != 1 || !strings.Contains(errOut, want) {
		t.Errorf("promote to a gated prod: got exit %d, stderr %q; want %q", code, errOut, want)
	}
	if list, err := awssfn.NewFromConfig(cfg).ListExecutions(ctx, &awssfn.ListExecutionsInput{StateMachineArn: machine.StateMachineArn}); err != nil || len(list.Executions) != 1 {
		t.Errorf("got %v, %v; want only the first promotion started", list, err)
	}
	code, _, errOut = runCLI(t, append([]string{"promote", "acme/platform", "prod", "--from", "staging"}, flags...)...)
	if code != 1 || !strings.Contains(errOut, "staging of acme/platform has no release to promote") {
		t.Errorf("promote without --app: got exit %d, stderr %q; want no release of the repository's own staging", code, errOut)
	}

	code, out, errOut = runCLI(t, append([]string{"rollback", "acme/platform", "prod", "--app", "api"}, flags...)...)
	if code != 0 || !strings.Contains(out, "rolling prod back to 2222222") || !strings.Contains(out, "as "+caller) {
		t.Fatalf("rollback --app api: got exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if run := started(out); run.AppName() != "api" || run.Rollback == nil || run.Rollback.By != caller || run.Commit != sha("2") {
		t.Errorf("rollback --app api started %+v, want api's rollback to 2222222 asked by %s", run, caller)
	}

	code, _, errOut = runCLI(t, append([]string{"retry", "--app", "web", "platform-api-main-" + sha("2")[:7]}, flags...)...)
	if code != 1 || !strings.Contains(errOut, "no run \"platform-api-main-2222222\"") {
		t.Errorf("retry of a run that is not there: got exit %d, stderr %q", code, errOut)
	}
}
