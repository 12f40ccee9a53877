package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/stackflow/stackflow/internal/config"
	"github.com/stackflow/stackflow/internal/pipeline"
)

// gitOutput runs git in dir and returns its trimmed output, or "" when git
// is missing or dir is not in a repository.
func gitOutput(ctx context.Context, dir string, args ...string) string {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// appRoot is the root of the app dir is in: the nearest folder from dir up
// to its git repository's top that holds a stackflow.yml (an app need not
// be a repository of its own, as examples/hello shows), else dir itself.
func appRoot(ctx context.Context, dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return dir
	}
	top := gitOutput(ctx, abs, "rev-parse", "--show-toplevel")
	for d := abs; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, config.File)); err == nil {
			return d
		}
		if d == top || d == filepath.Dir(d) || top == "" {
			return abs
		}
	}
}

// currentBranch is the branch checked out in dir, or "main".
func currentBranch(ctx context.Context, dir string) string {
	b := gitOutput(ctx, dir, "rev-parse", "--abbrev-ref", "HEAD")
	if b == "" || b == "HEAD" {
		return "main"
	}
	return b
}

var remoteRepo = regexp.MustCompile(`[:/]([A-Za-z0-9._-]+)/([A-Za-z0-9._-]+?)(?:\.git)?/?$`)

// repository names the app at root: its origin remote's workspace/slug
// when root is the top of a repository with one, else local/<folder name>.
func repository(ctx context.Context, root string) pipeline.Repository {
	if gitOutput(ctx, root, "rev-parse", "--show-toplevel") == root {
		if m := remoteRepo.FindStringSubmatch(gitOutput(ctx, root, "remote", "get-url", "origin")); m != nil {
			return pipeline.Repository{Workspace: m[1], Slug: m[2]}
		}
	}
	return pipeline.Repository{Workspace: "local", Slug: filepath.Base(root)}
}
