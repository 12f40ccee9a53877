package bitbucket

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stackflow/stackflow/internal/archive"
	"github.com/stackflow/stackflow/internal/pipeline"
)

// TestArchive downloads archives with the real client and extracts them
// with internal/archive: each is exactly the committed tree of the app's
// folder, without the work tree's uncommitted changes.
func TestArchive(t *testing.T) {
	t.Parallel()
	f := newRepo(t, true)
	tests := []struct {
		name   string
		dir    string
		commit string
		want   map[string]string
	}{
		{name: "repository root at HEAD", dir: f.dir, commit: f.commits[2], want: f.trees[2]},
		{name: "repository root at an older commit", dir: f.dir, commit: f.commits[1], want: f.trees[1]},
		{name: "abbreviated hash", dir: f.dir, commit: f.commits[2][:7], want: f.trees[2]},
		{name: "app folder at HEAD", dir: filepath.Join(f.dir, "examples", "hello"), commit: f.commits[2], want: under(f.trees[2], "examples/hello")},
		{name: "app folder at an older commit", dir: filepath.Join(f.dir, "examples", "hello"), commit: f.commits[1], want: under(f.trees[1], "examples/hello")},
		{name: "folder inside the app folder", dir: filepath.Join(f.dir, "examples", "hello", "internal"), commit: f.commits[2], want: under(f.trees[2], "examples/hello/internal")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := setup(t, tt.dir, Options{})
			rc, err := client(t, srv, testToken).Archive(context.Background(), testRepo, tt.commit)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			out := t.TempDir()
			if err := archive.Extract(rc, out, archive.DefaultLimits); err != nil {
				t.Fatal(err)
			}
			if got := readTree(t, out); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got tree\n%v\nwant\n%v", got, tt.want)
			}
		})
	}
}

// TestArchiveLayout checks the archive's top-level folder, named as
// Bitbucket names it.
func TestArchiveLayout(t *testing.T) {
	t.Parallel()
	f := newRepo(t, false)
	srv := setup(t, filepath.Join(f.dir, "examples", "hello"), Options{})
	sha := f.commits[2]
	resp := get(t, srv.URL()+"/acme/hello/get/"+sha+".tar.gz", "Bearer "+testToken)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("got status %d, want 200", resp.StatusCode)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	prefix := "acme-hello-" + sha[:12] + "/"
	var names []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		names = append(names, hdr.Name)
		if !strings.HasPrefix(hdr.Name, prefix) {
			t.Errorf("got entry %q, want it under %q", hdr.Name, prefix)
		}
	}
	if want := prefix + "main.go"; !slices.Contains(names, want) {
		t.Errorf("got entries %q, want %q among them", names, want)
	}
}

