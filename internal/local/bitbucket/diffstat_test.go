package bitbucket

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// The diffstat is read through the pipeline's own client, which follows the
// pages (five files a page here).
func TestDiffstat(t *testing.T) {
	t.Parallel()
	f := newRepo(t, false)
	files := map[string]string{}
	for i := range 6 {
		files[fmt.Sprintf("services/api/f%d.go", i)] = "package api\n"
	}
	writeFiles(t, f.dir, files)
	runGit(t, f.dir, nil, "mv", "README.md", "README.txt")
	runGit(t, f.dir, nil, "add", "--all")
	runGit(t, f.dir, nil, "commit", "--quiet", "--no-gpg-sign", "-m", "Six files and a rename")
	fourth := runGit(t, f.dir, nil, "rev-parse", "HEAD")

	ctx := context.Background()
	top := client(t, setup(t, f.dir, Options{}), testToken)
	got, err := top.ChangedFiles(ctx, testRepo, f.commits[2], fourth)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"README.md", "README.txt"}
	for i := range 6 {
		want = append(want, fmt.Sprintf("services/api/f%d.go", i))
	}
	slices.Sort(got)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("top: got %v, want %v", got, want)
	}

	got, err = top.ChangedFiles(ctx, testRepo, f.commits[1], f.commits[2])
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"examples/hello/internal/greet.go", "examples/hello/internal/old/old.go", "examples/hello/main.go"}; !reflect.DeepEqual(got, want) {
		t.Errorf("top, third commit: got %v, want %v", got, want)
	}

	// A branch compared with another: what it added since their merge
	// base, not what the other gained since.
	runGit(t, f.dir, nil, "checkout", "--quiet", "-b", "feature", f.commits[1])
	writeFiles(t, f.dir, map[string]string{"feature.txt": "x\n"})
	runGit(t, f.dir, nil, "add", "--all")
	runGit(t, f.dir, nil, "commit", "--quiet", "--no-gpg-sign", "-m", "A feature")
	feature := runGit(t, f.dir, nil, "rev-parse", "HEAD")
	got, err = top.ChangedFiles(ctx, testRepo, fourth, feature)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"feature.txt"}; !reflect.DeepEqual(got, want) {
		t.Errorf("feature against main: got %v, want %v", got, want)
	}

	app := client(t, setup(t, filepath.Join(f.dir, "examples", "hello"), Options{}), testToken)
	got, err = app.ChangedFiles(ctx, testRepo, f.commits[1], f.commits[2])
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"internal/greet.go", "internal/old/old.go", "main.go"}; !reflect.DeepEqual(got, want) {
		t.Errorf("app folder: got %v, want %v (paths from the folder)", got, want)
	}

	_, err = top.ChangedFiles(ctx, testRepo, "0123456789012345678901234567890123456789", fourth)
	var su *pipeline.SourceUnavailable
	if !errors.As(err, &su) {
		t.Errorf("unknown commit: got %v, want SourceUnavailable", err)
	}
}
