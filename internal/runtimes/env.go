package runtimes

import (
	"fmt"
	"net/http"
	"os"
	"strings"
)

// DefaultCacheDir is where a Lambda function keeps the tools it fetched
// between warm starts.
const DefaultCacheDir = "/tmp/stackflow/runtimes"

// OptionsFromEnv returns the options a handler reads from its environment,
// keeping verified archives in store and downloading with hc:
//
//	APP_TOOLCHAINS  download (the default): fetch the runtimes' Python and
//	                Node.js; host: use the host's python3 and node
//	                (stackflow local)
//	RUNTIMES_CACHE  where fetched tools are unpacked; default DefaultCacheDir
//	PYTHON_MIRROR   python-build-standalone's releases/download URL, or a mirror of it
//	NODE_MIRROR     nodejs.org's /dist URL, or a mirror of it
//	PYPI_MIRROR     PyPI's simple index (https://pypi.org/simple), or a
//	                mirror of it serving PEP 691's JSON, where uv is fetched
func OptionsFromEnv(store Store, hc *http.Client) (Options, error) {
	o := Options{Store: store, HTTPClient: hc, CacheDir: os.Getenv("RUNTIMES_CACHE"), Mirrors: map[Language]string{}}
	switch v := strings.ToLower(strings.TrimSpace(os.Getenv("APP_TOOLCHAINS"))); v {
	case "", "download":
	case "host":
		o.Host = true
	default:
		return Options{}, fmt.Errorf("APP_TOOLCHAINS %q: want download or host", v)
	}
	if o.CacheDir == "" {
		o.CacheDir = DefaultCacheDir
	}
	for lang, name := range map[Language]string{Python: "PYTHON_MIRROR", Node: "NODE_MIRROR", UV: "PYPI_MIRROR"} {
		if v := os.Getenv(name); v != "" {
			o.Mirrors[lang] = v
		}
	}
	return o, nil
}
