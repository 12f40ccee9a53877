package approvals

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/testaws"
)

// fakeTasks is Step Functions as the approval function sees it: one
// execution and the answers sent to it.
type fakeTasks struct {
	machine, status string
	success         []string // outputs
	failure         []string // causes
	// err, when set, is DescribeExecution's answer.
	err error
}

func (f *fakeTasks) DescribeExecution(_ context.Context, in *sfn.DescribeExecutionInput, _ ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	if f.err != nil {
		return nil, f.err
	}
	return &sfn.DescribeExecutionOutput{ExecutionArn: in.ExecutionArn, StateMachineArn: aws.String(f.machine), Status: types.ExecutionStatus(f.status)}, nil
}

func (f *fakeTasks) SendTaskSuccess(_ context.Context, in *sfn.SendTaskSuccessInput, _ ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error) {
	f.success = append(f.success, aws.ToString(in.Output))
	return &sfn.SendTaskSuccessOutput{}, nil
}

func (f *fakeTasks) SendTaskFailure(_ context.Context, in *sfn.SendTaskFailureInput, _ ...func(*sfn.Options)) (*sfn.SendTaskFailureOutput, error) {
	f.failure = append(f.failure, aws.ToString(in.Error)+": "+aws.ToString(in.Cause))
	return &sfn.SendTaskFailureOutput{}, nil
}

// TestDecideAsTheCallerAWSNames: the approval function answers only for
// an approver among the environment's, records the caller AWS named, and
// refuses anyone else, leaving the run waiting.
func TestDecideAsTheCallerAWSNames(t *testing.T) {
	t.Parallel()
	cfg := testaws.Start(t)
	store := New(dynamodb.NewFromConfig(cfg), testaws.Table(t, cfg, "decide"))
	const (
		machine  = "arn:aws:states:eu-west-1:123456789012:stateMachine:stackflow-Pipeline"
		exec     = "arn:aws:states:eu-west-1:123456789012:execution:stackflow-Pipeline:hello-main-e10dae2"
		managers = "arn:aws:iam::123456789012:role/release-managers"
		ada      = "arn:aws:sts::123456789012:assumed-role/release-managers/ada"
		mallory  = "arn:aws:sts::123456789012:assumed-role/developers/mallory"
	)
	at := time.Date(2026, 12, 2, 13, 0, 0, 0, time.UTC)
	put := func() {
		t.Helper()
		if err := store.Put(context.Background(), Request{Execution: exec, Repository: "acme/hello", Environment: "prod", Commit: "e10dae226959c219",
			Summary: "0 to add, 1 to modify", Approvers: []string{managers}, Token: "secret-token"}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name     string
		caller   string
		decision Decision
		status   string
		machine  string
		// want is the error's text, "" for none; refused and waiting
		// say which kind.
		want             string
		refused, waiting bool
		success, failure string
	}{
		{name: "an approver approves", caller: ada, decision: Decision{Execution: exec, Answer: AnswerApprove},
			success: `{"environment":"prod","by":"` + ada + `","at":"2026-12-02T13:00:00Z"}`},
		{name: "an approver rejects", caller: ada, decision: Decision{Execution: exec, Environment: "prod", Answer: AnswerReject, Reason: "not on a Friday"},
			failure: pipeline.ErrApprovalRejected + ": rejected by " + ada + ": not on a Friday"},
		{name: "anyone else is refused", caller: mallory, decision: Decision{Execution: exec, Answer: AnswerApprove}, refused: true,
			want: "refused: " + mallory + " may not answer the approval of e10dae2's deploy to prod: its approvers are " + managers},
		{name: "no caller is refused", decision: Decision{Execution: exec, Answer: AnswerApprove}, refused: true,
			want: "refused: the request names no caller"},
		{name: "a run of another state machine", caller: ada, decision: Decision{Execution: exec, Answer: AnswerApprove},
			machine: machine + "-other", waiting: true, want: "is not a run of this pipeline"},
		{name: "a run that ended", caller: ada, decision: Decision{Execution: exec, Answer: AnswerApprove},
			status: "SUCCEEDED", waiting: true, want: "hello-main-e10dae2 is SUCCEEDED: it waits for nothing"},
		{name: "another environment", caller: ada, decision: Decision{Execution: exec, Environment: "eu", Answer: AnswerApprove},
			waiting: true, want: "waits for an approval of prod, not eu"},
		{name: "a rejection without a reason", caller: ada, decision: Decision{Execution: exec, Answer: AnswerReject}, want: "give the reason"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			put()
			tasks := &fakeTasks{machine: machine, status: "RUNNING"}
			if tt.machine != "" {
				tasks.machine = tt.machine
			}
			if tt.status != "" {
				tasks.status = tt.status
			}
			d := &Decider{Store: store, Tasks: tasks, StateMachine: machine, Now: func() time.Time { return at }}
			got, err := d.Decide(context.Background(), tt.caller, tt.decision)
			var refused *Refused
			var waiting *NotWaiting
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("got %v, want the decision taken", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got %v, want %q", err, tt.want)
			case tt.refused != errors.As(err, &refused), tt.waiting != errors.As(err, &waiting):
				t.Errorf("got %T, want refused %t, not waiting %t", err, tt.refused, tt.waiting)
			}
			pending, _ := store.Pending(context.Background(), exec)
			if tt.want == "" {
				if got.By != tt.caller || got.Environment != "prod" || len(pending) != 0 {
					t.Errorf("got %+v, %d pending; want answered by %s and forgotten", got, len(pending), tt.caller)
				}
			} else if len(pending) != 1 || len(tasks.success)+len(tasks.failure) != 0 {
				t.Errorf("got %d pending, answers %v %v; want the run still waiting", len(pending), tasks.success, tasks.failure)
			}
			if tt.success != "" && (len(tasks.success) != 1 || tasks.success[0] != tt.success) {
				t.Errorf("got task outputs %v, want %s", tasks.success, tt.success)
			}
			if tt.failure != "" && (len(tasks.failure) != 1 || tasks.failure[0] != tt.failure) {
				t.Errorf("got task failures %v, want %s", tasks.failure, tt.failure)
			}
		})
	}
}

