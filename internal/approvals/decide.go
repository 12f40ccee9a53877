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

// Answer is what a person asks of the approval function.
type Answer string

// The answers.
const (
	AnswerApprove Answer = "approve"
	AnswerReject  Answer = "reject"
	// AnswerRollback asks for a rollback of Repository's Environment to
	// its release of To (the one before the current one when empty).
	AnswerRollback Answer = "rollback"
)

// Decision is the body of a request to the approval function: approve
// or reject the deploy of Execution (an ARN of the pipeline's state
// machine) that waits for approval, Environment's or the only one; or
// roll Repository's Environment back to its release of To.
type Decision struct {
	Execution   string `json:"execution,omitempty"`
	Environment string `json:"environment,omitempty"`
	Answer      Answer `json:"answer"`
	// Reason is why a deploy is rejected; required for a rejection.
	Reason string `json:"reason,omitempty"`
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
	// Execution and DeployedAt are a rollback's run and when the release
	// it puts back was deployed.
	Execution  string    `json:"execution,omitempty"`
	DeployedAt time.Time `json:"deployedAt,omitzero"`
}

// Rollback starts a run that rolls repo's environment env back to its
// release of to ("" for the one before the current one), asked by by; it
// returns the run's execution ARN, the release's commit and when that
// release was deployed. (*runs.Client).Rollback is one.
type Rollback func(ctx context.Context, repo pipeline.Repository, app, env, to, by string) (execution, commit string, deployedAt time.Time, err error)

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
	case d.Execution == "":
		return Answered{}, errors.New("the decision names no execution (\"execution\": its ARN)")
	case d.Answer != AnswerApprove && d.Answer != AnswerReject:
		return Answered{}, fmt.Errorf("answer %q: want %q, %q or %q", d.Answer, AnswerApprove, AnswerReject, AnswerRollback)
	case d.Answer == AnswerReject && strings.TrimSpace(d.Reason) == "":
		return Answered{}, errors.New("give the reason for the rejection (--reason): the commit status shows it")
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
// (AuthType AWS_IAM) whose body is a Decision (an approval, a rejection or
// a rollback), answered 200 with
// Answered, or with {"message": ...}: 400 for a bad request, 403 for a
// refused caller, 409 for a run that waits for nothing, 500 otherwise,
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
	case d.Answer != AnswerRollback && (d.Execution == "" || (d.Answer != AnswerApprove && d.Answer != AnswerReject) || (d.Answer == AnswerReject && strings.TrimSpace(d.Reason) == "")):
		return reply(http.StatusBadRequest, map[string]string{"message": err.Error()}), nil
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
