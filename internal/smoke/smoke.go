package smoke

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/runlog"
	"github.com/stackflow/stackflow/internal/workspace"
)

// Defaults and bounds of a smoke test.
const (
	// DefaultTimeout is how long the checks of an environment may keep
	// retrying when it sets no SmokeTimeoutSeconds.
	DefaultTimeout = 60 * time.Second
	// FirstBackoff is the wait before a failed check's first retry; each
	// further wait doubles, up to MaxBackoff.
	FirstBackoff = 250 * time.Millisecond
	// MaxBackoff is the longest wait between two tries of a check.
	MaxBackoff = 5 * time.Second
	// RequestTimeout bounds one request, answer body included, when its
	// check sets no timeout.
	RequestTimeout = 10 * time.Second
	// InvokeTimeout bounds one invocation of an invoke check that sets no
	// timeout.
	InvokeTimeout = 30 * time.Second
	// MaxBody is how much of an answer's body is read.
	MaxBody = 1 << 20
	// lambdaMargin is kept free before the invocation's deadline, so that a
	// failing check is reported before Lambda stops the function.
	lambdaMargin = 2 * time.Second
	// excerptLen is how much of a body a failure quotes, in characters.
	excerptLen = 120
	// resultExcerptLen is how much of a function's result a failure
	// quotes: a JSON result (an API Gateway response, say) says more
	// words before the part that matters.
	resultExcerptLen = 240
)

// httpDoer sends HTTP requests; *http.Client is one.
type httpDoer interface {
	Do(*http.Request) (*http.Response, error)
}

// Service runs smoke checks. Its Handle is the smoke-test handler.
type Service struct {
	client         httpDoer
	aws            *awsClients // nil refuses invoke checks
	now            func() time.Time
	sleep          func(context.Context, time.Duration) error
	requestTimeout time.Duration
}

// New returns a Service that sends its requests with client, and runs no
// invoke checks.
func New(client httpDoer) *Service {
	return &Service{client: client, now: time.Now, sleep: sleep, requestTimeout: RequestTimeout}
}

// NewWithAWS returns a Service that sends its requests with client, and
// runs invoke checks with the Lambda and CloudFormation APIs: in the
// environment's region, as the environment's RoleARN when it names one
// (assumed through STS as SessionName), else with cfg's credentials.
func NewWithAWS(client httpDoer, cfg aws.Config) *Service {
	s := New(client)
	s.aws = newAWSClients(cfg)
	return s
}

// secondsOf is n seconds.
func secondsOf(n int) time.Duration { return time.Duration(n) * time.Second }

// sleep waits d, or less when ctx ends first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// check is a smoke check with its URL and headers made from the stack's
// outputs, or its function found in the stack, and its defaults filled in.
type check struct {
	name, method, url string
	headers           map[string]string
	status            int
	contains          string
	timeout           time.Duration // of one try; 0 means the service's requestTimeout

	// An invoke check invokes function (a name or an ARN, with its
	// qualifier) with payload through invoke.
	function string
	payload  []byte
	invoke   lambdaAPI
}

// want says what answer c wants.
func (c check) want() string {
	if c.invoke != nil {
		w := "no function error"
		if c.contains != "" {
			w += " and a result containing " + strconv.Quote(c.contains)
		}
		return w
	}
	w := "status " + strconv.Itoa(c.status)
	if c.contains != "" {
		w += " and a body containing " + strconv.Quote(c.contains)
	}
	return w
}

// Handle runs in.Environment's smoke checks, in order, against the stack
// deployed as in.Deployment. Its errors are in the form the state machine
// matches: a *pipeline.SmokeTestFailed for a check that never passed or
// that cannot be made from the stack's outputs, else a
// *pipeline.UnexpectedError.
func (s *Service) Handle(ctx context.Context, in pipeline.SmokeInput) (pipeline.SmokeResult, error) {
	log := slog.With("environment", envName(in), "stack", in.Deployment.Stack)
	ctx = runlog.WithRun(ctx, in.Run, in.Execution)
	res, err := s.run(ctx, in, log)
	if err != nil {
		log.ErrorContext(ctx, "smoke test failed", "error", err.Error())
		return pipeline.SmokeResult{}, pipeline.ForStateMachine(err)
	}
	log.InfoContext(ctx, "smoke test passed", "summary", res.Summary)
	return res, nil
}

