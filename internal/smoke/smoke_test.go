package smoke

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// fakeClock is a clock that only moves when the service sleeps.
type fakeClock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	c.sleeps = append(c.sleeps, d)
	return nil
}

func newTestService(client *http.Client) (*Service, *fakeClock) {
	c := &fakeClock{t: time.Now()}
	s := New(client)
	s.now, s.sleep = c.now, c.sleep
	return s, c
}

type answer struct {
	status int
	body   string
}

// app is a deployed app's API: each path answers its scripted answers in
// turn, then its last one again and again.
type app struct {
	mu       sync.Mutex
	scripts  map[string][]answer
	requests map[string]int
	// verify, when set, says what is wrong with a request; the app
	// answers such a request 400.
	verify func(*http.Request) string
}

// setup starts an app answering scripts and returns its base URL.
func setup(t *testing.T, scripts map[string][]answer, verify func(*http.Request) string) (*app, *httptest.Server) {
	t.Helper()
	a := &app{scripts: scripts, requests: map[string]int{}, verify: verify}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		n := a.requests[r.URL.Path]
		a.requests[r.URL.Path]++
		script := a.scripts[r.URL.Path]
		a.mu.Unlock()
		if a.verify != nil {
			if problem := a.verify(r); problem != "" {
				http.Error(w, problem, http.StatusBadRequest)
				return
			}
		}
		if len(script) == 0 {
			http.NotFound(w, r)
			return
		}
		ans := script[min(n, len(script)-1)]
		w.WriteHeader(ans.status)
		w.Write([]byte(ans.body))
	}))
	t.Cleanup(srv.Close)
	return a, srv
}

func (a *app) count(path string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.requests[path]
}

func smokeInput(baseURL string, timeout int, checks ...pipeline.SmokeCheck) pipeline.SmokeInput {
	return pipeline.SmokeInput{
		Run: pipeline.Run{
			Repository: pipeline.Repository{Workspace: "acme", Slug: "hello"},
			Branch:     "main",
			Commit:     "0123456789abcdef0123456789abcdef01234567",
		},
		Environment: pipeline.Environment{
			Name:                "staging",
			Stack:               "hello-staging",
			Smoke:               checks,
			SmokeTimeoutSeconds: timeout,
		},
		Deployment: pipeline.Deployment{
			Stack:   "hello-staging",
			Done:    true,
			Outputs: map[string]string{"ApiUrl": baseURL + "/", "ApiKeyId": "k-123"},
		},
	}
}

