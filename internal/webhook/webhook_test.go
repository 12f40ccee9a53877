package webhook

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/stackflow/stackflow/internal/bitbucket"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/secrets"
	"github.com/stackflow/stackflow/internal/testaws"
)

const (
	testSecret = "webhook-secret-for-tests-7f3a"
	mainHash   = "e10dae226959c2194f2b07b077c07762d93821cf"
	featHash   = "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"
)

// harness is a webhook service over kumo's Step Functions and Secrets
// Manager, logging into a buffer.
type harness struct {
	svc     *Service
	sfn     *sfn.Client
	machine string
	logs    *syncBuffer
	// bb is the Bitbucket API that resolves pull requests' commits.
	bb *fakeBitbucket
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// options change the harness's configuration before the service is built.
type options struct {
	cfg     Config
	secrets SecretSource
}

// signatureValue matches a signature's value, not the words that describe
// its form.
var signatureValue = regexp.MustCompile(`sha(1|256)=[0-9a-fA-F]`)

func setup(t *testing.T, opts ...func(*options)) *harness {
	t.Helper()
	ctx := context.Background()
	cfg := testaws.Start(t)

	sm := secretsmanager.NewFromConfig(cfg)
	secret, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String(testaws.Name("stackflow/webhook")), SecretString: aws.String(testSecret),
	})
	if err != nil {
		t.Fatalf("create secret: %v", err)
	}

	token, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String(testaws.Name("stackflow/bitbucket")), SecretString: aws.String(testToken),
	})
	if err != nil {
		t.Fatalf("create token secret: %v", err)
	}
	bb := newFakeBitbucket(t)

	sf := sfn.NewFromConfig(cfg)
	machine, err := sf.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name:       aws.String(testaws.Name("stackflow")),
		Definition: aws.String(`{"StartAt":"Deliver","States":{"Deliver":{"Type":"Pass","End":true}}}`),
		RoleArn:    aws.String("arn:aws:iam::000000000000:role/stackflow"),
	})
	if err != nil {
		t.Fatalf("create state machine: %v", err)
	}

	logs := &syncBuffer{}
	o := &options{
		cfg: Config{
			StateMachineARN: aws.ToString(machine.StateMachineArn),
			SecretARN:       aws.ToString(secret.ARN),
			Logger:          slog.New(slog.NewJSONHandler(logs, nil)),
			TokenARN:        aws.ToString(token.ARN),
			APIURL:          bb.URL,
			HTTPClient:      bb.client,
		},
		secrets: secrets.New(sm),
	}
	for _, opt := range opts {
		opt(o)
	}
	t.Cleanup(func() {
		// Whatever happened, the logs hold neither a secret nor a signature.
		if l := logs.String(); strings.Contains(l, testSecret) || strings.Contains(l, testToken) || signatureValue.MatchString(l) {
			t.Errorf("logs hold a secret or a signature:\n%s", l)
		}
	})
	return &harness{
		svc:     New(o.cfg, o.secrets, sf),
		sfn:     sf,
		machine: aws.ToString(machine.StateMachineArn),
		logs:    logs,
		bb:      bb,
	}
}

func testdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "bitbucket", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// delivery is a request as API Gateway's HTTP API passes it, with lower-case
// header names, signed with sig (omitted when empty).
func delivery(key string, body []byte, sig string) events.APIGatewayV2HTTPRequest {
	h := map[string]string{
		"content-type":     "application/json",
		"user-agent":       "Bitbucket-Webhooks/2.0",
		"x-request-uuid":   "5b7bd2a1-2e2c-4b1f-9d5c-6e2f0e0c4d11",
		"x-hook-uuid":      "{0c1f3a56-7d8e-4b2a-9c3d-1e2f3a4b5c6d}",
		"x-attempt-number": "1",
	}
	if key != "" {
		h["x-event-key"] = key
	}
	if sig != "" {
		h["x-hub-signature"] = sig
	}
	return events.APIGatewayV2HTTPRequest{
		Version:  "2.0",
		RouteKey: "POST /webhook",
		RawPath:  "/webhook",
		Headers:  h,
		Body:     string(body),
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: "/webhook"},
		},
	}
}

func sign(body []byte) string { return bitbucket.Signature([]byte(testSecret), body) }

// answer is a decoded response.
type answer struct {
	status int
	resp   Response
	err    string
}