func envName(in pipeline.SmokeInput) string {
	if in.Environment.Name != "" {
		return in.Environment.Name
	}
	return in.Environment.Stack
}

func (s *Service) run(ctx context.Context, in pipeline.SmokeInput, log *slog.Logger) (pipeline.SmokeResult, error) {
	env := envName(in)
	res := pipeline.SmokeResult{Environment: env, Checks: []pipeline.SmokeOutcome{}}
	// Make every check first: a missing output fails at once, untried.
	checks := make([]check, 0, len(in.Environment.Smoke))
	for _, sc := range in.Environment.Smoke {
		var (
			c   check
			err error
		)
		if sc.Invokes() {
			c, err = s.resolveInvoke(ctx, sc, in)
		} else {
			c, err = resolve(sc, in)
		}
		if err != nil {
			return res, err
		}
		checks = append(checks, c)
	}
	var redact *workspace.Redactor
	if s.aws != nil {
		redact = workspace.NewRedactor(s.aws.secrets(ctx, in.Environment)...)
	}
	if len(checks) == 0 {
		res.Summary = env + ": no smoke checks"
		return res, nil
	}

	budget := time.Duration(in.Environment.SmokeTimeoutSeconds) * time.Second
	if budget <= 0 {
		budget = DefaultTimeout
	}
	deadline := s.now().Add(budget)
	if dl, ok := ctx.Deadline(); ok && dl.Add(-lambdaMargin).Before(deadline) {
		deadline = dl.Add(-lambdaMargin)
	}
	for _, c := range checks {
		out, err := s.runCheck(ctx, env, c, deadline, redact)
		target := []any{"url", c.url}
		if c.invoke != nil {
			target = []any{"function", c.function}
		}
		log.InfoContext(ctx, "smoke check", append([]any{"check", c.name}, append(target,
			"status", out.Status, "attempts", out.Attempts, "passed", out.Passed)...)...)
		res.Checks = append(res.Checks, out)
		if err != nil {
			return res, err
		}
	}
	res.Summary = fmt.Sprintf("%s: %d/%d smoke checks passed", env, len(checks), len(checks))
	return res, nil
}

// runCheck tries c until it passes or deadline has passed, waiting longer
// after each failure.
func (s *Service) runCheck(ctx context.Context, env string, c check, deadline time.Time, redact *workspace.Redactor) (pipeline.SmokeOutcome, error) {
	out := pipeline.SmokeOutcome{Name: c.name, URL: c.url, Function: c.function}
	wait := FirstBackoff
	for {
		out.Attempts++
		var (
			status int
			got    string
			ok     bool
		)
		if c.invoke != nil {
			status, got, ok = s.tryInvoke(ctx, c, redact)
		} else {
			status, got, ok = s.try(ctx, c)
		}
		out.Status = status
		if ok {
			out.Passed = true
			return out, nil
		}
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("smoke check %q of %s: stopped after %s: %w", c.name, env, attempts(out.Attempts), err)
		}
		left := deadline.Sub(s.now())
		if left <= 0 {
			failed := &pipeline.SmokeTestFailed{
				Environment: env,
				Check:       c.name,
				Method:      c.method,
				URL:         c.url,
				Got:         got + " (the last of " + attempts(out.Attempts) + ")",
				Want:        c.want(),
			}
			if c.invoke != nil {
				failed.Method, failed.URL, failed.Function = "", "", c.function
			}
			return out, failed
		}
		if err := s.sleep(ctx, min(wait, left)); err != nil {
			return out, fmt.Errorf("smoke check %q of %s: stopped after %s: %w", c.name, env, attempts(out.Attempts), err)
		}
		wait = min(2*wait, MaxBackoff)
	}
}