func TestHandle(t *testing.T) {
	t.Parallel()
	hello := pipeline.SmokeCheck{Name: "hello", URL: "${ApiUrl}hello", Contains: "Hello"}
	health := pipeline.SmokeCheck{Name: "health", URL: "${ApiUrl}/health"}
	long := strings.Repeat("x", 300)
	tests := []struct {
		name    string
		scripts map[string][]answer
		verify  func(*http.Request) string
		checks  []pipeline.SmokeCheck
		timeout int
		// When the checks pass:
		wantSummary  string
		wantAttempts []int
		// When they fail ({srv} stands for the app's URL):
		wantErr error
		// Either way:
		wantSleeps   []time.Duration
		wantRequests map[string]int
	}{
		{
			name: "all pass at once",
			scripts: map[string][]answer{
				"/hello":  {{200, "Hello, world"}},
				"/health": {{200, "ok"}},
			},
			checks:       []pipeline.SmokeCheck{hello, health},
			wantSummary:  "staging: 2/2 smoke checks passed",
			wantAttempts: []int{1, 1},
			wantRequests: map[string]int{"/hello": 1, "/health": 1},
		},
		{
			name: "flaky then OK passes after retries",
			scripts: map[string][]answer{
				"/hello": {{503, "Service Unavailable"}, {404, `{"message":"Not Found"}`}, {502, "Bad Gateway"}, {200, "Hello"}},
			},
			checks:       []pipeline.SmokeCheck{hello},
			wantSummary:  "staging: 1/1 smoke checks passed",
			wantAttempts: []int{4},
			wantSleeps:   []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second},
			wantRequests: map[string]int{"/hello": 4},
		},
		{
			name:    "method, expected status and headers",
			scripts: map[string][]answer{"/items": {{201, ""}}},
			verify: func(r *http.Request) string {
				if r.Method != http.MethodPost || r.Header.Get("X-Api-Key") != "k-123" || r.Host != "api.example.com" {
					return fmt.Sprintf("got %s with key %q to host %q", r.Method, r.Header.Get("X-Api-Key"), r.Host)
				}
				return ""
			},
			checks: []pipeline.SmokeCheck{{
				Name: "create", URL: "${ApiUrl}items", Method: "post", Status: 201,
				Headers: map[string]string{"X-Api-Key": "${ApiKeyId}", "Host": "api.example.com"},
			}},
			wantSummary:  "staging: 1/1 smoke checks passed",
			wantAttempts: []int{1},
			wantRequests: map[string]int{"/items": 1},
		},
		{
			name: "wrong status fails when the budget is spent",
			scripts: map[string][]answer{
				"/health": {{200, "ok"}},
				"/hello":  {{500, "boom"}},
			},
			checks:  []pipeline.SmokeCheck{health, hello},
			timeout: 1,
			wantErr: &pipeline.SmokeTestFailed{
				Environment: "staging", Check: "hello", Method: "GET", URL: "{srv}/hello",
				Got:  `status 500, body "boom" (the last of 4 attempts)`,
				Want: `status 200 and a body containing "Hello"`,
			},
			wantSleeps:   []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, 250 * time.Millisecond},
			wantRequests: map[string]int{"/health": 1, "/hello": 4},
		},
		{
			name:    "missing text fails",
			scripts: map[string][]answer{"/hello": {{200, "Goodbye"}}},
			checks:  []pipeline.SmokeCheck{hello},
			timeout: 1,
			wantErr: &pipeline.SmokeTestFailed{
				Environment: "staging", Check: "hello", Method: "GET", URL: "{srv}/hello",
				Got:  `status 200, body "Goodbye" (the last of 4 attempts)`,
				Want: `status 200 and a body containing "Hello"`,
			},
			wantSleeps:   []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, 250 * time.Millisecond},
			wantRequests: map[string]int{"/hello": 4},
		},
		{
			name:    "backoff is capped and the budget used up",
			scripts: map[string][]answer{"/health": {{503, long}}},
			checks:  []pipeline.SmokeCheck{{URL: "${ApiUrl}health"}},
			timeout: 20,
			wantErr: &pipeline.SmokeTestFailed{
				Environment: "staging", Check: "${ApiUrl}health", Method: "GET", URL: "{srv}/health",
				Got:  `status 503, body "` + long[:120] + `"... (the last of 9 attempts)`,
				Want: "status 200",
			},
			wantSleeps: []time.Duration{
				250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second,
				4 * time.Second, 5 * time.Second, 5 * time.Second, 2250 * time.Millisecond,
			},
			wantRequests: map[string]int{"/health": 9},
		},
		{
			name:    "unknown output fails untried",
			scripts: map[string][]answer{"/hello": {{200, "Hello"}}},
			checks:  []pipeline.SmokeCheck{health, {Name: "typo", URL: "${ApiUrll}hello", Headers: map[string]string{"X-Key": "${Key}"}}},
			wantErr: &pipeline.ConfigInvalid{
				File:    "stackflow.yml",
				Problem: `smoke check "typo" of staging refers to ApiUrll, Key, but hello-staging has outputs ApiKeyId, ApiUrl`,
				Fix:     "every ${Name} in a smoke check's url and headers must be an output of the environment's stack",
			},
			wantRequests: map[string]int{"/hello": 0, "/health": 0},
		},
		{
			name:        "no checks",
			checks:      nil,
			wantSummary: "staging: no smoke checks",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, srv := setup(t, tt.scripts, tt.verify)
			svc, clock := newTestService(srv.Client())
			res, err := svc.Handle(context.Background(), smokeInput(srv.URL, tt.timeout, tt.checks...))

			if !slices.Equal(clock.sleeps, tt.wantSleeps) {
				t.Errorf("got sleeps %v, want %v", clock.sleeps, tt.wantSleeps)
			}
			for path, n := range tt.wantRequests {
				if got := a.count(path); got != n {
					t.Errorf("got %d requests to %s, want %d", got, path, n)
				}
			}
			if tt.wantErr != nil {
				want := tt.wantErr
				if sf, ok := want.(*pipeline.SmokeTestFailed); ok {
					w := *sf
					w.URL = strings.ReplaceAll(w.URL, "{srv}", srv.URL)
					want = &w
				}
				if !reflect.DeepEqual(err, want) {
					t.Errorf("got %T %+v\nwant %T %+v", err, err, want, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("smoke test: %v", err)
			}
			if res.Summary != tt.wantSummary || res.Environment != "staging" {
				t.Errorf("got environment %q summary %q, want %q %q", res.Environment, res.Summary, "staging", tt.wantSummary)
			}
			var attempts []int
			for _, c := range res.Checks {
				attempts = append(attempts, c.Attempts)
				if !c.Passed || !strings.HasPrefix(c.URL, srv.URL+"/") {
					t.Errorf("got check %+v, want it passed with a URL under %s", c, srv.URL)
				}
			}
			if !slices.Equal(attempts, tt.wantAttempts) {
				t.Errorf("got attempts %v, want %v", attempts, tt.wantAttempts)
			}
		})
	}
}

