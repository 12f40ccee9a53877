package dashboard

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stackflow/stackflow/internal/approvals"
	"github.com/stackflow/stackflow/internal/locks"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/releases"
	"github.com/stackflow/stackflow/internal/runs"
)

// fake is a Source and an Operator of one run, which records the actions
// it is asked for.
type fake struct {
	approved []string
	asked    []string           // the rollbacks, promotions and retries asked for
	released []releases.Release // of local/hello prod, newest first
}

func (f *fake) Runs(context.Context, runs.Filter) ([]runs.Run, error) {
	return []runs.Run{{Execution: "hello-main-1a2b3c4", ARN: "arn:x:hello-main-1a2b3c4", Repository: "local/hello", Branch: "main", Commit: "1a2b3c4d", Status: "SUCCEEDED"}}, nil
}
func (f *fake) Show(_ context.Context, ref string) (*runs.Timeline, error) {
	return &runs.Timeline{Run: runs.Run{Execution: ref, Status: "SUCCEEDED"}}, nil
}
func (f *fake) Logs(context.Context, string, runs.Phase) (*runs.Log, error) {
	return nil, errors.New("no logs")
}
func (f *fake) Definition(context.Context, string) (string, error) {
	return `{"StartAt":"A","States":{"A":{"Type":"Succeed"}}}`, nil
}
func (f *fake) Pending(context.Context, string) (string, []approvals.Request, error) {
	return "", nil, nil
}
func (f *fake) Releases(_ context.Context, repo, env string, _ int) ([]releases.Release, error) {
	if repo == "local/hello" && env == "prod" {
		return f.released, nil
	}
	return nil, nil
}
func (f *fake) ReleasedEnvironments(context.Context) ([]releases.Released, error) {
	if len(f.released) == 0 {
		return nil, nil
	}
	return []releases.Released{{Repository: "local/hello", Environment: "prod"}}, nil
}
func (f *fake) LockHolder(context.Context, pipeline.Environment) (locks.Holder, error) {
	return locks.Holder{}, nil
}
func (f *fake) Approve(_ context.Context, ref, _, env string) (approvals.Request, string, error) {
	f.approved = append(f.approved, ref+" "+env)
	return approvals.Request{Execution: ref, Environment: env}, "me", nil
}
func (f *fake) Reject(context.Context, string, string, string, string) (approvals.Request, string, error) {
	return approvals.Request{}, "", errors.New("not here")
}
func (f *fake) RollbackAsCaller(_ context.Context, repo pipeline.Repository, app, env, to string) (string, releases.Release, string, error) {
	f.asked = append(f.asked, "rollback "+repo.FullName()+" "+app+" "+env+" "+to)
	return "arn:x:platform-api-rollback", releases.Release{Commit: "0123456789"}, "me", nil
}
func (f *fake) PromoteAsCaller(_ context.Context, req runs.PromoteRequest) (string, releases.Release, string, error) {
	f.asked = append(f.asked, "promote "+req.Repository.FullName()+" "+req.App+" "+req.Environment)
	return "arn:x:platform-api-promote", releases.Release{Commit: "0123456789", Environment: "staging"}, "me", nil
}
func (f *fake) RetryAsCaller(_ context.Context, ref, app string, _ *pipeline.FreezeOverride) (string, string, string, error) {
	if ref == "x" {
		return "", "", "", errors.New("not here")
	}
	f.asked = append(f.asked, "retry "+ref+" "+app)
	return "arn:x:platform-api-retry", "prod", "me", nil
}

// setup serves a dashboard of a fake, with actions when actions is set,
// and returns it and the fake.
func setup(t *testing.T, actions bool) (*Server, *fake) {
	t.Helper()
	l, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fake{}
	cfg := Config{Source: f, Now: func() time.Time { return time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC) }}
	if actions {
		cfg.Operator = f
	}
	s, err := New(cfg, l)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return s, f
}

