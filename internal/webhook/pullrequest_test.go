package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

const testToken = "ATCTT3xFfGN0-bitbucket-token-for-tests"

// fakeBitbucket follows Bitbucket Cloud's documented API for the one
// resource the webhook uses, GET /2.0/repositories/{workspace}/{slug}/
// commit/{commit}: it knows the commits of acme/hello in the test payloads
// and accepts only the test token.
type fakeBitbucket struct {
	URL    string
	client *http.Client

	mu       sync.Mutex
	requests []string
	// answer, when not zero, is the status every request gets.
	answer int
	// yml, when set, is the default branch's stackflow.yml.
	yml string
}

func newFakeBitbucket(t *testing.T) *fakeBitbucket {
	t.Helper()
	f := &fakeBitbucket{}
	commits := []string{mainHash, featHash}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2.0/repositories/{workspace}/{slug}/commit/{commit}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		var match []string
		for _, c := range commits {
			if strings.HasPrefix(c, r.PathValue("commit")) {
				match = append(match, c)
			}
		}
		if r.PathValue("workspace") != "acme" || r.PathValue("slug") != "hello" || len(match) != 1 {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"type":"error","error":{"message":"Commit not found"}}`)
			return
		}
		fmt.Fprintf(w, `{"type":"commit","hash":%q,"message":"Friendlier greeting\n"}`, match[0])
	})
	// The default branch and its stackflow.yml, whose prod takes release-*
	// tags.
	mux.HandleFunc("GET /2.0/repositories/acme/hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"type":"repository","full_name":"acme/hello","mainbranch":{"type":"branch","name":"main"}}`)
	})
	mux.HandleFunc("GET /2.0/repositories/acme/hello/refs/branches/main", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"type":"branch","name":"main","target":{"type":"commit","hash":%q}}`, mainHash)
	})
	mux.HandleFunc("GET /2.0/repositories/acme/hello/src/{commit}/{path...}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("commit") != mainHash || r.PathValue("path") != "stackflow.yml" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"type":"error","error":{"message":"No such file or directory"}}`)
			return
		}
		f.mu.Lock()
		yml := f.yml
		f.mu.Unlock()
		if yml == "" {
			yml = "environments:\n  - {name: staging, branches: [main]}\n  - {name: prod, tags: ['release-*']}\n"
		}
		io.WriteString(w, yml)
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.requests = append(f.requests, r.Method+" "+r.URL.Path)
		answer := f.answer
		f.mu.Unlock()
		switch {
		case answer != 0:
			w.WriteHeader(answer)
		case r.Header.Get("Authorization") != "Bearer "+testToken:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"type":"error","error":{"message":"Access token expired."}}`)
		default:
			mux.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	// A transport of its own: httptest.Server.Close closes the idle
	// connections of http.DefaultTransport, under the parallel tests.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	f.URL, f.client = srv.URL, &http.Client{Transport: tr}
	return f
}

func (f *fakeBitbucket) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

// edit returns the JSON body with change applied to its decoded form.
func edit(t *testing.T, body []byte, change func(ev map[string]any)) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(body, &ev); err != nil {
		t.Fatal(err)
	}
	change(ev)
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// source is the pull request's source side of a decoded event.
func source(ev map[string]any) map[string]any {
	return ev["pullrequest"].(map[string]any)["source"].(map[string]any)
}

func TestPullRequestEvents(t *testing.T) {
	t.Parallel()
	created := testdata(t, "pullrequest-created.json")
	const resolve = "GET /2.0/repositories/acme/hello/commit/a94a8fe5ccb1"
	input := func(closed bool) string {
		return `{"run":{"repository":{"workspace":"acme","slug":"hello"},"branch":"feature/greeting","commit":"` + featHash +
			`","settings":{"pollSeconds":10,"lockPollSeconds":20,"lockLeaseSeconds":900},` +
			`"pullRequest":{"id":42,"title":"Friendlier greeting","destination":"main","closed":` + fmt.Sprint(closed) + `}}}`
	}
	tests := []struct {
		name         string
		key          string
		body         []byte
		wantName     string // of the started execution; "" when none starts
		wantInput    string
		wantIgnored  string
		wantRequests []string
	}{
		{name: "created", key: "pullrequest:created", body: created,
			wantName: "hello-feature-greeting-a94a8fe-pr42", wantInput: input(false), wantRequests: []string{resolve}},
		{name: "updated", key: "pullrequest:updated", body: created,
			wantName: "hello-feature-greeting-a94a8fe-pr42", wantInput: input(false), wantRequests: []string{resolve}},
		{name: "fulfilled", key: "pullrequest:fulfilled", body: testdata(t, "pullrequest-fulfilled.json"),
			wantName: "hello-feature-greeting-a94a8fe-pr42-closed", wantInput: input(true), wantRequests: []string{resolve}},
		{name: "rejected", key: "pullrequest:rejected", body: testdata(t, "pullrequest-rejected.json"),
			wantName: "hello-feature-greeting-a94a8fe-pr42-closed", wantInput: input(true), wantRequests: []string{resolve}},
		{name: "a full hash is not looked up", key: "pullrequest:created",
			body:     edit(t, created, func(ev map[string]any) { source(ev)["commit"] = map[string]any{"hash": featHash} }),
			wantName: "hello-feature-greeting-a94a8fe-pr42", wantInput: input(false)},
		{name: "approved", key: "pullrequest:approved", body: created,
			wantIgnored: "pullrequest:approved: only pull requests created, updated, merged (fulfilled) or declined (rejected) start runs"},
		{name: "comment", key: "pullrequest:comment_created", body: []byte(`{"comment":{}}`),
			wantIgnored: "pullrequest:comment_created: only pull requests created, updated, merged (fulfilled) or declined (rejected) start runs"},
		{name: "from a fork", key: "pullrequest:created",
			body: edit(t, created, func(ev map[string]any) {
				source(ev)["repository"] = map[string]any{"full_name": "mallory/hello"}
			}),
			wantIgnored: "pull request #42 comes from the fork mallory/hello: only pull requests from branches of acme/hello are delivered"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			got := h.deliver(t, delivery(tt.key, tt.body, sign(tt.body)))
			if got.status >= 300 {
				t.Fatalf("got %d %q, want it accepted", got.status, got.err)
			}
			if got, want := h.bb.seen(), tt.wantRequests; !reflect.DeepEqual(got, want) {
				t.Errorf("got Bitbucket requests %q, want %q", got, want)
			}
			if tt.wantName == "" {
				want := Response{Started: []Execution{}, Duplicates: []Execution{}, Ignored: []Ignored{{Reason: tt.wantIgnored}}}
				if tt.name == "from a fork" {
					want.Ignored[0].Ref = "feature/greeting"
				}
				if got.status != 200 || !reflect.DeepEqual(got.resp, want) {
					t.Errorf("got %d %+v, want 200 %+v", got.status, got.resp, want)
				}
				if names := h.executions(t); len(names) != 0 {
					t.Errorf("got executions %q, want none", names)
				}
				return
			}
			want := []Execution{{Branch: "feature/greeting", Commit: featHash, PullRequest: 42, Execution: h.execARN(tt.wantName)}}
			if got.status != 202 || !reflect.DeepEqual(got.resp.Started, want) {
				t.Fatalf("got %d %+v, want 202 started %+v", got.status, got.resp, want)
			}
			out, err := h.sfn.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(want[0].Execution)})
			if err != nil {
				t.Fatal(err)
			}
			if got := aws.ToString(out.Input); got != tt.wantInput {
				t.Errorf("got input\n%s\nwant\n%s", got, tt.wantInput)
			}
		})
	}
}

