package main

import (
	"strings"
	"testing"

	"github.com/stackflow/stackflow/internal/eventtest"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/runtimes"
)

// TestEvent checks that event.json is a checks input with no unknown fields,
// and that it round-trips.
func TestEvent(t *testing.T) {
	in := eventtest.Read[pipeline.ChecksInput](t, "event.json")
	if in.Source.ArchiveKey != pipeline.SourceKey(in.Run.Repository, in.Run.Commit) || len(in.Source.Plan.Checks) == 0 || in.Execution == "" {
		t.Errorf("got %+v, want a whole checks input", in)
	}
}

// TestSetup: the function needs no bucket nor any AWS client: it runs the
// commit's code, and reaches the bucket through its input's grants alone.
func TestSetup(t *testing.T) {
	t.Setenv("ARTIFACT_BUCKET", "")
	t.Setenv("GOPROXY", "")
	t.Setenv("TOOLCHAIN_CACHE", "")
	svc, err := setup(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if svc.Store != nil {
		t.Errorf("got a store %T, want none: the grants' URLs alone", svc.Store)
	}
	if svc.Toolchain.Proxy != "https://proxy.golang.org" || svc.Toolchain.CacheDir != "/tmp/stackflow/toolchains" {
		t.Errorf("got %+v, want the defaults", svc.Toolchain)
	}
	if r := svc.Runtimes; r.Host || r.CacheDir != "/tmp/stackflow/runtimes" || r.Store != nil || len(r.Mirrors) != 0 {
		t.Errorf("got runtimes %+v, want downloads into /tmp, never the bucket", r)
	}
	t.Setenv("PACKAGE_INDEX_SECRET_ARN", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:idx")
	svc, err = setup(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Indexes.Settings(t.Context()); err == nil || !strings.Contains(err.Error(), "grant") {
		t.Errorf("with a secret to read: got %v, want an error saying the grant step hands it", err)
	}
}

// TestSetupRuntimes: APP_TOOLCHAINS, RUNTIMES_CACHE and the mirrors.
func TestSetupRuntimes(t *testing.T) {
	t.Setenv("APP_TOOLCHAINS", "host")
	t.Setenv("RUNTIMES_CACHE", "/mnt/runtimes")
	t.Setenv("PYTHON_MIRROR", "https://mirror.example/pbs")
	t.Setenv("NODE_MIRROR", "https://mirror.example/node")
	svc, err := setup(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	r := svc.Runtimes
	if !r.Host || r.CacheDir != "/mnt/runtimes" || r.Mirrors[runtimes.Python] != "https://mirror.example/pbs" || r.Mirrors[runtimes.Node] != "https://mirror.example/node" {
		t.Errorf("got %+v, want the environment's settings", r)
	}
	t.Setenv("APP_TOOLCHAINS", "sometimes")
	if _, err := setup(t.Context()); err == nil || !strings.Contains(err.Error(), "APP_TOOLCHAINS") {
		t.Errorf("APP_TOOLCHAINS=sometimes: got %v, want an error naming it", err)
	}
}

// TestSetupGoCaches: the service gets the caches and the toolchain the
// environment describes (gocache.ForBuilds's own test covers each setting).
func TestSetupGoCaches(t *testing.T) {
	t.Setenv("GO_CACHE_S3", "on")
	t.Setenv("GO_CACHE_DIR", "/mnt/go")
	svc, err := setup(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if svc.Caches == nil || svc.Caches.Dir != "/mnt/go" || svc.Toolchain.GoCacheDir != "/mnt/go" {
		t.Errorf("got caches %+v and GoCacheDir %q, want both in /mnt/go", svc.Caches, svc.Toolchain.GoCacheDir)
	}
	t.Setenv("GO_CACHE_S3", "sometimes")
	if _, err := setup(t.Context()); err == nil || !strings.Contains(err.Error(), "GO_CACHE_S3") {
		t.Errorf("GO_CACHE_S3=sometimes: got %v, want an error naming it", err)
	}
}
