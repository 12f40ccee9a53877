package bitbucket

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stackflow/stackflow/internal/bitbucket"
)

// TestPushPayload checks that the payload parses with the webhook's own
// parser into the push of the branch to the commit, with the details a
// receiver reads from Bitbucket's payloads.
func TestPushPayload(t *testing.T) {
	t.Parallel()
	f := newRepo(t, false)
	srv := setup(t, f.dir, Options{})
	tests := []struct {
		name        string
		branch      string
		commit      int
		sha         string
		wantOld     string
		wantCreated bool
	}{
		{name: "push to main", branch: "main", commit: 2, wantOld: f.commits[1]},
		{name: "abbreviated hash", branch: "main", commit: 2, sha: f.commits[2][:7], wantOld: f.commits[1]},
		{name: "feature branch", branch: "feature/greeting", commit: 1, wantOld: f.commits[0]},
		{name: "first commit creates the branch", branch: "main", commit: 0, wantCreated: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sha := f.commits[tt.commit]
			if tt.sha == "" {
				tt.sha = sha
			}
			body, err := srv.PushPayload(tt.branch, tt.sha)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := bitbucket.ParseEvent(bitbucket.EventRepoPush, body)
			if err != nil {
				t.Fatal(err)
			}
			push, ok := ev.(*bitbucket.PushEvent)
			if !ok {
				t.Fatalf("got %T, want *bitbucket.PushEvent", ev)
			}
			if got, want := push.Repository.FullName, "acme/hello"; got != want {
				t.Errorf("got repository %q, want %q", got, want)
			}
			if push.Actor.DisplayName != "Ada Lovelace" || push.Actor.UUID == "" || push.Actor.AccountID == "" {
				t.Errorf("got actor %+v, want Ada Lovelace with a UUID and an account ID", push.Actor)
			}
			if len(push.Push.Changes) != 1 {
				t.Fatalf("got %d changes, want 1", len(push.Push.Changes))
			}
			c := push.Push.Changes[0]
			wantNew := &bitbucket.Ref{Type: bitbucket.RefBranch, Name: tt.branch, Target: bitbucket.Commit{Hash: sha, Message: fixtureMessages[tt.commit] + "\n"}}
			if !reflect.DeepEqual(c.New, wantNew) {
				t.Errorf("got new %+v, want %+v", c.New, wantNew)
			}
			switch {
			case tt.wantOld == "" && c.Old != nil:
				t.Errorf("got old %+v, want none", c.Old)
			case tt.wantOld != "" && (c.Old == nil || c.Old.Target.Hash != tt.wantOld || c.Old.Name != tt.branch):
				t.Errorf("got old %+v, want %s at %s", c.Old, tt.branch, tt.wantOld)
			}
			if c.Created != tt.wantCreated || c.Closed || c.Forced || c.Truncated {
				t.Errorf("got created %v closed %v forced %v truncated %v, want created %v and nothing else",
					c.Created, c.Closed, c.Forced, c.Truncated, tt.wantCreated)
			}
			if len(c.Commits) != 1 || c.Commits[0].Hash != sha {
				t.Errorf("got commits %+v, want only %s", c.Commits, sha)
			}

			// What ParseEvent does not keep, read raw.
			var raw struct {
				Push struct {
					Changes []struct {
						New struct {
							Target struct {
								Type   string `json:"type"`
								Date   string `json:"date"`
								Author struct {
									Raw string `json:"raw"`
								} `json:"author"`
							} `json:"target"`
						} `json:"new"`
					} `json:"changes"`
				} `json:"push"`
				Repository struct {
					UUID string `json:"uuid"`
					Name string `json:"name"`
				} `json:"repository"`
			}
			if err := json.Unmarshal(body, &raw); err != nil {
				t.Fatal(err)
			}
			target := raw.Push.Changes[0].New.Target
			if target.Type != "commit" || target.Date != fixtureDates[tt.commit] || target.Author.Raw != "Ada Lovelace <ada@example.com>" {
				t.Errorf("got target %+v, want a commit of %s by Ada Lovelace <ada@example.com>", target, fixtureDates[tt.commit])
			}
			if raw.Repository.Name != "hello" || !strings.HasPrefix(raw.Repository.UUID, "{") {
				t.Errorf("got repository %+v, want hello with a {UUID}", raw.Repository)
			}
		})
	}
}