func (h *harness) deliver(t *testing.T, req events.APIGatewayV2HTTPRequest) answer {
	t.Helper()
	out, err := h.svc.Handle(context.Background(), req)
	if err != nil {
		t.Fatalf("Handle returned an error: %v", err)
	}
	if ct := out.Headers["Content-Type"]; ct != "application/json" {
		t.Errorf("got Content-Type %q, want application/json", ct)
	}
	a := answer{status: out.StatusCode}
	if out.StatusCode >= 300 {
		var e ErrorResponse
		dec := json.NewDecoder(strings.NewReader(out.Body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil || e.Error == "" {
			t.Fatalf("error answer %q: want {\"error\": ...}", out.Body)
		}
		a.err = e.Error
	} else {
		for _, list := range []string{`"started":[`, `"duplicates":[`, `"ignored":[`} {
			if !strings.Contains(out.Body, list) {
				t.Errorf("answer %s: want a list %s...]", out.Body, list)
			}
		}
		if err := json.Unmarshal([]byte(out.Body), &a.resp); err != nil {
			t.Fatalf("answer %q: %v", out.Body, err)
		}
	}
	if strings.Contains(out.Body, testSecret) || strings.Contains(out.Body, testToken) {
		t.Errorf("answer %q holds a secret", out.Body)
	}
	return a
}

// executions lists the names of the state machine's executions.
func (h *harness) executions(t *testing.T) []string {
	t.Helper()
	out, err := h.sfn.ListExecutions(context.Background(), &sfn.ListExecutionsInput{StateMachineArn: aws.String(h.machine)})
	if err != nil {
		t.Fatalf("list executions: %v", err)
	}
	var names []string
	for _, e := range out.Executions {
		names = append(names, aws.ToString(e.Name))
	}
	return names
}

func (h *harness) execARN(name string) string {
	return strings.Replace(h.machine, ":stateMachine:", ":execution:", 1) + ":" + name
}

func TestSignatures(t *testing.T) {
	t.Parallel()
	body := testdata(t, "repo-push.json")
	digits := strings.TrimPrefix(sign(body), "sha256=")
	tests := []struct {
		name       string
		sig        string
		wantStatus int
		wantErr    string
	}{
		{name: "good", sig: sign(body), wantStatus: 202},
		{name: "wrong secret", sig: bitbucket.Signature([]byte("not the secret"), body), wantStatus: 401, wantErr: "X-Hub-Signature does not match the body"},
		{name: "missing", sig: "", wantStatus: 401, wantErr: "X-Hub-Signature is missing"},
		{name: "malformed", sig: "sha256" + digits, wantStatus: 401, wantErr: "X-Hub-Signature is malformed"},
		{name: "too short", sig: "sha256=", wantStatus: 401, wantErr: "X-Hub-Signature is too short"},
		{name: "wrong algorithm", sig: "sha1=" + digits[:40], wantStatus: 401, wantErr: "unsupported algorithm"},
		{name: "not hex", sig: "sha256=" + strings.Repeat("g", 64), wantStatus: 401, wantErr: "not hexadecimal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			got := h.deliver(t, delivery("repo:push", body, tt.sig))
			if got.status != tt.wantStatus || !strings.Contains(got.err, tt.wantErr) {
				t.Errorf("got %d %q, want %d %q", got.status, got.err, tt.wantStatus, tt.wantErr)
			}
			if strings.Contains(got.err, digits) {
				t.Errorf("answer %q holds the signature", got.err)
			}
			wantRuns := 0
			if tt.wantStatus == 202 {
				wantRuns = 2
			}
			if got := h.executions(t); len(got) != wantRuns {
				t.Errorf("got executions %q, want %d", got, wantRuns)
			}
		})
	}
}

func TestEvents(t *testing.T) {
	t.Parallel()
	push := testdata(t, "repo-push.json")
	pr := testdata(t, "pullrequest-created.json")
	tests := []struct {
		name       string
		key        string
		body       []byte
		wantStatus int
		wantResp   func(h *harness) Response
	}{
		{
			name: "push of two branches, a deletion and a tag", key: "repo:push", body: push, wantStatus: 202,
			wantResp: func(h *harness) Response {
				return Response{
					Started: []Execution{
						{Branch: "main", Commit: mainHash, Execution: h.execARN("hello-main-e10dae2")},
						{Branch: "feature/greeting", Commit: featHash, Execution: h.execARN("hello-feature-greeting-a94a8fe")},
					},
					Duplicates: []Execution{},
					Ignored: []Ignored{
						{Ref: "old-experiment", Reason: "branch old-experiment deleted: nothing to deliver"},
						{Ref: "v1.2.0", Reason: "tag v1.2.0: no environment takes it (tags: in stackflow.yml on the default branch)"},
					},
				}
			},
		},
		{
			name: "pull request created", key: "pullrequest:created", body: pr, wantStatus: 202,
			wantResp: func(h *harness) Response {
				return Response{Started: []Execution{
					{Branch: "feature/greeting", Commit: featHash, PullRequest: 42, Execution: h.execARN("hello-feature-greeting-a94a8fe-pr42")},
				}, Duplicates: []Execution{}, Ignored: []Ignored{}}
			},
		},
		{
			name: "pull request merged", key: "pullrequest:fulfilled", body: testdata(t, "pullrequest-fulfilled.json"), wantStatus: 202,
			wantResp: func(h *harness) Response {
				return Response{Started: []Execution{
					{Branch: "feature/greeting", Commit: featHash, PullRequest: 42, Execution: h.execARN("hello-feature-greeting-a94a8fe-pr42-closed")},
				}, Duplicates: []Execution{}, Ignored: []Ignored{}}
			},
		},
		{
			name: "unknown event", key: "repo:fork", body: []byte(`{"fork":{}}`), wantStatus: 200,
			wantResp: func(*harness) Response {
				return Response{Started: []Execution{}, Duplicates: []Execution{}, Ignored: []Ignored{
					{Reason: `"repo:fork": event is not handled`},
				}}
			},
		},
		{
			name: "push of deletions and tags only", key: "repo:push", wantStatus: 200,
			body: []byte(`{"repository":{"full_name":"acme/hello"},"push":{"changes":[
				{"old":{"type":"branch","name":"gone","target":{"hash":"` + mainHash + `"}},"new":null},
				{"old":{"type":"tag","name":"v0","target":{"hash":"` + mainHash + `"}},"new":null},
				{"old":null,"new":{"type":"tag","name":"v1","target":{"hash":"` + mainHash + `"}}},
				{"old":null,"new":{"type":"branch","name":"short","target":{"hash":"e10dae2"}}}]}}`),
			wantResp: func(*harness) Response {
				return Response{Started: []Execution{}, Duplicates: []Execution{}, Ignored: []Ignored{
					{Ref: "gone", Reason: "branch gone deleted: nothing to deliver"},
					{Ref: "v0", Reason: "tag v0 deleted: nothing to deliver"},
					{Ref: "v1", Reason: "tag v1: no environment takes it (tags: in stackflow.yml on the default branch)"},
					{Ref: "short", Reason: "branch short: the payload has no full commit hash"},
				}}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			got := h.deliver(t, delivery(tt.key, tt.body, sign(tt.body)))
			if got.status != tt.wantStatus {
				t.Fatalf("got status %d (%s), want %d", got.status, got.err, tt.wantStatus)
			}
			if want := tt.wantResp(h); !reflect.DeepEqual(got.resp, want) {
				t.Errorf("got answer\n%+v\nwant\n%+v", got.resp, want)
			}
			if got, want := len(h.executions(t)), len(tt.wantResp(h).Started); got != want {
				t.Errorf("got %d executions, want %d", got, want)
			}
		})
	}
}

func TestBodies(t *testing.T) {
	t.Parallel()
	push := testdata(t, "repo-push.json")
	large := append(bytes.Repeat([]byte(" "), bitbucket.MaxPayloadBytes), push...)
	b64 := func(req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPRequest {
		req.Body = base64.StdEncoding.EncodeToString([]byte(req.Body))
		req.IsBase64Encoded = true
		return req
	}
	tests := []struct {
		name       string
		req        events.APIGatewayV2HTTPRequest
		wantStatus int
		wantErr    string
	}{
		{name: "base64 encoded", req: b64(delivery("repo:push", push, sign(push))), wantStatus: 202},
		{name: "headers in canonical case", wantStatus: 202, req: func() events.APIGatewayV2HTTPRequest {
			r := delivery("", push, "")
			r.Headers = map[string]string{"X-Event-Key": "repo:push", "X-Hub-Signature": sign(push)}
			return r
		}()},
		{name: "empty", req: delivery("repo:push", nil, sign(nil)), wantStatus: 400, wantErr: "body is not a valid repo:push payload"},
		{name: "not JSON", req: delivery("repo:push", []byte("payload=1"), sign([]byte("payload=1"))), wantStatus: 400, wantErr: "body is not a valid repo:push payload"},
		{name: "repository not workspace/slug", wantStatus: 400, wantErr: "repository.full_name is not workspace/slug",
			req: delivery("repo:push", []byte(`{"repository":{"full_name":"hello"}}`), sign([]byte(`{"repository":{"full_name":"hello"}}`)))},
		{name: "no event key", req: delivery("", push, sign(push)), wantStatus: 400, wantErr: "X-Event-Key header is missing"},
		{name: "over the limit", req: delivery("repo:push", large, sign(large)), wantStatus: 413, wantErr: "payload is larger than 256 KiB"},
		{name: "over the limit, base64", req: b64(delivery("repo:push", large, sign(large))), wantStatus: 413, wantErr: "payload is larger than 256 KiB"},
		{name: "not base64", req: func() events.APIGatewayV2HTTPRequest {
			r := delivery("repo:push", []byte("%%%"), sign([]byte("%%%")))
			r.IsBase64Encoded = true
			return r
		}(), wantStatus: 400, wantErr: "body is not valid base64"},
		{name: "not POST", req: func() events.APIGatewayV2HTTPRequest {
			r := delivery("repo:push", push, sign(push))
			r.RequestContext.HTTP.Method = "GET"
			return r
		}(), wantStatus: 405, wantErr: "method GET is not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			got := h.deliver(t, tt.req)
			if got.status != tt.wantStatus || !strings.Contains(got.err, tt.wantErr) {
				t.Errorf("got %d %q, want %d %q", got.status, got.err, tt.wantStatus, tt.wantErr)
			}
			if tt.wantStatus != 202 {
				if got := h.executions(t); len(got) != 0 {
					t.Errorf("got executions %q, want none", got)
				}
			}
		})
	}
}

func TestRedelivery(t *testing.T) {
	t.Parallel()
	h := setup(t)
	body := testdata(t, "repo-push.json")
	req := delivery("repo:push", body, sign(body))

	first := h.deliver(t, req)
	if first.status != 202 || len(first.resp.Started) != 2 {
		t.Fatalf("first delivery: got %d %+v, want 202 with 2 started", first.status, first.resp)
	}
	req.Headers["x-request-uuid"] = "0f6a1c2e-9b3d-4e5f-8a7b-6c5d4e3f2a1b"
	req.Headers["x-attempt-number"] = "2"
	second := h.deliver(t, req)
	if second.status != 200 {
		t.Fatalf("redelivery: got %d, want 200", second.status)
	}
	if len(second.resp.Started) != 0 || !reflect.DeepEqual(second.resp.Duplicates, first.resp.Started) {
		t.Errorf("redelivery: got started %+v, duplicates %+v; want none started and duplicates %+v",
			second.resp.Started, second.resp.Duplicates, first.resp.Started)
	}
	if got := h.executions(t); len(got) != 2 {
		t.Errorf("got executions %q, want 2", got)
	}

	// The input is the run and nothing that differs between deliveries.
	out, err := h.sfn.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(first.resp.Started[0].Execution)})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"run":{"repository":{"workspace":"acme","slug":"hello"},"branch":"main","commit":"` + mainHash + `","settings":{"pollSeconds":10,"lockPollSeconds":20,"lockLeaseSeconds":900},"push":{"old":"9fceb02d0ae598e95dc970b74767f19372d61af8","message":"Greet by name"}}}`
	if got := aws.ToString(out.Input); got != want {
		t.Errorf("got input %s, want %s", got, want)
	}
}

func TestSettings(t *testing.T) {
	t.Parallel()
	h := setup(t, func(o *options) { o.cfg.Settings = pipeline.Settings{PollSeconds: 2, LockLeaseSeconds: 30} })
	body := testdata(t, "repo-push.json")
	got := h.deliver(t, delivery("repo:push", body, sign(body)))
	if got.status != 202 {
		t.Fatalf("got %d, want 202", got.status)
	}
	out, err := h.sfn.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(got.resp.Started[1].Execution)})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"run":{"repository":{"workspace":"acme","slug":"hello"},"branch":"feature/greeting","commit":"` + featHash + `","settings":{"pollSeconds":2,"lockPollSeconds":20,"lockLeaseSeconds":30},"push":{"message":"Try a friendlier greeting"}}}`
	if got := aws.ToString(out.Input); got != want {
		t.Errorf("got input %s, want %s", got, want)
	}
}

