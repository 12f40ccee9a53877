package bitbucket

import (
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stackflow/stackflow/internal/bitbucket"
	"github.com/stackflow/stackflow/internal/pipeline"
)

const testToken = "ATCTT3xFfGN0-local-test-token"

var testRepo = pipeline.Repository{Workspace: "acme", Slug: "hello"}

// gitEnv lets git commit on a machine without git configuration, and keeps
// the tester's own configuration out of the test repositories.
var gitEnv = []string{
	"GIT_AUTHOR_NAME=Ada Lovelace",
	"GIT_AUTHOR_EMAIL=ada@example.com",
	"GIT_COMMITTER_NAME=Ada Lovelace",
	"GIT_COMMITTER_EMAIL=ada@example.com",
	"GIT_CONFIG_GLOBAL=" + os.DevNull,
	"GIT_CONFIG_NOSYSTEM=1",
}

// runGit runs git in dir with gitEnv and extra environment, and returns its
// trimmed output.
func runGit(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), gitEnv...), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// writeFiles writes files (slash paths relative to dir); an empty content
// removes the file.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if content == "" {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// fixture is a git repository made for a test: a larger repository with an
// app in examples/hello.
type fixture struct {
	dir string
	// commits are the hashes of the three commits, oldest first.
	commits [3]string
	// trees are the committed files of each commit.
	trees [3]map[string]string
}

// Commit messages and dates of the fixture's commits.
var (
	fixtureMessages = [3]string{"Start the repository", "Add the hello app", "Greet by name"}
	fixtureDates    = [3]string{"2026-03-01T08:00:00+00:00", "2026-03-02T09:12:44+00:00", "2026-03-02T10:31:07+00:00"}
)

// newRepo makes a repository with three commits on main:
//
//  1. README.md only;
//  2. adds the app in examples/hello;
//  3. changes the app and removes one of its files.
//
// When dirty, the work tree also has a change to a tracked file of the repo
// and of the app, and untracked files, none of them committed.
func newRepo(t *testing.T, dirty bool) fixture {
	t.Helper()
	f := fixture{dir: t.TempDir()}
	runGit(t, f.dir, nil, "init", "--quiet", "--initial-branch=main")
	changes := [3]map[string]string{
		{"README.md": "# Monorepo\n"},
		{
			"examples/hello/main.go":             "package main\n\nfunc main() {}\n",
			"examples/hello/template.yaml":       "Transform: AWS::Serverless-2016-10-31\n",
			"examples/hello/stackflow.yml":       "environments: [staging, prod]\n",
			"examples/hello/internal/old/old.go": "package old\n",
		},
		{
			"examples/hello/main.go":             "package main\n\n// Greets by name.\nfunc main() {}\n",
			"examples/hello/internal/greet.go":   "package internal\n",
			"examples/hello/internal/old/old.go": "",
		},
	}
	tree := map[string]string{}
	for i, c := range changes {
		writeFiles(t, f.dir, c)
		for name, content := range c {
			if content == "" {
				delete(tree, name)
			} else {
				tree[name] = content
			}
		}
		f.trees[i] = maps.Clone(tree)
		runGit(t, f.dir, nil, "add", "--all")
		date := []string{"GIT_AUTHOR_DATE=" + fixtureDates[i], "GIT_COMMITTER_DATE=" + fixtureDates[i]}
		runGit(t, f.dir, date, "commit", "--quiet", "--no-gpg-sign", "-m", fixtureMessages[i])
		f.commits[i] = runGit(t, f.dir, nil, "rev-parse", "HEAD")
	}
	if dirty {
		writeFiles(t, f.dir, map[string]string{
			"README.md":              "# Monorepo, edited\n",
			"examples/hello/main.go": "package main // edited\n",
			"scratch.txt":            "not committed\n",
			"examples/hello/tmp.txt": "not committed\n",
		})
	}
	return f
}

// under returns the files of tree under folder, relative to it.
func under(tree map[string]string, folder string) map[string]string {
	out := map[string]string{}
	for name, content := range tree {
		if rest, ok := strings.CutPrefix(name, folder+"/"); ok {
			out[rest] = content
		}
	}
	return out
}

// setup starts a Server for dir (a fixture's top or a folder in it).
func setup(t *testing.T, dir string, opts Options) *Server {
	t.Helper()
	if opts.Repo == (pipeline.Repository{}) {
		opts.Repo = testRepo
	}
	if opts.Token == "" {
		opts.Token = testToken
	}
	opts.Dir = dir
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// client is the real Bitbucket client, pointed at srv for the API and the
// web site.
func client(t *testing.T, srv *Server, secret string) *bitbucket.Client {
	t.Helper()
	creds, err := bitbucket.ParseCredentials(secret)
	if err != nil {
		t.Fatal(err)
	}
	return bitbucket.NewClient(srv.URL(), srv.URL(), creds, nil)
}

// readTree returns the regular files under dir by slash path.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		out[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// syncWriter is an io.Writer safe for concurrent use, whose content can be
// read.
type syncWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}
