package local

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stackflow/stackflow/internal/localrepo"
	"github.com/stackflow/stackflow/internal/pipeline"
)

// TestTheWorkTreeIsDeliveredOnlyAsASnapshot: a push of HEAD delivers HEAD
// whatever the work tree holds, as a push to Bitbucket would; a snapshot of
// the work tree (stackflow local --work-tree) is served and delivered like
// any commit, and holds the uncommitted change, while the branch, the index
// and the work tree stay as they were.
func TestTheWorkTreeIsDeliveredOnlyAsASnapshot(t *testing.T) {
	repo, dir := app(t, "worktree", nil)
	ctx, cancel := runContext(t)
	defer cancel()
	if _, err := gitIn(ctx, dir, "checkout", "-q", "-b", "feature/wip"); err != nil { // checks only: quick
		t.Fatal(err)
	}
	handler := filepath.Join(dir, "hello", "handler.go")
	old, err := os.ReadFile(handler)
	if err != nil {
		t.Fatal(err)
	}
	// An uncommitted change that breaks the app's tests.
	if err := os.WriteFile(handler, []byte(strings.Replace(string(old), `"hello from "`, `"goodbye from "`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := localrepo.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	head, _, err := a.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	snapshot, changed, err := a.Snapshot(ctx)
	if err != nil || !changed {
		t.Fatalf("snapshot: got changed %v, %v; want a commit of the change", changed, err)
	}
	statusBefore, _ := gitIn(ctx, dir, "status", "--porcelain")

	tests := []struct {
		name       string
		commit     string
		wantStatus string
		wantError  string
	}{
		{name: "HEAD, the change left out", commit: head, wantStatus: "SUCCEEDED"},
		{name: "the snapshot, the change in", commit: snapshot, wantStatus: "FAILED", wantError: "ChecksFailed"},
	}
	for _, tt := range tests {
		res, err := shared.Run(ctx, Push{Repo: repo, Dir: dir, Branch: "feature/wip", Commit: tt.commit}, nil)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if res.Status != tt.wantStatus || res.Error != tt.wantError {
			t.Errorf("%s: got %s %s: %s, want %s %s", tt.name, res.Status, res.Error, res.Cause, tt.wantStatus, tt.wantError)
		}
		if !strings.HasSuffix(res.Execution, pipeline.ExecutionName(repo, "feature/wip", tt.commit)) {
			t.Errorf("%s: got execution %s, want the one of commit %s", tt.name, res.Execution, pipeline.ShortSHA(tt.commit))
		}
	}
	if got, _ := gitIn(ctx, dir, "rev-parse", "feature/wip"); got != head {
		t.Errorf("the branch points at %s after the runs, want HEAD %s", got, head)
	}
	if got, _ := gitIn(ctx, dir, "status", "--porcelain"); got != statusBefore {
		t.Errorf("git status after the runs: got %q, want %q", got, statusBefore)
	}
}

// TestEnvironmentsAreReadFromTheDefaultBranch: the outcome's environments
// are where the pipeline deploys the push, which the default branch's
// committed stackflow.yml decides: not the work tree's, nor the delivered
// snapshot's.
func TestEnvironmentsAreReadFromTheDefaultBranch(t *testing.T) {
	repo, dir := app(t, "planned", nil)
	ctx := context.Background()
	cfg := filepath.Join(dir, "stackflow.yml")
	old, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Uncommitted: prod deploys only from a release branch.
	i := strings.LastIndex(string(old), "branches: [main]")
	if i < 0 {
		t.Fatal("examples/hello's stackflow.yml has no prod branches to change")
	}
	edited := string(old[:i]) + "branches: [release]" + string(old[i+len("branches: [main]"):])
	if err := os.WriteFile(cfg, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := localrepo.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	snapshot, _, err := a.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		commit string
		// commit the work tree to main first
		merged bool
		want   []string
	}{
		{name: "HEAD", commit: "", want: []string{"staging", "prod"}},
		{name: "the snapshot: its change to prod's branches is ignored", commit: snapshot, want: []string{"staging", "prod"}},
		{name: "the change committed to main", merged: true, want: []string{"staging"}},
	}
	for _, tt := range tests {
		if tt.merged {
			if _, err := gitIn(ctx, dir, "commit", "-q", "-am", "prod from release branches only"); err != nil {
				t.Fatal(err)
			}
		}
		envs, err := shared.environments(ctx, Push{Repo: repo, Dir: dir, Branch: "main", Commit: tt.commit})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range envs {
			got = append(got, e.Name)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: got environments %v, want %v", tt.name, got, tt.want)
		}
	}
}
