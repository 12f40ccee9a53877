package checks_test

import (
	"bytes"
	"context"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stackflow/stackflow/internal/archive"
	"github.com/stackflow/stackflow/internal/artifacts"
	"github.com/stackflow/stackflow/internal/checks"
	"github.com/stackflow/stackflow/internal/gocache"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/testaws"
	"github.com/stackflow/stackflow/internal/toolchain"
)

// BenchmarkChecksHello measures the checks step of examples/hello (its
// stackflow.yml's checks: go vet ./... and go test ./...) as a Lambda runs
// it, against kumo's S3, with the Go caches kept in the bucket:
//
//	first-s    the first run: empty bucket, empty GOCACHE and GOMODCACHE
//	           in a new directory, modules from the Go module proxy
//	second-s   the next commit on another new, empty directory (a cold
//	           start), the caches restored from the bucket
//	speedup-x  first-s / second-s (target: at least 3)
//	warm-s     a third commit on the second run's directory (a warm start)
//
// It needs the Go module proxy:
//
//	go test -run '^$' -bench BenchmarkChecksHello -benchtime 1x ./internal/checks
func BenchmarkChecksHello(b *testing.B) {
	// Module directories are read-only unless the go command is told.
	b.Setenv("GOFLAGS", "-modcacherw")
	ctx := context.Background()
	cfg := testaws.Start(b)
	hello := readHello(b)
	var first, second, warm time.Duration
	for range b.N {
		store := artifacts.New(testaws.S3(cfg), testaws.Bucket(b, cfg, "bench"), cfg.Region)
		svc := func(dir string) *checks.Service {
			return &checks.Service{
				Store:     store,
				Toolchain: toolchain.Options{Proxy: os.Getenv("GOPROXY"), CacheDir: b.TempDir()},
				Caches:    &gocache.Config{Store: store, Dir: dir},
				Logger:    slog.New(slog.DiscardHandler),
			}
		}
		timed := func(dir, commit, readme string) time.Duration {
			files := map[string]string{}
			for k, v := range hello {
				files[k] = v
			}
			files["README.md"] = readme
			in := helloChecks(b, store, files, commit)
			began := time.Now()
			if _, err := svc(dir).Handle(ctx, in); err != nil {
				b.Fatal(err)
			}
			return time.Since(began)
		}
		t1 := timed(b.TempDir(), "1111111111111111111111111111111111111111", "one\n")
		dir := b.TempDir()
		t2 := timed(dir, "2222222222222222222222222222222222222222", "two\n")
		t3 := timed(dir, "3333333333333333333333333333333333333333", "three\n")
		first, second, warm = first+t1, second+t2, warm+t3
	}
	n := float64(b.N)
	b.ReportMetric(first.Seconds()/n, "first-s")
	b.ReportMetric(second.Seconds()/n, "second-s")
	b.ReportMetric(first.Seconds()/second.Seconds(), "speedup-x")
	b.ReportMetric(warm.Seconds()/n, "warm-s")
}

func readHello(b *testing.B) map[string]string {
	b.Helper()
	root := filepath.Join("..", "..", "examples", "hello")
	files := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		files[filepath.ToSlash(rel)] = string(body)
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return files
}

func helloChecks(b *testing.B, store *artifacts.Store, files map[string]string, commit string) pipeline.ChecksInput {
	b.Helper()
	dir := b.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := archive.Create(&buf, dir, "acme-hello-"+commit[:12], nil); err != nil {
		b.Fatal(err)
	}
	r := pipeline.Run{Repository: pipeline.Repository{Workspace: "acme", Slug: "hello"}, Branch: "main", Commit: commit}
	key := pipeline.SourceKey(r.Repository, commit)
	if err := store.Put(context.Background(), key, buf.Bytes(), ""); err != nil {
		b.Fatal(err)
	}
	return pipeline.ChecksInput{Run: r, Source: pipeline.Source{ArchiveKey: key,
		Plan: pipeline.Plan{Checks: []string{"go vet ./...", "go test ./..."}}}}
}