func TestPullRequestRedelivery(t *testing.T) {
	t.Parallel()
	h := setup(t)
	body := testdata(t, "pullrequest-created.json")
	first := h.deliver(t, delivery("pullrequest:created", body, sign(body)))
	if first.status != 202 || len(first.resp.Started) != 1 {
		t.Fatalf("first delivery: got %d %+v, want 202 with one started", first.status, first.resp)
	}
	// An update that changes the title and not the commit, or a
	// redelivery, starts nothing new.
	again := edit(t, body, func(ev map[string]any) { ev["pullrequest"].(map[string]any)["title"] = "Friendlier greeting, take 2" })
	for _, b := range [][]byte{body, again} {
		got := h.deliver(t, delivery("pullrequest:updated", b, sign(b)))
		if got.status != 200 || len(got.resp.Started) != 0 || !reflect.DeepEqual(got.resp.Duplicates, first.resp.Started) {
			t.Errorf("got %d %+v, want 200 with the first execution as a duplicate", got.status, got.resp)
		}
	}
	if got := h.executions(t); len(got) != 1 {
		t.Errorf("got executions %q, want 1", got)
	}
}

func TestPullRequestRefused(t *testing.T) {
	t.Parallel()
	body := testdata(t, "pullrequest-created.json")
	unknown := edit(t, body, func(ev map[string]any) { source(ev)["commit"] = map[string]any{"hash": "0beec7b5ea3f"} })
	tests := []struct {
		name       string
		opt        func(*options)
		answer     int // of Bitbucket's API
		body       []byte
		sig        string // "" means signed with the secret
		wantStatus int
		wantErr    string
		wantLog    string
		wantAPI    bool
	}{
		{name: "bad signature", body: body, sig: "sha256=" + strings.Repeat("0", 64), wantStatus: 401,
			wantErr: "X-Hub-Signature does not match the body"},
		{name: "commit unknown to Bitbucket", body: unknown, wantStatus: 500, wantAPI: true,
			wantErr: "could not resolve the commit 0beec7b5ea3f of pull request #42: 404 Not Found: check that the commit exists"},
		{name: "Bitbucket unavailable", body: body, answer: 503, wantStatus: 503, wantAPI: true,
			wantErr: "could not resolve the commit a94a8fe5ccb1 of pull request #42: Bitbucket did not answer; it will deliver again",
			wantLog: "server error (503 Service Unavailable)"},
		{name: "token refused", body: body, answer: 401, wantStatus: 500, wantAPI: true,
			wantErr: "401 Unauthorized: Bitbucket refused the token"},
		{name: "no token configured", body: body, opt: func(o *options) { o.cfg.TokenARN = "" }, wantStatus: 500,
			wantErr: "the Bitbucket token is unavailable: see the webhook function's logs", wantLog: "no secret ARN configured"},
		{name: "no id", body: edit(t, body, func(ev map[string]any) { delete(ev["pullrequest"].(map[string]any), "id") }), wantStatus: 400,
			wantErr: "body is not a valid pullrequest:created payload: pullrequest.id is missing"},
		{name: "no source branch", body: edit(t, body, func(ev map[string]any) { source(ev)["branch"] = map[string]any{} }), wantStatus: 400,
			wantErr: "pullrequest.source.branch.name is missing"},
		{name: "no commit hash", body: edit(t, body, func(ev map[string]any) { source(ev)["commit"] = map[string]any{"hash": "../x"} }), wantStatus: 400,
			wantErr: "pullrequest.source.commit.hash is not a commit hash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var opts []func(*options)
			if tt.opt != nil {
				opts = append(opts, tt.opt)
			}
			h := setup(t, opts...)
			h.bb.answer = tt.answer
			sig := tt.sig
			if sig == "" {
				sig = sign(tt.body)
			}
			got := h.deliver(t, delivery("pullrequest:created", tt.body, sig))
			if got.status != tt.wantStatus || !strings.Contains(got.err, tt.wantErr) {
				t.Errorf("got %d %q, want %d %q", got.status, got.err, tt.wantStatus, tt.wantErr)
			}
			if names := h.executions(t); len(names) != 0 {
				t.Errorf("got executions %q, want none", names)
			}
			if asked := len(h.bb.seen()) > 0; asked != tt.wantAPI {
				t.Errorf("Bitbucket's API asked: %v, want %v", asked, tt.wantAPI)
			}
			if l := h.logs.String(); !strings.Contains(l, tt.wantLog) {
				t.Errorf("logs %s: want %q", l, tt.wantLog)
			}
		})
	}
}

