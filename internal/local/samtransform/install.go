package samtransform

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

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

// findPython finds the Python that makes the virtual environment (name
// on PATH, empty means python3) and checks that it is recent enough.
func findPython(ctx context.Context, name string) (*cachedir.Python, error) {
	py, err := cachedir.FindPython(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("SAM's translator runs on Python and %w: %s", err, pythonHint)
	}
	if cachedir.VersionLess(py.Version, minPython) {
		return nil, fmt.Errorf("SAM's translator %s needs Python %s or later, and %s is %s: %s", Version, minPython, py.Path, py.Version, pythonHint)
	}
	return py, nil
}

// install makes sure that a virtual environment with the pinned
// translator is under cacheDir for py, once, and returns its Python.
// Processes sharing cacheDir take turns (a lock file), and an
// installation is made in a fresh directory renamed into place, so none
// sees half of one; installations abandoned by killed processes are
// removed.
func install(ctx context.Context, cacheDir string, py *cachedir.Python, log io.Writer) (string, error) {
	req, err := files.ReadFile("python/requirements.txt")
	if err != nil {
		return "", fmt.Errorf("install SAM's translator: %w", err)
	}
	// A virtual environment belongs to the interpreter that made it.
	dir := filepath.Join(cacheDir, "venv-"+cachedir.MinorVersion(py.Version)+"-"+cachedir.Digest(req, []byte(py.Path)))
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
		fmt.Fprintf(log, "stackflow: installing SAM's translator (PyPI aws-sam-translator %s) for %s into %s, once\n", Version, py.Path, dir)
		return makeVenv(ctx, py, tmp, req)
	}); err != nil {
		return "", fmt.Errorf("install SAM's translator %s for %s: %w", Version, py.Path, err)
	}
	return python, nil
}

// makeVenv makes a virtual environment in dir and pip-installs the pinned
// requirements req into it, refusing any file whose hash they do not list.
func makeVenv(ctx context.Context, py *cachedir.Python, dir string, req []byte) error {
	if out, err := exec.CommandContext(ctx, py.Path, "-m", "venv", dir).CombinedOutput(); err != nil {
		hint := ""
		if bytes.Contains(out, []byte("ensurepip")) || bytes.Contains(out, []byte("No module named venv")) {
			hint = "\n" + py.Path + " has no working venv module: " + pythonHint
		}
		return fmt.Errorf("%s -m venv: %w\n%s%s", py.Path, err, cachedir.LastLines(string(out), 20), hint)
	}
	reqFile := filepath.Join(dir, "requirements.txt")
	if err := os.WriteFile(reqFile, req, 0o644); err != nil {
		return err
	}
	if out, err := exec.CommandContext(ctx, venvPython(dir), "-m", "pip", "install",
		"--disable-pip-version-check", "--no-input", "--quiet",
		"--require-hashes", "--only-binary=:all:", "--no-deps",
		"-r", reqFile).CombinedOutput(); err != nil {
		return fmt.Errorf("pip install: %w\n%s", err, cachedir.LastLines(string(out), 20))
	}
	return os.WriteFile(filepath.Join(dir, marker), []byte(Version+"\n"), 0o644)
}

// venvPython is the interpreter of the virtual environment in dir.
func venvPython(dir string) string {
	if runtime.GOOS == "windows" {
		return filepath.Join(dir, "Scripts", "python.exe")
	}
	return filepath.Join(dir, "bin", "python")
}

// errClosed is returned by a Translator that was closed.
var errClosed = errors.New("SAM's translator was closed")