func TestNoAnswer(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release); hanging.Close() })
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	tests := []struct {
		name, url, wantGot string
	}{
		{"request timeout", hanging.URL, "no answer within 20ms (the last of 4 attempts)"},
		{"connection refused", closedURL, "no answer: dial tcp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc, _ := newTestService(&http.Client{})
			svc.requestTimeout = 20 * time.Millisecond
			_, err := svc.Handle(context.Background(), smokeInput(tt.url, 1, pipeline.SmokeCheck{Name: "root", URL: "${ApiUrl}"}))
			got, ok := err.(*pipeline.SmokeTestFailed)
			if !ok {
				t.Fatalf("got error %T %v, want *pipeline.SmokeTestFailed", err, err)
			}
			if !strings.HasPrefix(got.Got, tt.wantGot) {
				t.Errorf("got %q, want it to start with %q", got.Got, tt.wantGot)
			}
			if got.URL != tt.url+"/" {
				t.Errorf("got URL %q, want %q", got.URL, tt.url+"/")
			}
		})
	}
}

func TestCancelled(t *testing.T) {
	t.Parallel()
	_, srv := setup(t, map[string][]answer{"/hello": {{503, "not yet"}}}, nil)
	svc, _ := newTestService(srv.Client())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := svc.Handle(ctx, smokeInput(srv.URL, 60, pipeline.SmokeCheck{Name: "hello", URL: "${ApiUrl}hello"}))
	got, ok := err.(*pipeline.UnexpectedError)
	if !ok {
		t.Fatalf("got error %T %v, want *pipeline.UnexpectedError", err, err)
	}
	if want := `smoke check "hello" of staging: stopped after 1 attempt: context canceled`; got.Message != want {
		t.Errorf("got %q, want %q", got.Message, want)
	}
}

