package approvals

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/smithy-go"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// The approval function answers approvals on AWS's side. People call it
// through its function URL, whose AuthType is AWS_IAM: Lambda checks the
// request's SigV4 signature and hands the function the caller's identity
// (requestContext.authorizer.iam.userArn). The function, not the caller,
// decides whether that identity is one of the environment's approvers
// and records it as the approver; people need lambda:InvokeFunctionUrl on
// it, and no right to resume a run themselves (states:SendTaskSuccess).
// Rollbacks, promotions and retries are asked for the same way: the
// function starts them recorded as asked by that identity, for one of the
// approvers of the environment they deploy to (Decider.Approvers for a
// rollback, Decider.Gate for a promotion or a retry).

// Answer is what a person asks of the approval function.
type Answer string

// The answers.
const (
	AnswerApprove Answer = "approve"
	AnswerReject  Answer = "reject"
	// AnswerRollback asks for a rollback of Repository's Environment to
	// its release of To (the one before the current one when empty).
	AnswerRollback Answer = "rollback"
	// AnswerPromote asks for a promotion to Repository's Environment of
	// the package From released at Commit (defaults as stackflow promote
	// has them).
	AnswerPromote Answer = "promote"
	// AnswerRetry asks for a retry of the failed or stopped run
	// Execution, from the environment where it stopped.
	AnswerRetry Answer = "retry"
)

// Decision is the body of a request to the approval function: approve
// or reject the deploy of Execution (an ARN of the pipeline's state
// machine) that waits for approval, Environment's or the only one; roll
// Repository's Environment back to its release of To; promote to
// Repository's Environment what From released at Commit; or retry the
// run Execution.
type Decision struct {
	Execution   string `json:"execution,omitempty"`
	Environment string `json:"environment,omitempty"`
	Answer      Answer `json:"answer"`
	// Reason is why a deploy is rejected (required for a rejection), or
	// why a promotion or a retry may deploy during a freeze (required
	// with DuringFreeze).
	Reason string `json:"reason,omitempty"`
	// From and Commit say what a promotion deploys: From's release of
	// Commit (empty: the environment before, its newest release).
	From   string `json:"from,omitempty"`
	Commit string `json:"commit,omitempty"`
	// DuringFreeze lets a promotion or a retry deploy during the
	// environment's freeze windows, for Reason.
	DuringFreeze bool `json:"duringFreeze,omitempty"`
	// Repository ("workspace/slug") and To (a released commit, 4 or more
	// hex digits; empty for the release before the current one) say what
	// a rollback puts back.
	Repository string `json:"repository,omitempty"`
	To         string `json:"to,omitempty"`
	// App names the app whose environment a rollback puts back, in a
	// repository of several apps; empty for none.
	App string `json:"app,omitempty"`
}

// Answered is the approval function's answer to a Decision it took.
type Answered struct {
	Environment string `json:"environment"`
	Repository  string `json:"repository"`
	Commit      string `json:"commit"`
	Summary     string `json:"summary"`
	// By is the caller's IAM identity as AWS reported it: the approver,
	// or who asked for the rollback, recorded.
	By string `json:"by"`
	// Execution and DeployedAt are a rollback's (or a promotion's or a
	// retry's) run and when the release it puts back (or promotes) was
	// deployed.
	Execution  string    `json:"execution,omitempty"`
	DeployedAt time.Time `json:"deployedAt,omitzero"`
	// From is the environment whose release a promotion deploys.
	From string `json:"from,omitempty"`
}

// Rollback starts a run that rolls repo's environment env back to its
// release of to ("" for the one before the current one), asked by by; it
// returns the run's execution ARN, the release's commit and when that
// release was deployed. (*runs.Client).Rollback is one.
type Rollback func(ctx context.Context, repo pipeline.Repository, app, env, to, by string) (execution, commit string, deployedAt time.Time, err error)

