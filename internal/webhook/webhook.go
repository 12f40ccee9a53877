// Package webhook is the service behind the pipeline's HTTP API route
// POST /webhook: it verifies a Bitbucket delivery, reads its event and
// starts one Step Functions execution per pushed branch or tag, or one for
// a pull request that was created, updated, merged or declined.
//
// A pushed tag starts a run only when an environment on the default
// branch's stackflow.yml (or one of its apps') takes it (tags: ["v*"]):
// the service reads those files through Bitbucket's API with the
// pipeline's token. A branch's run carries the push's old head and its
// forced and truncated flags, from which the run reads what the push
// changed for path filters.
//
// Nothing starts unless the delivery's signature matches the webhook
// secret; without a secret every delivery is refused. Execution names and
// inputs are derived only from the event, so a redelivered webhook finds
// the execution its first delivery started.
//
// A pull-request event names its source commit by 12 characters only: the
// service resolves it to the full hash through Bitbucket's API, with the
// pipeline's Bitbucket token, before it starts the run. Whether the pull
// request gets a preview stack is the run's decision (stackflow.yml of the
// commit), not the webhook's.
package webhook

import (
	"cmp"
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
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/stackflow/stackflow/internal/bitbucket"
	"github.com/stackflow/stackflow/internal/pipeline"
	sources "github.com/stackflow/stackflow/internal/source"
	"github.com/stackflow/stackflow/internal/tracing"
)

// SecretSource reads the value of a secret by ARN.
type SecretSource interface {
	Get(ctx context.Context, arn string) (string, error)
}

// Starter starts Step Functions executions; *sfn.Client is one.
type Starter interface {
	StartExecution(ctx context.Context, in *sfn.StartExecutionInput, opts ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
}

var _ Starter = (*sfn.Client)(nil)

// deliveryTimeout keeps the answer inside Bitbucket's 10 s delivery timeout.
const deliveryTimeout = 8 * time.Second

// resolveTimeout bounds the lookup of a pull request's commit, leaving
// the rest of deliveryTimeout to start the execution.
const resolveTimeout = 5 * time.Second

// Config configures the service.
type Config struct {
	// StateMachineARN is the pipeline's state machine.
	StateMachineARN string
	// SecretARN is the Secrets Manager secret holding the webhook's
	// secret. Without it every delivery is refused.
	SecretARN string
	// Settings go into every run; the zero ones take the defaults of
	// pipeline.Settings.WithDefaults.
	Settings pipeline.Settings
	// Logger gets one line per delivery; nil means slog.Default().
	Logger *slog.Logger
	// TokenARN is the Secrets Manager secret holding the Bitbucket token
	// (an access token, or email:token for an API token) with which the
	// commit of a pull-request event is resolved. Without it pull-request
	// deliveries fail and start nothing.
	TokenARN string
	// APIURL is Bitbucket's API; empty means bitbucket.DefaultAPIURL.
	APIURL string
	// HTTPClient sends the Bitbucket requests; nil means
	// http.DefaultClient.
	HTTPClient *http.Client
}

// Service handles webhook deliveries.
type Service struct {
	cfg     Config
	secrets SecretSource
	starter Starter
	log     *slog.Logger
}

// New returns a service that reads the webhook secret from secrets and
// starts executions with starter.
func New(cfg Config, secrets SecretSource, starter Starter) *Service {
	cfg.Settings = cfg.Settings.WithDefaults()
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Service{cfg: cfg, secrets: secrets, starter: starter, log: log}
}

// Response is the answer to a delivery that was accepted: what started,
// what was already running or done, and what was ignored and why.
type Response struct {
	Started    []Execution `json:"started"`
	Duplicates []Execution `json:"duplicates"`
	Ignored    []Ignored   `json:"ignored"`
}

// Execution is the execution that delivers one pushed branch or tag, or a
// pull request's source branch.
type Execution struct {
	Branch string `json:"branch"`
	// Tag is the pushed tag, for a tag's run (Branch is then empty).
	Tag    string `json:"tag,omitempty"`
	Commit string `json:"commit"`
	// PullRequest is the pull request's id, for a pull request's run.
	PullRequest int `json:"pullRequest,omitempty"`
	// Execution is the execution's ARN.
	Execution string `json:"execution"`
}

// Ignored is a ref, or a whole event, that starts nothing.
type Ignored struct {
	Ref    string `json:"ref,omitempty"`
	Reason string `json:"reason"`
}

// ErrorResponse is the answer to a delivery that was refused or failed.
// Its message names the problem and never holds internal error text.
type ErrorResponse struct {
	Error string `json:"error"`
}

// outcome is what happened to one delivery: the answer and what to log.
type outcome struct {
	status int
	body   any
	// repo is the payload's repository, once known.
	repo string
	// cause is the internal reason of a failure, for the log only.
	cause error
	resp  Response
}

func refuse(status int, msg string, cause error) outcome {
	return outcome{status: status, body: ErrorResponse{Error: msg}, cause: cause}
}

// Handle answers one delivery. It never returns an error: every failure is
// an HTTP answer, 5xx when Bitbucket should deliver again.
func (s *Service) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, deliveryTimeout)
	defer cancel()

	key := header(req.Headers, bitbucket.HeaderEventKey)
	out := s.handle(ctx, req, bitbucket.EventKey(key))
	s.logDelivery(ctx, req, key, out)

	body, err := json.Marshal(out.body)
	if err != nil {
		// The bodies are plain structs of strings; this does not happen.
		body = []byte(`{"error":"internal error"}`)
		out.status = http.StatusInternalServerError
	}
	return events.APIGatewayV2HTTPResponse{
		StatusCode: out.status,
		Headers:    map[string]string{"Content-Type": "application/json"},
		Body:       string(body),
	}, nil
}

