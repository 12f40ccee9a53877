package samtransform

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/stackflow/stackflow/internal/local/cachedir"
)

// files are the worker script and the exact requirements it runs on.
//
//go:embed python/worker.py python/requirements.txt
var files embed.FS

// Version is the version of aws-sam-translator that stackflow installs
// and runs (the one requirements-test.txt pins for cfn-lint and
// aws-sam-cli).
const Version = "1.115.0"

// minPython is the oldest Python the pinned packages install on (rpds-py,
// under jsonschema, asks for 3.11).
const minPython = "3.11"

const (
	installPrefix = ".samtranslator-install-"
	lockName      = ".samtranslator.lock"
	marker        = ".stackflow-installed"
)

// pythonHint says what to install when python3 is missing or too old.
const pythonHint = "install Python " + minPython + " or later with its venv module (python.org, or your package manager's python3 and python3-venv) and put it on PATH as python3"

// host is the Python that makes the virtual environment.
type host struct {
	path    string // sys.executable, absolute
	version string // "3.11.7"
}

// findPython looks name up on PATH (empty means python3), asks it what it
// is and checks that it is recent enough.
func findPython(ctx context.Context, name string) (*host, error) {
	if name == "" {
		name = "python3"
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return nil, fmt.Errorf("SAM's translator runs on Python and %s was not found on PATH: %s", name, pythonHint)
	}
	out, err := exec.CommandContext(ctx, path, "-c", "import sys; print(sys.version.split()[0]); print(sys.executable)").Output()
	if err != nil {
		return nil, fmt.Errorf("ask %s its version: %w (%s)", path, err, pythonHint)
	}
	lines := strings.SplitN(strings.TrimSpace(string(out)), "\n", 2)
	if len(lines) != 2 || !filepath.IsAbs(strings.TrimSpace(lines[1])) {
		return nil, fmt.Errorf("ask %s its version: got %q", path, out)
	}
	h := &host{version: lines[0], path: strings.TrimSpace(lines[1])}
	if versionLess(h.version, minPython) {
		return nil, fmt.Errorf("SAM's translator %s needs Python %s or later, and %s is %s: %s", Version, minPython, h.path, h.version, pythonHint)
	}
	return h, nil
}

// install makes sure that a virtual environment with the pinned
// translator is under cacheDir for py, once, and returns its Python.
// Processes sharing cacheDir take turns (a lock file), and an
// installation is made in a fresh directory renamed into place, so none
// sees half of one; installations abandoned by killed processes are
// removed.
func install(ctx context.Context, cacheDir string, py *host, log io.Writer) (string, error) {
	req, err := files.ReadFile("python/requirements.txt")
	if err != nil {
		return "", fmt.Errorf("install SAM's translator: %w", err)
	}
	// A virtual environment belongs to the interpreter that made it.
	dir := filepath.Join(cacheDir, "venv-"+minorOf(py.version)+"-"+digest(req, []byte(py.path)))
	python := venvPython(dir)
	done := filepath.Join(dir, marker)
	if _, err := os.Stat(done); err == nil {
		return python, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("install SAM's translator: %w", err)
	}
	unlock, err := cachedir.Lock(ctx, filepath.Join(cacheDir, lockName))
	if err != nil {
		return "", fmt.Errorf("install SAM's translator: %w", err)
	}
	defer unlock()
	if err := cachedir.Install(cacheDir, dir, done, installPrefix, func(tmp string) error {
		fmt.Fprintf(log, "stackflow: installing SAM's translator (PyPI aws-sam-translator %s) for %s into %s, once\n", Version, py.path, dir)
		return makeVenv(ctx, py, tmp, req)
	}); err != nil {
		return "", fmt.Errorf("install SAM's translator %s for %s: %w", Version, py.path, err)
	}
	return python, nil
}

// makeVenv makes a virtual environment in dir and pip-installs the pinned
// requirements req into it, refusing any file whose hash they do not list.
func makeVenv(ctx context.Context, py *host, dir string, req []byte) error {
	if out, err := run(ctx, py.path, "-m", "venv", dir); err != nil {
		hint := ""
		if strings.Contains(out, "ensurepip") || strings.Contains(out, "No module named venv") {
			hint = "\n" + py.path + " has no working venv module: " + pythonHint
		}
		return fmt.Errorf("%s -m venv: %w\n%s%s", py.path, err, cachedir.LastLines(out, 20), hint)
	}
	reqFile := filepath.Join(dir, "requirements.txt")
	if err := os.WriteFile(reqFile, req, 0o644); err != nil {
		return err
	}
	if out, err := run(ctx, venvPython(dir), "-m", "pip", "install",
		"--disable-pip-version-check", "--no-input", "--quiet",
		"--require-hashes", "--only-binary=:all:", "--no-deps",
		"-r", reqFile); err != nil {
		return fmt.Errorf("pip install: %w\n%s", err, cachedir.LastLines(out, 20))
	}
	return os.WriteFile(filepath.Join(dir, marker), []byte(Version+"\n"), 0o644)
}

// run runs a command and returns its output, stdout and stderr together.
func run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	return out.String(), err
}

// venvPython is the interpreter of the virtual environment in dir.
func venvPython(dir string) string {
	if runtime.GOOS == "windows" {
		return filepath.Join(dir, "Scripts", "python.exe")
	}
	return filepath.Join(dir, "bin", "python")
}

func digest(parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d\x00", len(p))
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// minorOf returns "3.11" for "3.11.7".
func minorOf(version string) string {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return version
	}
	return parts[0] + "." + parts[1]
}

// versionLess reports whether the dotted version a is older than b,
// comparing the numbers b has.
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i, bp := range bs {
		bn, _ := strconv.Atoi(bp)
		an := 0
		if i < len(as) {
			an, _ = strconv.Atoi(as[i])
		}
		if an != bn {
			return an < bn
		}
	}
	return false
}

// errClosed is returned by a Translator that was closed.
var errClosed = errors.New("SAM's translator was closed")
