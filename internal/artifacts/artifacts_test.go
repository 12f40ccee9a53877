package artifacts_test

import (
	"context"
	"errors"
	"github.com/aws/aws-sdk-go-v2/aws"
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

func TestFromEnv(t *testing.T) {
	cfg := testaws.Start(t)
	t.Setenv("ARTIFACT_BUCKET", "")
	if _, err := artifacts.FromEnv(cfg); err == nil || err.Error() != "ARTIFACT_BUCKET is not set" {
		t.Fatalf("got %v, want ARTIFACT_BUCKET is not set", err)
	}
	bucket := testaws.Bucket(t, cfg, "env")
	t.Setenv("ARTIFACT_BUCKET", bucket)
	t.Setenv("AWS_ENDPOINT_URL", aws.ToString(cfg.BaseEndpoint)) // a local S3: path style
	store, err := artifacts.FromEnv(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if store.Bucket() != bucket {
		t.Errorf("got bucket %q, want %q", store.Bucket(), bucket)
	}
	if err := store.Put(context.Background(), "k", []byte("v"), ""); err != nil {
		t.Errorf("the store cannot write its bucket: %v", err)
	}
}
