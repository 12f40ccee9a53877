package artifacts_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stackflow/stackflow/internal/artifacts"
	"github.com/stackflow/stackflow/internal/testaws"
)

func TestStoreRoundTrip(t *testing.T) {
	cfg := testaws.Start(t)
	bucket := testaws.Bucket(t, cfg, "art")
	store := artifacts.New(testaws.S3(cfg), bucket, cfg.Region)
	ctx := context.Background()

	if ok, err := store.Exists(ctx, "a/missing"); err != nil || ok {
		t.Fatalf("Exists(missing) = %v, %v; want false, nil", ok, err)
	}
	if _, err := store.Get(ctx, "a/missing"); !errors.Is(err, artifacts.ErrNotFound) {
		t.Fatalf("Get(missing) error = %v, want ErrNotFound", err)
	}
	if err := store.Put(ctx, "a/b.txt", []byte("hello"), "text/plain"); err != nil {
		t.Fatal(err)
	}
	got, err := store.Get(ctx, "a/b.txt")
	if err != nil || string(got) != "hello" {
		t.Fatalf("Get = %q, %v; want %q", got, err, "hello")
	}
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("from a file"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := store.PutFile(ctx, "a/f", path, ""); err != nil {
		t.Fatal(err)
	}
	if ok, err := store.Exists(ctx, "a/f"); err != nil || !ok {
		t.Fatalf("Exists(a/f) = %v, %v; want true, nil", ok, err)
	}
	if got, want := store.URL("p/t.yaml"), "https://"+bucket+".s3."+cfg.Region+".amazonaws.com/p/t.yaml"; got != want {
		t.Fatalf("URL = %q, want %q", got, want)
	}
}
