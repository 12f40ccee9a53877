package lambda

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/stackflow/stackflow/internal/local/cachedir"
)

// awslambdaricVersion is the version of AWS's runtime interface client for
// Python that runs Python functions; runtimes/python/requirements.txt pins
// it, with its dependencies and their hashes.
const awslambdaricVersion = "4.2.2"

// oldestPython is the oldest Python that runs Python functions: that of the
// oldest Python runtime, python3.11.
const oldestPython = "3.11"

// python runs the functions of a pythonX.Y runtime on the host's Python
// with AWS's own runtime interface client, awslambdaric, as Lambda does:
// since python3.12 Lambda's runtimes are awslambdaric behind a bootstrap.py
// that sets up sys.path. runtimes/python/bootstrap.py is that stand-in.
// awslambdaric is installed once per host Python under the cache directory
// (it has a C extension: pip takes its manylinux wheel).
type python struct {
	version string // "3.12"
}

func (r python) prepare(ctx context.Context, s *Supervisor, fn Function, log io.Writer) (launch, error) {
	id := "python" + r.version
	py, err := s.host.python(ctx, s.opts.Python)
	if err != nil {
		return launch{}, fmt.Errorf("runtime %s needs Python %s on this machine: %w", id, r.version, err)
	}
	if cachedir.VersionLess(py.Version, oldestPython) {
		return launch{}, fmt.Errorf("runtime %s needs Python %s on this machine, and %s is Python %s: install Python %s (python.org or your package manager) and put it on PATH as python3", id, r.version, py.Path, py.Version, r.version)
	}
	client, err := s.host.pythonClient(ctx, s.opts.CacheDir, py, log)
	if err != nil {
		return launch{}, fmt.Errorf("runtime %s: %w", id, err)
	}
	fmt.Fprintf(log, "stackflow: function %s (%s) runs on this machine's Python %s (%s) with AWS's runtime interface client awslambdaric %s\n", fn.Name, id, py.Version, py.Path, awslambdaricVersion)
	if cachedir.MinorVersion(py.Version) != r.version {
		fmt.Fprintf(log, "stackflow: warning: function %s asks for %s and runs on Python %s: install Python %s to run it as Lambda does\n", fn.Name, id, py.Version, r.version)
	}
	return launch{
		program: py.Path,
		// -s: the host user's site-packages are not Lambda's.
		args: []string{"-s", client.script, fn.Opt, r.version},
		env: map[string]string{
			"AWS_EXECUTION_ENV":  "AWS_Lambda_" + id,
			"LAMBDA_RUNTIME_DIR": client.dir,
		},
	}, nil
}

// findPython finds the host's Python: name on PATH, empty means python3.
func findPython(ctx context.Context, name string) (*cachedir.Python, error) {
	py, err := cachedir.FindPython(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("%w: install Python (python.org or your package manager) and put it on PATH as python3", err)
	}
	return py, nil
}

// installPython makes sure that awslambdaric is installed for py under
// cacheDir, once, with the bootstrap script beside it.
func installPython(ctx context.Context, cacheDir string, py *cachedir.Python, log io.Writer) (*installed, error) {
	req, err := runtimeFiles.ReadFile("runtimes/python/requirements.txt")
	if err != nil {
		return nil, fmt.Errorf("install awslambdaric: %w", err)
	}
	boot, err := runtimeFiles.ReadFile("runtimes/python/bootstrap.py")
	if err != nil {
		return nil, fmt.Errorf("install awslambdaric: %w", err)
	}
	dir := filepath.Join(cacheDir, "python-"+py.Tag+"-"+cachedir.Digest(req))
	marker := filepath.Join(dir, "awslambdaric", "__init__.py")
	if err := cachedir.Install(cacheDir, dir, marker, installPrefix, func(tmp string) error {
		return pipInstall(ctx, py, tmp, req, log)
	}); err != nil {
		return nil, fmt.Errorf("install awslambdaric %s for %s: %w", awslambdaricVersion, py.Path, err)
	}
	// The script must sit beside awslambdaric, which it imports as Lambda's
	// /var/runtime/bootstrap.py does: it changes more often, under its own
	// digest.
	script := filepath.Join(dir, "bootstrap-"+cachedir.Digest(boot)+".py")
	if err := cachedir.WriteOnce(script, boot); err != nil {
		return nil, fmt.Errorf("install awslambdaric: %w", err)
	}
	return &installed{dir: dir, script: script}, nil
}

// pipInstall installs the pinned requirements req into target with py's
// pip, refusing any file whose hash they do not list.
func pipInstall(ctx context.Context, py *cachedir.Python, target string, req []byte, log io.Writer) error {
	reqFile := filepath.Join(target, ".requirements.txt")
	if err := os.WriteFile(reqFile, req, 0o644); err != nil {
		return err
	}
	defer os.Remove(reqFile)
	fmt.Fprintf(log, "stackflow: installing AWS's runtime interface client for Python (PyPI awslambdaric %s) for %s into %s, once\n", awslambdaricVersion, py.Path, filepath.Dir(target))
	cmd := exec.CommandContext(ctx, py.Path, "-m", "pip", "install",
		"--disable-pip-version-check", "--no-input", "--quiet",
		"--no-deps", "--only-binary=:all:", "--require-hashes",
		"--target", target, "-r", reqFile)
	if out, err := cmd.CombinedOutput(); err != nil {
		hint := ""
		if bytes.Contains(out, []byte("No module named pip")) {
			hint = fmt.Sprintf("\ninstall pip for %s (%s -m ensurepip, or your package manager's python3-pip)", py.Path, py.Path)
		}
		return fmt.Errorf("pip install: %w\n%s%s", err, cachedir.LastLines(string(out), 20), hint)
	}
	return nil
}