// A pushed tag starts a run when an environment of the default branch's
// stackflow.yml takes it, and is ignored with the reason when none does;
// a deleted tag starts nothing.
func TestTagsStartRunsWhenAnEnvironmentTakesThem(t *testing.T) {
	t.Parallel()
	h := setup(t)
	body := []byte(`{"repository":{"full_name":"acme/hello"},"push":{"changes":[
		{"old":null,"new":{"type":"tag","name":"release-7","target":{"hash":"` + mainHash + `"}},"created":true},
		{"old":null,"new":{"type":"tag","name":"nightly","target":{"hash":"` + mainHash + `"}},"created":true},
		{"old":{"type":"tag","name":"release-6","target":{"hash":"` + mainHash + `"}},"new":null,"closed":true}]}}`)
	got := h.deliver(t, delivery("repo:push", body, sign(body)))
	if got.status != 202 {
		t.Fatalf("got %d %+v, want 202", got.status, got.resp)
	}
	want := Response{
		Started:    []Execution{{Tag: "release-7", Commit: mainHash, Execution: h.execARN("hello-tag-release-7-e10dae2")}},
		Duplicates: []Execution{},
		Ignored: []Ignored{
			{Ref: "nightly", Reason: "tag nightly: no environment takes it (tags: in stackflow.yml on the default branch)"},
			{Ref: "release-6", Reason: "tag release-6 deleted: nothing to deliver"},
		},
	}
	if !reflect.DeepEqual(got.resp, want) {
		t.Errorf("got %+v\nwant %+v", got.resp, want)
	}
	out, err := h.sfn.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(got.resp.Started[0].Execution)})
	if err != nil {
		t.Fatal(err)
	}
	if in := aws.ToString(out.Input); !strings.Contains(in, `"branch":"","tag":"release-7"`) || strings.Contains(in, `"push"`) {
		t.Errorf("got input %s, want the tag's run, without a push", in)
	}

	// A broken stackflow.yml on the default branch: the tag's run starts,
	// to fail at its first step and say so on the commit.
	h.bb.mu.Lock()
	h.bb.yml = "environments:\n  - name: prod\n    tags: v*\n"
	h.bb.mu.Unlock()
	broken := []byte(`{"repository":{"full_name":"acme/hello"},"push":{"changes":[
		{"old":null,"new":{"type":"tag","name":"anything","target":{"hash":"` + featHash + `"}},"created":true}]}}`)
	got = h.deliver(t, delivery("repo:push", broken, sign(broken)))
	if got.status != 202 || len(got.resp.Started) != 1 {
		t.Errorf("with a broken stackflow.yml: got %d %+v, want the tag's run started", got.status, got.resp)
	}

	// Bitbucket out of reach: the delivery fails, to be delivered again.
	h.bb.mu.Lock()
	h.bb.answer = 503
	h.bb.mu.Unlock()
	got = h.deliver(t, delivery("repo:push", body, sign(body)))
	if got.status != 500 {
		t.Errorf("with Bitbucket down: got %d, want 500", got.status)
	}
}
