package localrepo

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// runGit runs git in dir as a fixed person, with no user or system
// configuration, and returns its trimmed output.
func runGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=Ada", "GIT_AUTHOR_EMAIL=ada@example.com", "GIT_AUTHOR_DATE=2026-05-04T10:00:00Z",
		"GIT_COMMITTER_NAME=Ada", "GIT_COMMITTER_EMAIL=ada@example.com", "GIT_COMMITTER_DATE=2026-05-04T10:00:00Z",
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// newRepo makes a repository with an app in apps/hello and a file outside
// it, committed once on main, and returns its top and the commit.
func newRepo(t *testing.T) (top, commit string) {
	t.Helper()
	top = t.TempDir()
	write(t, top, map[string]string{
		"README.md":                   "the repository\n",
		".gitignore":                  "*.log\n",
		"apps/hello/stackflow.yml":    "environments: []\n",
		"apps/hello/template.yaml":    "Resources: {}\n",
		"apps/hello/hello/main.go":    "package main\n",
		"apps/hello/hello/handler.go": "package main // handler\n",
	})
	runGit(t, top, "init", "-q", "-b", "main")
	runGit(t, top, "add", "-A")
	runGit(t, top, "commit", "-q", "-m", "first commit")
	return top, runGit(t, top, "rev-parse", "HEAD")
}

func TestOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	top, _ := newRepo(t)
	bare := t.TempDir()
	write(t, bare, map[string]string{"stackflow.yml": "environments: []\n"})
	file := filepath.Join(bare, "stackflow.yml")
	tests := []struct {
		name       string
		dir        string
		wantDir    string
		wantPrefix string
		wantErr    []string
		wantNotGit bool
	}{
		{name: "the app's folder", dir: filepath.Join(top, "apps", "hello"), wantDir: filepath.Join(top, "apps", "hello"), wantPrefix: "apps/hello"},
		{name: "a folder in the app finds its root", dir: filepath.Join(top, "apps", "hello", "hello"), wantDir: filepath.Join(top, "apps", "hello"), wantPrefix: "apps/hello"},
		{name: "a folder with no stackflow.yml above it is the app", dir: filepath.Join(top, "apps"), wantDir: filepath.Join(top, "apps"), wantPrefix: "apps"},
		{name: "the top", dir: top, wantDir: top, wantPrefix: ""},
		{name: "a missing folder", dir: filepath.Join(top, "nope"), wantErr: []string{filepath.Join(top, "nope") + " does not exist", "give the folder of an app"}},
		{name: "a file", dir: file, wantErr: []string{file + " is a file, not a folder"}},
		{name: "not a repository", dir: bare, wantNotGit: true,
			wantErr: []string{bare + " is not in a git repository", "cd " + bare + ` && git init && git add -A && git commit -m "first commit"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			app, err := Open(ctx, tt.dir)
			if len(tt.wantErr) > 0 {
				var p *Problem
				if err == nil || !errors.As(err, &p) {
					t.Fatalf("got error %v, want a Problem", err)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("got error %q, want it to contain %q", err, w)
					}
				}
				if got := errors.Is(err, ErrNotRepository); got != tt.wantNotGit {
					t.Errorf("errors.Is(err, ErrNotRepository): got %v, want %v", got, tt.wantNotGit)
				}
				if tt.wantNotGit && (app == nil || app.Dir != tt.dir) {
					t.Errorf("got app %+v, want the folder %s to read as it is", app, tt.dir)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !same(app.Dir, tt.wantDir) || app.Prefix != tt.wantPrefix || !same(app.Top, top) {
				t.Errorf("got %+v, want dir %s, prefix %q, top %s", app, tt.wantDir, tt.wantPrefix, top)
			}
		})
	}
}

func TestHead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	top, commit := newRepo(t)
	app, err := Open(ctx, filepath.Join(top, "apps", "hello"))
	if err != nil {
		t.Fatal(err)
	}
	sha, branch, err := app.Head(ctx)
	if err != nil || sha != commit || branch != "main" {
		t.Errorf("got %s %q %v, want %s on main", sha, branch, err, commit)
	}
	runGit(t, top, "checkout", "-q", "--detach")
	if _, branch, err := app.Head(ctx); err != nil || branch != "" {
		t.Errorf("detached: got branch %q, %v; want none", branch, err)
	}

	empty := t.TempDir()
	runGit(t, empty, "init", "-q", "-b", "main")
	app, err = Open(ctx, empty)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = app.Head(ctx)
	if !errors.Is(err, ErrNoCommits) || !strings.Contains(err.Error(), `git add -A && git commit -m "first commit"`) {
		t.Errorf("no commits: got %v, want ErrNoCommits saying how to commit", err)
	}
}

func TestChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name   string
		change func(t *testing.T, top string)
		want   []string
	}{
		{name: "a clean work tree", change: func(*testing.T, string) {}, want: nil},
		{
			name: "modified, staged, deleted, untracked, ignored and outside the app",
			change: func(t *testing.T, top string) {
				write(t, top, map[string]string{
					"apps/hello/stackflow.yml": "environments: [typo\n",
					"apps/hello/template.yaml": "Resources: {A: {Type: AWS::SQS::Queue}}\n",
					"apps/hello/new/one.go":    "package new\n",
					"apps/hello/new/two.go":    "package new\n",
					"apps/hello/debug.log":     "ignored\n",
					"README.md":                "outside the app\n",
				})
				runGit(t, top, "add", "apps/hello/template.yaml")
				if err := os.Remove(filepath.Join(top, "apps", "hello", "hello", "main.go")); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"hello/main.go", "stackflow.yml", "template.yaml", "new/"},
		},
		{
			name: "a rename",
			change: func(t *testing.T, top string) {
				runGit(t, top, "mv", "apps/hello/hello/handler.go", "apps/hello/hello/greet.go")
			},
			want: []string{"hello/greet.go"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			top, _ := newRepo(t)
			tt.change(t, top)
			app, err := Open(ctx, filepath.Join(top, "apps", "hello"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := app.Changes(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSnapshot checks that a snapshot holds the app's folder as the work
// tree has it (untracked files too, ignored ones not), the rest as in HEAD,
// that the same work tree makes the same commit, and that the index, the
// work tree and the refs are left alone.
func TestSnapshot(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	top, head := newRepo(t)
	app, err := Open(ctx, filepath.Join(top, "apps", "hello"))
	if err != nil {
		t.Fatal(err)
	}
	if sha, changed, err := app.Snapshot(ctx); err != nil || changed || sha != head {
		t.Errorf("clean: got %s, changed %v, %v; want HEAD %s unchanged", sha, changed, err, head)
	}

	write(t, top, map[string]string{
		"apps/hello/stackflow.yml": "environments: [typo\n",
		"apps/hello/new.go":        "package main // new\n",
		"apps/hello/debug.log":     "ignored\n",
		"README.md":                "outside the app\n",
	})
	runGit(t, top, "add", "apps/hello/new.go") // staged: the index must keep it so
	statusBefore := runGit(t, top, "status", "--porcelain")
	refsBefore := runGit(t, top, "show-ref")
	indexBefore := runGit(t, top, "ls-files", "--stage")

	sha, changed, err := app.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !changed || sha == head {
		t.Fatalf("got %s, changed %v; want a new commit", sha, changed)
	}
	for _, tc := range []struct{ file, want string }{
		{"apps/hello/stackflow.yml", "environments: [typo"},
		{"apps/hello/new.go", "package main // new"},
		{"apps/hello/hello/main.go", "package main"},
		{"README.md", "the repository"},
	} {
		if got := runGit(t, top, "show", sha+":"+tc.file); got != tc.want {
			t.Errorf("%s in the snapshot: got %q, want %q", tc.file, got, tc.want)
		}
	}
	if got := runGit(t, top, "ls-tree", "--name-only", sha, "apps/hello/"); strings.Contains(got, "debug.log") {
		t.Errorf("the snapshot holds an ignored file:\n%s", got)
	}
	if got := runGit(t, top, "rev-parse", sha+"^"); got != head {
		t.Errorf("the snapshot's parent: got %s, want HEAD %s", got, head)
	}
	if again, _, err := app.Snapshot(ctx); err != nil || again != sha {
		t.Errorf("the same work tree again: got %s, %v; want the same commit %s", again, err, sha)
	}
	for _, c := range []struct {
		what, before string
		args         []string
	}{
		{"status", statusBefore, []string{"status", "--porcelain"}},
		{"refs", refsBefore, []string{"show-ref"}},
		{"index", indexBefore, []string{"ls-files", "--stage"}},
	} {
		if got := runGit(t, top, c.args...); got != c.before {
			t.Errorf("%s after the snapshot: got\n%s\nwant\n%s", c.what, got, c.before)
		}
	}
}

func TestExtract(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	top, head := newRepo(t)
	write(t, top, map[string]string{"apps/hello/stackflow.yml": "uncommitted\n"})
	app, err := Open(ctx, filepath.Join(top, "apps", "hello"))
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	if err := app.Extract(ctx, head, dst); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dst, "stackflow.yml"))
	if err != nil || string(got) != "environments: []\n" {
		t.Errorf("stackflow.yml: got %q, %v; want HEAD's", got, err)
	}
	if _, err := os.Stat(filepath.Join(dst, "hello", "main.go")); err != nil {
		t.Errorf("hello/main.go: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dst, "README.md")); err == nil {
		t.Error("got the repository's README.md, want only the app's folder")
	}
	if !app.Has(ctx, head, "stackflow.yml") || app.Has(ctx, head, "samconfig.toml") {
		t.Errorf("Has: got stackflow.yml %v, samconfig.toml %v; want true, false", app.Has(ctx, head, "stackflow.yml"), app.Has(ctx, head, "samconfig.toml"))
	}

	// A folder that HEAD does not have yet.
	write(t, top, map[string]string{"apps/new/stackflow.yml": "environments: []\n"})
	app, err = Open(ctx, filepath.Join(top, "apps", "new"))
	if err != nil {
		t.Fatal(err)
	}
	err = app.Extract(ctx, head, t.TempDir())
	var p *Problem
	if !errors.As(err, &p) || !strings.Contains(err.Error(), "the folder apps/new is not in commit "+head[:7]) {
		t.Errorf("got %v, want a Problem naming the folder", err)
	}
}