// attempts says "1 attempt", "2 attempts" and so on.
func attempts(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return strconv.Itoa(n) + " attempts"
}

// try sends c's request once and says what came back and whether it is
// what c wants.
func (s *Service) try(ctx context.Context, c check) (status int, got string, ok bool) {
	timeout := cmp.Or(c.timeout, s.requestTimeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, c.method, c.url, nil)
	if err != nil {
		return 0, "no request: " + err.Error(), false
	}
	for k, v := range c.headers {
		if strings.EqualFold(k, "Host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, describe(err, timeout), false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	if err != nil {
		return resp.StatusCode, fmt.Sprintf("status %d, body unreadable: %s", resp.StatusCode, describe(err, timeout)), false
	}
	ok = resp.StatusCode == c.status && (c.contains == "" || bytes.Contains(body, []byte(c.contains)))
	return resp.StatusCode, fmt.Sprintf("status %d, body %s", resp.StatusCode, excerpt(body)), ok
}

// describe says in a few words why a request got no answer within
// timeout.
func describe(err error, timeout time.Duration) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "no answer within " + timeout.String()
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return "no answer: " + err.Error()
}

// excerpt quotes the first characters of body.
func excerpt(body []byte) string { return excerptN(body, excerptLen) }

// excerptN quotes the first n characters of body.
func excerptN(body []byte, n int) string {
	s := strings.ToValidUTF8(string(body), "\uFFFD")
	if utf8.RuneCountInString(s) <= n {
		return strconv.Quote(s)
	}
	return strconv.Quote(string([]rune(s)[:n])) + "..."
}

// resolve makes sc's URL and headers from the stack's outputs and fills in
// its defaults.
func resolve(sc pipeline.SmokeCheck, in pipeline.SmokeInput) (check, error) {
	c := check{
		name:     sc.Name,
		method:   strings.ToUpper(sc.Method),
		status:   sc.Status,
		contains: sc.Contains,
		timeout:  secondsOf(sc.TimeoutSeconds),
	}
	if c.name == "" {
		c.name = sc.URL
	}
	if c.method == "" {
		c.method = http.MethodGet
	}
	if c.status == 0 {
		c.status = http.StatusOK
	}
	outputs := in.Deployment.Outputs
	fail := func(got, want string) (check, error) {
		return check{}, &pipeline.SmokeTestFailed{Environment: envName(in), Check: c.name, Method: c.method, URL: sc.URL, Got: got, Want: want}
	}

	var missing []string
	c.url, missing = expand(sc.URL, outputs, true)
	if len(sc.Headers) > 0 {
		c.headers = make(map[string]string, len(sc.Headers))
	}
	for k, v := range sc.Headers {
		var m []string
		c.headers[k], m = expand(v, outputs, false)
		missing = append(missing, m...)
	}
	if len(missing) > 0 {
		stack := in.Deployment.Stack
		if stack == "" {
			stack = "the stack"
		}
		has := "has no outputs"
		if names := outputNames(outputs); len(names) > 0 {
			has = "has outputs " + strings.Join(names, ", ")
		}
		// A name that is not an output is a mistake in stackflow.yml, not a
		// failure of the release: it must never be a reason to roll back.
		return check{}, &pipeline.ConfigInvalid{
			File:    "stackflow.yml",
			Problem: fmt.Sprintf("smoke check %q of %s refers to %s, but %s %s", c.name, envName(in), strings.Join(missing, ", "), stack, has),
			Fix:     "every ${Name} in a smoke check's url and headers must be an output of the environment's stack",
		}
	}
	u, err := url.Parse(c.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fail(fmt.Sprintf("URL %q, which is not an absolute http(s) URL", c.url), "an http:// or https:// URL")
	}
	if _, err := http.NewRequest(c.method, c.url, nil); err != nil {
		return fail(fmt.Sprintf("method %q, which is not an HTTP method", sc.Method), "an HTTP method such as GET")
	}
	return c, nil
}