// Start is a promotion or a retry the approval function starts for a
// caller: (*runs.Client).Promote and Retry take it.
type Start struct {
	// Repository, App, Environment, From and Commit say what a promotion
	// deploys where (as runs.PromoteRequest has them).
	Repository pipeline.Repository
	App        string
	// Environment is where a promotion deploys.
	Environment string
	From        string
	Commit      string
	// Execution is the run a retry resumes (an ARN of the pipeline's).
	Execution string
	// By is the caller, as AWS named it: who asks, recorded.
	By string
	// DuringFreeze, when set, lets the run deploy during a freeze.
	DuringFreeze *pipeline.FreezeOverride
	// May is asked, before anything starts, whether the caller may deploy
	// to env of repo's app (the environment a retry resumes at, or the one
	// a promotion deploys to); its error refuses the start.
	May func(ctx context.Context, repo pipeline.Repository, app, env string) error
}

// Started is the run a Start started.
type Started struct {
	Execution string
	// Environment is where it deploys first; From, Commit and DeployedAt
	// the release a promotion deploys.
	Environment string
	From        string
	Commit      string
	DeployedAt  time.Time
}

// Starter starts the run a Start asks for.
type Starter func(ctx context.Context, s Start) (Started, error)

// Refused is a caller the environment's approvers do not include.
type Refused struct{ Reason string }

func (e *Refused) Error() string { return "refused: " + e.Reason }

// NotWaiting is a run that waits for no approval the decision could
// answer.
type NotWaiting struct{ Reason string }

func (e *NotWaiting) Error() string { return e.Reason }

// tasksAPI is what the approval function needs of Step Functions.
type tasksAPI interface {
	DescribeExecution(context.Context, *sfn.DescribeExecutionInput, ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
	SendTaskSuccess(context.Context, *sfn.SendTaskSuccessInput, ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error)
	SendTaskFailure(context.Context, *sfn.SendTaskFailureInput, ...func(*sfn.Options)) (*sfn.SendTaskFailureOutput, error)
}

var _ tasksAPI = (*sfn.Client)(nil)

// Decider answers approvals for the callers AWS names: the approval
// function's service.
type Decider struct {
	Store *Store
	Tasks tasksAPI
	// StateMachine is the pipeline's state machine: only its executions
	// are answered.
	StateMachine string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rollback, when set, takes AnswerRollback decisions.
	Rollback Rollback
	// Approvers returns who may roll repo's environment env (of its app
	// app, "" for none) back: the approvers its newest release was
	// deployed with, from stackflow.yml on the default branch. A rollback
	// is an answer an approver gives, so the same people may ask for it.
	// Required with Rollback.
	Approvers func(ctx context.Context, repo pipeline.Repository, app, env string) ([]string, error)
	// Promote and Retry, when set, take AnswerPromote and AnswerRetry
	// decisions, started as the caller; Gate is then required.
	Promote Starter
	Retry   Starter
	// Gate says whether repo's environment env (of app) wants approval
	// and who its approvers are, as its newest release was deployed with
	// them (from stackflow.yml on the default branch): a promotion or a
	// retry into an environment that wants approval is started only for
	// one of its approvers.
	Gate func(ctx context.Context, repo pipeline.Repository, app, env string) (required bool, approvers []string, err error)
	// Log receives what a failure answered 500 was, with the request's
	// ID: the caller gets the ID only. nil means slog.Default().
	Log *slog.Logger
}

// Decide answers d as caller, an IAM identity as AWS reported it: when the
// run waits for the approval d names and caller is one of its approvers
// (Request.MayAnswer), it resumes the run, approved, or fails it with
// ApprovalRejected, recording caller, and forgets the request. A refused
// caller is a *Refused, a run that waits for nothing a *NotWaiting.
func (s *Decider) Decide(ctx context.Context, caller string, d Decision) (Answered, error) {
	switch {
	case caller == "":
		return Answered{}, &Refused{Reason: "the request names no caller: call the approval function's URL with a SigV4-signed request (AuthType AWS_IAM)"}
	case d.Answer == AnswerRollback:
		return s.rollback(ctx, caller, d)
	case d.Answer == AnswerPromote || d.Answer == AnswerRetry:
		return s.start(ctx, caller, d)
	case d.Execution == "":
		return Answered{}, &BadDecision{Reason: "the decision names no execution (\"execution\": its ARN)"}
	case d.Answer != AnswerApprove && d.Answer != AnswerReject:
		return Answered{}, &BadDecision{Reason: fmt.Sprintf("answer %q: want %q, %q, %q, %q or %q", d.Answer, AnswerApprove, AnswerReject, AnswerRollback, AnswerPromote, AnswerRetry)}
	case d.Answer == AnswerReject && strings.TrimSpace(d.Reason) == "":
		return Answered{}, &BadDecision{Reason: "give the reason for the rejection (--reason): the commit status shows it"}
	}
	desc, err := s.Tasks.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(d.Execution)})
	if err != nil {
		if code, _ := apiCode(err); code == "ExecutionDoesNotExist" || code == "InvalidArn" {
			return Answered{}, &NotWaiting{Reason: fmt.Sprintf("no execution %s (%s)", d.Execution, code)}
		}
		return Answered{}, fmt.Errorf("describe %s: %w", d.Execution, err)
	}
	if aws.ToString(desc.StateMachineArn) != s.StateMachine {
		return Answered{}, &NotWaiting{Reason: fmt.Sprintf("%s is not a run of this pipeline", d.Execution)}
	}
	name := pipeline.ExecutionNameOf(d.Execution)
	if desc.Status != "RUNNING" {
		return Answered{}, &NotWaiting{Reason: fmt.Sprintf("%s is %s: it waits for nothing", name, desc.Status)}
	}
	pending, err := s.Store.Pending(ctx, d.Execution)
	if err != nil {
		return Answered{}, err
	}
	r, err := Pick(pending, name, d.Environment)
	if err != nil {
		return Answered{}, &NotWaiting{Reason: err.Error()}
	}
	if err := r.MayAnswer(caller); err != nil {
		return Answered{}, &Refused{Reason: err.Error()}
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	if d.Answer == AnswerApprove {
		err = Approve(ctx, s.Tasks, r, caller, now())
	} else {
		_, err = s.Tasks.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{
			TaskToken: aws.String(r.Token),
			Error:     aws.String(pipeline.ErrApprovalRejected),
			Cause:     aws.String(truncate(fmt.Sprintf("rejected by %s: %s", caller, d.Reason), 32768)),
		})
	}
	if err := taskError(string(d.Answer), err); err != nil {
		return Answered{}, err
	}
	out := Answered{Environment: r.Environment, Repository: r.Repository, Commit: r.Commit, Summary: r.Summary, By: caller}
	return out, s.Store.Delete(ctx, d.Execution, r.Environment)
}

