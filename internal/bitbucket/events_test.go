package bitbucket

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// roundTrip marshals ev and parses it again, as the key it came with.
func roundTrip(t testing.TB, key EventKey, ev Event) Event {
	t.Helper()
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatalf("marshal %T: %v", ev, err)
	}
	again, err := ParseEvent(key, b)
	if err != nil {
		t.Fatalf("parse marshalled %T: %v\n%s", ev, err, b)
	}
	return again
}

func TestParsePush(t *testing.T) {
	t.Parallel()
	ev, err := ParseEvent(EventRepoPush, readTestdata(t, "repo-push.json"))
	if err != nil {
		t.Fatal(err)
	}
	push, ok := ev.(*PushEvent)
	if !ok {
		t.Fatalf("got %T, want *PushEvent", ev)
	}

	if got, want := push.Repo().FullName, "acme/hello"; got != want {
		t.Errorf("repository: got %q, want %q", got, want)
	}
	wantActor := Account{DisplayName: "Ada Lovelace", UUID: "{8d7c9a3e-61d4-4b5e-9f0a-2c1b3a4d5e6f}", AccountID: "557058:1f2e3d4c-5b6a-4789-8a9b-0c1d2e3f4a5b"}
	if push.Actor != wantActor {
		t.Errorf("actor: got %+v, want %+v", push.Actor, wantActor)
	}

	type change struct {
		old, new        string // "type name hash", or "" for nil
		created, closed bool
		commits         int
	}
	describe := func(r *Ref) string {
		if r == nil {
			return ""
		}
		return string(r.Type) + " " + r.Name + " " + r.Target.Hash
	}
	want := []change{
		{old: "branch main 9fceb02d0ae598e95dc970b74767f19372d61af8", new: "branch main e10dae226959c2194f2b07b077c07762d93821cf", commits: 2},
		{new: "branch feature/greeting a94a8fe5ccb19ba61c4c0873d391e987982fbbd3", created: true, commits: 1},
		{old: "branch old-experiment 0beec7b5ea3f0fdbc95d0dd47f3c5bc275da8a33", closed: true},
		{new: "tag v1.2.0 e10dae226959c2194f2b07b077c07762d93821cf", created: true},
	}
	if len(push.Push.Changes) != len(want) {
		t.Fatalf("got %d changes, want %d", len(push.Push.Changes), len(want))
	}
	for i, c := range push.Push.Changes {
		got := change{old: describe(c.Old), new: describe(c.New), created: c.Created, closed: c.Closed, commits: len(c.Commits)}
		if got != want[i] {
			t.Errorf("change %d: got %+v, want %+v", i, got, want[i])
		}
	}
	if got, want := push.Push.Changes[0].Commits[1].Message, "Read the name from the query\n"; got != want {
		t.Errorf("commit message: got %q, want %q", got, want)
	}

	if again := roundTrip(t, EventRepoPush, ev); !reflect.DeepEqual(again, ev) {
		t.Errorf("round trip: got %+v, want %+v", again, ev)
	}
}

func TestParsePullRequest(t *testing.T) {
	t.Parallel()
	body := readTestdata(t, "pullrequest-created.json")
	for _, key := range []EventKey{EventPullRequestCreated, EventPullRequestUpdated, EventPullRequestFulfilled, EventPullRequestRejected} {
		t.Run(string(key), func(t *testing.T) {
			t.Parallel()
			ev, err := ParseEvent(key, body)
			if err != nil {
				t.Fatal(err)
			}
			pr, ok := ev.(*PullRequestEvent)
			if !ok {
				t.Fatalf("got %T, want *PullRequestEvent", ev)
			}
			got := pr.PullRequest
			if got.ID != 42 || got.State != "OPEN" || got.Title != "Friendlier greeting" {
				t.Errorf("got id %d, state %q, title %q; want 42, OPEN, Friendlier greeting", got.ID, got.State, got.Title)
			}
			if got.Source.Branch.Name != "feature/greeting" || got.Source.Commit.Hash != "a94a8fe5ccb1" {
				t.Errorf("source: got %+v, want feature/greeting at a94a8fe5ccb1", got.Source)
			}
			if got.Destination.Branch.Name != "main" || got.Destination.Repository.FullName != "acme/hello" {
				t.Errorf("destination: got %+v, want main of acme/hello", got.Destination)
			}
			if pr.Repo().FullName != "acme/hello" {
				t.Errorf("repository: got %q, want acme/hello", pr.Repo().FullName)
			}
			if again := roundTrip(t, key, ev); !reflect.DeepEqual(again, ev) {
				t.Errorf("round trip: got %+v, want %+v", again, ev)
			}
		})
	}
}

func TestParseClosedPullRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key       EventKey
		file      string
		wantState string
	}{
		{EventPullRequestFulfilled, "pullrequest-fulfilled.json", "MERGED"},
		{EventPullRequestRejected, "pullrequest-rejected.json", "DECLINED"},
	}
	for _, tt := range tests {
		t.Run(string(tt.key), func(t *testing.T) {
			t.Parallel()
			ev, err := ParseEvent(tt.key, readTestdata(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got := ev.(*PullRequestEvent).PullRequest
			if got.ID != 42 || got.State != tt.wantState || got.Source.Commit.Hash != "a94a8fe5ccb1" || got.Source.Branch.Name != "feature/greeting" {
				t.Errorf("got id %d, state %q, source %+v; want 42, %s, feature/greeting at a94a8fe5ccb1", got.ID, got.State, got.Source, tt.wantState)
			}
		})
	}
}

func TestParseEventErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		key     EventKey
		body    string
		wantErr error
		wantMsg string
	}{
		{name: "unknown key", key: "issue:created", body: `{}`, wantErr: ErrUnknownEvent, wantMsg: `"issue:created"`},
		{name: "empty key", key: "", body: `{}`, wantErr: ErrUnknownEvent},
		{name: "long unknown key is cut", key: EventKey(strings.Repeat("x", 500)), body: `{}`, wantErr: ErrUnknownEvent, wantMsg: "xxx...\""},
		{name: "empty body", key: EventRepoPush, body: ``, wantErr: ErrMalformedPayload},
		{name: "not JSON", key: EventRepoPush, body: `push=1`, wantErr: ErrMalformedPayload},
		{name: "JSON array", key: EventRepoPush, body: `[]`, wantErr: ErrMalformedPayload},
		{name: "null", key: EventRepoPush, body: `null`, wantErr: ErrMalformedPayload, wantMsg: "no repository.full_name"},
		{name: "no repository", key: EventRepoPush, body: `{"push":{"changes":[]}}`, wantErr: ErrMalformedPayload},
		{name: "wrong shape", key: EventRepoPush, body: `{"repository":{"full_name":"a/b"},"push":{"changes":{}}}`, wantErr: ErrMalformedPayload},
		{name: "pull request without repository", key: EventPullRequestCreated, body: `{"pullrequest":{"id":1}}`, wantErr: ErrMalformedPayload},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev, err := ParseEvent(tt.key, []byte(tt.body))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got %v, %v; want error %v", ev, err, tt.wantErr)
			}
			if ev != nil {
				t.Errorf("got event %+v with an error, want nil", ev)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.wantMsg) || len(msg) > 300 {
				t.Errorf("got message %q, want one shorter than 300 containing %q", msg, tt.wantMsg)
			}
		})
	}
}

// FuzzParseEvent checks that no body makes ParseEvent panic, that it fails
// only with its two documented errors, and that what it parses survives a
// round trip. The seed corpus runs in every go test.
func FuzzParseEvent(f *testing.F) {
	f.Add(string(EventRepoPush), readTestdata(f, "repo-push.json"))
	f.Add(string(EventPullRequestCreated), readTestdata(f, "pullrequest-created.json"))
	f.Add(string(EventRepoPush), readTestdata(f, "pullrequest-created.json"))
	f.Add(string(EventRepoPush), []byte(`{"repository":{"full_name":"a/b"},"push":{"changes":[{"new":null,"old":null}]}}`))
	f.Add(string(EventPullRequestFulfilled), []byte(`{"repository":{"full_name":"a/b"},"pullrequest":{"id":-1}}`))
	f.Add("repo:fork", []byte(`{}`))
	f.Add(string(EventRepoPush), []byte(``))
	f.Add(string(EventRepoPush), []byte(`{"repository":{"full_name":"\ud800"}}`))

	f.Fuzz(func(t *testing.T, key string, body []byte) {
		ev, err := ParseEvent(EventKey(key), body)
		if err != nil {
			if !errors.Is(err, ErrUnknownEvent) && !errors.Is(err, ErrMalformedPayload) {
				t.Fatalf("got error %v, want ErrUnknownEvent or ErrMalformedPayload", err)
			}
			return
		}
		if ev.Repo().FullName == "" {
			t.Fatal("parsed an event without a repository")
		}
		if again := roundTrip(t, EventKey(key), ev); !reflect.DeepEqual(again, ev) {
			t.Fatalf("round trip: got %+v, want %+v", again, ev)
		}
	})
}