// fixedSecret is a secret source that answers one value or one error.
type fixedSecret struct {
	value string
	err   error
}

func (f fixedSecret) Get(context.Context, string) (string, error) { return f.value, f.err }

func TestFailClosed(t *testing.T) {
	t.Parallel()
	body := testdata(t, "repo-push.json")
	const internal = "AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/x is not authorized"
	tests := []struct {
		name      string
		opt       func(*options)
		wantCause string
	}{
		{name: "no secret configured", opt: func(o *options) { o.cfg.SecretARN = "" }, wantCause: "no secret ARN configured"},
		{name: "secret does not exist", opt: func(o *options) {
			o.cfg.SecretARN = "arn:aws:secretsmanager:us-east-1:000000000000:secret:stackflow/missing-AbCdEf"
		}, wantCause: "read webhook secret"},
		{name: "secret unreadable", opt: func(o *options) { o.secrets = fixedSecret{err: errors.New(internal)} }, wantCause: internal},
		{name: "secret empty", opt: func(o *options) { o.secrets = fixedSecret{value: ""} }, wantCause: "no webhook secret configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := setup(t, tt.opt)
			// Signed with the empty secret, which must not help either.
			for _, sig := range []string{sign(body), bitbucket.Signature(nil, body), ""} {
				got := h.deliver(t, delivery("repo:push", body, sig))
				if want := "the webhook secret is unavailable: see the webhook function's logs"; got.status != 500 || got.err != want {
					t.Errorf("got %d %q, want 500 %q", got.status, got.err, want)
				}
			}
			if got := h.executions(t); len(got) != 0 {
				t.Errorf("got executions %q, want none", got)
			}
			if l := h.logs.String(); !strings.Contains(l, tt.wantCause) {
				t.Errorf("logs %s: want the cause %q", l, tt.wantCause)
			}
		})
	}
}