// rollback starts the rollback d asks for, recorded as asked by caller.
func (s *Decider) rollback(ctx context.Context, caller string, d Decision) (Answered, error) {
	if s.Rollback == nil || s.Approvers == nil {
		return Answered{}, errors.New("this approval function takes no rollbacks")
	}
	repo, err := pipeline.ParseRepository(d.Repository)
	if err != nil || d.Environment == "" || strings.Contains(d.Environment, "/") || strings.Contains(d.App, "/") {
		return Answered{}, &BadDecision{Reason: "a rollback names its repository (\"repository\": \"workspace/slug\") and its environment (and app), each without \"/\""}
	}
	approvers, err := s.Approvers(ctx, repo, d.App, d.Environment)
	if err != nil {
		return Answered{}, err
	}
	if err := (Request{Environment: d.Environment, Approvers: approvers}).MayAnswer(caller); err != nil {
		return Answered{}, &Refused{Reason: fmt.Sprintf("%s may not roll %s of %s back: its approvers are %s (approvers in stackflow.yml on the default branch)",
			caller, d.Environment, repo.FullName(), strings.Join(approvers, ", "))}
	}
	arn, commit, at, err := s.Rollback(ctx, repo, d.App, d.Environment, d.To, caller)
	if err != nil {
		return Answered{}, err
	}
	return Answered{Environment: d.Environment, Repository: repo.FullName(), Commit: commit, By: caller, Execution: arn, DeployedAt: at}, nil
}

