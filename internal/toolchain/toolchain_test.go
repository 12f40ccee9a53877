package toolchain

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
)

const platform = runtime.GOOS + "-" + runtime.GOARCH

// fakeToolchainZip is a module zip of golang.org/toolchain at version whose
// go command is a shell script that reports version reports.
func fakeToolchainZip(t *testing.T, version, reports string, extra map[string]string) []byte {
	t.Helper()
	prefix := "golang.org/toolchain@v0.0.1-go" + version + "." + platform + "/"
	files := map[string]string{
		"go.mod":  "module golang.org/toolchain\n",
		"VERSION": "go" + version + "\n",
		"bin/go":  "#!/bin/sh\necho go version go" + reports + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n",
		"pkg/tool/" + runtime.GOOS + "_" + runtime.GOARCH + "/compile": "#!/bin/sh\necho compile\n",
		"src/fmt/print.go": "package fmt\n",
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	write := func(name, body string) {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range files {
		write(prefix+name, body)
	}
	for name, body := range extra {
		write(name, body)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// proxy is a Go module proxy serving zips under /good/ and recording every
// request path.
type proxy struct {
	*httptest.Server
	mu       sync.Mutex
	requests []string
}

func (p *proxy) paths() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.requests)
}

func setupProxy(t *testing.T, zips map[string][]byte) *proxy {
	t.Helper()
	p := &proxy{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.requests = append(p.requests, r.URL.Path)
		p.mu.Unlock()
		body, ok := zips[strings.TrimPrefix(r.URL.Path, "/good")]
		if !ok || !strings.HasPrefix(r.URL.Path, "/good/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/zip")
		w.Write(body)
	}))
	t.Cleanup(p.Close)
	return p
}

func writeGoMod(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func hostGo(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the tests need a go command on PATH: %v", err)
	}
	return p
}

