package bitbucket

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"testing"

	"github.com/stackflow/stackflow/internal/pipeline"
)

func TestMainBranch(t *testing.T) {
	t.Parallel()
	f := newRepo(t, false)
	runGit(t, f.dir, nil, "branch", "release/1", f.commits[1])
	tests := []struct {
		name    string
		opts    Options
		set     string // SetDefaultBranch's argument, after New
		want    pipeline.DefaultBranch
		wantErr string
	}{
		{name: "main, found", want: pipeline.DefaultBranch{Name: "main", Commit: f.commits[2]}},
		{name: "given", opts: Options{DefaultBranch: "release/1"}, want: pipeline.DefaultBranch{Name: "release/1", Commit: f.commits[1]}},
		{name: "set later", set: "release/1", want: pipeline.DefaultBranch{Name: "release/1", Commit: f.commits[1]}},
		{name: "another repository", opts: Options{Repo: pipeline.Repository{Workspace: "acme", Slug: "other"}}, wantErr: "404 Not Found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := setup(t, f.dir, tt.opts)
			if tt.set != "" {
				if err := srv.SetDefaultBranch(tt.set); err != nil {
					t.Fatal(err)
				}
			}
			got, err := client(t, srv, testToken).MainBranch(context.Background(), testRepo)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %+v, %v; want an error with %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestMainBranchErrors(t *testing.T) {
	t.Parallel()
	f := newRepo(t, false)
	if _, err := New(Options{Repo: testRepo, Dir: f.dir, DefaultBranch: "nope"}); err == nil || !strings.Contains(err.Error(), `default branch "nope"`) {
		t.Errorf("New with an unknown default branch: got %v, want it refused", err)
	}
	// A repository whose only branch is none of main, master and trunk
	// has no main branch until one is chosen.
	runGit(t, f.dir, nil, "branch", "-m", "main", "dev")
	srv := setup(t, f.dir, Options{})
	if got := srv.DefaultBranch(); got != "" {
		t.Errorf("got default branch %q, want none", got)
	}
	_, err := client(t, srv, testToken).MainBranch(context.Background(), testRepo)
	var su *pipeline.SourceUnavailable
	if !errors.As(err, &su) || !strings.Contains(err.Error(), "the repository has no main branch yet") {
		t.Errorf("got %v, want SourceUnavailable: no main branch", err)
	}
	if err := srv.SetDefaultBranch("dev"); err != nil {
		t.Fatal(err)
	}
	if got, err := client(t, srv, testToken).MainBranch(context.Background(), testRepo); err != nil || got.Name != "dev" {
		t.Errorf("got %+v, %v; want dev", got, err)
	}
}

func TestFile(t *testing.T) {
	t.Parallel()
	f := newRepo(t, false)
	app := setup(t, f.dir+"/examples/hello", Options{})
	top := setup(t, f.dir, Options{})
	tests := []struct {
		name     string
		srv      *Server
		commit   string
		path     string
		want     string
		wantMiss bool
	}{
		{name: "the app's folder is the root", srv: app, commit: f.commits[2], path: "stackflow.yml", want: f.trees[2]["examples/hello/stackflow.yml"]},
		{name: "at an older commit", srv: app, commit: f.commits[1], path: "main.go", want: f.trees[1]["examples/hello/main.go"]},
		{name: "in a folder", srv: app, commit: f.commits[2], path: "internal/greet.go", want: "package internal\n"},
		{name: "removed since", srv: app, commit: f.commits[2], path: "internal/old/old.go", wantMiss: true},
		{name: "not yet there", srv: app, commit: f.commits[0], path: "stackflow.yml", wantMiss: true},
		{name: "outside the app", srv: app, commit: f.commits[2], path: "README.md", wantMiss: true},
		{name: "the repository's top", srv: top, commit: f.commits[2], path: "README.md", want: "# Monorepo\n"},
		{name: "unknown commit", srv: top, commit: strings.Repeat("0", 40), path: "README.md", wantMiss: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := client(t, tt.srv, testToken).File(context.Background(), testRepo, tt.commit, tt.path)
			if tt.wantMiss {
				if !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("got %q, %v; want fs.ErrNotExist", got, err)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestSource reads the src resource over HTTP: by branch name, a folder's
// listing, and Bitbucket's error body.
func TestSource(t *testing.T) {
	t.Parallel()
	f := newRepo(t, false)
	srv := setup(t, f.dir+"/examples/hello", Options{})
	get := func(path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL()+"/2.0/repositories/acme/hello/src/"+path, nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	if code, body := get("main/main.go"); code != 200 || body != f.trees[2]["examples/hello/main.go"] {
		t.Errorf("by branch: got %d %q, want the file at main", code, body)
	}
	code, body := get(f.commits[2] + "/internal")
	var page struct {
		Values []struct{ Type, Path string }
	}
	if err := json.Unmarshal([]byte(body), &page); code != 200 || err != nil || len(page.Values) != 1 ||
		page.Values[0].Type != "commit_file" || page.Values[0].Path != "internal/greet.go" {
		t.Errorf("folder: got %d %s, want one commit_file internal/greet.go", code, body)
	}
	if code, body := get(f.commits[2] + "/nope.yml"); code != 404 || !strings.Contains(body, `"message":"No such file or directory: nope.yml"`) {
		t.Errorf("missing: got %d %s, want 404 with Bitbucket's error", code, body)
	}
	if code, _ := get("no-such-branch/main.go"); code != 404 {
		t.Errorf("unknown branch: got %d, want 404", code)
	}
}
