package runtimes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/stackflow/stackflow/internal/archive"
	"github.com/stackflow/stackflow/internal/pipeline"
)

// Store is the artifact bucket as Resolve keeps archives in it;
// *artifacts.Store is one. Open reports a missing key with an error.
type Store interface {
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	PutFile(ctx context.Context, key, path, contentType string) error
}

// Options tune Resolve. The zero value downloads from the sources' own
// sites into <tmp>/stackflow/runtimes.
type Options struct {
	// Host uses the host's python3 and node instead of downloading.
	Host bool
	// Path is where Host looks for them; empty means the PATH variable.
	Path string
	// CacheDir holds unpacked downloads, one directory each, kept between
	// warm starts. Empty means <tmp>/stackflow/runtimes.
	CacheDir string
	// Store, when set, keeps each verified archive in the artifact bucket
	// (under pipeline.ToolchainKey) for later cold starts.
	Store Store
	// Mirrors replaces a source's base URL: the python-build-standalone
	// releases (…/releases/download), nodejs.org's /dist, or for UV PyPI's
	// simple index (https://pypi.org/simple).
	Mirrors map[Language]string
	// HTTPClient downloads; nil means http.DefaultClient.
	HTTPClient *http.Client
	// Arch is the Go architecture to fetch for; empty means this
	// machine's.
	Arch string
	// MaxDownload bounds an archive; 0 means DefaultMaxDownload.
	MaxDownload int64

	// uvWheels replaces the pinned uvWheels, in tests.
	uvWheels map[string]wheel
}

func (o Options) withDefaults() Options {
	if o.CacheDir == "" {
		o.CacheDir = filepath.Join(os.TempDir(), "stackflow", "runtimes")
	}
	if o.HTTPClient == nil {
		o.HTTPClient = http.DefaultClient
	}
	if o.Arch == "" {
		o.Arch = runtime.GOARCH
	}
	if o.MaxDownload <= 0 {
		o.MaxDownload = DefaultMaxDownload
	}
	if o.Path == "" {
		o.Path = os.Getenv("PATH")
	}
	return o
}

// Tool is the Python or Node.js for one Need, ready to run.
type Tool struct {
	Need Need
	// Version is its exact version: "3.12.12", "22.11.0".
	Version string
	// Exe is the interpreter (python3.12, python3 or node); empty when
	// the host has none (see Warning).
	Exe string
	// Bin is the directory of its commands (Node.js: node, npm, npx).
	Bin string
	// Host is true for the host's own tool.
	Host bool
	// Origin says where it came from: "this machine's", "downloaded",
	// "from the artifact bucket" or "cached".
	Origin string
	// Source names the download's source and Took how long getting it
	// took.
	Source string
	Took   time.Duration
	// Warning, when set, says how the tool differs from the runtime's.
	Warning string
	// Note, when set, says what went wrong on the way without stopping
	// it (the artifact bucket could not be read or written).
	Note string
}

// String is the tool as a line of the checks' log.
func (t Tool) String() string {
	name := map[Language]string{Python: "Python", Node: "Node.js", UV: "uv"}[t.Need.Language]
	switch {
	case t.Exe == "":
		return fmt.Sprintf("%s: no %s on this machine", t.Need.Runtime(), name)
	case t.Host:
		return fmt.Sprintf("%s: this machine's %s %s (%s)", t.Need.Runtime(), name, t.Version, t.Exe)
	}
	return fmt.Sprintf("%s: %s %s from %s, %s in %s", t.Need.Runtime(), name, t.Version, t.Source, t.Origin, t.Took.Round(10*time.Millisecond))
}

// Resolve provides a Tool for every need: the host's (Options.Host), or
// one downloaded and verified once into Options.CacheDir. A host without
// the tool gets a Tool with an empty Exe and a Warning, not an error: the
// checks that need it then fail and say so.
func Resolve(ctx context.Context, needs []Need, opts Options) ([]Tool, error) {
	opts = opts.withDefaults()
	var tools []Tool
	for _, n := range needs {
		var t Tool
		var err error
		switch {
		case n.Language == UV && opts.Host:
			t, err = hostUV(ctx, n, opts.Path)
		case n.Language == UV:
			t, err = fetchUV(ctx, n, opts)
		case opts.Host:
			t, err = host(ctx, n, opts.Path)
		default:
			t, err = fetch(ctx, n, opts)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n.Runtime(), err)
		}
		tools = append(tools, t)
	}
	return tools, nil
}

