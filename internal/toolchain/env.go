package toolchain

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// allowedEnv are the variables of the process environment that commands run
// with a toolchain may see. Everything else (AWS_* credentials, tokens, the
// handler's own settings) is left out.
var allowedEnv = []string{
	"PATH", "HOME", "TMPDIR", "USER", "LANG", "LC_ALL", "LC_CTYPE", "TZ",
	"SSL_CERT_FILE", "SSL_CERT_DIR",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
	"GOPATH", "GOPROXY", "GOPRIVATE", "GONOPROXY", "GONOSUMDB", "GONOSUMCHECK", "GOSUMDB",
	"GOINSECURE", "GOVCS", "GOFLAGS", "GOENV", "GOCACHE", "GOMODCACHE", "GOTMPDIR",
	"GOEXPERIMENT", "GODEBUG", "GOAMD64", "GOARM64", "GOWORK", "GOTELEMETRY",
	"GOMAXPROCS", "GOGC", "GOMEMLIMIT", "GOTRACEBACK",
}

// environ builds a toolchain's command environment (see Toolchain.Env);
// goRoot is empty for Plain's.
func environ(goRoot string, opts Options) ([]string, error) {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, ok := strings.Cut(kv, "=")
		if ok && slices.Contains(allowedEnv, k) {
			env[k] = v
		}
	}
	path := "/usr/local/bin:/usr/bin:/bin"
	if p := env["PATH"]; p != "" {
		path = p
	}
	env["PATH"] = path
	if goRoot != "" {
		env["PATH"] = filepath.Join(goRoot, "bin") + string(os.PathListSeparator) + path
		env["GOROOT"] = goRoot
	}
	env["GOTOOLCHAIN"] = "local"
	env["CGO_ENABLED"] = "0"
	env["GOPROXY"] = opts.Proxy

	cacheRoot := opts.GoCacheDir
	if env["HOME"] == "" {
		// Lambda sets no HOME; the go command then has no default caches.
		if cacheRoot == "" {
			cacheRoot = filepath.Join(os.TempDir(), "stackflow", "go")
		}
		env["HOME"] = filepath.Join(cacheRoot, "home")
		if err := os.MkdirAll(env["HOME"], 0o755); err != nil {
			return nil, fmt.Errorf("toolchain environment: %w", err)
		}
	}
	if cacheRoot != "" {
		for k, sub := range map[string]string{"GOCACHE": "build", "GOMODCACHE": "mod"} {
			if opts.GoCacheDir != "" || env[k] == "" {
				env[k] = filepath.Join(cacheRoot, sub)
			}
		}
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out, nil
}
