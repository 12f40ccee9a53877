package packager_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stackflow/stackflow/internal/archive"
	"github.com/stackflow/stackflow/internal/artifacts"
	"github.com/stackflow/stackflow/internal/gocache"
	"github.com/stackflow/stackflow/internal/packager"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/testaws"
	"github.com/stackflow/stackflow/internal/toolchain"
)

// BenchmarkPackageHello measures the package step of examples/hello as a
// Lambda runs it, against kumo's S3, with the Go caches kept in the bucket
// and every run on a new, empty cache directory (a cold start):
//
//	cold-s     the first package: empty bucket, empty caches, modules
//	           downloaded from the Go module proxy, everything compiled
//	reuse-s    a new commit that changes only README.md: nothing is built
//	reuse-%    reuse-s as a share of cold-s (target: under 10)
//	rebuild-s  a new commit that changes the function: built again, with
//	           the caches restored from the bucket
//
// It fails when the reused package's template differs from the cold one
// (a CodeUri changed) or when anything was built for the README commit.
// It needs the Go module proxy:
//
//	go test -run '^$' -bench BenchmarkPackageHello -benchtime 1x ./internal/packager
func BenchmarkPackageHello(b *testing.B) {
	// Module directories are read-only unless the go command is told.
	b.Setenv("GOFLAGS", "-modcacherw")
	ctx := context.Background()
	cfg := testaws.Start(b)
	var cold, reuse, rebuild time.Duration
	for range b.N {
		store := artifacts.New(testaws.S3(cfg), testaws.Bucket(b, cfg, "bench"), cfg.Region)
		svc := func() *packager.Service {
			return &packager.Service{
				Store:     store,
				Toolchain: toolchain.Options{Proxy: os.Getenv("GOPROXY"), CacheDir: b.TempDir()},
				Caches:    &gocache.Config{Store: store, Dir: b.TempDir()},
				Logger:    slog.New(slog.DiscardHandler),
			}
		}
		hello := helloFiles(b)
		timed := func(files map[string]string, commit string) (pipeline.Package, time.Duration) {
			in := storeSource(b, store, files, commit)
			began := time.Now()
			pkg, err := svc().Handle(ctx, in)
			took := time.Since(began)
			if err != nil {
				b.Fatal(err)
			}
			return pkg, took
		}

		first, t1 := timed(hello, "1111111111111111111111111111111111111111")
		second, t2 := timed(with(hello, "README.md", "# hello\n\nOnly the README changed.\n"), "2222222222222222222222222222222222222222")
		third, t3 := timed(with(hello, "hello/handler.go", hello["hello/handler.go"]+"\n// A changed function.\n"), "3333333333333333333333333333333333333333")
		cold, reuse, rebuild = cold+t1, reuse+t2, rebuild+t3

		for _, fn := range second.Functions {
			if !fn.Reused {
				b.Errorf("%s was built again for a README change", fn.Name)
			}
		}
		if a, c := getObject(b, store, first.TemplateKey), getObject(b, store, second.TemplateKey); !bytes.Equal(a, c) {
			b.Errorf("the packaged template changed for a README change:\n%s\nthen\n%s", a, c)
		}
		for _, fn := range third.Functions {
			if fn.Reused {
				b.Errorf("%s was reused after its code changed", fn.Name)
			}
		}
	}
	n := float64(b.N)
	b.ReportMetric(cold.Seconds()/n, "cold-s")
	b.ReportMetric(reuse.Seconds()/n, "reuse-s")
	b.ReportMetric(100*reuse.Seconds()/cold.Seconds(), "reuse-%")
	b.ReportMetric(rebuild.Seconds()/n, "rebuild-s")
}

// helloFiles reads examples/hello.
func helloFiles(b *testing.B) map[string]string {
	b.Helper()
	return dirFiles(b, filepath.Join("..", "..", "examples", "hello"), "")
}

func storeSource(b testing.TB, store *artifacts.Store, files map[string]string, commit string) pipeline.PackageInput {
	b.Helper()
	dir := b.TempDir()
	writeFiles(b, dir, files)
	var buf bytes.Buffer
	if err := archive.Create(&buf, dir, "acme-hello-"+commit[:12], nil); err != nil {
		b.Fatal(err)
	}
	r := pipeline.Run{Repository: pipeline.Repository{Workspace: "acme", Slug: "hello"}, Branch: "main", Commit: commit}
	key := pipeline.SourceKey(r.Repository, commit)
	if err := store.Put(context.Background(), key, buf.Bytes(), ""); err != nil {
		b.Fatal(err)
	}
	return pipeline.PackageInput{Run: r, Source: pipeline.Source{ArchiveKey: key, Plan: pipeline.Plan{Template: "template.yaml"}}}
}

func getObject(b *testing.B, store *artifacts.Store, key string) []byte {
	b.Helper()
	body, err := store.Get(context.Background(), key)
	if err != nil {
		b.Fatal(err)
	}
	return body
}
