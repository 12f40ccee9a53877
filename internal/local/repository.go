package local

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// NewRepository copies the app at src into dst, changes its files with
// edit (a path relative to the app -> a function of the old content; a
// missing file starts empty), and commits it all to a new git repository on
// branch main, returning the commit. It is how the tests and the benchmarks
// make apps to deliver; the commit's author is "stackflow", so it works on a
// machine without a git identity.
func NewRepository(ctx context.Context, src, dst string, edit map[string]func(string) string) (string, error) {
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		return "", fmt.Errorf("copy the app %s: %w", src, err)
	}
	for name, change := range edit {
		p := filepath.Join(dst, filepath.FromSlash(name))
		old, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			return "", err
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(p, []byte(change(string(old))), 0o644); err != nil {
			return "", fmt.Errorf("change %s: %w", name, err)
		}
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "."}, {"commit", "-q", "-m", "an app to deliver"}} {
		if _, err := gitIn(ctx, dst, args...); err != nil {
			return "", err
		}
	}
	return gitIn(ctx, dst, "rev-parse", "HEAD")
}

func gitIn(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=stackflow", "GIT_AUTHOR_EMAIL=stackflow@localhost",
		"GIT_COMMITTER_NAME=stackflow", "GIT_COMMITTER_EMAIL=stackflow@localhost",
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}