func get(t *testing.T, url, auth string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestArchiveAnswers checks who gets an archive and what is not one.
func TestArchiveAnswers(t *testing.T) {
	t.Parallel()
	f := newRepo(t, false)
	root := setup(t, f.dir, Options{})
	app := setup(t, filepath.Join(f.dir, "examples", "hello"), Options{})
	head := f.commits[2]
	tree := runGit(t, f.dir, nil, "rev-parse", "HEAD^{tree}")
	bearer := "Bearer " + testToken
	basic := func(user, pass string) string {
		req, _ := http.NewRequest(http.MethodGet, "/", nil)
		req.SetBasicAuth(user, pass)
		return req.Header.Get("Authorization")
	}
	tests := []struct {
		name string
		srv  *Server
		path string
		auth string
		want int
	}{
		{name: "access token", srv: root, path: "/acme/hello/get/" + head + ".tar.gz", auth: bearer, want: 200},
		{name: "API token with an email", srv: root, path: "/acme/hello/get/" + head + ".tar.gz", auth: basic("ada@example.com", testToken), want: 200},
		{name: "workspace and slug in capitals", srv: root, path: "/Acme/Hello/get/" + head + ".tar.gz", auth: bearer, want: 200},
		{name: "no credentials", srv: root, path: "/acme/hello/get/" + head + ".tar.gz", want: 401},
		{name: "wrong access token", srv: root, path: "/acme/hello/get/" + head + ".tar.gz", auth: "Bearer not-the-token", want: 401},
		{name: "wrong API token", srv: root, path: "/acme/hello/get/" + head + ".tar.gz", auth: basic("ada@example.com", "not-the-token"), want: 401},
		{name: "token as user name", srv: root, path: "/acme/hello/get/" + head + ".tar.gz", auth: basic(testToken, ""), want: 401},
		{name: "unknown commit", srv: root, path: "/acme/hello/get/0beec7b5ea3f0fdbc95d0dd47f3c5bc275da8a33.tar.gz", auth: bearer, want: 404},
		{name: "unknown commit without credentials", srv: root, path: "/acme/hello/get/0beec7b5ea3f0fdbc95d0dd47f3c5bc275da8a33.tar.gz", want: 401},
		{name: "a tree, not a commit", srv: root, path: "/acme/hello/get/" + tree + ".tar.gz", auth: bearer, want: 404},
		{name: "a ref name", srv: root, path: "/acme/hello/get/HEAD.tar.gz", auth: bearer, want: 404},
		{name: "a revision expression", srv: root, path: "/acme/hello/get/" + head[:12] + "~1.tar.gz", auth: bearer, want: 404},
		{name: "too short a hash", srv: root, path: "/acme/hello/get/" + head[:6] + ".tar.gz", auth: bearer, want: 404},
		{name: "an escaped path", srv: root, path: "/acme/hello/get/..%2F..%2F..%2Fetc%2Fpasswd.tar.gz", auth: bearer, want: 404},
		{name: "another format", srv: root, path: "/acme/hello/get/" + head + ".zip", auth: bearer, want: 404},
		{name: "another repository", srv: root, path: "/acme/other/get/" + head + ".tar.gz", auth: bearer, want: 404},
		{name: "app folder missing from the commit", srv: app, path: "/acme/hello/get/" + f.commits[0] + ".tar.gz", auth: bearer, want: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := get(t, tt.srv.URL()+tt.path, tt.auth)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("got status %d (%s), want %d", resp.StatusCode, body, tt.want)
			}
			if strings.Contains(string(body), testToken) {
				t.Errorf("answer %q holds the token", body)
			}
		})
	}
}