func TestResolveDownloadsOnceAndReuses(t *testing.T) {
	t.Parallel()
	zipPath := "/golang.org/toolchain/@v/v0.0.1-go1.99.1." + platform + ".zip"
	p := setupProxy(t, map[string][]byte{zipPath: fakeToolchainZip(t, "1.99.1", "1.99.1", nil)})
	cache := t.TempDir()
	opts := Options{
		// The first proxy lacks the toolchain: a 404 moves on to the next.
		Proxy:    p.URL + "/missing," + p.URL + "/good",
		CacheDir: cache,
		LocalGo:  hostGo(t), // older than 1.99.1
	}
	mod := writeGoMod(t, "module example.com/m\n\ngo 1.21\n\ntoolchain go1.99.1\n")

	tc, err := Resolve(context.Background(), mod, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.paths(), []string{"/missing" + zipPath, "/good" + zipPath}; !slices.Equal(got, want) {
		t.Errorf("requested %q, want %q", got, want)
	}
	wantRoot := filepath.Join(cache, "go1.99.1."+platform)
	if tc.GoRoot != wantRoot || tc.Go != filepath.Join(wantRoot, "bin", "go") || tc.Version != "go1.99.1" || tc.Local || !tc.Downloaded {
		t.Errorf("got %+v, want GoRoot %s, version go1.99.1, downloaded", tc, wantRoot)
	}
	for _, exe := range []string{"bin/go", "pkg/tool/" + runtime.GOOS + "_" + runtime.GOARCH + "/compile"} {
		fi, err := os.Stat(filepath.Join(wantRoot, exe))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o111 == 0 {
			t.Errorf("%s has mode %v, want executable", exe, fi.Mode())
		}
	}
	if fi, err := os.Stat(filepath.Join(wantRoot, "src/fmt/print.go")); err != nil || fi.Mode().Perm()&0o111 != 0 {
		t.Errorf("src/fmt/print.go: %v, %v; want a plain file", fi, err)
	}
	out, err := exec.Command(tc.Go, "version").Output()
	if err != nil || !strings.Contains(string(out), "go1.99.1") {
		t.Errorf("go version = %q, %v; want go1.99.1", out, err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(cache, "*tmp*")); len(leftovers) != 0 {
		t.Errorf("left behind %q", leftovers)
	}

	again, err := Resolve(context.Background(), mod, opts)
	if err != nil {
		t.Fatal(err)
	}
	if again.Downloaded || again.GoRoot != wantRoot {
		t.Errorf("second Resolve = %+v, want the cached %s", again, wantRoot)
	}
	if got := len(p.paths()); got != 2 {
		t.Errorf("got %d requests after the second Resolve, want still 2", got)
	}
}

func TestResolveChoosesHostGoWhenNewEnough(t *testing.T) {
	t.Parallel()
	p := setupProxy(t, nil)
	out, err := exec.Command(hostGo(t), "env", "GOVERSION", "GOROOT").Output()
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(out))
	mod := writeGoMod(t, "module example.com/m\n\ngo 1.21\n")

	tc, err := Resolve(context.Background(), mod, Options{Proxy: p.URL, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if !tc.Local || tc.Version != f[0] || tc.GoRoot != f[1] {
		t.Errorf("got %+v, want the host's %s at %s", tc, f[0], f[1])
	}
	if got := p.paths(); len(got) != 0 {
		t.Errorf("requested %q from the proxy, want nothing", got)
	}
	env := tc.Env()
	for _, want := range []string{"GOTOOLCHAIN=local", "GOROOT=" + f[1], "CGO_ENABLED=0", "GOPROXY=" + p.URL} {
		if !slices.Contains(env, want) {
			t.Errorf("Env() lacks %q", want)
		}
	}
}

func TestResolveFailures(t *testing.T) {
	t.Parallel()
	v1991 := fakeToolchainZip(t, "1.99.1", "1.99.1", nil)
	tests := []struct {
		name    string
		gomod   string
		zips    map[string][]byte
		max     int64
		local   string
		wantErr string
	}{
		{
			name:    "not on the proxy",
			gomod:   "go 1.99.2\n",
			wantErr: "404 Not Found",
		},
		{
			name:    "zip over the size limit",
			gomod:   "go 1.99.1\n",
			zips:    map[string][]byte{"/golang.org/toolchain/@v/v0.0.1-go1.99.1." + platform + ".zip": v1991},
			max:     100,
			wantErr: "over the limit",
		},
		{
			name:    "entries under another version",
			gomod:   "go 1.99\n", // means go1.99.0
			zips:    map[string][]byte{"/golang.org/toolchain/@v/v0.0.1-go1.99.0." + platform + ".zip": v1991},
			wantErr: "outside golang.org/toolchain@v0.0.1-go1.99.0",
		},
		{
			name:    "toolchain reports another version",
			gomod:   "go 1.99.0\n",
			zips:    map[string][]byte{"/golang.org/toolchain/@v/v0.0.1-go1.99.0." + platform + ".zip": fakeToolchainZip(t, "1.99.0", "1.98.0", nil)},
			wantErr: "reports \"go version go1.98.0",
		},
		{
			name:  "entry climbing out",
			gomod: "go 1.99.1\n",
			zips: map[string][]byte{"/golang.org/toolchain/@v/v0.0.1-go1.99.1." + platform + ".zip": fakeToolchainZip(t, "1.99.1", "1.99.1",
				map[string]string{"golang.org/toolchain@v0.0.1-go1.99.1." + platform + "/../evil": "x"})},
			wantErr: "unsafe entry",
		},
		{
			name:    "no go.mod and no local go",
			local:   "/nonexistent/go",
			wantErr: ErrNoRequirement.Error(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := setupProxy(t, tt.zips)
			dir := t.TempDir()
			if tt.gomod != "" {
				dir = writeGoMod(t, tt.gomod)
			}
			local := tt.local
			if local == "" {
				local = hostGo(t)
			}
			cache := t.TempDir()
			_, err := Resolve(context.Background(), dir, Options{Proxy: p.URL + "/good", CacheDir: cache, LocalGo: local, MaxDownload: tt.max})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
			}
			if entries, _ := os.ReadDir(cache); len(entries) != 0 {
				t.Errorf("cache holds %v after a failure, want nothing", entries)
			}
		})
	}
}

func TestDownloadRedactsProxyPassword(t *testing.T) {
	t.Parallel()
	p := setupProxy(t, nil)
	u := strings.Replace(p.URL, "http://", "http://user:s3cret@", 1)
	_, err := download(context.Background(), Options{Proxy: u, CacheDir: t.TempDir()}.withDefaults(), "v0.0.1-go1.99.1.linux-arm64")
	if err == nil || strings.Contains(err.Error(), "s3cret") || !errors.Is(err, errNotFound) {
		t.Fatalf("got error %v, want a not-found error without the password", err)
	}
}

// Not parallel: it sets the process environment.
func TestEnvAllowList(t *testing.T) {
	t.Setenv("AWS_SECRET_ACCESS_KEY", "do-not-leak")
	t.Setenv("AWS_SESSION_TOKEN", "do-not-leak")
	t.Setenv("BITBUCKET_TOKEN", "do-not-leak")
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "do-not-leak")
	t.Setenv("GOFLAGS", "-mod=mod")
	t.Setenv("HOME", "") // as in Lambda
	t.Setenv("PATH", "/usr/bin:/bin")
	cache := t.TempDir()

	env, err := environ("/opt/go", Options{Proxy: "https://proxy.example", GoCacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range env {
		if strings.Contains(kv, "do-not-leak") {
			t.Errorf("Env() holds %q", kv)
		}
	}
	for _, want := range []string{
		"PATH=/opt/go/bin:/usr/bin:/bin", "GOROOT=/opt/go", "GOTOOLCHAIN=local", "CGO_ENABLED=0",
		"GOPROXY=https://proxy.example", "GOFLAGS=-mod=mod",
		"HOME=" + filepath.Join(cache, "home"),
		"GOCACHE=" + filepath.Join(cache, "build"), "GOMODCACHE=" + filepath.Join(cache, "mod"),
	} {
		if !slices.Contains(env, want) {
			t.Errorf("Env() = %q, lacks %q", env, want)
		}
	}
	if fi, err := os.Stat(filepath.Join(cache, "home")); err != nil || !fi.IsDir() {
		t.Errorf("HOME was not made: %v", err)
	}

	// Plain: the same environment without a Go of its own.
	plain, err := Plain(Options{Proxy: "https://proxy.example", GoCacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	env = plain.Env()
	if !slices.Contains(env, "PATH=/usr/bin:/bin") || !slices.Contains(env, "HOME="+filepath.Join(cache, "home")) || plain.Version != "" {
		t.Errorf("Plain: got %+v with %q, want PATH and HOME as they are, no version", plain, env)
	}
	for _, kv := range env {
		if strings.HasPrefix(kv, "GOROOT=") || strings.Contains(kv, "do-not-leak") {
			t.Errorf("Plain's Env() holds %q", kv)
		}
	}
}