// browser is an HTTP client with cookies that follows no redirects.
func browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func do(t *testing.T, c *http.Client, method, url string, header map[string]string, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestOnlyTheTokenHolderGetsIn(t *testing.T) {
	t.Parallel()
	s, _ := setup(t, false)
	base := "http://" + s.listener.Addr().String()
	c := browser(t)

	if code, _ := do(t, c, "GET", base+"/", nil, ""); code != http.StatusForbidden {
		t.Errorf("without the token: got %d, want 403", code)
	}
	if code, _ := do(t, c, "GET", base+"/api/runs", nil, ""); code != http.StatusForbidden {
		t.Errorf("the API without the token: got %d, want 403", code)
	}
	if code, _ := do(t, c, "GET", base+"/?token=wrong", nil, ""); code != http.StatusForbidden {
		t.Errorf("with a wrong token: got %d, want 403", code)
	}
	// The token sets the cookie, and leaves the address.
	code, _ := do(t, c, "GET", s.URL(), nil, "")
	if code != http.StatusSeeOther {
		t.Fatalf("with the token: got %d, want 303 to the page without it", code)
	}
	set := false
	for _, ck := range c.Jar.Cookies(mustURL(t, base)) {
		set = set || ck.Value == s.token
	}
	if !set {
		t.Fatal("the token set no cookie")
	}
	if code, body := do(t, c, "GET", base+"/runs", nil, ""); code != http.StatusOK || !strings.Contains(body, "hello-main-1a2b3c4") {
		t.Errorf("with the cookie: got %d, want 200 listing the run", code)
	}
	if code, _ := do(t, c, "GET", base+"/runs/hello-main-1a2b3c4", nil, ""); code != http.StatusOK {
		t.Errorf("a run's page: got %d, want 200", code)
	}
}

func TestRequestsFromElsewhereAreRefused(t *testing.T) {
	t.Parallel()
	s, f := setup(t, true)
	base := "http://" + s.listener.Addr().String()
	c := browser(t)
	if code, _ := do(t, c, "GET", s.URL(), nil, ""); code != http.StatusSeeOther {
		t.Fatalf("with the token: got %d, want 303", code)
	}
	action := func(header map[string]string) int {
		h := map[string]string{"Content-Type": "application/json", TokenHeader: s.token}
		for k, v := range header {
			h[k] = v
		}
		code, _ := do(t, c, "POST", base+"/api/actions/approve", h, `{"run":"hello-main-1a2b3c4","environment":"prod"}`)
		return code
	}
	tests := []struct {
		name   string
		method string
		header map[string]string
	}{
		{"another Origin", "GET", map[string]string{"Origin": "http://evil.example"}},
		{"another port of this machine", "GET", map[string]string{"Origin": "http://127.0.0.1:1"}},
		{"a cross-site fetch", "GET", map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"a rebound Host", "GET", map[string]string{"Host": "evil.example:" + portOf(s)}},
		{"a DELETE", "DELETE", nil},
	}
	for _, tt := range tests {
		code, _ := do(t, c, tt.method, base+"/", tt.header, "")
		if code != http.StatusForbidden && code != http.StatusMethodNotAllowed {
			t.Errorf("%s: got %d, want it refused", tt.name, code)
		}
	}
	if code := action(map[string]string{"Origin": "http://evil.example"}); code != http.StatusForbidden {
		t.Errorf("an action from another Origin: got %d, want 403", code)
	}
	if code := action(map[string]string{TokenHeader: "wrong"}); code != http.StatusForbidden {
		t.Errorf("an action with the cookie alone: got %d, want 403", code)
	}
	if len(f.approved) != 0 {
		t.Fatalf("refused actions ran: %v", f.approved)
	}
	if code := action(map[string]string{"Origin": base}); code != http.StatusOK {
		t.Errorf("an action from the dashboard's own page: got %d, want 200", code)
	}
	if len(f.approved) != 1 || f.approved[0] != "hello-main-1a2b3c4 prod" {
		t.Errorf("approved: got %v, want the run's prod", f.approved)
	}
}

// TestActionsPassTheAppOn: an app's environment, in a repository of
// several, is the commands' --app.
func TestActionsPassTheAppOn(t *testing.T) {
	t.Parallel()
	s, f := setup(t, true)
	c := browser(t)
	do(t, c, "GET", s.URL(), nil, "")
	h := map[string]string{"Content-Type": "application/json", TokenHeader: s.token}
	base := "http://" + s.listener.Addr().String() + "/api/actions/"
	for action, body := range map[string]string{
		"rollback": `{"repository":"acme/platform","app":"api","environment":"prod","to":"0123"}`,
		"promote":  `{"repository":"acme/platform","app":"api","environment":"prod"}`,
		"retry":    `{"run":"platform-api-main-1a2b3c4","app":"api"}`,
	} {
		if code, out := do(t, c, "POST", base+action, h, body); code != http.StatusOK {
			t.Errorf("%s: got %d %s, want 200", action, code, out)
		}
	}
	slices.Sort(f.asked)
	want := []string{"promote acme/platform api prod", "retry platform-api-main-1a2b3c4 api", "rollback acme/platform api prod 0123"}
	if !slices.Equal(f.asked, want) {
		t.Errorf("asked %q, want %q", f.asked, want)
	}
}

func TestReadOnlyRefusesActions(t *testing.T) {
	t.Parallel()
	s, _ := setup(t, false)
	c := browser(t)
	do(t, c, "GET", s.URL(), nil, "")
	code, body := do(t, c, "POST", "http://"+s.listener.Addr().String()+"/api/actions/approve",
		map[string]string{"Content-Type": "application/json", TokenHeader: s.token}, `{"run":"x"}`)
	if code != http.StatusForbidden || !strings.Contains(body, "--actions") {
		t.Errorf("got %d %s, want 403 naming --actions", code, body)
	}
}

func TestListenTakesLoopbackOnly(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:0", "example.com:80", "nonsense"} {
		if l, err := Listen(addr); err == nil {
			l.Close()
			t.Errorf("Listen(%q): got no error, want loopback only", addr)
		}
	}
}

