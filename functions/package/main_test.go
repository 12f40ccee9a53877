package main

import (
	"strings"
	"testing"

	"github.com/stackflow/stackflow/internal/eventtest"
	"github.com/stackflow/stackflow/internal/pipeline"
)

// TestEvent checks that event.json is a package input with no unknown fields,
// and that it round-trips.
func TestEvent(t *testing.T) {
	in := eventtest.Read[pipeline.PackageInput](t, "event.json")
	if in.Source.ArchiveKey != pipeline.SourceKey(in.Run.Repository, in.Run.Commit) || len(in.Source.Plan.Checks) == 0 || in.Execution == "" {
		t.Errorf("got %+v, want a whole package input", in)
	}
}

func TestSetup(t *testing.T) {
	t.Setenv("GOPROXY", "https://goproxy.example")
	t.Setenv("TOOLCHAIN_CACHE", "/tmp/tc")
	tests := []struct {
		arch, want, wantErr string
	}{
		{arch: "", want: ""},
		{arch: "x86_64", want: "amd64"},
		{arch: "arm64", want: "arm64"},
		{arch: "mips", wantErr: "BUILD_ARCH"},
	}
	for _, tt := range tests {
		t.Setenv("BUILD_ARCH", tt.arch)
		svc, err := setup(t.Context())
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("BUILD_ARCH=%s: got %v, want an error naming %s", tt.arch, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if svc.Store != nil {
			t.Errorf("got a store %T, want none: the grants' URLs alone", svc.Store)
		}
		if svc.Arch != tt.want || svc.Toolchain.Proxy != "https://goproxy.example" || svc.Toolchain.CacheDir != "/tmp/tc" {
			t.Errorf("BUILD_ARCH=%s: got arch %q, %+v", tt.arch, svc.Arch, svc.Toolchain)
		}
	}
}

// TestSetupRuntimes: in Lambda the package step fetches the runtimes'
// Python and Node.js; with APP_TOOLCHAINS=host it uses PATH's.
func TestSetupRuntimes(t *testing.T) {
	tests := []struct {
		toolchains string
		fetch      bool
	}{
		{"", true},
		{"download", true},
		{"host", false},
	}
	for _, tt := range tests {
		t.Setenv("APP_TOOLCHAINS", tt.toolchains)
		svc, err := setup(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if got := svc.Runtimes != nil; got != tt.fetch || (got && (svc.Runtimes.Store != nil || svc.Runtimes.Host)) {
			t.Errorf("APP_TOOLCHAINS=%q: got runtimes %+v, want fetching %v, kept in /tmp only", tt.toolchains, svc.Runtimes, tt.fetch)
		}
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