// TestClientArchiveErrors checks that the real client reads the server's
// refusals as it reads Bitbucket's.
func TestClientArchiveErrors(t *testing.T) {
	t.Parallel()
	f := newRepo(t, false)
	srv := setup(t, f.dir, Options{})
	tests := []struct {
		name    string
		secret  string
		commit  string
		wantMsg string
	}{
		{name: "refused token", secret: "not-the-token", commit: f.commits[2], wantMsg: "401 Unauthorized"},
		{name: "unknown commit", secret: testToken, commit: "0beec7b5ea3f0fdbc95d0dd47f3c5bc275da8a33", wantMsg: "404 Not Found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rc, err := client(t, srv, tt.secret).Archive(context.Background(), testRepo, tt.commit)
			if err == nil {
				rc.Close()
				t.Fatal("got an archive, want an error")
			}
			var su *pipeline.SourceUnavailable
			if !errors.As(err, &su) {
				t.Errorf("got %T (%v), want *pipeline.SourceUnavailable", err, err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("got error %q, want it to contain %q", err, tt.wantMsg)
			}
		})
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	f := newRepo(t, false)
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{name: "not a git repository", opts: Options{Repo: testRepo, Dir: t.TempDir()}, wantErr: "is not inside a git work tree"},
		{name: "folder that does not exist", opts: Options{Repo: testRepo, Dir: filepath.Join(f.dir, "missing")}, wantErr: "is not inside a git work tree"},
		{name: "no repository", opts: Options{Dir: f.dir}, wantErr: "want workspace/slug"},
		{name: "slug with a slash", opts: Options{Repo: pipeline.Repository{Workspace: "acme", Slug: "a/b"}, Dir: f.dir}, wantErr: "want workspace/slug"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, err := New(tt.opts)
			if err == nil {
				srv.Close()
				t.Fatal("got a server, want an error")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got error %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

// TestNewRandomToken checks that a server without a token makes one and
// accepts only it.
func TestNewRandomToken(t *testing.T) {
	t.Parallel()
	f := newRepo(t, false)
	srv, err := New(Options{Repo: testRepo, Dir: f.dir})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if len(srv.Token()) < 20 {
		t.Fatalf("got token of %d characters, want a long random one", len(srv.Token()))
	}
	path := srv.URL() + "/acme/hello/get/" + f.commits[2] + ".tar.gz"
	for auth, want := range map[string]int{"Bearer " + srv.Token(): 200, "": 401, "Bearer ": 401} {
		resp := get(t, path, auth)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Authorization %q: got status %d, want %d", auth, resp.StatusCode, want)
		}
	}
}

// TestLog checks that the log tells requests apart and never holds the
// token.
func TestLog(t *testing.T) {
	t.Parallel()
	f := newRepo(t, false)
	mu := &syncWriter{w: new(strings.Builder)}
	srv := setup(t, f.dir, Options{Log: mu})
	resp := get(t, srv.URL()+"/acme/hello/get/"+f.commits[2]+".tar.gz", "Bearer "+testToken)
	resp.Body.Close()
	resp = get(t, srv.URL()+"/acme/hello/get/"+f.commits[2]+".tar.gz", "Bearer wrong")
	resp.Body.Close()
	srv.Close()
	got := mu.String()
	for _, want := range []string{"status=200", "status=401", "/acme/hello/get/" + f.commits[2] + ".tar.gz"} {
		if !strings.Contains(got, want) {
			t.Errorf("got log\n%s\nwant it to contain %q", got, want)
		}
	}
	if strings.Contains(got, testToken) {
		t.Errorf("log holds the token:\n%s", got)
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	f := newRepo(t, false)
	srv, err := New(Options{Repo: testRepo, Dir: f.dir, Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	srv.Close() // a second Close is harmless
	if _, err := http.Get(srv.URL() + "/"); err == nil {
		t.Error("got an answer after Close, want none")
	}
}

// TestHead checks HEAD's commit and branch, and the errors that say what to
// do when there is no branch to deliver.
func TestHead(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		prepare    func(t *testing.T, f fixture)
		wantCommit int
		wantBranch string
		wantErr    string
	}{
		{name: "on main", wantCommit: 2, wantBranch: "main"},
		{
			name: "on a feature branch",
			prepare: func(t *testing.T, f fixture) {
				runGit(t, f.dir, nil, "checkout", "--quiet", "-b", "feature/greeting", f.commits[1])
			},
			wantCommit: 1, wantBranch: "feature/greeting",
		},
		{
			name:    "detached",
			prepare: func(t *testing.T, f fixture) { runGit(t, f.dir, nil, "checkout", "--quiet", "--detach", f.commits[1]) },
			wantErr: "HEAD is detached at " + "%s" + ", not on a branch: check out a branch or pass one",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newRepo(t, false)
			if tt.prepare != nil {
				tt.prepare(t, f)
			}
			srv := setup(t, filepath.Join(f.dir, "examples", "hello"), Options{})
			sha, branch, err := srv.Head()
			if tt.wantErr != "" {
				want := strings.Replace(tt.wantErr, "%s", f.commits[1][:7], 1)
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("got error %v, want one containing %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sha != f.commits[tt.wantCommit] || branch != tt.wantBranch {
				t.Errorf("got %s on %q, want %s on %q", sha, branch, f.commits[tt.wantCommit], tt.wantBranch)
			}
		})
	}
}

func TestHeadNoCommits(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	runGit(t, dir, nil, "init", "--quiet", "--initial-branch=main")
	srv := setup(t, dir, Options{})
	_, _, err := srv.Head()
	if want := "has no commits yet"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got error %v, want one containing %q", err, want)
	}
}