func (s *Service) handle(ctx context.Context, req events.APIGatewayV2HTTPRequest, key bitbucket.EventKey) outcome {
	if m := req.RequestContext.HTTP.Method; m != "" && m != http.MethodPost {
		return refuse(http.StatusMethodNotAllowed, "method "+m+" is not allowed: Bitbucket delivers with POST", nil)
	}

	body, o, ok := readBody(req)
	if !ok {
		return o
	}

	// Fail closed: without a readable, non-empty secret nothing is verified
	// and nothing starts.
	const unavailable = "the webhook secret is unavailable: see the webhook function's logs"
	secret, err := s.secrets.Get(ctx, s.cfg.SecretARN)
	if err != nil {
		return refuse(http.StatusInternalServerError, unavailable, fmt.Errorf("read webhook secret: %w", err))
	}
	if err := bitbucket.VerifySignature([]byte(secret), body, header(req.Headers, bitbucket.HeaderSignature)); err != nil {
		var se *bitbucket.SignatureError
		if errors.As(err, &se) {
			return refuse(http.StatusUnauthorized, se.Error(), err)
		}
		return refuse(http.StatusInternalServerError, unavailable, fmt.Errorf("verify signature: %w", err))
	}

	if key == "" {
		return refuse(http.StatusBadRequest, bitbucket.HeaderEventKey+" header is missing", nil)
	}
	ev, err := bitbucket.ParseEvent(key, body)
	switch {
	case errors.Is(err, bitbucket.ErrUnknownEvent) && strings.HasPrefix(string(key), "pullrequest:"):
		return accepted(Response{Ignored: []Ignored{{Reason: fmt.Sprintf(
			"%s: only pull requests created, updated, merged (fulfilled) or declined (rejected) start runs",
			bitbucket.Truncate(string(key), maxLogged))}}})
	case errors.Is(err, bitbucket.ErrUnknownEvent):
		return accepted(Response{Ignored: []Ignored{{Reason: err.Error()}}})
	case err != nil:
		return refuse(http.StatusBadRequest, fmt.Sprintf("body is not a valid %s payload", key), err)
	}

	switch ev := ev.(type) {
	case *bitbucket.PushEvent:
		o := s.push(ctx, ev)
		o.repo = ev.Repository.FullName
		return o
	case *bitbucket.PullRequestEvent:
		o := s.pullRequest(ctx, key, ev)
		o.repo = ev.Repository.FullName
		return o
	}
	return accepted(Response{Ignored: []Ignored{{Reason: fmt.Sprintf("event %s is not handled", key)}}})
}