// TestHandleURL: the caller is the identity in the function URL's
// request context, never one in the body; the answers' statuses tell a
// refusal from a bad request.
func TestHandleURL(t *testing.T) {
	t.Parallel()
	cfg := testaws.Start(t)
	store := New(dynamodb.NewFromConfig(cfg), testaws.Table(t, cfg, "url"))
	const machine, exec = "arn:aws:states:eu-west-1:1:stateMachine:p", "arn:aws:states:eu-west-1:1:execution:p:hello-main-e10dae2"
	if err := store.Put(context.Background(), Request{Execution: exec, Environment: "prod", Commit: "e10dae2", Approvers: []string{"arn:aws:iam::1:user/ada"}, Token: "t"}); err != nil {
		t.Fatal(err)
	}
	d := &Decider{Store: store, Tasks: &fakeTasks{machine: machine, status: "RUNNING"}, StateMachine: machine}
	request := func(caller, body string) events.LambdaFunctionURLRequest {
		r := events.LambdaFunctionURLRequest{Body: body}
		r.RequestContext.HTTP.Method = "POST"
		if caller != "" {
			r.RequestContext.Authorizer = &events.LambdaFunctionURLRequestContextAuthorizerDescription{
				IAM: &events.LambdaFunctionURLRequestContextAuthorizerIAMDescription{UserARN: caller}}
		}
		return r
	}
	tests := []struct {
		name   string
		req    events.LambdaFunctionURLRequest
		status int
		want   string
	}{
		{"unsigned", request("", `{"execution":"`+exec+`","answer":"approve"}`), 403, "names no caller"},
		{"not an approver", request("arn:aws:iam::1:user/mallory", `{"execution":"`+exec+`","answer":"approve"}`), 403, "refused: arn:aws:iam::1:user/mallory may not answer"},
		{"not a decision", request("arn:aws:iam::1:user/ada", `approve`), 400, "not a decision"},
		{"an unknown answer", request("arn:aws:iam::1:user/ada", `{"execution":"`+exec+`","answer":"maybe"}`), 400, `answer \"maybe\"`},
		{"approved", request("arn:aws:iam::1:user/ada", `{"execution":"`+exec+`","answer":"approve","by":"someone else"}`), 200, `"by":"arn:aws:iam::1:user/ada"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := d.HandleURL(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status || !strings.Contains(resp.Body, tt.want) || !json.Valid([]byte(resp.Body)) {
				t.Errorf("got %d %s, want %d containing %s", resp.StatusCode, resp.Body, tt.status, tt.want)
			}
		})
	}
}

// TestDecideStartsRollbacksAsTheCaller: a rollback is asked for as the
// caller AWS named, whatever the body says.
func TestDecideStartsRollbacksAsTheCaller(t *testing.T) {
	t.Parallel()
	const ada = "arn:aws:sts::123456789012:assumed-role/oncall/ada"
	deployed := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	var asked []string
	d := &Decider{Rollback: func(_ context.Context, repo pipeline.Repository, _, env, to, by string) (string, string, time.Time, error) {
		asked = append(asked, repo.FullName()+" "+env+" "+to+" "+by)
		return "arn:exec:rollback", "0123456789abcdef", deployed, nil
	}, Approvers: func(_ context.Context, repo pipeline.Repository, app, env string) ([]string, error) {
		if repo.FullName() == "acme/hello" && app == "" && env == "prod" {
			return []string{"arn:aws:iam::123456789012:role/oncall"}, nil
		}
		return nil, nil
	}}
	got, err := d.Decide(context.Background(), ada, Decision{Answer: AnswerRollback, Repository: "acme/hello", Environment: "prod", To: "0123"})
	if err != nil {
		t.Fatal(err)
	}
	want := Answered{Environment: "prod", Repository: "acme/hello", Commit: "0123456789abcdef", By: ada, Execution: "arn:exec:rollback", DeployedAt: deployed}
	if got != want || len(asked) != 1 || asked[0] != "acme/hello prod 0123 "+ada {
		t.Errorf("got %+v after %v, want %+v asked by %s", got, asked, want, ada)
	}
	resp, err := d.HandleURL(context.Background(), events.LambdaFunctionURLRequest{Body: `{"answer":"rollback","environment":"prod"}`,
		RequestContext: events.LambdaFunctionURLRequestContext{HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{Method: "POST"},
			Authorizer: &events.LambdaFunctionURLRequestContextAuthorizerDescription{IAM: &events.LambdaFunctionURLRequestContextAuthorizerIAMDescription{UserARN: ada}}}})
	if err != nil || resp.StatusCode != 400 || !strings.Contains(resp.Body, "names its repository") {
		t.Errorf("a rollback without its repository: got %d %s, %v; want 400", resp.StatusCode, resp.Body, err)
	}
	// Someone who may not approve prod may not roll it back either, nor
	// reach it through an environment that names an app.
	const eve = "arn:aws:iam::123456789012:user/eve"
	for _, dec := range []Decision{
		{Answer: AnswerRollback, Repository: "acme/hello", Environment: "prod"},
		{Answer: AnswerRollback, Repository: "acme/hello", Environment: "api/prod"},
	} {
		var refused *Refused
		var bad *BadDecision
		_, err := d.Decide(context.Background(), eve, dec)
		if !errors.As(err, &refused) && !errors.As(err, &bad) {
			t.Errorf("%s rolling %s back: got %v, want refused", eve, dec.Environment, err)
		}
	}
	if len(asked) != 1 {
		t.Errorf("got rollbacks %v, want only ada's", asked)
	}
}

// TestAFailureIsAnsweredWithItsRequestIDOnly: when the function itself
// fails (an AWS call, the table), the caller gets a 500 with a generic
// message and the request's ID, never the error's text, which may hold
// what only the function may see; the text is in the function's log,
// under that ID. What was asked wrongly (a rollback to a release that is
// not there) still says why, 409.
func TestAFailureIsAnsweredWithItsRequestIDOnly(t *testing.T) {
	t.Parallel()
	const (
		machine = "arn:aws:states:eu-west-1:1:stateMachine:p"
		exec    = "arn:aws:states:eu-west-1:1:execution:p:hello-main-e10dae2"
		secret  = "token=AQoDYXdzEJr-very-secret"
		ada     = "arn:aws:iam::1:user/ada"
	)
	var logged bytes.Buffer
	d := &Decider{
		Tasks:        &fakeTasks{machine: machine, status: "RUNNING", err: errors.New("operation error SFN: DescribeExecution: dial tcp: " + secret)},
		StateMachine: machine,
		Log:          slog.New(slog.NewJSONHandler(&logged, nil)),
		Rollback: func(context.Context, pipeline.Repository, string, string, string, string) (string, string, time.Time, error) {
			return "", "", time.Time{}, &Declined{Reason: "prod of acme/hello has no release before its current one to roll back to"}
		},
		Approvers: func(context.Context, pipeline.Repository, string, string) ([]string, error) { return nil, nil },
	}
	request := func(body string) events.LambdaFunctionURLRequest {
		r := events.LambdaFunctionURLRequest{Body: body}
		r.RequestContext.HTTP.Method = "POST"
		r.RequestContext.RequestID = "url-request-1"
		r.RequestContext.Authorizer = &events.LambdaFunctionURLRequestContextAuthorizerDescription{
			IAM: &events.LambdaFunctionURLRequestContextAuthorizerIAMDescription{UserARN: ada}}
		return r
	}
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "8f1e6a2c-lambda"})
	resp, err := d.HandleURL(ctx, request(`{"execution":"`+exec+`","answer":"approve"}`))
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	if resp.StatusCode != 500 || json.Unmarshal([]byte(resp.Body), &body) != nil || body["requestId"] != "8f1e6a2c-lambda" ||
		!strings.Contains(body["message"], "8f1e6a2c-lambda") || strings.Contains(resp.Body, "very-secret") || strings.Contains(resp.Body, "dial tcp") {
		t.Errorf("got %d %s, want 500 with the request ID and none of the error's text", resp.StatusCode, resp.Body)
	}
	if !strings.Contains(logged.String(), "very-secret") || !strings.Contains(logged.String(), ada) {
		t.Errorf("the function's log: got %s, want the error and the caller", logged.String())
	}
	// Outside Lambda (no invocation in the context) the URL request's ID
	// is the one given, and logged.
	logged.Reset()
	resp, _ = d.HandleURL(context.Background(), request(`{"execution":"`+exec+`","answer":"approve"}`))
	if resp.StatusCode != 500 || !strings.Contains(resp.Body, `"requestId":"url-request-1"`) || !strings.Contains(logged.String(), `"requestId":"url-request-1"`) {
		t.Errorf("got %d %s, logged %s; want the URL request's ID in both", resp.StatusCode, resp.Body, logged.String())
	}
	resp, _ = d.HandleURL(ctx, request(`{"answer":"rollback","repository":"acme/hello","environment":"prod"}`))
	if resp.StatusCode != 409 || !strings.Contains(resp.Body, "no release before its current one") {
		t.Errorf("a rollback with nothing to go back to: got %d %s, want 409 saying why", resp.StatusCode, resp.Body)
	}
}

// TestDecideStartsPromotionsAndRetriesAsTheCaller: a promotion and a
// retry are started as the caller AWS named (whatever the body says), a
// freeze override recorded as theirs, and refused, with nothing started,
// when the environment they deploy to wants approval and the caller is
// not one of its approvers.
func TestDecideStartsPromotionsAndRetriesAsTheCaller(t *testing.T) {
	t.Parallel()
	const (
		machine = "arn:aws:states:us-east-1:123456789012:stateMachine:stackflow-Pipeline"
		failed  = "arn:aws:states:us-east-1:123456789012:execution:stackflow-Pipeline:hello-main-e10dae2"
		oncall  = "arn:aws:iam::123456789012:role/oncall"
		ada     = "arn:aws:sts::123456789012:assumed-role/oncall/ada"
		eve     = "arn:aws:iam::123456789012:user/eve"
	)
	deployed := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	var started []Start
	d := &Decider{StateMachine: machine,
		Gate: func(_ context.Context, repo pipeline.Repository, app, env string) (bool, []string, error) {
			if repo.FullName() != "acme/hello" || app != "" {
				return false, nil, errors.New("another repository")
			}
			return env == "prod", []string{oncall}, nil
		},
		Promote: func(_ context.Context, st Start) (Started, error) {
			started = append(started, st)
			return Started{Execution: "arn:exec:promote", Environment: st.Environment, From: "staging", Commit: "0123456789abcdef", DeployedAt: deployed}, nil
		},
		// As runs.Client.StartRetry: the run's repository and where it
		// stopped are known once it is read, and May asked then.
		Retry: func(ctx context.Context, st Start) (Started, error) {
			if err := st.May(ctx, pipeline.Repository{Workspace: "acme", Slug: "hello"}, "", "prod"); err != nil {
				return Started{}, err
			}
			started = append(started, st)
			return Started{Execution: "arn:exec:retry", Environment: "prod"}, nil
		},
	}
	call := func(caller, body string) events.LambdaFunctionURLResponse {
		t.Helper()
		r := events.LambdaFunctionURLRequest{Body: body}
		r.RequestContext.HTTP.Method = "POST"
		r.RequestContext.Authorizer = &events.LambdaFunctionURLRequestContextAuthorizerDescription{
			IAM: &events.LambdaFunctionURLRequestContextAuthorizerIAMDescription{UserARN: caller}}
		resp, err := d.HandleURL(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	tests := []struct {
		name, caller, body string
		status             int
		want               string // in the body
		by                 string // who the run is started as; "" for none started
		freeze             string // the freeze override's reason, when one
	}{
		{"an approver promotes to prod", ada, `{"answer":"promote","repository":"acme/hello","environment":"prod","by":"someone else"}`,
			200, `"by":"` + ada + `"`, ada, ""},
		{"anyone else may not", eve, `{"answer":"promote","repository":"acme/hello","environment":"prod"}`,
			403, "refused: " + eve + " may not promote to prod of acme/hello, which wants approval: its approvers are " + oncall, "", ""},
		{"staging wants no approval", eve, `{"answer":"promote","repository":"acme/hello","environment":"staging","from":"dev"}`,
			200, `"execution":"arn:exec:promote"`, eve, ""},
		{"an approver retries into prod during a freeze", ada, `{"answer":"retry","execution":"` + failed + `","duringFreeze":true,"reason":"the fix"}`,
			200, `"environment":"prod"`, ada, "the fix"},
		{"anyone else may not retry into prod", eve, `{"answer":"retry","execution":"` + failed + `"}`,
			403, "may not retry to prod of acme/hello", "", ""},
		{"a run of another state machine", ada, `{"answer":"retry","execution":"arn:aws:states:us-east-1:123456789012:execution:other:x"}`,
			400, "execution ARN of this pipeline", "", ""},
		{"a freeze without a reason", ada, `{"answer":"promote","repository":"acme/hello","environment":"prod","duringFreeze":true}`,
			400, "give the reason", "", ""},
		{"no repository", ada, `{"answer":"promote","environment":"prod"}`, 400, "names its repository", "", ""},
	}
	for _, tt := range tests {
		started = nil
		resp := call(tt.caller, tt.body)
		if resp.StatusCode != tt.status || !strings.Contains(resp.Body, tt.want) {
			t.Errorf("%s: got %d %s, want %d with %s", tt.name, resp.StatusCode, resp.Body, tt.status, tt.want)
		}
		switch {
		case tt.by == "" && len(started) != 0:
			t.Errorf("%s: got %+v started, want nothing", tt.name, started)
		case tt.by != "" && (len(started) != 1 || started[0].By != tt.by):
			t.Errorf("%s: got %+v started, want one as %s", tt.name, started, tt.by)
		case tt.freeze != "" && (started[0].DuringFreeze == nil || *started[0].DuringFreeze != pipeline.FreezeOverride{By: tt.by, Reason: tt.freeze}):
			t.Errorf("%s: got the freeze override %+v, want %q by %s", tt.name, started[0].DuringFreeze, tt.freeze, tt.by)
		}
	}
}
