package toolchain

import (
	"net/http"
	"testing"
)

func TestOptionsFromEnv(t *testing.T) {
	hc := &http.Client{}
	t.Setenv("GOPROXY", "")
	t.Setenv("TOOLCHAIN_CACHE", "")
	if o := OptionsFromEnv(hc); o.Proxy != DefaultProxy || o.CacheDir != DefaultCacheDir || o.HTTPClient != hc {
		t.Errorf("defaults: got %+v, want proxy %s, cache %s and the client given", o, DefaultProxy, DefaultCacheDir)
	}
	t.Setenv("GOPROXY", "http://127.0.0.1:1/proxy")
	t.Setenv("TOOLCHAIN_CACHE", "/var/cache/tc")
	if o := OptionsFromEnv(hc); o.Proxy != "http://127.0.0.1:1/proxy" || o.CacheDir != "/var/cache/tc" {
		t.Errorf("from the environment: got %+v", o)
	}
}
