package main

import (
	"strings"
	"testing"

	"github.com/stackflow/stackflow/internal/eventtest"
	"github.com/stackflow/stackflow/internal/pipeline"
)

// TestEvent checks that event.json is a checks input with no unknown fields,
// and that it round-trips.
func TestEvent(t *testing.T) {
	in := eventtest.Read[pipeline.ChecksInput](t, "event.json")
	if in.Source.ArchiveKey != pipeline.SourceKey(in.Run.Repository, in.Run.Commit) || len(in.Source.Plan.Checks) == 0 || in.Execution == "" {
		t.Errorf("got %+v, want a whole checks input", in)
	}
}

func TestSetup(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("ARTIFACT_BUCKET", "")
	if _, err := setup(t.Context()); err == nil || !strings.Contains(err.Error(), "ARTIFACT_BUCKET") {
		t.Errorf("got %v, want an error naming ARTIFACT_BUCKET", err)
	}
	t.Setenv("ARTIFACT_BUCKET", "artifacts")
	t.Setenv("GOPROXY", "")
	t.Setenv("TOOLCHAIN_CACHE", "")
	svc, err := setup(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if svc.Toolchain.Proxy != "https://proxy.golang.org" || svc.Toolchain.CacheDir != "/tmp/stackflow/toolchains" {
		t.Errorf("got %+v, want the defaults", svc.Toolchain)
	}
}

func TestSetupGoCaches(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("ARTIFACT_BUCKET", "artifacts")
	tests := []struct {
		s3, dir string
		wantDir string // "" when the caches are off
		wantErr bool
	}{
		{s3: "", wantDir: "/tmp/stackflow/go"},
		{s3: "on", dir: "/mnt/go", wantDir: "/mnt/go"},
		{s3: "off"},
		{s3: "sometimes", wantErr: true},
	}
	for _, tt := range tests {
		t.Setenv("GO_CACHE_S3", tt.s3)
		t.Setenv("GO_CACHE_DIR", tt.dir)
		svc, err := setup(t.Context())
		if tt.wantErr {
			if err == nil || !strings.Contains(err.Error(), "GO_CACHE_S3") {
				t.Errorf("GO_CACHE_S3=%s: got %v, want an error naming it", tt.s3, err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		gotDir := ""
		if svc.Caches != nil {
			gotDir = svc.Caches.Dir
		}
		if gotDir != tt.wantDir || svc.Toolchain.GoCacheDir != tt.wantDir {
			t.Errorf("GO_CACHE_S3=%q GO_CACHE_DIR=%q: got caches in %q and GoCacheDir %q, want %q", tt.s3, tt.dir, gotDir, svc.Toolchain.GoCacheDir, tt.wantDir)
		}
	}
}