func TestLambdaDeadlineShortensTheBudget(t *testing.T) {
	t.Parallel()
	_, srv := setup(t, map[string][]answer{"/hello": {{503, "not yet"}}}, nil)
	// The invocation ends in 3.25 s: the checks get 1.25 s of their 60.
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(lambdaMargin+1250*time.Millisecond))
	defer cancel()
	svc, clock := newTestService(srv.Client())
	_, err := svc.Handle(ctx, smokeInput(srv.URL, 60, pipeline.SmokeCheck{Name: "hello", URL: "${ApiUrl}hello"}))
	got, ok := err.(*pipeline.SmokeTestFailed)
	if !ok {
		t.Fatalf("got error %T %v, want *pipeline.SmokeTestFailed", err, err)
	}
	if !strings.HasSuffix(got.Got, "(the last of 4 attempts)") {
		t.Errorf("got %q, want the last of 4 attempts", got.Got)
	}
	if len(clock.sleeps) != 3 {
		t.Errorf("got sleeps %v, want 3", clock.sleeps)
	}
}

func TestInvalidCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		check   pipeline.SmokeCheck
		wantGot string
	}{
		{"relative URL", pipeline.SmokeCheck{URL: "/hello"}, `URL "/hello", which is not an absolute http(s) URL`},
		{"other scheme", pipeline.SmokeCheck{URL: "ftp://example.com/"}, `URL "ftp://example.com/", which is not an absolute http(s) URL`},
		{"bad method", pipeline.SmokeCheck{URL: "${ApiUrl}", Method: "GET /"}, `method "GET /", which is not an HTTP method`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc, _ := newTestService(http.DefaultClient)
			_, err := svc.Handle(context.Background(), smokeInput("https://abc.example", 1, tt.check))
			got, ok := err.(*pipeline.SmokeTestFailed)
			if !ok {
				t.Fatalf("got error %T %v, want *pipeline.SmokeTestFailed", err, err)
			}
			if got.Got != tt.wantGot {
				t.Errorf("got %q, want %q", got.Got, tt.wantGot)
			}
		})
	}
}

func TestExpand(t *testing.T) {
	t.Parallel()
	outputs := map[string]string{
		"ApiUrl":   "https://abc.execute-api.us-east-1.amazonaws.com/",
		"BareUrl":  "https://abc.example",
		"StageUrl": "https://abc.example/Prod",
		"Path":     "/items",
		"Key":      "k-1",
	}
	tests := []struct {
		name, in    string
		isURL       bool
		want        string
		wantMissing []string
	}{
		{"documented usage", "${ApiUrl}hello", true, "https://abc.execute-api.us-east-1.amazonaws.com/hello", nil},
		{"slash on both sides", "${ApiUrl}/hello", true, "https://abc.execute-api.us-east-1.amazonaws.com/hello", nil},
		{"only the output", "${ApiUrl}", true, "https://abc.execute-api.us-east-1.amazonaws.com/", nil},
		{"bare host and path", "${BareUrl}/hello", true, "https://abc.example/hello", nil},
		{"bare host and plain text", "${BareUrl}hello", true, "https://abc.example/hello", nil},
		{"stage and plain text", "${StageUrl}hello?x=1", true, "https://abc.example/Prod/hello?x=1", nil},
		{"query after output", "${BareUrl}?x=1", true, "https://abc.example?x=1", nil},
		{"only bare host", "${BareUrl}", true, "https://abc.example", nil},
		{"two outputs", "${BareUrl}${Path}", true, "https://abc.example/items", nil},
		{"output inside the URL", "https://abc.example/items/${Key}", true, "https://abc.example/items/k-1", nil},
		{"double slash elsewhere kept", "${ApiUrl}a//b", true, "https://abc.execute-api.us-east-1.amazonaws.com/a//b", nil},
		{"no outputs", "https://example.com/", true, "https://example.com/", nil},
		{"header value is not joined", "Bearer ${BareUrl}x", false, "Bearer https://abc.examplex", nil},
		{"unknown outputs, each once", "${Nope}/${Nope}/${Other}", true, "//", []string{"Nope", "Other"}},
		{"empty name", "${}x", true, "x", []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, missing := expand(tt.in, outputs, tt.isURL)
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if !slices.Equal(missing, tt.wantMissing) {
				t.Errorf("got missing %q, want %q", missing, tt.wantMissing)
			}
		})
	}
}
