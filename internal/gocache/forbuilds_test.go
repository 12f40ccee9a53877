package gocache

import (
	"net/http"
	"testing"
)

func TestForBuilds(t *testing.T) {
	hc := &http.Client{}
	t.Setenv("GOPROXY", "http://127.0.0.1:1/proxy")
	t.Setenv("GO_CACHE_DIR", "/var/cache/stackflow-go")
	t.Setenv("GO_CACHE_S3", "on")
	caches, opts, err := ForBuilds(nil, hc)
	if err != nil || caches == nil || caches.Dir != "/var/cache/stackflow-go" {
		t.Fatalf("on: got %+v, %v; want caches in /var/cache/stackflow-go", caches, err)
	}
	if opts.GoCacheDir != caches.Dir || opts.Proxy != "http://127.0.0.1:1/proxy" || opts.HTTPClient != hc {
		t.Errorf("on: got toolchain options %+v, want the caches' dir, the proxy and the client", opts)
	}
	t.Setenv("GO_CACHE_S3", "")
	t.Setenv("GO_CACHE_DIR", "")
	if caches, opts, err := ForBuilds(nil, hc); err != nil || caches == nil || caches.Dir != DefaultDir || opts.GoCacheDir != DefaultDir {
		t.Errorf("defaults: got %+v, %+v, %v; want caches on, in %s", caches, opts, err, DefaultDir)
	}
	t.Setenv("GO_CACHE_S3", "off")
	caches, opts, err = ForBuilds(nil, hc)
	if err != nil || caches != nil || opts.GoCacheDir != "" {
		t.Errorf("off: got %+v, %+v, %v; want no caches and the environment's Go caches", caches, opts, err)
	}
	t.Setenv("GO_CACHE_S3", "sometimes")
	if _, _, err := ForBuilds(nil, hc); err == nil {
		t.Error("GO_CACHE_S3=sometimes: want an error")
	}
}
