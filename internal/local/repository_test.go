package local

import (
	"context"
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
