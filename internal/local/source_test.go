package local

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stackflow/stackflow/internal/localrepo"
)

// TestSourceSkip: the pipeline's source archive holds what git would
// deliver, tracked or not, and nothing it ignores (a Python venv whose
// links point out of the tree, build outputs), nor .git or the examples;
// outside a git work tree, the usual suspects stay out.
func TestSourceSkip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	for name, body := range map[string]string{
		".gitignore":            "/.venv/\n/stackflow\n",
		"go.mod":                "module github.com/stackflow/stackflow\n",
		"internal/a/a.go":       "package a\n",
		"internal/a/new.go":     "package a\n", // untracked, not ignored
		"examples/hello/go.mod": "module hello\n",
		".venv/pyvenv.cfg":      "home = /usr\n",
		"stackflow":             "a binary built at the root\n",
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/usr/bin/python3", filepath.Join(dir, ".venv", "python3")); err != nil {
		t.Fatal(err)
	}
	plain := sourceSkip(ctx, dir) // not a git work tree yet
	for _, args := range [][]string{{"init", "-q"}, {"add", ".gitignore", "go.mod", "internal/a/a.go", "examples"}} {
		if _, err := localrepo.Git(ctx, dir, nil, args...); err != nil {
			t.Fatal(err)
		}
	}
	inGit := sourceSkip(ctx, dir)

	tests := []struct {
		rel             string
		outside, inRepo bool // skipped
	}{
		{".gitignore", false, false},
		{"go.mod", false, false},
		{"internal", false, false},
		{"internal/a", false, false},
		{"internal/a/a.go", false, false},
		{"internal/a/new.go", false, false},
		{".git", true, true},
		{"examples", true, true},
		{".venv", true, true},
		{"stackflow", false, true},
	}
	for _, tt := range tests {
		if got := plain(tt.rel); got != tt.outside {
			t.Errorf("outside git, %s: got skipped %v, want %v", tt.rel, got, tt.outside)
		}
		if got := inGit(tt.rel); got != tt.inRepo {
			t.Errorf("in a git work tree, %s: got skipped %v, want %v", tt.rel, got, tt.inRepo)
		}
	}
}