// readBody returns the delivery's raw body, or the answer refusing it.
func readBody(req events.APIGatewayV2HTTPRequest) ([]byte, outcome, bool) {
	const max = bitbucket.MaxPayloadBytes
	tooLarge := refuse(http.StatusRequestEntityTooLarge, fmt.Sprintf("payload is larger than %d KiB", max>>10), nil)
	if !req.IsBase64Encoded {
		if len(req.Body) > max {
			return nil, tooLarge, false
		}
		return []byte(req.Body), outcome{}, true
	}
	if len(req.Body) > base64.StdEncoding.EncodedLen(max) {
		return nil, tooLarge, false
	}
	body, err := base64.StdEncoding.DecodeString(req.Body)
	if err != nil {
		return nil, refuse(http.StatusBadRequest, "body is not valid base64", err), false
	}
	if len(body) > max {
		return nil, tooLarge, false
	}
	return body, outcome{}, true
}

// push starts one execution per pushed branch.
func (s *Service) push(ctx context.Context, ev *bitbucket.PushEvent) outcome {
	repo, err := pipeline.ParseRepository(ev.Repository.FullName)
	if err != nil {
		return refuse(http.StatusBadRequest, "body is not a valid repo:push payload: repository.full_name is not workspace/slug", err)
	}
	var resp Response
	var failed []error
	for _, c := range ev.Push.Changes {
		ref, reason := deliverable(c)
		if reason != "" {
			resp.Ignored = append(resp.Ignored, Ignored{Ref: ref, Reason: reason})
			continue
		}
		run := pipeline.Run{
			Repository: repo,
			Commit:     c.New.Target.Hash,
			Settings:   s.cfg.Settings,
		}
		if c.New.Type == bitbucket.RefTag {
			wanted, err := s.takesTag(ctx, repo, c.New.Name)
			var invalid *pipeline.ConfigInvalid
			if errors.As(err, &invalid) {
				// A broken stackflow.yml on the default branch: the run
				// fails at its first step and says so on the commit.
				wanted, err = true, nil
			}
			switch {
			case s.cfg.TokenARN == "":
				resp.Ignored = append(resp.Ignored, Ignored{Ref: ref, Reason: fmt.Sprintf(
					"tag %s: the webhook has no Bitbucket token (BITBUCKET_TOKEN_ARN) to read which environments take tags", c.New.Name)})
				continue
			case err != nil:
				failed = append(failed, fmt.Errorf("tag %s: %w", c.New.Name, err))
				continue
			case !wanted:
				resp.Ignored = append(resp.Ignored, Ignored{Ref: ref, Reason: fmt.Sprintf(
					"tag %s: no environment takes it (tags: in stackflow.yml on the default branch)", c.New.Name)})
				continue
			}
			run.Tag = c.New.Name
		} else {
			run.Branch = c.New.Name
			run.Push = &pipeline.Push{Forced: c.Forced, Truncated: c.Truncated, Message: pipeline.MessageLine(c.New.Target.Message)}
			if c.Old != nil && isFullHash(c.Old.Target.Hash) {
				run.Push.Old = c.Old.Target.Hash
			}
		}
		exec, dup, err := s.start(ctx, run, pipeline.RunExecutionName(run))
		switch {
		case err != nil:
			failed = append(failed, fmt.Errorf("start %s: %w", exec.Execution, err))
		case dup:
			resp.Duplicates = append(resp.Duplicates, exec)
		default:
			resp.Started = append(resp.Started, exec)
		}
	}
	if len(failed) > 0 {
		o := refuse(http.StatusInternalServerError,
			fmt.Sprintf("could not start %d of %d executions: Bitbucket will deliver again", len(failed), len(failed)+len(resp.Started)+len(resp.Duplicates)),
			errors.Join(failed...))
		o.resp = resp
		return o
	}
	return accepted(resp)
}

