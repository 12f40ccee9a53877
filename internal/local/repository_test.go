package local

import (
	"context"
	"github.com/stackflow/stackflow/internal/pipeline"
	"os"
	"path/filepath"
	"testing"
)

func TestNewRepository(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src, dst := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "stackflow.yml"), []byte("version: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	commit, err := NewRepository(ctx, src, dst, map[string]func(string) string{
		"stackflow.yml": func(s string) string { return s + "checks: []\n" },
		"docs/NOTES.md": func(s string) string { return s + "new\n" },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(commit) != 40 {
		t.Errorf("got commit %q, want a full hash", commit)
	}
	if got, _ := gitIn(ctx, dst, "show", "HEAD:stackflow.yml"); got != "version: 1\nchecks: []" {
		t.Errorf("committed stackflow.yml: got %q", got)
	}
	if got, _ := gitIn(ctx, dst, "show", "HEAD:docs/NOTES.md"); got != "new" {
		t.Errorf("committed docs/NOTES.md: got %q, want the new file", got)
	}
	if st, _ := gitIn(ctx, dst, "status", "--porcelain"); st != "" {
		t.Errorf("the work tree is not clean: %q", st)
	}
}

// TestRepositoryFollowsItsFolder: a repository named again with another
// folder is served from the new folder.
func TestRepositoryFollowsItsFolder(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "stackflow.yml"), []byte("version: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	first, second := t.TempDir(), t.TempDir()
	c1, err := NewRepository(ctx, src, first, nil)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := NewRepository(ctx, src, second, map[string]func(string) string{"NEW": func(string) string { return "x" }})
	if err != nil {
		t.Fatal(err)
	}
	repo := pipeline.Repository{Workspace: "acme", Slug: "moving"}
	a, err := shared.Repository(repo, first)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := shared.Repository(repo, first); again != a {
		t.Error("the same folder got a second stand-in")
	}
	b, err := shared.Repository(repo, second)
	if err != nil {
		t.Fatal(err)
	}
	if sha, _, err := b.Head(); err != nil || sha != c2 || sha == c1 {
		t.Errorf("after moving: HEAD %s, %v; want the second folder's %s", sha, err, c2)
	}
}
