package status

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/runlog"
	"github.com/stackflow/stackflow/internal/secrets"
	"github.com/stackflow/stackflow/internal/testaws"
)

const (
	testToken  = "ATCTT3xFfGN0-status-test-token"
	commit     = "e10dae226959c2194f2b07b077c07762d93821cf"
	execARN    = "arn:aws:states:eu-west-1:123456789012:execution:stackflow:hello-main-e10dae2"
	consoleURL = "https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/" + execARN
)

// posted is a build status as the fake Bitbucket received it.
type posted struct {
	Method        string
	Path          string
	Authorization string
	Body          map[string]any
}

// fakeBitbucket records build statuses posted to Bitbucket Cloud's
// statuses/build resource and answers 201, or answer when it is set.
type fakeBitbucket struct {
	URL    string
	answer atomic.Int32

	mu    sync.Mutex
	posts []posted
}

func (f *fakeBitbucket) seen() []posted {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]posted(nil), f.posts...)
}

type harness struct {
	bb        *fakeBitbucket
	sm        *secretsmanager.Client
	tokenARN  string
	logs      *bytes.Buffer
	logsMu    *sync.Mutex
	newConfig func() Config
}

func setup(t *testing.T, token string) *harness {
	t.Helper()
	bb := &fakeBitbucket{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := posted{Method: r.Method, Path: r.URL.EscapedPath(), Authorization: r.Header.Get("Authorization")}
		if err := json.NewDecoder(r.Body).Decode(&p.Body); err != nil {
			t.Errorf("request body: %v", err)
		}
		bb.mu.Lock()
		bb.posts = append(bb.posts, p)
		bb.mu.Unlock()
		if a := bb.answer.Load(); a != 0 {
			w.WriteHeader(int(a))
			io.WriteString(w, `{"type":"error","error":{"message":"Something went wrong"}}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"type":"commitstatus"}`)
	}))
	t.Cleanup(srv.Close)
	bb.URL = srv.URL

	sm := secretsmanager.NewFromConfig(testaws.Start(t))
	out, err := sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
		Name:         aws.String(testaws.Name("stackflow/bitbucket-token")),
		SecretString: aws.String(token),
	})
	if err != nil {
		t.Fatalf("create secret: %v", err)
	}
	h := &harness{bb: bb, sm: sm, tokenARN: aws.ToString(out.ARN), logs: &bytes.Buffer{}, logsMu: &sync.Mutex{}}
	h.newConfig = func() Config {
		return Config{
			TokenARN: h.tokenARN,
			APIURL:   bb.URL,
			// Its own transport: httptest.Server.Close closes the idle
			// connections of http.DefaultTransport, which would break the
			// requests of tests running in parallel.
			HTTPClient: &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()},
			Logger:     runlog.NewJSON(lockedWriter{h.logsMu, h.logs}), // as functions/status logs
		}
	}
	t.Cleanup(func() {
		h.logsMu.Lock()
		defer h.logsMu.Unlock()
		if strings.Contains(h.logs.String(), testToken) {
			t.Errorf("logs hold the token:\n%s", h.logs)
		}
	})
	return h
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (h *harness) service(t *testing.T, change func(*Config)) *Service {
	t.Helper()
	cfg := h.newConfig()
	if change != nil {
		change(&cfg)
	}
	svc, err := New(cfg, secrets.New(h.sm))
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func input(state string) pipeline.StatusInput {
	return pipeline.StatusInput{
		Run: pipeline.Run{
			Repository: pipeline.Repository{Workspace: "acme", Slug: "hello"},
			Branch:     "main",
			Commit:     commit,
			Settings:   pipeline.Settings{PollSeconds: 10},
		},
		Execution: execARN,
		State:     state,
	}
}

// prInput is the status of pull request #42's run, whose preview stack
// got outputs.
func prInput(state string, closed bool, outputs map[string]string) pipeline.StatusInput {
	in := input(state)
	in.Run.Branch = "feature/greeting"
	in.Run.PullRequest = &pipeline.PullRequest{ID: 42, Title: "Friendlier greeting", Destination: "main", Closed: closed}
	if outputs != nil {
		in.Environments = []pipeline.DeliveredEnvironment{{Name: "pr-42", Stack: "hello-pr-42", Outputs: outputs}}
	}
	return in
}

func TestHandle(t *testing.T) {
	t.Parallel()
	longBranch := "feature/" + strings.Repeat("b", 300)
	tests := []struct {
		name     string
		token    string
		wantAuth string
		config   func(*Config)
		in       func() pipeline.StatusInput
		wantBody map[string]any
	}{
		{
			name: "in progress", in: func() pipeline.StatusInput { return input("INPROGRESS") },
			wantBody: map[string]any{"key": "stackflow", "state": "INPROGRESS", "name": "stackflow: main", "url": consoleURL, "description": "Delivering e10dae2", "refname": "main"},
		},
		{
			name: "successful", in: func() pipeline.StatusInput { return input("SUCCESSFUL") },
			wantBody: map[string]any{"key": "stackflow", "state": "SUCCESSFUL", "name": "stackflow: main", "url": consoleURL, "description": "Delivered e10dae2", "refname": "main"},
		},
		{
			name: "stopped", in: func() pipeline.StatusInput { return input("STOPPED") },
			wantBody: map[string]any{"key": "stackflow", "state": "STOPPED", "name": "stackflow: main", "url": consoleURL, "description": "Delivery of e10dae2 was stopped", "refname": "main"},
		},
		{
			name: "caller's description", in: func() pipeline.StatusInput {
				in := input("SUCCESSFUL")
				in.Description = "Delivered e10dae2 to staging, prod"
				return in
			},
			wantBody: map[string]any{"key": "stackflow", "state": "SUCCESSFUL", "name": "stackflow: main", "url": consoleURL, "description": "Delivered e10dae2 to staging, prod", "refname": "main"},
		},
		{
			name: "failed with a handler error", in: func() pipeline.StatusInput {
				in := input("FAILED")
				in.Error = &pipeline.StateError{
					Error: "ChecksFailed",
					Cause: `{"errorMessage":"check \"go test ./...\" failed:\n--- FAIL: TestHello\n    hello_test.go:12: got \"hi\", want \"hello\"","errorType":"ChecksFailed"}`,
				}
				return in
			},
			wantBody: map[string]any{"key": "stackflow", "state": "FAILED", "name": "stackflow: main", "url": consoleURL, "description": `ChecksFailed: check "go test ./..." failed`, "refname": "main"},
		},
		{
			name: "failed with a plain-text cause", in: func() pipeline.StatusInput {
				in := input("FAILED")
				in.Error = &pipeline.StateError{Error: "States.Timeout", Cause: "\nThe state timed out after 900 seconds.\nMore."}
				return in
			},
			wantBody: map[string]any{"key": "stackflow", "state": "FAILED", "name": "stackflow: main", "url": consoleURL, "description": "States.Timeout: The state timed out after 900 seconds.", "refname": "main"},
		},
		{
			name: "failed with only a Lambda error type", in: func() pipeline.StatusInput {
				in := input("FAILED")
				in.Error = &pipeline.StateError{Cause: `{"errorType":"Runtime.ExitError"}`}
				return in
			},
			wantBody: map[string]any{"key": "stackflow", "state": "FAILED", "name": "stackflow: main", "url": consoleURL, "description": "Runtime.ExitError", "refname": "main"},
		},
		{
			name: "failed without an error", in: func() pipeline.StatusInput { return input("FAILED") },
			wantBody: map[string]any{"key": "stackflow", "state": "FAILED", "name": "stackflow: main", "url": consoleURL, "description": "Delivery of e10dae2 failed", "refname": "main"},
		},
		{
			name: "cause holding the token", in: func() pipeline.StatusInput {
				in := input("FAILED")
				in.Error = &pipeline.StateError{Error: "UnexpectedError", Cause: "GET https://x-token-auth:" + testToken + "@bitbucket.org/acme/hello failed"}
				return in
			},
			wantBody: map[string]any{"key": "stackflow", "state": "FAILED", "name": "stackflow: main", "url": consoleURL, "description": "UnexpectedError: GET https://x-token-auth:[redacted]@bitbucket.org/acme/hello failed", "refname": "main"},
		},
		{
			name:  "API token, own key, local execution URL",
			token: "ada@example.com:" + testToken, wantAuth: "Basic " + base64.StdEncoding.EncodeToString([]byte("ada@example.com:"+testToken)),
			config: func(c *Config) {
				c.Key = "ci"
				c.ExecutionURL = "http://127.0.0.1:8080/executions/{name}?arn={arn}"
			},
			in:       func() pipeline.StatusInput { return input("INPROGRESS") },
			wantBody: map[string]any{"key": "ci", "state": "INPROGRESS", "name": "ci: main", "url": "http://127.0.0.1:8080/executions/hello-main-e10dae2?arn=" + execARN, "description": "Delivering e10dae2", "refname": "main"},
		},
		{
			name: "long branch, GovCloud", in: func() pipeline.StatusInput {
				in := input("INPROGRESS")
				in.Run.Branch = longBranch
				in.Execution = "arn:aws-us-gov:states:us-gov-west-1:123456789012:execution:stackflow:x"
				return in
			},
			wantBody: map[string]any{
				"key": "stackflow", "state": "INPROGRESS", "name": ("stackflow: " + longBranch)[:253] + "…",
				"url":         "https://us-gov-west-1.console.amazonaws-us-gov.com/states/home?region=us-gov-west-1#/v2/executions/details/arn:aws-us-gov:states:us-gov-west-1:123456789012:execution:stackflow:x",
				"description": "Delivering e10dae2", "refname": longBranch,
			},
		},
		{
			name: "pull request in progress", in: func() pipeline.StatusInput { return prInput("INPROGRESS", false, nil) },
			wantBody: map[string]any{"key": "stackflow-pr-42", "state": "INPROGRESS", "name": "stackflow: pull request #42 (feature/greeting)", "url": consoleURL, "description": "Delivering e10dae2", "refname": "feature/greeting"},
		},
		{
			name: "pull request's preview is up", in: func() pipeline.StatusInput {
				return prInput("SUCCESSFUL", false, map[string]string{
					"AUrl": "arn:aws:lambda:eu-west-1:123456789012:function:x", "ApiUrl": "https://abc123.execute-api.eu-west-1.amazonaws.com/",
					"DocsURL": "https://docs.example.com/", "Table": "hello-pr-42-Items",
				})
			},
			wantBody: map[string]any{"key": "stackflow-pr-42", "state": "SUCCESSFUL", "name": "stackflow: pull request #42 (feature/greeting)",
				"url":         "https://abc123.execute-api.eu-west-1.amazonaws.com/",
				"description": "Preview hello-pr-42 is up: https://abc123.execute-api.eu-west-1.amazonaws.com/", "refname": "feature/greeting"},
		},
		{
			name: "pull request's preview without a URL", in: func() pipeline.StatusInput {
				in := prInput("SUCCESSFUL", false, map[string]string{"Table": "hello-pr-42-Items", "QueueUrl": "not a URL"})
				in.Description = "pull request #42: checks, then preview stack hello-pr-42"
				return in
			},
			wantBody: map[string]any{"key": "stackflow-pr-42", "state": "SUCCESSFUL", "name": "stackflow: pull request #42 (feature/greeting)", "url": consoleURL,
				"description": "pull request #42: checks, then preview stack hello-pr-42", "refname": "feature/greeting"},
		},
		{
			name: "pull request closed", in: func() pipeline.StatusInput {
				in := prInput("SUCCESSFUL", true, map[string]string{"ApiUrl": "https://abc123.execute-api.eu-west-1.amazonaws.com/"})
				in.Description = "pull request #42 closed: deleted preview stack hello-pr-42"
				return in
			},
			wantBody: map[string]any{"key": "stackflow-pr-42", "state": "SUCCESSFUL", "name": "stackflow: pull request #42 (feature/greeting)", "url": consoleURL,
				"description": "pull request #42 closed: deleted preview stack hello-pr-42", "refname": "feature/greeting"},
		},
		{
			name: "pull request failed", in: func() pipeline.StatusInput {
				return prInput("FAILED", false, map[string]string{"ApiUrl": "https://abc123.execute-api.eu-west-1.amazonaws.com/"})
			},
			wantBody: map[string]any{"key": "stackflow-pr-42", "state": "FAILED", "name": "stackflow: pull request #42 (feature/greeting)", "url": consoleURL,
				"description": "Delivery of e10dae2 failed", "refname": "feature/greeting"},
		},
		{
			name: "pull request of a long key", config: func(c *Config) { c.Key = strings.Repeat("k", 40) },
			in: func() pipeline.StatusInput { return prInput("INPROGRESS", false, nil) },
			wantBody: map[string]any{"key": strings.Repeat("k", 34) + "-pr-42", "state": "INPROGRESS", "name": strings.Repeat("k", 40) + ": pull request #42 (feature/greeting)",
				"url": consoleURL, "description": "Delivering e10dae2", "refname": "feature/greeting"},
		},
		{
			name: "an app's run", in: func() pipeline.StatusInput {
				in := input("SUCCESSFUL")
				in.Run.App = &pipeline.AppRun{Name: "api"}
				in.Description = "skipped: no change under services/api/**"
				return in
			},
			wantBody: map[string]any{"key": "stackflow-api", "state": "SUCCESSFUL", "name": "stackflow api: main", "url": consoleURL,
				"description": "skipped: no change under services/api/**", "refname": "main"},
		},
		{
			name: "a tag's run of an app, long key", config: func(c *Config) { c.Key = strings.Repeat("k", 30) },
			in: func() pipeline.StatusInput {
				in := input("INPROGRESS")
				in.Run.Branch, in.Run.Tag = "", "v1.2.0"
				in.Run.App = &pipeline.AppRun{Name: "payments-api"}
				return in
			},
			wantBody: map[string]any{"key": strings.Repeat("k", 27) + "-payments-api", "state": "INPROGRESS", "name": strings.Repeat("k", 30) + " payments-api: tag v1.2.0", "url": consoleURL,
				"description": "Delivering e10dae2"},
		},
		{
			name: "no execution", in: func() pipeline.StatusInput {
				in := input("INPROGRESS")
				in.Execution = ""
				return in
			},
			wantBody: map[string]any{"key": "stackflow", "state": "INPROGRESS", "name": "stackflow: main", "description": "Delivering e10dae2", "refname": "main"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			token := cmp.Or(tt.token, testToken)
			h := setup(t, token)
			svc := h.service(t, tt.config)
			got, err := svc.Handle(context.Background(), tt.in())
			if err != nil {
				t.Fatal(err)
			}
			want := []posted{{
				Method:        "POST",
				Path:          "/2.0/repositories/acme/hello/commit/" + commit + "/statuses/build",
				Authorization: cmp.Or(tt.wantAuth, "Bearer "+testToken),
				Body:          tt.wantBody,
			}}
			if seen := h.bb.seen(); !reflect.DeepEqual(seen, want) {
				t.Errorf("Bitbucket got\n%+v\nwant\n%+v", seen, want)
			}
			wantResult := pipeline.StatusResult{
				Key: tt.wantBody["key"].(string), State: tt.wantBody["state"].(string),
				Description: tt.wantBody["description"].(string),
			}
			if u, ok := tt.wantBody["url"]; ok {
				wantResult.URL = u.(string)
			}
			if got != wantResult {
				t.Errorf("got result %+v, want %+v", got, wantResult)
			}
			if strings.Contains(got.Description, testToken) {
				t.Errorf("description %q holds the token", got.Description)
			}
		})
	}
}

func TestHandleErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		answer    int
		config    func(h *harness, c *Config)
		in        pipeline.StatusInput
		wantType  string
		wantMsg   string
		wantPosts int
	}{
		{name: "rate limited", answer: 429, in: input("INPROGRESS"), wantType: "*pipeline.BitbucketUnavailable", wantMsg: "bitbucket post build status: rate limited (429 Too Many Requests)", wantPosts: 1},
		{name: "Bitbucket failing", answer: 503, in: input("SUCCESSFUL"), wantType: "*pipeline.BitbucketUnavailable", wantMsg: "server error (503 Service Unavailable)", wantPosts: 1},
		{name: "token refused", answer: 401, in: input("FAILED"), wantType: "*pipeline.UnexpectedError", wantMsg: "401 Unauthorized: check that the token secret holds a valid, unexpired token", wantPosts: 1},
		{name: "status forbidden", answer: 403, in: input("FAILED"), wantType: "*pipeline.UnexpectedError", wantMsg: "only the creator of the status", wantPosts: 1},
		{name: "Bitbucket unreachable", config: func(_ *harness, c *Config) { c.APIURL = "http://127.0.0.1:1" }, in: input("INPROGRESS"), wantType: "*pipeline.BitbucketUnavailable", wantMsg: "no answer"},
		{name: "no token secret", config: func(_ *harness, c *Config) { c.TokenARN = "" }, in: input("INPROGRESS"), wantType: "*pipeline.UnexpectedError", wantMsg: "read Bitbucket token: no secret ARN configured"},
		{name: "token secret missing", config: func(_ *harness, c *Config) {
			c.TokenARN = "arn:aws:secretsmanager:us-east-1:000000000000:secret:stackflow/none-AbCdEf"
		}, in: input("INPROGRESS"), wantType: "*pipeline.UnexpectedError", wantMsg: "read Bitbucket token"},
		{name: "unknown state", in: input("DONE"), wantType: "*pipeline.UnexpectedError", wantMsg: `state "DONE"`},
		{name: "no commit", in: func() pipeline.StatusInput { in := input("FAILED"); in.Run.Commit = ""; return in }(), wantType: "*pipeline.UnexpectedError", wantMsg: "want run.repository and run.commit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := setup(t, testToken)
			h.bb.answer.Store(int32(tt.answer))
			svc := h.service(t, func(c *Config) {
				if tt.config != nil {
					tt.config(h, c)
				}
			})
			_, err := svc.Handle(context.Background(), tt.in)
			if err == nil {
				t.Fatal("got no error, want one")
			}
			// The handler returns the state machine's error itself, so that
			// its type name is the Error that Retry and Catch match.
			if got := fmt.Sprintf("%T", err); got != tt.wantType {
				t.Errorf("got error type %s, want %s", got, tt.wantType)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("got error %q, want it to contain %q", err, tt.wantMsg)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error %q holds the token", err)
			}
			if got := len(h.bb.seen()); got != tt.wantPosts {
				t.Errorf("got %d posts, want %d", got, tt.wantPosts)
			}
		})
	}
}

