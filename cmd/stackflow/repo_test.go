package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackflow/stackflow/internal/local"
	"github.com/stackflow/stackflow/internal/localrepo"
)

// git runs git in dir and returns its trimmed output.
func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// gitApp is writeApp's files committed to a new repository on main.
func gitApp(t *testing.T, files map[string]string) string {
	t.Helper()
	return newRepository(t, writeApp(t, files))
}

// helloApp is a copy of examples/hello committed to a new repository.
func helloApp(t *testing.T) string {
	t.Helper()
	return newRepository(t, filepath.Join("..", "..", "examples", "hello"))
}

// newRepository is a copy of src committed to a new repository on main.
func newRepository(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := local.NewRepository(context.Background(), src, dir, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestListed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		names []string
		want  string
	}{
		{[]string{"stackflow.yml"}, "stackflow.yml"},
		{[]string{"a", "b", "c", "d"}, "a, b, c, d"},
		{[]string{"a", "b", "c", "d", "e", "f"}, "a, b, c, d and 2 more"},
	}
	for _, tt := range tests {
		if got := listed(tt.names, 4); got != tt.want {
			t.Errorf("listed(%q): got %q, want %q", tt.names, got, tt.want)
		}
	}
}

// TestLocalPush: stackflow local delivers HEAD and says which uncommitted
// changes it leaves out; with --work-tree it delivers a snapshot of the
// work tree and says so; a clean work tree is not mentioned.
func TestLocalPush(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name       string
		opts       localOptions
		change     map[string]string
		wantHead   bool
		wantBranch string
		wantSaid   []string
	}{
		{name: "a clean work tree", wantHead: true, wantBranch: "main"},
		{
			name: "uncommitted changes are left out", change: map[string]string{"stackflow.yml": "environments: [typo\n", "notes.txt": "new\n"},
			wantHead: true, wantBranch: "main",
			wantSaid: []string{"are not delivered: stackflow.yml, notes.txt\n", "  this run delivers HEAD (", "), as a push would: commit them, or give --work-tree"},
		},
		{
			name: "--work-tree delivers them", opts: localOptions{workTree: true}, change: map[string]string{"hello/handler.go": "package main // wip\n"},
			wantHead: false, wantBranch: "main",
			wantSaid: []string{"are delivered (--work-tree): hello/handler.go\n", "  this run delivers the work tree as it is: commit "},
		},
		{name: "--branch names the branch pushed", opts: localOptions{branch: "release"}, wantHead: true, wantBranch: "release"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := helloApp(t)
			head := git(t, dir, "rev-parse", "HEAD")
			for name, body := range tt.change {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			app, err := localrepo.Open(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			var said bytes.Buffer
			push, err := tt.opts.push(ctx, app, &said)
			if err != nil {
				t.Fatal(err)
			}
			if (push.Commit == head) != tt.wantHead || push.Branch != tt.wantBranch || push.Dir != app.Dir || push.Repo.Slug != filepath.Base(dir) {
				t.Errorf("got %+v, want HEAD %s: %v, branch %s", push, head, tt.wantHead, tt.wantBranch)
			}
			if len(tt.wantSaid) == 0 && said.Len() > 0 {
				t.Errorf("said %q, want nothing", said.String())
			}
			for _, w := range tt.wantSaid {
				if !strings.Contains(said.String(), w) {
					t.Errorf("said %q, want %q", said.String(), w)
				}
			}
			if got := git(t, dir, "rev-parse", "HEAD"); got != head {
				t.Errorf("HEAD moved to %s, want %s", got, head)
			}
		})
	}
}

// TestLocalPreflight: what stackflow local can know without the local AWS
// it says before starting it (nothing is printed on stdout, where the local
// AWS reports itself), with what to do.
func TestLocalPreflight(t *testing.T) {
	t.Parallel()
	notGit := writeApp(t, map[string]string{"stackflow.yml": "environments: []\n"})
	noCommits := writeApp(t, map[string]string{"stackflow.yml": "environments: []\n"})
	git(t, noCommits, "init", "-q", "-b", "main")
	noConfig := gitApp(t, map[string]string{"README.md": "an app\n"})
	uncommitted := gitApp(t, map[string]string{"README.md": "an app\n"})
	if err := os.WriteFile(filepath.Join(uncommitted, "stackflow.yml"), []byte("environments: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	detached := helloApp(t)
	git(t, detached, "checkout", "-q", "--detach")
	prOnMain := helloApp(t)
	file := filepath.Join(noConfig, "README.md")
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{name: "a folder that does not exist", args: []string{"--repo", filepath.Join(notGit, "nope")},
			want: []string{"stackflow local: " + filepath.Join(notGit, "nope") + " does not exist: give the folder of an app"}},
		{name: "a file", args: []string{"--repo", file}, want: []string{file + " is a file, not a folder"}},
		{name: "not a git repository", args: []string{"--repo", notGit},
			want: []string{notGit + " is not in a git repository", "cd " + notGit + ` && git init && git add -A && git commit -m "first commit"`}},
		{name: "no commits", args: []string{"--repo", noCommits},
			want: []string{"has no commits yet", `git add -A && git commit -m "first commit"`}},
		{name: "no stackflow.yml", args: []string{"--repo", noConfig},
			want: []string{" at HEAD (", "has no stackflow.yml at its root: add one"}},
		{name: "stackflow.yml not committed", args: []string{"--repo", uncommitted},
			want: []string{"has no stackflow.yml at its root: the work tree has one that is not committed: git add stackflow.yml && git commit, or give --work-tree"}},
		{name: "a detached HEAD", args: []string{"--repo", detached},
			want: []string{"is detached at ", "check out a branch, or give --branch NAME"}},
		{name: "a pull request into its own branch", args: []string{"--repo", prOnMain, "--pull-request"},
			want: []string{"--pull-request: the branch main is the one it would merge into"}},
		{name: "a pull request of a branch that is not there", args: []string{"--repo", prOnMain, "--pull-request", "--branch", "feature/nope"},
			want: []string{"--pull-request: no branch feature/nope in "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runCLI(t, append([]string{"local"}, tt.args...)...)
			if code != 1 || out != "" {
				t.Errorf("got exit %d, stdout %q; want 1 before anything started", code, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr: got %q, want it to contain %q", errOut, w)
				}
			}
		})
	}
}
