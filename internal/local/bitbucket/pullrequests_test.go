package bitbucket

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stackflow/stackflow/internal/bitbucket"
	"github.com/stackflow/stackflow/internal/pipeline"
)

// TestGetCommit resolves hashes with the real client, as the webhook does
// for a pull request's 12-character hash.
func TestGetCommit(t *testing.T) {
	t.Parallel()
	f := newRepo(t, false)
	srv := setup(t, f.dir, Options{})
	tests := []struct {
		name     string
		repo     pipeline.Repository
		hash     string
		secret   string
		want     string
		wantType string
		wantMsg  string
	}{
		{name: "twelve characters", hash: f.commits[1][:12], want: f.commits[1]},
		{name: "whole", hash: f.commits[2], want: f.commits[2]},
		{name: "seven characters", hash: f.commits[0][:7], want: f.commits[0]},
		{name: "unknown commit", hash: "0beec7b5ea3f", wantType: "SourceUnavailable", wantMsg: "404 Not Found"},
		{name: "another repository", repo: pipeline.Repository{Workspace: "acme", Slug: "other"}, hash: f.commits[1][:12], wantType: "SourceUnavailable", wantMsg: "404 Not Found"},
		{name: "wrong token", hash: f.commits[1][:12], secret: "not-the-token", wantType: "SourceUnavailable", wantMsg: "401 Unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			repo := tt.repo
			if repo == (pipeline.Repository{}) {
				repo = testRepo
			}
			secret := tt.secret
			if secret == "" {
				secret = testToken
			}
			got, err := client(t, srv, secret).Commit(context.Background(), repo, tt.hash)
			if tt.wantType == "" {
				if err != nil || got != tt.want {
					t.Errorf("got %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			var su *pipeline.SourceUnavailable
			if !errors.As(err, &su) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("got %q, %v; want a %s error about %q", got, err, tt.wantType, tt.wantMsg)
			}
		})
	}

	// The answer is Bitbucket's commit object; a miss is its error body.
	var commit struct {
		Type, Hash, Message string
		Parents             []struct{ Hash string }
	}
	getJSON(t, srv.URL()+"/2.0/repositories/acme/hello/commit/"+f.commits[1][:12], 200, &commit)
	if commit.Type != "commit" || commit.Hash != f.commits[1] || commit.Message != fixtureMessages[1]+"\n" || len(commit.Parents) != 1 || commit.Parents[0].Hash != f.commits[0] {
		t.Errorf("got %+v, want commit %s with its message and parent", commit, f.commits[1])
	}
	var miss struct {
		Type  string
		Error struct{ Message string }
	}
	getJSON(t, srv.URL()+"/2.0/repositories/acme/hello/commit/0beec7b5ea3f", 404, &miss)
	if miss.Type != "error" || miss.Error.Message != "Commit not found" {
		t.Errorf("got %+v, want Bitbucket's error body saying Commit not found", miss)
	}
}

// parsePullRequest parses a payload with the webhook's own parser and
// reads what it does not keep raw.
func parsePullRequest(t *testing.T, key bitbucket.EventKey, body []byte) (*bitbucket.PullRequestEvent, map[string]any) {
	t.Helper()
	ev, err := bitbucket.ParseEvent(key, body)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	return ev.(*bitbucket.PullRequestEvent), raw["pullrequest"].(map[string]any)
}

func TestPullRequests(t *testing.T) {
	t.Parallel()
	f := newRepo(t, false)
	runGit(t, f.dir, nil, "branch", "feature/greeting", f.commits[1])
	srv := setup(t, f.dir, Options{})
	c := client(t, srv, testToken)

	pr, err := srv.OpenPullRequest("feature/greeting", "main")
	if err != nil {
		t.Fatal(err)
	}
	if pr.ID != 1 || pr.State != PullRequestOpen || pr.Commit != f.commits[1] || pr.Title != fixtureMessages[1] {
		t.Errorf("got %+v, want #1 OPEN at %s titled %q", pr, f.commits[1], fixtureMessages[1])
	}

	check := func(key bitbucket.EventKey, wantState, wantCommit string) {
		t.Helper()
		body, err := srv.PullRequestPayload(pr.ID)
		if err != nil {
			t.Fatal(err)
		}
		ev, raw := parsePullRequest(t, key, body)
		got := ev.PullRequest
		if got.ID != 1 || got.State != wantState || got.Title != fixtureMessages[1] {
			t.Errorf("got id %d, state %s, title %q; want 1, %s, %q", got.ID, got.State, got.Title, wantState, fixtureMessages[1])
		}
		if got.Source.Branch.Name != "feature/greeting" || got.Source.Commit.Hash != wantCommit[:12] || got.Source.Repository.FullName != "acme/hello" {
			t.Errorf("got source %+v, want feature/greeting of acme/hello at %s (12 characters)", got.Source, wantCommit[:12])
		}
		if got.Destination.Branch.Name != "main" || got.Destination.Commit.Hash != f.commits[2][:12] {
			t.Errorf("got destination %+v, want main at %s", got.Destination, f.commits[2][:12])
		}
		if ev.Repository.FullName != "acme/hello" || ev.Actor.DisplayName != "Ada Lovelace" || ev.Actor.UUID == "" {
			t.Errorf("got repository %q, actor %+v; want acme/hello by Ada Lovelace", ev.Repository.FullName, ev.Actor)
		}
		if closed := raw["closed_by"] != nil; closed != (wantState != PullRequestOpen) {
			t.Errorf("got closed_by %v, want it set only once closed", raw["closed_by"])
		}
		// The webhook's lookup of the payload's hash finds the commit.
		full, err := c.Commit(context.Background(), testRepo, got.Source.Commit.Hash)
		if err != nil || full != wantCommit {
			t.Errorf("resolving %s: got %q, %v; want %s", got.Source.Commit.Hash, full, err, wantCommit)
		}
	}
	check(bitbucket.EventPullRequestCreated, PullRequestOpen, f.commits[1])

	runGit(t, f.dir, nil, "branch", "--force", "feature/greeting", f.commits[2])
	if pr, err = srv.UpdatePullRequest(pr.ID); err != nil || pr.Commit != f.commits[2] || pr.State != PullRequestOpen {
		t.Fatalf("update: got %+v, %v; want OPEN at %s", pr, err, f.commits[2])
	}
	check(bitbucket.EventPullRequestUpdated, PullRequestOpen, f.commits[2])

	if pr, err = srv.MergePullRequest(pr.ID); err != nil || pr.State != PullRequestMerged || pr.Commit != f.commits[2] {
		t.Fatalf("merge: got %+v, %v; want MERGED at %s", pr, err, f.commits[2])
	}
	check(bitbucket.EventPullRequestFulfilled, PullRequestMerged, f.commits[2])

	for name, change := range map[string]func(int) (PullRequest, error){
		"update": srv.UpdatePullRequest, "merge": srv.MergePullRequest, "decline": srv.DeclinePullRequest,
	} {
		if _, err := change(pr.ID); err == nil || !strings.Contains(err.Error(), "MERGED") {
			t.Errorf("%s of a merged pull request: got %v, want an error saying it is MERGED", name, err)
		}
	}

	second, err := srv.OpenPullRequest("feature/greeting", "main")
	if err != nil || second.ID != 2 {
		t.Fatalf("second: got %+v, %v; want #2", second, err)
	}
	if second, err = srv.DeclinePullRequest(2); err != nil || second.State != PullRequestDeclined {
		t.Errorf("decline: got %+v, %v; want DECLINED", second, err)
	}
	body, err := srv.PullRequestPayload(2)
	if err != nil {
		t.Fatal(err)
	}
	if ev, _ := parsePullRequest(t, bitbucket.EventPullRequestRejected, body); ev.PullRequest.State != PullRequestDeclined {
		t.Errorf("got state %s, want DECLINED", ev.PullRequest.State)
	}
	if got := srv.PullRequests(); len(got) != 2 || got[0].State != PullRequestMerged || got[1].State != PullRequestDeclined {
		t.Errorf("got %+v, want #1 MERGED and #2 DECLINED", got)
	}
}

func TestPullRequestErrors(t *testing.T) {
	t.Parallel()
	f := newRepo(t, false)
	srv := setup(t, f.dir, Options{})
	tests := []struct {
		name    string
		do      func() error
		wantMsg string
		wantErr error
	}{
		{name: "unknown source", do: func() error { _, err := srv.OpenPullRequest("nope", "main"); return err }, wantMsg: "branch nope is not in"},
		{name: "unknown destination", do: func() error { _, err := srv.OpenPullRequest("main", "nope"); return err }, wantMsg: "branch nope is not in"},
		{name: "into itself", do: func() error { _, err := srv.OpenPullRequest("main", "main"); return err }, wantMsg: "main into itself"},
		{name: "option-like branch", do: func() error { _, err := srv.OpenPullRequest("--all", "main"); return err }, wantMsg: `"--all" is not a branch name`},
		{name: "unknown id", do: func() error { _, err := srv.UpdatePullRequest(7); return err }, wantErr: ErrNoPullRequest},
		{name: "payload of an unknown id", do: func() error { _, err := srv.PullRequestPayload(0); return err }, wantErr: ErrNoPullRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.do()
			if err == nil || !strings.Contains(err.Error(), tt.wantMsg) || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("got %v, want an error about %q (%v)", err, tt.wantMsg, tt.wantErr)
			}
		})
	}
}