// host finds the host's tool for n: python3.X, else python3; node.
func host(ctx context.Context, n Need, path string) (Tool, error) {
	t := Tool{Need: n, Host: true, Origin: "this machine's"}
	var names []string
	var args []string
	switch n.Language {
	case Python:
		names = []string{"python" + n.Version, "python3"}
		// The interpreter itself, not a version manager's shim, which may
		// choose another Python in another directory.
		args = []string{"-c", `import sys; print(sys.executable); print("%d.%d.%d" % sys.version_info[:3])`}
	case Node:
		names = []string{"node"}
		args = []string{"-p", `process.execPath + "\n" + process.versions.node`}
	}
	// A version manager's shim of python3.12 may be on PATH with no 3.12
	// installed: it fails, and the next name is tried.
	exe, lines := "", []string(nil)
	var errs []error
	for _, name := range names {
		p := LookPath(name, filepath.SplitList(path))
		if p == "" {
			continue
		}
		cmd := exec.CommandContext(ctx, p, args...)
		cmd.Dir = os.TempDir() // away from the app's .python-version or .nvmrc
		out, err := cmd.Output()
		if err != nil {
			errs = append(errs, fmt.Errorf("run %s: %w", p, err))
			continue
		}
		if lines = strings.Split(strings.TrimSpace(string(out)), "\n"); len(lines) != 2 {
			errs = append(errs, fmt.Errorf("run %s: unexpected output %q", p, out))
			continue
		}
		exe = p
		break
	}
	if exe == "" && len(errs) > 0 {
		return Tool{}, errors.Join(errs...)
	}
	if exe == "" {
		t.Warning = fmt.Sprintf("%s: no %s on this machine's PATH: the checks that need it will fail; install it", n.Runtime(), strings.Join(names, " or "))
		return t, nil
	}
	t.Exe, t.Version = strings.TrimSpace(lines[0]), strings.TrimSpace(lines[1])
	t.Bin = filepath.Dir(t.Exe)
	if n.Language == Node {
		// npm and npx beside node, as in every Node.js install.
		t.Bin = filepath.Dir(exe)
	}
	if want := n.Version + "."; !strings.HasPrefix(t.Version, want) {
		name := map[Language]string{Python: "Python", Node: "Node.js"}[n.Language]
		t.Warning = fmt.Sprintf("%s functions run on %s %s on Lambda; the checks run on this machine's %s %s", n.Runtime(), name, n.Version, name, t.Version)
	}
	return t, nil
}

