package packager_test

import (
	"archive/zip"
	"bytes"
	"context"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stackflow/stackflow/internal/artifacts"
	"github.com/stackflow/stackflow/internal/packager"
	"github.com/stackflow/stackflow/internal/testaws"
	"github.com/stackflow/stackflow/internal/toolchain"
)

// BenchmarkPackageExamples measures the package step of
// examples/hello-python, examples/hello-node and examples/hello-sam (four
// esbuild functions) against kumo's S3, next to sam build of the same
// app, for each example:
//
//	<ex>-cold-s      the first package: empty bucket, empty pip/npm caches
//	<ex>-cached-s    a new bucket, the download caches kept: everything built
//	<ex>-reuse-s     the same files at a new commit: nothing built
//	<ex>-KiB         the functions' zips, all of them
//	<ex>-sam-cold-s  sam build with empty caches
//	<ex>-sam-warm-s  sam build again, caches kept
//	<ex>-sam-KiB     sam build's folder of each function zipped (Deflate), all of them
//
// It needs PyPI and the npm registry, and sam in .venv/bin:
//
//	go test -run '^$' -bench BenchmarkPackageExamples -benchtime 1x -timeout 30m ./internal/packager
func BenchmarkPackageExamples(b *testing.B) {
	sam := testTool(b, "sam")
	ctx := context.Background()
	cfg := testaws.Start(b)
	for range b.N {
		for _, ex := range []string{"hello-python", "hello-node", "hello-sam"} {
			files := exampleFiles(b, ex)
			cache := b.TempDir()
			var functions []string
			run := func(store *artifacts.Store, commit string, wantReused bool) (time.Duration, int64) {
				svc := &packager.Service{Store: store, Toolchain: toolchain.Options{Proxy: "off", CacheDir: b.TempDir()},
					ToolPath: toolPath(b), DownloadCache: cache, Logger: slog.New(slog.DiscardHandler)}
				in := storeSource(b, store, files, commit)
				began := time.Now()
				pkg, err := svc.Handle(ctx, in)
				if err != nil {
					b.Fatal(err)
				}
				took := time.Since(began)
				var size int64
				functions = functions[:0]
				for _, f := range pkg.Functions {
					if f.Reused != wantReused {
						b.Fatalf("%s: got %s, want reused %t", ex, pkg.Summary, wantReused)
					}
					size += f.Size
					functions = append(functions, f.Name)
				}
				return took, size
			}
			bucket := func(name string) *artifacts.Store {
				return artifacts.New(testaws.S3(cfg), testaws.Bucket(b, cfg, name), cfg.Region)
			}
			cold, size := run(bucket(ex+"-cold"), strings.Repeat("1", 40), false)
			again := bucket(ex + "-cached")
			cached, _ := run(again, strings.Repeat("2", 40), false)
			reuse, _ := run(again, strings.Repeat("3", 40), true)
			b.ReportMetric(cold.Seconds(), ex+"-cold-s")
			b.ReportMetric(cached.Seconds(), ex+"-cached-s")
			b.ReportMetric(reuse.Seconds(), ex+"-reuse-s")
			b.ReportMetric(float64(size)/1024, ex+"-KiB")

			dir, samCache := b.TempDir(), b.TempDir()
			writeFiles(b, dir, files)
			samBuild := func() time.Duration {
				cmd := exec.Command(sam, "build", "--build-dir", ".aws-sam/build")
				cmd.Dir = dir
				cmd.Env = append(os.Environ(), "PATH="+strings.Join(append(toolPath(b), os.Getenv("PATH")), ":"), "SAM_CLI_TELEMETRY=0",
					"PIP_CACHE_DIR="+filepath.Join(samCache, "pip"), "npm_config_cache="+filepath.Join(samCache, "npm"))
				began := time.Now()
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("sam build: %v\n%s", err, out)
				}
				return time.Since(began)
			}
			b.ReportMetric(samBuild().Seconds(), ex+"-sam-cold-s")
			b.ReportMetric(samBuild().Seconds(), ex+"-sam-warm-s")
			samSize := 0
			for _, f := range functions {
				samSize += zipSize(b, dirFiles(b, filepath.Join(dir, ".aws-sam", "build", f), ""))
			}
			b.ReportMetric(float64(samSize)/1024, ex+"-sam-KiB")
		}
	}
}

// zipSize is the size of files zipped with Deflate.
func zipSize(b *testing.B, files map[string]string) int {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range slices.Sorted(maps.Keys(files)) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate})
		if err != nil {
			b.Fatal(err)
		}
		w.Write([]byte(files[name]))
	}
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
	return buf.Len()
}