// start starts the promotion or the retry d asks for, recorded as asked
// by caller, when the environment it deploys to first takes caller:
// anyone who may call the function where it wants no approval, one of its
// approvers where it does.
func (s *Decider) start(ctx context.Context, caller string, d Decision) (Answered, error) {
	starter := s.Promote
	if d.Answer == AnswerRetry {
		starter = s.Retry
	}
	if starter == nil || s.Gate == nil {
		return Answered{}, fmt.Errorf("this approval function takes no %s", d.Answer)
	}
	st := Start{App: d.App, By: caller, May: func(ctx context.Context, repo pipeline.Repository, app, env string) error {
		required, approvers, err := s.Gate(ctx, repo, app, env)
		if err != nil {
			return err
		}
		if !required {
			return nil
		}
		if err := (Request{Environment: env, Approvers: approvers}).MayAnswer(caller); err != nil {
			of := repo.FullName()
			if app != "" {
				of = "app " + app + " of " + of
			}
			return &Refused{Reason: fmt.Sprintf("%s may not %s to %s of %s, which wants approval: its approvers are %s (approvers in stackflow.yml on the default branch)",
				caller, d.Answer, env, of, strings.Join(approvers, ", "))}
		}
		return nil
	}}
	switch {
	case strings.Contains(d.App, "/"):
		return Answered{}, &BadDecision{Reason: "an app's name has no \"/\""}
	case d.DuringFreeze && strings.TrimSpace(d.Reason) == "":
		return Answered{}, &BadDecision{Reason: "give the reason to deploy during a freeze (--reason): the release records it"}
	case d.DuringFreeze:
		st.DuringFreeze = &pipeline.FreezeOverride{By: caller, Reason: strings.TrimSpace(d.Reason)}
	}
	if d.Answer == AnswerRetry {
		if !strings.HasPrefix(d.Execution, s.executionPrefix()) {
			return Answered{}, &BadDecision{Reason: "a retry names its run (\"execution\": an execution ARN of this pipeline)"}
		}
		st.Execution = d.Execution
	} else {
		repo, err := pipeline.ParseRepository(d.Repository)
		if err != nil || d.Environment == "" || strings.Contains(d.Environment, "/") || strings.Contains(d.From, "/") {
			return Answered{}, &BadDecision{Reason: "a promotion names its repository (\"repository\": \"workspace/slug\") and its environment (and app, from), each without \"/\""}
		}
		st.Repository, st.Environment, st.From, st.Commit = repo, d.Environment, d.From, d.Commit
		// Who may deploy there is known before anything is read.
		if err := st.May(ctx, repo, d.App, d.Environment); err != nil {
			return Answered{}, err
		}
	}
	out, err := starter(ctx, st)
	if err != nil {
		return Answered{}, err
	}
	a := Answered{Environment: out.Environment, Commit: out.Commit, By: caller, Execution: out.Execution, DeployedAt: out.DeployedAt, From: out.From}
	if st.Repository.Slug != "" {
		a.Repository = st.Repository.FullName()
	}
	return a, nil
}

// executionPrefix is what the ARNs of the pipeline's executions start
// with.
func (s *Decider) executionPrefix() string {
	return strings.Replace(s.StateMachine, ":stateMachine:", ":execution:", 1) + ":"
}

// BadDecision is a decision that cannot be taken as it is written.
type BadDecision struct{ Reason string }

func (e *BadDecision) Error() string { return e.Reason }

// Declined is what a Rollback (or a promotion or retry the function
// starts) answers when what was asked cannot be done: no such release,
// nothing to roll back to, a run that cannot be retried. Its Reason goes
// back to the caller (409 Conflict); any other error is the function's
// own failure, answered 500 with only the request's ID.
type Declined struct{ Reason string }

func (e *Declined) Error() string { return e.Reason }