// LookPath finds the executable name in dirs, in order; "" when there is
// none. Unlike exec.LookPath it takes the directories rather than PATH, so
// that a step can search its own before the process's.
func LookPath(name string, dirs []string) string {
	for _, d := range dirs {
		if d == "" {
			continue
		}
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// fetch returns n's tool from opts.CacheDir, first downloading, verifying
// and unpacking it there when it is not.
func fetch(ctx context.Context, n Need, opts Options) (Tool, error) {
	began := time.Now()
	src := sources[n.Language]
	mirror := src.mirror
	if m := opts.Mirrors[n.Language]; m != "" {
		mirror = m
	}
	f := &fetcher{hc: opts.HTTPClient, max: opts.MaxDownload, arch: opts.Arch}
	version, err := src.version(ctx, f, mirror, n)
	if err != nil {
		return Tool{}, err
	}
	file, archiveURL, sumsURL, err := src.asset(mirror, version, opts.Arch)
	if err != nil {
		return Tool{}, err
	}
	root := filepath.Join(opts.CacheDir, strings.TrimSuffix(file, ".tar.gz"))
	t := Tool{Need: n, Version: version, Source: src.name, Bin: filepath.Join(root, "bin")}
	t.Exe = filepath.Join(t.Bin, src.exe(n))
	// A directory appears by rename only once it is complete and checked.
	if _, err := os.Stat(t.Exe); err == nil {
		t.Origin, t.Took = "cached", time.Since(began)
		return t, nil
	}
	if err := os.MkdirAll(opts.CacheDir, 0o755); err != nil {
		return Tool{}, fmt.Errorf("fetch %s: %w", file, err)
	}
	sums, err := f.get(ctx, sumsURL, maxSums)
	if err != nil {
		return Tool{}, err
	}
	want, ok := parseSums(sums, file)
	if !ok {
		return Tool{}, fmt.Errorf("%s of %s lists no %s", src.sums, src.name, file)
	}

	key := pipeline.ToolchainKey(file)
	tmp, origin, note := fromStore(ctx, f, opts, key, want)
	if tmp == "" {
		var got string
		tmp, got, err = f.download(ctx, archiveURL, opts.CacheDir, file+".*")
		if err != nil {
			return Tool{}, err
		}
		if got != want {
			os.Remove(tmp)
			return Tool{}, fmt.Errorf("%s: SHA-256 %s, but %s says %s: refused: %w", redact(archiveURL), got, src.sums, want, ErrChecksum)
		}
		origin = "downloaded"
	}
	defer os.Remove(tmp)
	if err := unpack(ctx, tmp, root, t.Exe, src, version); err != nil {
		return Tool{}, fmt.Errorf("%s: %w", file, err)
	}
	if origin == "downloaded" && opts.Store != nil {
		if err := opts.Store.PutFile(ctx, key, tmp, "application/gzip"); err != nil {
			note = fmt.Sprintf("not kept in the artifact bucket: %v", err)
		}
	}
	t.Origin, t.Note, t.Took = origin+" and verified against "+src.sums, note, time.Since(began)
	return t, nil
}

// fromStore copies key's archive from the artifact bucket into a temporary
// file, when it is there and its SHA-256 is want. It returns the file ("" when
// there is none to use), where it came from, and a note of what went
// wrong, if anything did.
func fromStore(ctx context.Context, f *fetcher, opts Options, key, want string) (tmp, origin, note string) {
	if opts.Store == nil {
		return "", "", ""
	}
	body, err := opts.Store.Open(ctx, key)
	if err != nil {
		return "", "", "" // not kept yet
	}
	defer body.Close()
	tmp, got, err := archive.SaveLimited(body, opts.CacheDir, filepath.Base(key)+".*", f.max)
	if err != nil {
		return "", "", fmt.Sprintf("the artifact bucket's copy could not be read: %v", err)
	}
	if got != want {
		os.Remove(tmp)
		return "", "", fmt.Sprintf("the artifact bucket's copy has SHA-256 %s, not the published %s: not used", got, want)
	}
	return tmp, "from the artifact bucket", ""
}

// limits bound an unpacked archive: CPython is about 10,000 files and
// 200 MB, Node.js 3,000 files and 200 MB.
var limits = archive.Limits{MaxBytes: 2 << 30, MaxFiles: 100_000}

// unpack extracts the archive at tmp into root, through a staging directory
// renamed into place once exe runs and says version.
func unpack(ctx context.Context, tmp, root, exe string, src source, version string) error {
	r, err := os.Open(tmp)
	if err != nil {
		return err
	}
	defer r.Close()
	staging, err := os.MkdirTemp(filepath.Dir(root), filepath.Base(root)+".tmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(staging) // a no-op once renamed
	if err := archive.Extract(r, staging, limits); err != nil {
		return err
	}
	rel, err := filepath.Rel(root, exe)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, filepath.Join(staging, rel), src.versionArgs...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("run %s: %w: %s", rel, err, strings.TrimSpace(string(out)))
	}
	if !src.check(string(out), version) {
		return fmt.Errorf("%s says %q, want version %s", rel, strings.TrimSpace(string(out)), version)
	}
	if err := os.Rename(staging, root); err != nil {
		// Another Resolve may have won the race; its copy is as good.
		if _, statErr := os.Stat(exe); statErr != nil {
			return fmt.Errorf("install: %w", err)
		}
	}
	return nil
}

// ErrNoTool is returned by Venv for a Tool the host does not have.
var ErrNoTool = errors.New("no such tool on this machine")
