package sfn

import (
	"context"
	"embed"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/stackflow/stackflow/internal/local/cachedir"
)

// engine holds the Node side: the server and the exact npm dependency tree
// it runs on.
//
//go:embed node/server.mjs node/package.json node/package-lock.json
var engine embed.FS

// minNodeMajor is the oldest Node.js the engine runs on (with its
// Promise.withResolvers polyfill; aws-local-stepfunctions asks for 22).
const minNodeMajor = 20

const installHint = "install Node.js 20 or later from https://nodejs.org/ or your package manager (npm comes with it)"

// findNode returns the node program to run and checks its version.
func findNode(ctx context.Context, name string) (string, error) {
	node, err := cachedir.FindNode(ctx, name)
	if err != nil {
		return "", fmt.Errorf("local step functions needs Node.js: %w (%s)", err, installHint)
	}
	if node.Major < minNodeMajor {
		return "", fmt.Errorf("local step functions needs Node.js %d or later, and %s is %q: %s", minNodeMajor, node.Path, node.Version, installHint)
	}
	return node.Path, nil
}

// install makes sure that the engine's npm packages are installed under
// cacheDir and returns the path of its server script there. Packages are
// installed once per package-lock.json, into a fresh directory that is then
// renamed into place, so that processes sharing cacheDir never see half an
// installation; when two install at once, the first rename wins and the
// other's copy is dropped.
func install(ctx context.Context, cacheDir, npm string, log io.Writer) (string, error) {
	pkg, err := engine.ReadFile("node/package.json")
	if err != nil {
		return "", fmt.Errorf("local step functions: %w", err)
	}
	lock, err := engine.ReadFile("node/package-lock.json")
	if err != nil {
		return "", fmt.Errorf("local step functions: %w", err)
	}
	server, err := engine.ReadFile("node/server.mjs")
	if err != nil {
		return "", fmt.Errorf("local step functions: %w", err)
	}
	dir := filepath.Join(cacheDir, "sfn-"+cachedir.Digest(pkg, lock))
	marker := filepath.Join(dir, "node_modules", "aws-local-stepfunctions", "package.json")
	if _, err := os.Stat(marker); err != nil {
		if err := npmInstall(ctx, cacheDir, dir, marker, npm, pkg, lock, log); err != nil {
			return "", err
		}
	}
	// The server script changes more often than its packages: it sits
	// beside them under its own digest.
	script := filepath.Join(dir, "server-"+cachedir.Digest(server)+".mjs")
	if err := cachedir.WriteOnce(script, server); err != nil {
		return "", fmt.Errorf("local step functions: %w", err)
	}
	return script, nil
}

// npmInstall installs the engine's packages into dir, under cacheDir, with
// npm ci, once: marker is a file of the installation.
func npmInstall(ctx context.Context, cacheDir, dir, marker, npm string, pkg, lock []byte, log io.Writer) error {
	if npm == "" {
		npm = "npm"
	}
	path, err := exec.LookPath(npm)
	if err != nil {
		return fmt.Errorf("local step functions needs npm to install its engine once and %s was not found: %s", npm, installHint)
	}
	err = cachedir.Install(cacheDir, dir, marker, installPrefix, func(tmp string) error {
		for name, data := range map[string][]byte{"package.json": pkg, "package-lock.json": lock} {
			if err := os.WriteFile(filepath.Join(tmp, name), data, 0o644); err != nil {
				return err
			}
		}
		fmt.Fprintf(log, "stackflow: installing the local Step Functions engine (npm aws-local-stepfunctions 3.0.0) into %s, once\n", dir)
		cmd := exec.CommandContext(ctx, path, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--no-update-notifier", "--loglevel=error")
		cmd.Dir = tmp
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("npm ci: %w\n%s", err, cachedir.LastLines(string(out), 20))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("local step functions: install its engine: %w", err)
	}
	return nil
}

const installPrefix = ".sfn-install-"