// deliverable returns the name of the ref c changed and, when it is not a
// branch to deliver, why.
func deliverable(c bitbucket.Change) (ref, reason string) {
	switch {
	case c.New == nil && c.Old == nil:
		return "", "change names no ref"
	case c.New == nil:
		return c.Old.Name, fmt.Sprintf("%s %s deleted: nothing to deliver", c.Old.Type, c.Old.Name)
	case c.New.Type != bitbucket.RefBranch && c.New.Type != bitbucket.RefTag:
		return c.New.Name, fmt.Sprintf("%s %s: only branches and tags are delivered", c.New.Type, c.New.Name)
	case c.New.Name == "":
		return "", string(c.New.Type) + " without a name"
	case !isFullHash(c.New.Target.Hash):
		return c.New.Name, fmt.Sprintf("%s %s: the payload has no full commit hash", c.New.Type, c.New.Name)
	}
	return c.New.Name, ""
}

// pullRequest starts the execution of a pull request's source commit: one
// that runs the checks and deploys the preview while the pull request is
// open, one that deletes the preview once it is merged or declined.
func (s *Service) pullRequest(ctx context.Context, key bitbucket.EventKey, ev *bitbucket.PullRequestEvent) outcome {
	bad := func(what string) outcome {
		return refuse(http.StatusBadRequest, fmt.Sprintf("body is not a valid %s payload: %s", key, what), nil)
	}
	repo, err := pipeline.ParseRepository(ev.Repository.FullName)
	if err != nil {
		return bad("repository.full_name is not workspace/slug")
	}
	pr := ev.PullRequest
	branch, hash := pr.Source.Branch.Name, pr.Source.Commit.Hash
	switch {
	case pr.ID <= 0:
		return bad("pullrequest.id is missing")
	case branch == "":
		return bad("pullrequest.source.branch.name is missing")
	case !isHexHash(hash):
		return bad("pullrequest.source.commit.hash is not a commit hash")
	}
	// A fork's branch is someone else's code: it is not deployed with the
	// pipeline's permissions, and its commits are not the repository's.
	if src := pr.Source.Repository.FullName; src != "" && !strings.EqualFold(src, ev.Repository.FullName) {
		return accepted(Response{Ignored: []Ignored{{Ref: branch, Reason: fmt.Sprintf(
			"pull request #%d comes from the fork %s: only pull requests from branches of %s are delivered",
			pr.ID, bitbucket.Truncate(src, maxLogged), repo.FullName())}}})
	}

	commit, o, ok := s.resolve(ctx, repo, pr.ID, hash)
	if !ok {
		return o
	}
	closed := key == bitbucket.EventPullRequestFulfilled || key == bitbucket.EventPullRequestRejected
	run := pipeline.Run{
		Repository: repo,
		Branch:     branch,
		Commit:     commit,
		Settings:   s.cfg.Settings,
		PullRequest: &pipeline.PullRequest{
			ID:          pr.ID,
			Title:       pr.Title,
			Destination: pr.Destination.Branch.Name,
			Closed:      closed,
		},
	}
	exec, dup, err := s.start(ctx, run, pipeline.PullRequestExecutionName(repo, branch, pr.ID, closed, commit))
	switch {
	case err != nil:
		return refuse(http.StatusInternalServerError, "could not start the execution: Bitbucket will deliver again",
			fmt.Errorf("start %s: %w", exec.Execution, err))
	case dup:
		return accepted(Response{Duplicates: []Execution{exec}})
	}
	return accepted(Response{Started: []Execution{exec}})
}

