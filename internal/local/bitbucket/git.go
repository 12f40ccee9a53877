package bitbucket

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/stackflow/stackflow/internal/localrepo"
)

// errNoCommit is a name that is not a commit of the repository.
var errNoCommit = errors.New("no such commit")

// repoGit runs git in one repository.
type repoGit struct {
	// top is the repository's top-level directory.
	top string
}

// openRepo finds the repository that holds dir and dir's path relative to
// its top, in slash form, "" at the top.
func openRepo(ctx context.Context, dir string) (repoGit, string, error) {
	if _, err := exec.LookPath("git"); err != nil {
		return repoGit{}, "", errors.New("git is not installed or not on PATH: the local Bitbucket serves commits with git")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return repoGit{}, "", fmt.Errorf("open repository %s: %w", dir, err)
	}
	out, err := repoGit{top: abs}.run(ctx, "rev-parse", "--show-toplevel", "--show-prefix")
	if err != nil {
		return repoGit{}, "", fmt.Errorf("open repository: %s is not inside a git work tree: %w", abs, err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	top := lines[0]
	prefix := ""
	if len(lines) > 1 {
		prefix = strings.TrimSuffix(lines[1], "/")
	}
	if top == "" || prefix != path.Clean("/" + prefix)[1:] {
		return repoGit{}, "", fmt.Errorf("open repository %s: git answered an unexpected top %q and folder %q", abs, top, prefix)
	}
	return repoGit{top: top}, prefix, nil
}

// run runs git with args in the repository and returns its standard
// output. Its error holds git's message, which names no secret.
func (g repoGit) run(ctx context.Context, args ...string) ([]byte, error) {
	return localrepo.Git(ctx, g.top, nil, args...)
}

// resolve returns the full hash of the commit that sha, a hexadecimal hash
// of at least 7 digits, names; an error wrapping errNoCommit when it names
// none (or names a tree or a blob, or is ambiguous).
func (g repoGit) resolve(ctx context.Context, sha string) (string, error) {
	if !isHex(sha) || len(sha) < 7 || len(sha) > 64 {
		return "", fmt.Errorf("%q: %w", sha, errNoCommit)
	}
	out, err := g.run(ctx, "rev-parse", "--verify", "--quiet", strings.ToLower(sha)+"^{commit}")
	if err != nil {
		// --quiet: a name that is not a commit exits 1 with no message.
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 1 {
			return "", fmt.Errorf("%s: %w", sha, errNoCommit)
		}
		return "", fmt.Errorf("resolve %s: %w", sha, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// branch returns the full hash of the commit at the head of branch name;
// an error wrapping errNoCommit when there is no such branch.
func (g repoGit) branch(ctx context.Context, name string) (string, error) {
	if name == "" || strings.HasPrefix(name, "-") {
		return "", fmt.Errorf("branch %q: %w", name, errNoCommit)
	}
	out, err := g.run(ctx, "rev-parse", "--verify", "--quiet", "refs/heads/"+name+"^{commit}")
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 1 {
			return "", fmt.Errorf("branch %q: %w", name, errNoCommit)
		}
		return "", fmt.Errorf("read branch %s: %w", name, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// objectType returns git's type of the object name ("tree", "blob", ...),
// or "" when there is none.
func (g repoGit) objectType(ctx context.Context, name string) string {
	out, err := g.run(ctx, "cat-file", "-t", name)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// commitInfo is what a payload tells of a commit.
type commitInfo struct {
	Hash    string
	Parents []string
	Author  string // "Name <email>"
	Name    string
	Email   string
	Date    string // strict ISO 8601, as Bitbucket writes dates
	Message string // ends in one newline, as Bitbucket sends it
}

// commit reads the commit whose full hash is hash.
func (g repoGit) commit(ctx context.Context, hash string) (commitInfo, error) {
	out, err := g.run(ctx, "log", "-1", "--no-show-signature", "--format=%H%x00%P%x00%an%x00%ae%x00%aI%x00%B", hash)
	if err != nil {
		return commitInfo{}, fmt.Errorf("read commit %s: %w", hash, err)
	}
	f := strings.SplitN(string(out), "\x00", 6)
	if len(f) != 6 {
		return commitInfo{}, fmt.Errorf("read commit %s: unexpected output of git log", hash)
	}
	return commitInfo{
		Hash:    f[0],
		Parents: strings.Fields(f[1]),
		Author:  f[2] + " <" + f[3] + ">",
		Name:    f[2],
		Email:   f[3],
		Date:    f[4],
		Message: strings.TrimRight(f[5], "\n") + "\n",
	}, nil
}

// Head returns the repository's HEAD commit and its checked-out branch. A
// detached HEAD or a repository without commits is an error that says what
// to do.
func (s *Server) Head() (sha, branch string, err error) {
	ctx := context.Background()
	out, err := s.git.run(ctx, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
	if err != nil {
		return "", "", fmt.Errorf("read HEAD of %s: the repository has no commits yet: commit the app first", s.git.top)
	}
	sha = strings.TrimSpace(string(out))
	out, err = s.git.run(ctx, "symbolic-ref", "--quiet", "--short", "HEAD")
	branch = strings.TrimSpace(string(out))
	if err != nil || branch == "" || branch == "HEAD" {
		return "", "", fmt.Errorf("read HEAD of %s: HEAD is detached at %s, not on a branch: check out a branch or pass one", s.git.top, sha[:7])
	}
	return sha, branch, nil
}

func isHex(s string) bool {
	for _, r := range s {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F') {
			return false
		}
	}
	return s != ""
}
