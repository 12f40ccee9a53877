package runtimes

import (
	"context"
	_ "embed"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// venvScript makes a virtual environment with pip in a fraction of the
// time `python -m venv` takes: venv without pip, then the pip wheel that
// Python bundles for ensurepip unpacked into it (a wheel is installed by
// unpacking it) with pip's commands written beside python, as virtualenv
// seeds one. Where no wheel is bundled (Debian's python3-venv keeps them
// elsewhere), it falls back to venv's own ensurepip.
//
//go:embed venv.py
var venvScript string

// Venv makes a Python virtual environment of t at dir with pip in it, and
// returns its bin directory, which holds python, python3, python3.X, pip,
// pip3 and pip3.X, and every command that pip installs there later.
func (t Tool) Venv(ctx context.Context, dir string) (string, error) {
	if t.Need.Language != Python {
		return "", fmt.Errorf("venv: %s is not Python", t.Need.Runtime())
	}
	if t.Exe == "" {
		return "", fmt.Errorf("venv for %s: %w", t.Need.Runtime(), ErrNoTool)
	}
	cmd := exec.CommandContext(ctx, t.Exe, "-I", "-c", venvScript, dir)
	cmd.Dir = filepath.Dir(dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("venv of %s at %s: %w: %s", t.Exe, dir, err, strings.TrimSpace(string(out)))
	}
	return filepath.Join(dir, "bin"), nil
}