func TestEmptyToken(t *testing.T) {
	t.Parallel()
	h := setup(t, "   ")
	_, err := h.service(t, nil).Handle(context.Background(), input("INPROGRESS"))
	var ue *pipeline.UnexpectedError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "bitbucket credentials are empty") {
		t.Errorf("got %v, want an UnexpectedError about empty credentials", err)
	}
	if got := len(h.bb.seen()); got != 0 {
		t.Errorf("got %d posts, want none", got)
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key, wantKey string
		wantErr      bool
	}{
		{key: "", wantKey: "stackflow"},
		{key: "deploy", wantKey: "deploy"},
		{key: strings.Repeat("k", 40), wantKey: strings.Repeat("k", 40)},
		{key: strings.Repeat("k", 41), wantErr: true},
	}
	for _, tt := range tests {
		svc, err := New(Config{Key: tt.key}, nil)
		if (err != nil) != tt.wantErr {
			t.Errorf("New(key %q): got error %v, want error %v", tt.key, err, tt.wantErr)
			continue
		}
		if err == nil && svc.cfg.Key != tt.wantKey {
			t.Errorf("New(key %q): got key %q, want %q", tt.key, svc.cfg.Key, tt.wantKey)
		}
	}
}

func TestLogLine(t *testing.T) {
	t.Parallel()
	h := setup(t, testToken)
	if _, err := h.service(t, nil).Handle(context.Background(), input("SUCCESSFUL")); err != nil {
		t.Fatal(err)
	}
	h.logsMu.Lock()
	defer h.logsMu.Unlock()
	var got map[string]any
	if err := json.Unmarshal(h.logs.Bytes(), &got); err != nil {
		t.Fatalf("log %q: %v", h.logs, err)
	}
	delete(got, "time")
	want := map[string]any{
		"level": "INFO", "msg": "post build status",
		"repository": "acme/hello", "branch": "main", "commit": commit,
		"execution": execARN, "state": "SUCCESSFUL", "description": "Delivered e10dae2",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got log line\n%v\nwant\n%v", got, want)
	}
}

// TestSampleEvent keeps functions/status/event.json an input the function
// handles.
func TestSampleEvent(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("..", "..", "functions", "status", "event.json"))
	if err != nil {
		t.Fatal(err)
	}
	var in pipeline.StatusInput
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		t.Fatal(err)
	}
	h := setup(t, testToken)
	got, err := h.service(t, nil).Handle(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if want := `ChecksFailed: check "go test ./..." failed`; got.Description != want || got.State != "FAILED" {
		t.Errorf("got %+v, want state FAILED and description %q", got, want)
	}
}