func portOf(s *Server) string {
	a := s.listener.Addr().String()
	return a[strings.LastIndex(a, ":")+1:]
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestTheEnvironmentsPageMarksRollbacks(t *testing.T) {
	t.Parallel()
	s, f := setup(t, true)
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	f.released = []releases.Release{
		{Repository: "local/hello", Environment: "prod", Stack: "hello-prod", Commit: strings.Repeat("a", 40), Branch: "main", Execution: "arn:x:hello-rollback-prod", DeployedAt: at.Add(time.Hour), RollbackOf: strings.Repeat("b", 40)},
		{Repository: "local/hello", Environment: "prod", Stack: "hello-prod", Commit: strings.Repeat("a", 40), Branch: "main", Execution: "arn:x:hello-main-aaaaaaa", DeployedAt: at},
	}
	c := browser(t)
	do(t, c, "GET", s.URL(), nil, "")
	code, body := do(t, c, "GET", "http://"+s.listener.Addr().String()+"/", nil, "")
	if code != http.StatusOK {
		t.Fatalf("got %d, want 200", code)
	}
	for _, want := range []string{"local/hello", "hello-prod", "aaaaaaa", "rollback of bbbbbbb", `data-to="` + strings.Repeat("a", 40) + `"`, "50%"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

func TestActionsSayWhatIsMissing(t *testing.T) {
	t.Parallel()
	s, _ := setup(t, true)
	c := browser(t)
	do(t, c, "GET", s.URL(), nil, "")
	post := func(action, body string) (int, string) {
		return do(t, c, "POST", "http://"+s.listener.Addr().String()+"/api/actions/"+action,
			map[string]string{"Content-Type": "application/json", TokenHeader: s.token}, body)
	}
	tests := []struct {
		action, body string
		code         int
		says         string
	}{
		{"reject", `{"run":"x","environment":"prod"}`, http.StatusBadRequest, "reason"},
		{"rollback", `{"repository":"nope","environment":"prod"}`, http.StatusBadRequest, "workspace"},
		{"rollback", `{"repository":"acme/hello"}`, http.StatusBadRequest, "environment"},
		{"promote", `{"repository":"acme/hello","environment":"prod","duringFreeze":true}`, http.StatusBadRequest, "reason"},
		{"deploy", `{}`, http.StatusBadRequest, "no action"},
		{"retry", `{"run":"x"}`, http.StatusConflict, "not here"},
	}
	for _, tt := range tests {
		code, body := post(tt.action, tt.body)
		if code != tt.code || !strings.Contains(strings.ToLower(body), tt.says) {
			t.Errorf("%s %s: got %d %s, want %d saying %q", tt.action, tt.body, code, body, tt.code, tt.says)
		}
	}
}
