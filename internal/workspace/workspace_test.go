package workspace_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stackflow/stackflow/internal/archive"
	"github.com/stackflow/stackflow/internal/artifacts"
	"github.com/stackflow/stackflow/internal/testaws"
	"github.com/stackflow/stackflow/internal/workspace"
)

func TestFetch(t *testing.T) {
	t.Parallel()
	cfg := testaws.Start(t)
	store := artifacts.New(testaws.S3(cfg), testaws.Bucket(t, cfg, "artifacts"), cfg.Region)
	ctx := context.Background()

	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "cmd"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"go.mod": "module example.com/m\n", "cmd/main.go": "package main\n"} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var good bytes.Buffer
	if err := archive.Create(&good, src, "ws-repo-0123456789ab", nil); err != nil {
		t.Fatal(err)
	}
	if err := store.Put(ctx, "sources/good.tar.gz", good.Bytes(), ""); err != nil {
		t.Fatal(err)
	}
	if err := store.Put(ctx, "sources/evil.tar.gz", evilArchive(t), ""); err != nil {
		t.Fatal(err)
	}

	t.Run("unpacks the repository root", func(t *testing.T) {
		dir, cleanup, err := workspace.Fetch(ctx, store, "sources/good.tar.gz")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(filepath.Join(dir, "cmd", "main.go")); err != nil || string(got) != "package main\n" {
			t.Errorf("cmd/main.go = %q, %v; want %q", got, err, "package main\n")
		}
		if filepath.Dir(dir) != filepath.Clean(os.TempDir()) {
			t.Errorf("dir %s is not directly under %s", dir, os.TempDir())
		}
		cleanup()
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("after cleanup, stat %s: %v, want not exist", dir, err)
		}
	})
	t.Run("refuses an unsafe archive", func(t *testing.T) {
		_, _, err := workspace.Fetch(ctx, store, "sources/evil.tar.gz")
		if !errors.Is(err, archive.ErrUnsafe) {
			t.Fatalf("got %v, want ErrUnsafe", err)
		}
	})
	t.Run("missing archive", func(t *testing.T) {
		_, _, err := workspace.Fetch(ctx, store, "sources/missing.tar.gz")
		if !errors.Is(err, artifacts.ErrNotFound) {
			t.Fatalf("got %v, want ErrNotFound", err)
		}
	})
}

func evilArchive(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	body := []byte("owned")
	if err := tw.WriteHeader(&tar.Header{Name: "../escape.txt", Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
