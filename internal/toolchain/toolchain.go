package toolchain

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
)

// DefaultProxy is where toolchains come from when Options.Proxy is empty.
const DefaultProxy = "https://proxy.golang.org"

// DefaultMaxDownload bounds a toolchain zip: released ones are 65-100 MB.
const DefaultMaxDownload = 512 << 20

// ErrNoRequirement is returned when a directory has neither go.mod nor
// go.work (or they have no go line) and no local go command can stand in.
var ErrNoRequirement = errors.New("no go version required and no local go command")

// Options tune Resolve. The zero value downloads from proxy.golang.org into
// <tmp>/stackflow/toolchains.
type Options struct {
	// Proxy is the GOPROXY list that toolchains are downloaded from; it is
	// also the GOPROXY of the commands run with the toolchain. Empty means
	// DefaultProxy.
	Proxy string
	// CacheDir holds downloaded toolchains, one directory each. Empty means
	// <tmp>/stackflow/toolchains.
	CacheDir string
	// GoCacheDir, when set, holds the commands' GOCACHE ("build") and
	// GOMODCACHE ("mod"). When empty the process environment's Go caches
	// are used, or <tmp>/stackflow/go when HOME is unset, as in Lambda.
	GoCacheDir string
	// LocalGo is the go command preferred when it is new enough. Empty
	// means "go" on PATH; none found means always downloading.
	LocalGo string
	// HTTPClient downloads toolchains; nil means http.DefaultClient.
	HTTPClient *http.Client
	// MaxDownload bounds the size of a toolchain zip; 0 means
	// DefaultMaxDownload.
	MaxDownload int64
}

func (o Options) withDefaults() Options {
	if o.Proxy == "" {
		o.Proxy = DefaultProxy
	}
	if o.CacheDir == "" {
		o.CacheDir = filepath.Join(os.TempDir(), "stackflow", "toolchains")
	}
	if o.HTTPClient == nil {
		o.HTTPClient = http.DefaultClient
	}
	if o.MaxDownload <= 0 {
		o.MaxDownload = DefaultMaxDownload
	}
	return o
}

// Toolchain is a Go toolchain ready to run.
type Toolchain struct {
	// Version is the toolchain's name, such as "go1.22.3".
	Version string
	// GoRoot is its GOROOT.
	GoRoot string
	// Go is the path of its go command.
	Go string
	// Local is true when it is the host's go command rather than a
	// downloaded one.
	Local bool
	// Downloaded is true when Resolve downloaded it just now.
	Downloaded bool

	env []string
}

// Env is the environment to run commands with the toolchain: the allowed
// variables of the process environment (see allowedEnv) with GoRoot/bin
// first on PATH, GOROOT, GOTOOLCHAIN=local, CGO_ENABLED=0, the proxy as
// GOPROXY, and HOME, GOCACHE and GOMODCACHE set as Options says. It never
// carries AWS credentials or other secrets of the process.
func (t Toolchain) Env() []string { return slices.Clone(t.env) }

// Resolve returns the toolchain that modDir's go.work or go.mod asks for:
// the local go command when it is at least as new, otherwise the
// golang.org/toolchain module for this host, downloaded once into
// opts.CacheDir and reused afterwards.
func Resolve(ctx context.Context, modDir string, opts Options) (Toolchain, error) {
	opts = opts.withDefaults()
	req, file, err := readRequirement(modDir)
	if err != nil {
		return Toolchain{}, err
	}
	need := req.Min()
	tc, err := local(ctx, opts.LocalGo)
	switch {
	case err == nil && (need == "" || Compare(strings.TrimPrefix(tc.Version, "go"), need) >= 0):
		// The host's go is new enough.
	case need == "":
		if file == "" {
			return Toolchain{}, fmt.Errorf("toolchain for %s: no go.mod or go.work: %w", modDir, ErrNoRequirement)
		}
		return Toolchain{}, fmt.Errorf("toolchain for %s: %s has no go line: %w", modDir, file, ErrNoRequirement)
	default:
		tc, err = cached(ctx, opts, "go"+need)
		if err != nil {
			return Toolchain{}, fmt.Errorf("toolchain go%s for %s: %w", need, file, err)
		}
	}
	tc.env, err = environ(tc.GoRoot, opts)
	if err != nil {
		return Toolchain{}, err
	}
	return tc, nil
}

// Plain returns a toolchain without Go: its Env is the environment that
// checks of an app with no Go module run with (the allowed variables of
// the process environment, a HOME, the Go settings for a go command found
// on PATH), and its Version and GoRoot are empty.
func Plain(opts Options) (Toolchain, error) {
	env, err := environ("", opts.withDefaults())
	if err != nil {
		return Toolchain{}, err
	}
	return Toolchain{env: env}, nil
}

// readRequirement reads go.work, else go.mod, in dir; file is the one read,
// "" when neither exists.
func readRequirement(dir string) (req Requirement, file string, err error) {
	for _, name := range []string{"go.work", "go.mod"} {
		p := filepath.Join(dir, name)
		data, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return Requirement{}, "", fmt.Errorf("read %s: %w", name, err)
		}
		req, err := ParseRequirement(name, data)
		return req, name, err
	}
	return Requirement{}, "", nil
}

