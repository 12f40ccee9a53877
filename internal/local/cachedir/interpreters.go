package cachedir

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Python is a Python interpreter on this machine, as it describes itself.
type Python struct {
	// Path is its sys.executable, absolute.
	Path string
	// Version is its version, such as 3.11.7.
	Version string
	// Tag is what its wheels are built for, such as cpython-311-x86_64.
	Tag string
}

// FindPython looks name up on PATH (empty means python3) and asks it what
// it is. The interpreter that answers (sys.executable) is the one to run
// and to install for: a version manager's shim (pyenv's) might choose
// another in another directory. The errors say what went wrong, not how
// to install Python: the caller knows which Python it needs.
func FindPython(ctx context.Context, name string) (*Python, error) {
	if name == "" {
		name = "python3"
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return nil, fmt.Errorf("%s was not found on PATH", name)
	}
	const query = "import platform, sys; print(sys.version.split()[0], sys.implementation.cache_tag, platform.machine()); print(sys.executable)"
	out, err := exec.CommandContext(ctx, path, "-c", query).Output()
	if err != nil {
		return nil, fmt.Errorf("ask %s its version: %w", path, err)
	}
	lines := strings.SplitN(strings.TrimSpace(string(out)), "\n", 2)
	f := strings.Fields(lines[0])
	if len(f) != 3 || len(lines) != 2 || !filepath.IsAbs(strings.TrimSpace(lines[1])) {
		return nil, fmt.Errorf("ask %s its version: got %q", path, out)
	}
	return &Python{Path: strings.TrimSpace(lines[1]), Version: f[0], Tag: f[1] + "-" + f[2]}, nil
}

// Node is Node.js on this machine, as it describes itself.
type Node struct {
	// Path is the program, absolute.
	Path string
	// Version is its version as it writes it, such as v20.20.2.
	Version string
	// Major is its major version, such as 20.
	Major int
}

// FindNode looks name up on PATH (empty means node) and asks it its
// version. The errors say what went wrong, not how to install Node.js: the
// caller knows which Node.js it needs.
func FindNode(ctx context.Context, name string) (*Node, error) {
	if name == "" {
		name = "node"
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return nil, fmt.Errorf("%s was not found on PATH", name)
	}
	path, _ = filepath.Abs(path)
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("ask %s its version: %w", path, err)
	}
	version := strings.TrimSpace(string(out))
	major, _, _ := strings.Cut(strings.TrimPrefix(version, "v"), ".")
	n, err := strconv.Atoi(major)
	if err != nil {
		return nil, fmt.Errorf("ask %s its version: got %q", path, version)
	}
	return &Node{Path: path, Version: version, Major: n}, nil
}