// takesTag reports whether an environment on the default branch of repo
// takes tag, reading its stackflow.yml files through Bitbucket's API with
// the pipeline's token: where a commit deploys is the default branch's to
// say, and a tag no environment takes starts nothing.
func (s *Service) takesTag(ctx context.Context, repo pipeline.Repository, tag string) (bool, error) {
	secret, err := s.secrets.Get(ctx, s.cfg.TokenARN)
	if err != nil {
		return false, fmt.Errorf("read Bitbucket token (BITBUCKET_TOKEN_ARN): %w", err)
	}
	creds, err := bitbucket.ParseCredentials(secret)
	if err != nil {
		return false, fmt.Errorf("bitbucket token in %s: %w", s.cfg.TokenARN, err)
	}
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	return sources.TakesTag(ctx, bitbucket.NewClient(s.cfg.APIURL, "", creds, s.cfg.HTTPClient), repo, tag)
}

// resolve returns the full hash of the commit hash abbreviates, through
// Bitbucket's API, or the answer refusing the delivery.
func (s *Service) resolve(ctx context.Context, repo pipeline.Repository, pr int, hash string) (string, outcome, bool) {
	if isFullHash(hash) {
		return hash, outcome{}, true
	}
	what := fmt.Sprintf("the commit %s of pull request #%d", hash, pr)
	const noToken = "the Bitbucket token is unavailable: see the webhook function's logs"
	secret, err := s.secrets.Get(ctx, s.cfg.TokenARN)
	if err != nil {
		return "", refuse(http.StatusInternalServerError, noToken, fmt.Errorf("read Bitbucket token (BITBUCKET_TOKEN_ARN): %w", err)), false
	}
	creds, err := bitbucket.ParseCredentials(secret)
	if err != nil {
		return "", refuse(http.StatusInternalServerError, noToken, fmt.Errorf("bitbucket token in %s: %w", s.cfg.TokenARN, err)), false
	}
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	commit, err := bitbucket.NewClient(s.cfg.APIURL, "", creds, s.cfg.HTTPClient).Commit(ctx, repo, hash)
	var (
		unavailable *pipeline.BitbucketUnavailable
		unknown     *pipeline.SourceUnavailable
	)
	switch {
	case errors.As(err, &unavailable):
		return "", refuse(http.StatusServiceUnavailable, "could not resolve "+what+": Bitbucket did not answer; it will deliver again", err), false
	case errors.As(err, &unknown):
		// Its reason is written for people and holds no secret.
		return "", refuse(http.StatusInternalServerError, "could not resolve "+what+": "+unknown.Reason, err), false
	case err != nil:
		return "", refuse(http.StatusInternalServerError, "could not resolve "+what+": see the webhook function's logs", err), false
	}
	return commit, outcome{}, true
}

// start starts the execution name that delivers run. dup reports an
// execution of the same name that already exists.
func (s *Service) start(ctx context.Context, run pipeline.Run, name string) (exec Execution, dup bool, err error) {
	exec = Execution{Branch: run.Branch, Tag: run.Tag, Commit: run.Commit, Execution: executionARN(s.cfg.StateMachineARN, name)}
	if run.PullRequest != nil {
		exec.PullRequest = run.PullRequest.ID
	}
	// A struct of strings and ints marshals the same way every time.
	input, err := json.Marshal(pipeline.ExecutionInput{Run: run})
	if err != nil {
		return exec, false, fmt.Errorf("marshal input: %w", err)
	}
	// The execution joins this delivery's trace, under the StartExecution
	// call. The trace header is not part of the input: a redelivery still
	// finds the execution by name and input.
	ctx, traceHeader := tracing.Handoff(ctx)
	out, err := s.starter.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(s.cfg.StateMachineARN),
		Name:            aws.String(name),
		Input:           aws.String(string(input)),
		TraceHeader:     optional(traceHeader),
	})
	var exists *types.ExecutionAlreadyExists
	switch {
	case errors.As(err, &exists):
		return exec, true, nil
	case err != nil:
		return exec, false, err
	}
	if arn := aws.ToString(out.ExecutionArn); arn != "" {
		exec.Execution = arn
	}
	return exec, false, nil
}