// local describes the host's go command, or fails when there is none.
func local(ctx context.Context, goCmd string) (Toolchain, error) {
	if goCmd == "" {
		goCmd = "go"
	}
	path, err := exec.LookPath(goCmd)
	if err != nil {
		return Toolchain{}, fmt.Errorf("local go: %w", err)
	}
	cmd := exec.CommandContext(ctx, path, "env", "GOVERSION", "GOROOT")
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local")
	cmd.Dir = os.TempDir() // away from any go.mod that asks for a newer go
	out, err := cmd.Output()
	if err != nil {
		return Toolchain{}, fmt.Errorf("local go: %s env: %w", path, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 {
		return Toolchain{}, fmt.Errorf("local go: %s env: unexpected output %q", path, out)
	}
	v := ""
	for _, f := range strings.Fields(lines[0]) { // "go1.22.3", "devel go1.23-abc ..."
		if v = fromToolchain(f); v != "" {
			break
		}
	}
	if v == "" {
		return Toolchain{}, fmt.Errorf("local go: %s reports version %q", path, lines[0])
	}
	return Toolchain{Version: "go" + v, GoRoot: strings.TrimSpace(lines[1]), Go: path, Local: true}, nil
}

// cached returns the toolchain name ("go1.22.3") for this host from
// opts.CacheDir, downloading and unpacking it first when it is not there.
func cached(ctx context.Context, opts Options, name string) (Toolchain, error) {
	platform := runtime.GOOS + "-" + runtime.GOARCH
	root := filepath.Join(opts.CacheDir, name+"."+platform)
	tc := Toolchain{Version: name, GoRoot: root, Go: filepath.Join(root, "bin", "go")}
	// A toolchain's directory appears by rename only once it is complete.
	if _, err := os.Stat(tc.Go); err == nil {
		return tc, nil
	}
	if err := os.MkdirAll(opts.CacheDir, 0o755); err != nil {
		return Toolchain{}, err
	}
	modVersion := "v0.0.1-" + name + "." + platform
	zipPath, err := download(ctx, opts, modVersion)
	if err != nil {
		return Toolchain{}, err
	}
	defer os.Remove(zipPath)
	staging, err := os.MkdirTemp(opts.CacheDir, name+".tmp-")
	if err != nil {
		return Toolchain{}, err
	}
	defer os.RemoveAll(staging) // a no-op once renamed
	if err := unzip(zipPath, staging, "golang.org/toolchain@"+modVersion+"/"); err != nil {
		return Toolchain{}, err
	}
	if err := makeExecutable(staging); err != nil {
		return Toolchain{}, err
	}
	if err := checkVersion(ctx, staging, name); err != nil {
		return Toolchain{}, err
	}
	if err := os.Rename(staging, root); err != nil {
		// Another Resolve may have won the race; its copy is as good.
		if _, statErr := os.Stat(tc.Go); statErr != nil {
			return Toolchain{}, fmt.Errorf("install toolchain: %w", err)
		}
	}
	tc.Downloaded = true
	return tc, nil
}

// makeExecutable sets the execute bits of bin/* and pkg/tool/*/*, which a
// module zip does not record, as the go command does after a download.
func makeExecutable(root string) error {
	for _, pattern := range []string{"bin/*", "pkg/tool/*/*"} {
		matches, err := filepath.Glob(filepath.Join(root, filepath.FromSlash(pattern)))
		if err != nil {
			return err
		}
		for _, m := range matches {
			fi, err := os.Stat(m)
			if err != nil {
				return err
			}
			if fi.Mode().IsRegular() {
				if err := os.Chmod(m, 0o755); err != nil {
					return fmt.Errorf("install toolchain: %w", err)
				}
			}
		}
	}
	return nil
}

// checkVersion runs the unpacked go command and checks that it is name.
func checkVersion(ctx context.Context, root, name string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(root, "bin", "go"), "version")
	cmd.Env = []string{"GOTOOLCHAIN=local", "GOROOT=" + root, "PATH=" + os.Getenv("PATH")}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("run downloaded go version: %w: %s", err, firstLine(out.String()))
	}
	// "go version go1.22.3 linux/arm64"
	f := strings.Fields(out.String())
	if len(f) < 3 || f[2] != name {
		return fmt.Errorf("downloaded toolchain reports %q, want %s", firstLine(out.String()), name)
	}
	return nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// DefaultCacheDir is where downloaded toolchains are kept between warm
// starts of a Lambda function.
const DefaultCacheDir = "/tmp/stackflow/toolchains"

// OptionsFromEnv returns the options a handler reads from its environment:
// GOPROXY (default DefaultProxy) and TOOLCHAIN_CACHE (default
// DefaultCacheDir), downloading with hc.
func OptionsFromEnv(hc *http.Client) Options {
	o := Options{Proxy: os.Getenv("GOPROXY"), CacheDir: os.Getenv("TOOLCHAIN_CACHE"), HTTPClient: hc}
	if o.Proxy == "" {
		o.Proxy = DefaultProxy
	}
	if o.CacheDir == "" {
		o.CacheDir = DefaultCacheDir
	}
	return o
}