// HandleURL is the approval function's handler: a function URL request
// (AuthType AWS_IAM) whose body is a Decision (an approval, a rejection,
// a rollback, a promotion or a retry), answered 200 with Answered, or with
// {"message": ...}: 400 for a bad request, 403 for a refused caller, 409
// for a run that waits for nothing or a Declined start, 500 otherwise,
// whose message says only that the function failed and gives the
// request's ID ("requestId"); what failed is in the function's log.
func (s *Decider) HandleURL(ctx context.Context, req events.LambdaFunctionURLRequest) (events.LambdaFunctionURLResponse, error) {
	caller := ""
	if a := req.RequestContext.Authorizer; a != nil && a.IAM != nil {
		caller = a.IAM.UserARN
	}
	if req.RequestContext.HTTP.Method != http.MethodPost {
		return reply(http.StatusMethodNotAllowed, map[string]string{"message": "POST a decision ({\"execution\", \"environment\", \"answer\", \"reason\"})"}), nil
	}
	body := []byte(req.Body)
	if req.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(req.Body)
		if err != nil {
			return reply(http.StatusBadRequest, map[string]string{"message": "the body is not base64"}), nil
		}
		body = b
	}
	var d Decision
	if err := json.Unmarshal(body, &d); err != nil {
		return reply(http.StatusBadRequest, map[string]string{"message": "the body is not a decision ({\"execution\", \"environment\", \"answer\", \"reason\"}): " + err.Error()}), nil
	}
	out, err := s.Decide(ctx, caller, d)
	var refused *Refused
	var waiting *NotWaiting
	var bad *BadDecision
	var declined *Declined
	switch {
	case err == nil:
		return reply(http.StatusOK, out), nil
	case errors.As(err, &bad):
		return reply(http.StatusBadRequest, map[string]string{"message": err.Error()}), nil
	case errors.As(err, &declined):
		return reply(http.StatusConflict, map[string]string{"message": declined.Reason}), nil
	case errors.As(err, &refused):
		return reply(http.StatusForbidden, map[string]string{"message": err.Error()}), nil
	case errors.As(err, &waiting):
		return reply(http.StatusConflict, map[string]string{"message": err.Error()}), nil
	}
	// Anything else is the function's own failure (an AWS call, the
	// table): its text may hold what the caller must not see, so it goes
	// to the function's log, and the caller gets the request's ID to
	// find it by.
	id := requestID(ctx, req)
	log := s.Log
	if log == nil {
		log = slog.Default()
	}
	attrs := []any{"answer", string(d.Answer), "caller", caller, "error", err}
	if _, ok := lambdacontext.FromContext(ctx); !ok {
		attrs = append(attrs, "requestId", id) // runlog adds Lambda's
	}
	log.ErrorContext(ctx, "the decision failed", attrs...)
	return reply(http.StatusInternalServerError, map[string]string{
		"message":   "the approval function failed (request " + id + "): nothing was answered; try again, or find the request ID in the function's log",
		"requestId": id,
	}), nil
}

// requestID is the ID of the Lambda invocation ctx is, else the function
// URL request's own.
func requestID(ctx context.Context, req events.LambdaFunctionURLRequest) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		return lc.AwsRequestID
	}
	if req.RequestContext.RequestID != "" {
		return req.RequestContext.RequestID
	}
	return "unknown"
}

func reply(status int, v any) events.LambdaFunctionURLResponse {
	b, _ := json.Marshal(v)
	return events.LambdaFunctionURLResponse{StatusCode: status, Headers: map[string]string{"Content-Type": "application/json"}, Body: string(b)}
}

// taskError words a failed SendTask call without its token.
func taskError(op string, err error) error {
	if err == nil {
		return nil
	}
	code, msg := apiCode(err)
	switch code {
	case "TaskTimedOut", "TaskDoesNotExist", "InvalidToken":
		return &NotWaiting{Reason: fmt.Sprintf("%s: the run no longer waits for this approval (%s)", op, code)}
	case "":
		return fmt.Errorf("%s: %w", op, err)
	}
	return fmt.Errorf("%s: %s: %s", op, code, msg)
}

// apiCode returns the code and message of err when it is an AWS API error.
func apiCode(err error) (code, message string) {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode(), ae.ErrorMessage()
	}
	return "", ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