func TestStartFails(t *testing.T) {
	t.Parallel()
	h := setup(t, func(o *options) {
		o.cfg.StateMachineARN = "arn:aws:states:us-east-1:000000000000:stateMachine:missing"
	})
	body := testdata(t, "repo-push.json")
	got := h.deliver(t, delivery("repo:push", body, sign(body)))
	if want := "could not start 2 of 2 executions: Bitbucket will deliver again"; got.status != 500 || got.err != want {
		t.Errorf("got %d %q, want 500 %q", got.status, got.err, want)
	}
	if strings.Contains(got.err, "StateMachineDoesNotExist") {
		t.Errorf("answer %q holds internal error text", got.err)
	}
	if l := h.logs.String(); !strings.Contains(l, "StateMachineDoesNotExist") {
		t.Errorf("logs %s: want the cause StateMachineDoesNotExist", l)
	}
}

func TestLogLine(t *testing.T) {
	t.Parallel()
	h := setup(t)
	body := testdata(t, "repo-push.json")
	h.deliver(t, delivery("repo:push", body, sign(body)))

	lines := strings.Split(strings.TrimSpace(h.logs.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("got %d log lines, want 1:\n%s", len(lines), h.logs)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatal(err)
	}
	delete(got, "time")
	want := map[string]any{
		"level":       "INFO",
		"msg":         "webhook delivery",
		"requestUUID": "5b7bd2a1-2e2c-4b1f-9d5c-6e2f0e0c4d11",
		"hookUUID":    "{0c1f3a56-7d8e-4b2a-9c3d-1e2f3a4b5c6d}",
		"attempt":     "1",
		"event":       "repo:push",
		"repository":  "acme/hello",
		"status":      float64(202),
		"started":     []any{"main@e10dae2", "feature/greeting@a94a8fe"},
		"ignored":     []any{"branch old-experiment deleted: nothing to deliver", "tag v1.2.0: no environment takes it (tags: in stackflow.yml on the default branch)"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got log line\n%v\nwant\n%v", got, want)
	}
}

func TestExecutionARN(t *testing.T) {
	t.Parallel()
	tests := []struct{ machine, want string }{
		{"arn:aws:states:eu-west-1:123456789012:stateMachine:stackflow", "arn:aws:states:eu-west-1:123456789012:execution:stackflow:run"},
		{"", "run"},
		{"arn:aws:states:eu-west-1:123456789012:stateMachine:", "run"},
	}
	for _, tt := range tests {
		if got := executionARN(tt.machine, "run"); got != tt.want {
			t.Errorf("executionARN(%q): got %q, want %q", tt.machine, got, tt.want)
		}
	}
}

// TestSampleEvent keeps functions/webhook/event.json a delivery the
// function accepts; it is signed with the secret "stackflow-example-secret".
func TestSampleEvent(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("..", "..", "functions", "webhook", "event.json"))
	if err != nil {
		t.Fatal(err)
	}
	var req events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(b, &req); err != nil {
		t.Fatal(err)
	}
	h := setup(t, func(o *options) { o.secrets = fixedSecret{value: "stackflow-example-secret"} })
	got := h.deliver(t, req)
	want := []Execution{{Branch: "main", Commit: mainHash, Execution: h.execARN("hello-main-e10dae2")}}
	if got.status != 202 || !reflect.DeepEqual(got.resp.Started, want) {
		t.Errorf("got %d %+v, want 202 with started %+v", got.status, got.resp, want)
	}
}