// executionARN is the ARN of the execution name of the Standard state
// machine smARN, or name when smARN is not a state machine ARN.
func executionARN(smARN, name string) string {
	prefix, machine, ok := strings.Cut(smARN, ":stateMachine:")
	if !ok || machine == "" {
		return name
	}
	return prefix + ":execution:" + machine + ":" + name
}

func accepted(resp Response) outcome {
	status := http.StatusOK
	if len(resp.Started) > 0 {
		status = http.StatusAccepted
	}
	// Empty lists, not nulls, for whoever reads the answer.
	resp.Started = nonNil(resp.Started)
	resp.Duplicates = nonNil(resp.Duplicates)
	resp.Ignored = nonNil(resp.Ignored)
	return outcome{status: status, body: resp, resp: resp}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// header returns the value of the header name. API Gateway's payload 2.0
// lower-cases header names; any other case is matched too.
func header(h map[string]string, name string) string {
	if v, ok := h[strings.ToLower(name)]; ok {
		return v
	}
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

func isFullHash(s string) bool {
	return len(s) == 40 && isHexHash(s)
}

// isHexHash reports whether s is a lower-case hexadecimal commit hash of 7
// to 40 digits.
func isHexHash(s string) bool {
	if len(s) < 7 || len(s) > 40 {
		return false
	}
	for _, r := range s {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') {
			return false
		}
	}
	return true
}

// maxLogged bounds what a delivery's headers put into a log line.
const maxLogged = 128

func (s *Service) logDelivery(ctx context.Context, req events.APIGatewayV2HTTPRequest, key string, o outcome) {
	clip := func(v string) string { return bitbucket.Truncate(v, maxLogged) }
	attrs := []slog.Attr{
		slog.String("requestUUID", clip(header(req.Headers, bitbucket.HeaderRequestUUID))),
		slog.String("hookUUID", clip(header(req.Headers, bitbucket.HeaderHookUUID))),
		slog.String("attempt", clip(header(req.Headers, bitbucket.HeaderAttemptNumber))),
		slog.String("event", clip(key)),
		slog.String("repository", clip(o.repo)),
		slog.Int("status", o.status),
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		attrs = append(attrs, slog.String("awsRequestId", lc.AwsRequestID))
	}
	names := func(es []Execution) []string {
		var out []string
		for _, e := range es {
			name := cmp.Or(e.Branch, "tag "+e.Tag) + "@" + pipeline.ShortSHA(e.Commit)
			if e.PullRequest != 0 {
				name += fmt.Sprintf(" (pull request #%d)", e.PullRequest)
			}
			out = append(out, name)
		}
		return out
	}
	if len(o.resp.Started) > 0 {
		attrs = append(attrs, slog.Any("started", names(o.resp.Started)))
	}
	if len(o.resp.Duplicates) > 0 {
		attrs = append(attrs, slog.Any("duplicates", names(o.resp.Duplicates)))
	}
	if len(o.resp.Ignored) > 0 {
		var ignored []string
		for _, i := range o.resp.Ignored {
			ignored = append(ignored, i.Reason)
		}
		attrs = append(attrs, slog.Any("ignored", ignored))
	}
	if o.cause != nil {
		attrs = append(attrs, slog.String("error", o.cause.Error()))
	}
	level := slog.LevelInfo
	switch {
	case o.status >= 500:
		level = slog.LevelError
	case o.status >= 400:
		level = slog.LevelWarn
	}
	s.log.LogAttrs(ctx, level, "webhook delivery", attrs...)
}

// optional is s, or nil when s is empty.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