func TestPushPayloadErrors(t *testing.T) {
	t.Parallel()
	f := newRepo(t, false)
	srv := setup(t, f.dir, Options{})
	tests := []struct {
		name    string
		branch  string
		sha     string
		wantErr string
	}{
		{name: "no branch", branch: "", sha: f.commits[2], wantErr: "a branch name is needed"},
		{name: "detached HEAD as a branch", branch: "HEAD", sha: f.commits[2], wantErr: "a branch name is needed"},
		{name: "unknown commit", branch: "main", sha: "0beec7b5ea3f0fdbc95d0dd47f3c5bc275da8a33", wantErr: "no such commit"},
		{name: "not a hash", branch: "main", sha: "main", wantErr: "no such commit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := srv.PushPayload(tt.branch, tt.sha)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// receiver is a webhook endpoint that answers from a script and records
// what it is sent.
type receiver struct {
	URL string

	mu       sync.Mutex
	answers  []int
	requests []*http.Request
	bodies   [][]byte
}

func newReceiver(t *testing.T, answers ...int) *receiver {
	t.Helper()
	r := &receiver{answers: answers}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		n := len(r.requests)
		r.requests = append(r.requests, req)
		r.bodies = append(r.bodies, body)
		code := http.StatusOK
		if n < len(r.answers) {
			code = r.answers[n]
		}
		r.mu.Unlock()
		w.WriteHeader(code)
		io.WriteString(w, `{"attempt":`+strconv.Itoa(n+1)+`}`)
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL + "/webhook"
	return r
}

func (r *receiver) seen() ([]*http.Request, [][]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests, r.bodies
}

// TestDeliver checks each attempt's headers and signature, and that 5xx
// answers are redelivered up to three attempts in all.
func TestDeliver(t *testing.T) {
	t.Parallel()
	f := newRepo(t, false)
	srv := setup(t, f.dir, Options{})
	body, err := srv.PushPayload("main", f.commits[2])
	if err != nil {
		t.Fatal(err)
	}
	const secret = "webhook-secret-for-tests"
	tests := []struct {
		name         string
		secret       string
		answers      []int
		wantStatus   int
		wantAttempts int
	}{
		{name: "accepted at once", secret: secret, answers: []int{202}, wantStatus: 202, wantAttempts: 1},
		{name: "503 then accepted", secret: secret, answers: []int{503, 202}, wantStatus: 202, wantAttempts: 2},
		{name: "two server errors then accepted", secret: secret, answers: []int{500, 502, 200}, wantStatus: 200, wantAttempts: 3},
		{name: "always 503", secret: secret, answers: []int{503, 503, 503, 503}, wantStatus: 503, wantAttempts: 3},
		{name: "client error is not redelivered", secret: secret, answers: []int{401, 200}, wantStatus: 401, wantAttempts: 1},
		{name: "no secret, no signature", secret: "", answers: []int{200}, wantStatus: 200, wantAttempts: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rcv := newReceiver(t, tt.answers...)
			status, answer, err := srv.Deliver(context.Background(), rcv.URL, tt.secret, bitbucket.EventRepoPush, body)
			if err != nil {
				t.Fatal(err)
			}
			if status != tt.wantStatus {
				t.Errorf("got status %d, want %d", status, tt.wantStatus)
			}
			if want := `{"attempt":` + strconv.Itoa(tt.wantAttempts) + `}`; string(answer) != want {
				t.Errorf("got answer %s, want %s", answer, want)
			}
			reqs, bodies := rcv.seen()
			if len(reqs) != tt.wantAttempts {
				t.Fatalf("got %d attempts, want %d", len(reqs), tt.wantAttempts)
			}
			requestUUID := reqs[0].Header.Get(bitbucket.HeaderRequestUUID)
			if len(requestUUID) != 36 {
				t.Errorf("got X-Request-UUID %q, want a UUID", requestUUID)
			}
			for i, req := range reqs {
				h := req.Header
				want := map[string]string{
					"Method":                      http.MethodPost,
					"Path":                        "/webhook",
					bitbucket.HeaderEventKey:      "repo:push",
					bitbucket.HeaderRequestUUID:   requestUUID,
					bitbucket.HeaderHookUUID:      srv.HookUUID(),
					bitbucket.HeaderAttemptNumber: strconv.Itoa(i + 1),
					"User-Agent":                  "Bitbucket-Webhooks/2.0",
					"Content-Type":                "application/json",
				}
				got := map[string]string{"Method": req.Method, "Path": req.URL.Path}
				for k := range want {
					if k != "Method" && k != "Path" {
						got[k] = h.Get(k)
					}
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("attempt %d: got %v, want %v", i+1, got, want)
				}
				if string(bodies[i]) != string(body) {
					t.Errorf("attempt %d: got a body other than the payload", i+1)
				}
				sig := h.Get(bitbucket.HeaderSignature)
				if tt.secret == "" {
					if sig != "" {
						t.Errorf("attempt %d: got a signature without a secret", i+1)
					}
					continue
				}
				if err := bitbucket.VerifySignature([]byte(tt.secret), bodies[i], sig); err != nil {
					t.Errorf("attempt %d: signature: %v", i+1, err)
				}
			}
		})
	}
}

// TestDeliverRequestUUIDs checks that each delivery has its own request
// UUID, that Redeliver keeps the one it is given, and that the hook UUID is
// the server's.
func TestDeliverRequestUUIDs(t *testing.T) {
	t.Parallel()
	f := newRepo(t, false)
	srv := setup(t, f.dir, Options{})
	rcv := newReceiver(t)
	body := []byte(`{}`)
	ctx := context.Background()
	const given = "0f6a1c2e-9b3d-4e5f-8a7b-6c5d4e3f2a1b"
	for _, deliver := range []func() (int, []byte, error){
		func() (int, []byte, error) { return srv.Deliver(ctx, rcv.URL, "s", bitbucket.EventRepoPush, body) },
		func() (int, []byte, error) { return srv.Deliver(ctx, rcv.URL, "s", bitbucket.EventRepoPush, body) },
		func() (int, []byte, error) {
			return srv.Redeliver(ctx, given, rcv.URL, "s", bitbucket.EventRepoPush, body)
		},
	} {
		if _, _, err := deliver(); err != nil {
			t.Fatal(err)
		}
	}
	reqs, _ := rcv.seen()
	var got []string
	for _, r := range reqs {
		got = append(got, r.Header.Get(bitbucket.HeaderRequestUUID))
		if h := r.Header.Get(bitbucket.HeaderHookUUID); h != srv.HookUUID() {
			t.Errorf("got X-Hook-UUID %q, want %q", h, srv.HookUUID())
		}
	}
	if len(got) != 3 || got[0] == got[1] || got[2] != given {
		t.Errorf("got request UUIDs %q, want two different ones, then %q", got, given)
	}
}

func TestDeliverErrors(t *testing.T) {
	t.Parallel()
	f := newRepo(t, false)
	srv := setup(t, f.dir, Options{})
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		url     string
		body    []byte
		wantErr string
	}{
		{name: "no answer", ctx: context.Background(), url: closed.URL, body: []byte(`{}`), wantErr: "deliver repo:push (attempt 1): no answer (NETWORK ERROR)"},
		{name: "cancelled", ctx: ctx, url: closed.URL, body: []byte(`{}`), wantErr: "context canceled"},
		{name: "payload too large", ctx: context.Background(), url: closed.URL, body: make([]byte, bitbucket.MaxPayloadBytes+1), wantErr: "over Bitbucket's 256 KiB"},
		{name: "bad URL", ctx: context.Background(), url: "://nowhere", body: []byte(`{}`), wantErr: "webhook URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := srv.Deliver(tt.ctx, tt.url, "webhook-secret", bitbucket.EventRepoPush, tt.body)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got error %v, want one containing %q", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "webhook-secret") {
				t.Errorf("error %q holds the secret", err)
			}
		})
	}
}
