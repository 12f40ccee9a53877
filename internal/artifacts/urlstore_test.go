package artifacts_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stackflow/stackflow/internal/artifacts"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/testaws"
)

// TestURLStoreReadsAndWritesOnlyWhatIsGranted: presigned query-string
// SigV4 GET and PUT URLs, made by the trusted Store, work against the
// local S3 (kumo) as against S3; the URL store refuses every key it has no
// URL for, reads and writes included, and never quotes a URL in an error.
func TestURLStoreReadsAndWritesOnlyWhatIsGranted(t *testing.T) {
	cfg := testaws.Start(t)
	bucket := testaws.Bucket(t, cfg, "urls")
	trusted := artifacts.New(testaws.S3(cfg), bucket, cfg.Region)
	ctx := context.Background()
	if err := trusted.Put(ctx, "sources/a.tar.gz", []byte("the archive"), ""); err != nil {
		t.Fatal(err)
	}
	if err := trusted.Put(ctx, "sources/other.tar.gz", []byte("another run's"), ""); err != nil {
		t.Fatal(err)
	}
	get := func(key string) string {
		u, err := trusted.PresignGet(ctx, key, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		q, _ := url.Parse(u)
		for _, p := range []string{"X-Amz-Signature", "X-Amz-Credential", "X-Amz-Expires"} {
			if q.Query().Get(p) == "" {
				t.Fatalf("presigned URL of %s has no %s", key, p)
			}
		}
		return u
	}
	put := func(key string) string {
		u, err := trusted.PresignPut(ctx, key, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	g := &pipeline.Grants{Bucket: bucket, Region: cfg.Region,
		Get: map[string]string{"sources/a.tar.gz": get("sources/a.tar.gz"), "cache/missing.json": get("cache/missing.json")},
		Put: map[string]string{"logs/run/checks.log": put("logs/run/checks.log"), "cache/mine.tar.gz": put("staging/run/checks/cache/mine.tar.gz")},
	}
	u := artifacts.NewURLStore(g, nil, t.TempDir())

	if b, err := u.Get(ctx, "sources/a.tar.gz"); err != nil || string(b) != "the archive" {
		t.Errorf("Get(granted) = %q, %v; want the archive", b, err)
	}
	if _, err := u.Get(ctx, "cache/missing.json"); !errors.Is(err, artifacts.ErrNotFound) {
		t.Errorf("Get(granted, missing) error = %v, want ErrNotFound", err)
	}
	if ok, err := u.Exists(ctx, "cache/missing.json"); err != nil || ok {
		t.Errorf("Exists(granted, missing) = %v, %v; want false, nil", ok, err)
	}
	if _, err := u.Get(ctx, "sources/other.tar.gz"); !errors.Is(err, artifacts.ErrNotGranted) {
		t.Errorf("Get(another run's archive) error = %v, want ErrNotGranted", err)
	}
	if _, err := u.Exists(ctx, "sources/other.tar.gz"); !errors.Is(err, artifacts.ErrNotGranted) {
		t.Errorf("Exists(another run's archive) error = %v, want ErrNotGranted", err)
	}
	if err := u.Put(ctx, "logs/run/checks.log", []byte("a log"), "text/plain"); err != nil {
		t.Fatal(err)
	}
	if b, err := trusted.Get(ctx, "logs/run/checks.log"); err != nil || string(b) != "a log" {
		t.Errorf("the log: %q, %v", b, err)
	}
	path := filepath.Join(t.TempDir(), "cache.tar.gz")
	os.WriteFile(path, []byte("a cache"), 0o644)
	if err := u.PutFile(ctx, "cache/mine.tar.gz", path, "application/gzip"); err != nil {
		t.Fatal(err)
	}
	// The write lands in the staging area its URL names, not at the key.
	if b, err := trusted.Get(ctx, "staging/run/checks/cache/mine.tar.gz"); err != nil || string(b) != "a cache" {
		t.Errorf("the staged cache: %q, %v", b, err)
	}
	if ok, _ := trusted.Exists(ctx, "cache/mine.tar.gz"); ok {
		t.Error("the cache's own key was written; want it staged only")
	}
	for _, key := range []string{"artifacts/x/y/abc.zip", "packages/x/y/c/template.yaml", "builds/x/y/main/index.json", "logs/other/checks.log"} {
		err := u.Put(ctx, key, []byte("poison"), "")
		if !errors.Is(err, artifacts.ErrNotGranted) {
			t.Errorf("Put(%s) error = %v, want ErrNotGranted", key, err)
		}
		if ok, _ := trusted.Exists(ctx, key); ok {
			t.Errorf("%s was written", key)
		}
	}
	if err := u.Flush(ctx); err != nil {
		t.Errorf("Flush with nothing bundled: %v", err)
	}
}

// TestURLStoreBundlesWhatHasNoKeyYet: objects under the bundle's prefixes
// go into one tar uploaded by Flush; others under no prefix are refused,
// and so is a key that climbs out of its prefix.
func TestURLStoreBundlesWhatHasNoKeyYet(t *testing.T) {
	cfg := testaws.Start(t)
	bucket := testaws.Bucket(t, cfg, "bundle")
	trusted := artifacts.New(testaws.S3(cfg), bucket, cfg.Region)
	ctx := context.Background()
	link, err := trusted.PresignPut(ctx, "staging/run/package/bundle.tar", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	g := &pipeline.Grants{Bucket: bucket, Region: cfg.Region, Bundle: link,
		BundlePrefixes: []string{"artifacts/ws/app/", "builds/ws/app/feature-1/"}}
	u := artifacts.NewURLStore(g, nil, t.TempDir())
	if err := u.Put(ctx, "artifacts/ws/app/aa.zip", []byte("zip one"), "application/zip"); err != nil {
		t.Fatal(err)
	}
	if err := u.Put(ctx, "builds/ws/app/feature-1/k.json", []byte(`{"key":"k"}`), "application/json"); err != nil {
		t.Fatal(err)
	}
	if ok, err := u.Exists(ctx, "artifacts/ws/app/aa.zip"); err != nil || !ok {
		t.Errorf("Exists(bundled) = %v, %v; want true", ok, err)
	}
	for _, key := range []string{"builds/ws/app/main-2/k.json", "artifacts/ws/app/../other/aa.zip", "artifacts/ws/other/aa.zip"} {
		if err := u.Put(ctx, key, []byte("x"), ""); !errors.Is(err, artifacts.ErrNotGranted) {
			t.Errorf("Put(%s) error = %v, want ErrNotGranted", key, err)
		}
	}
	if err := u.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	body, err := trusted.Get(ctx, "staging/run/package/bundle.tar")
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(body))
	var got []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		got = append(got, h.Name+"="+string(b))
	}
	if want := `artifacts/ws/app/aa.zip=zip one,builds/ws/app/feature-1/k.json={"key":"k"}`; strings.Join(got, ",") != want {
		t.Errorf("bundle holds %v, want %s", got, want)
	}
}
