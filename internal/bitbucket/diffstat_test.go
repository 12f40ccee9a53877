package bitbucket

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// diffstatServer answers GET .../diffstat/{to}..{from} for acme/hello as
// Bitbucket does: paginated_diffstats of pagelen entries a page, linked by
// next. next, when set, replaces the next link of every page.
func diffstatServer(t *testing.T, entries []map[string]any, pagelen int, next string) (*httptest.Server, *[]string) {
	t.Helper()
	var specs []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		const prefix = "/2.0/repositories/acme/hello/diffstat/"
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if !strings.HasPrefix(r.URL.Path, prefix) {
			http.NotFound(w, r)
			return
		}
		spec := strings.TrimPrefix(r.URL.Path, prefix)
		specs = append(specs, spec)
		if !strings.HasPrefix(spec, commitB+"..") {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"type":"error","error":{"message":"Commit not found"}}`)
			return
		}
		page := 1
		if p := r.URL.Query().Get("page"); p != "" {
			page, _ = strconv.Atoi(p)
		}
		lo, hi := (page-1)*pagelen, min(page*pagelen, len(entries))
		body := map[string]any{"pagelen": pagelen, "size": len(entries), "page": page, "values": entries[lo:hi]}
		if hi < len(entries) {
			body["next"] = "http://" + r.Host + r.URL.Path + "?page=" + strconv.Itoa(page+1)
			if next != "" {
				body["next"] = next
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(body)
	}))
	t.Cleanup(srv.Close)
	return srv, &specs
}

const commitB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

func entry(status, old, new string) map[string]any {
	file := func(p string) any {
		if p == "" {
			return nil
		}
		return map[string]any{"type": "commit_file", "path": p, "escaped_path": p}
	}
	return map[string]any{"type": "diffstat", "status": status, "lines_added": 1, "lines_removed": 0, "old": file(old), "new": file(new)}
}

func TestChangedFilesFollowsPages(t *testing.T) {
	t.Parallel()
	entries := []map[string]any{
		entry("modified", "services/api/main.go", "services/api/main.go"),
		entry("added", "", "services/web/new.go"),
		entry("removed", "docs/old.md", ""),
		entry("renamed", "shared/a.go", "lib/a.go"),
		entry("modified", "README.md", "README.md"),
	}
	srv, specs := diffstatServer(t, entries, 2, "")
	c := NewClient(srv.URL, "", tokenCreds("tok"), srv.Client())
	got, err := c.ChangedFiles(context.Background(), pipeline.Repository{Workspace: "acme", Slug: "hello"}, commitA, commitB)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"services/api/main.go", "services/web/new.go", "docs/old.md", "shared/a.go", "lib/a.go", "README.md"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if len(*specs) != 3 || (*specs)[0] != commitB+".."+commitA {
		t.Errorf("got requests for %v, want 3 pages of %s..%s (the new commit first)", *specs, commitB[:7], commitA[:7])
	}
}

func TestChangedFilesRefusals(t *testing.T) {
	t.Parallel()
	repo := pipeline.Repository{Workspace: "acme", Slug: "hello"}
	many := make([]map[string]any, MaxDiffstatPages+1)
	for i := range many {
		many[i] = entry("added", "", fmt.Sprintf("f%d", i))
	}
	t.Run("too many pages", func(t *testing.T) {
		srv, _ := diffstatServer(t, many, 1, "")
		_, err := NewClient(srv.URL, "", tokenCreds("tok"), srv.Client()).ChangedFiles(context.Background(), repo, commitA, commitB)
		if !errors.Is(err, ErrTooManyChanges) {
			t.Errorf("got %v, want ErrTooManyChanges", err)
		}
	})
	t.Run("next page elsewhere", func(t *testing.T) {
		srv, _ := diffstatServer(t, many, 1, "https://evil.example/steal")
		_, err := NewClient(srv.URL, "", tokenCreds("tok"), srv.Client()).ChangedFiles(context.Background(), repo, commitA, commitB)
		var bu *pipeline.BitbucketUnavailable
		if !errors.As(err, &bu) || !strings.Contains(bu.Reason, "not on") {
			t.Errorf("got %v, want BitbucketUnavailable: the next page is not on the API", err)
		}
	})
	t.Run("unknown commit", func(t *testing.T) {
		srv, _ := diffstatServer(t, many, 1, "")
		_, err := NewClient(srv.URL, "", tokenCreds("tok"), srv.Client()).ChangedFiles(context.Background(), repo, commitB, commitA)
		var su *pipeline.SourceUnavailable
		if !errors.As(err, &su) {
			t.Errorf("got %v, want SourceUnavailable", err)
		}
	})
	t.Run("bad token", func(t *testing.T) {
		srv, _ := diffstatServer(t, many, 1, "")
		_, err := NewClient(srv.URL, "", tokenCreds("nope"), srv.Client()).ChangedFiles(context.Background(), repo, commitA, commitB)
		var su *pipeline.SourceUnavailable
		if !errors.As(err, &su) || strings.Contains(err.Error(), "nope") {
			t.Errorf("got %v, want SourceUnavailable without the token", err)
		}
	})
	t.Run("not a hash", func(t *testing.T) {
		_, err := NewClient("http://127.0.0.1:1", "", tokenCreds("tok"), nil).ChangedFiles(context.Background(), repo, "main", commitB)
		if err == nil || !strings.Contains(err.Error(), "commit hashes") {
			t.Errorf("got %v, want it refused before any request", err)
		}
	})
}

// tokenCreds is an access token's credentials.
func tokenCreds(token string) Credentials {
	c, err := ParseCredentials(token)
	if err != nil {
		panic(err)
	}
	return c
}
