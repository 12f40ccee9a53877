package checks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/stackflow/stackflow/internal/gocache"
	"github.com/stackflow/stackflow/internal/packager"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/runtimes"
	"github.com/stackflow/stackflow/internal/toolchain"
)

// readNeeds reads what the app's template (file, or template.yaml) says
// the app is built with; a repository without the template needs nothing
// from it.
func readNeeds(root, file string) (packager.Needs, error) {
	if file == "" {
		file = packager.DefaultTemplate
	}
	if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(file))); errors.Is(err, fs.ErrNotExist) {
		return packager.Needs{}, nil
	}
	return packager.ReadNeeds(root, file)
}

// goToolchain returns the Go toolchain the checks run with and the module
// directory it is for: the one the repository root's go.mod or go.work
// asks for, else the one of the module of the template's first Go
// function. An app with no Go module but Python or Node.js functions gets
// none (a Plain toolchain); an app with neither falls back to the host's
// go, or is told to add a go.mod.
func (s *Service) goToolchain(ctx context.Context, root string, needs packager.Needs) (toolchain.Toolchain, string, error) {
	opts := s.Toolchain
	if s.Caches != nil {
		opts.GoCacheDir = s.Caches.Dir
	}
	dir := root
	if !hasModule(root) {
		dir = ""
		for _, d := range needs.GoDirs {
			if dir = moduleOf(root, d); dir != "" {
				break
			}
		}
	}
	if dir == "" && len(needs.Runtimes) > 0 {
		tc, err := toolchain.Plain(opts)
		if err != nil {
			return toolchain.Toolchain{}, "", fmt.Errorf("checks: %w", err)
		}
		return tc, "", nil
	}
	if dir == "" {
		dir = root
	}
	tc, err := toolchain.Resolve(ctx, dir, opts)
	if errors.Is(err, toolchain.ErrNoRequirement) {
		return toolchain.Toolchain{}, "", &pipeline.ConfigInvalid{File: "go.mod",
			Problem: "the repository root has no go.mod (or go.work) naming a go version, and the template has no Python or Node.js function",
			Fix:     "add one with a go line, such as go 1.23.0"}
	}
	if err != nil {
		return toolchain.Toolchain{}, "", fmt.Errorf("checks: %w", err)
	}
	return tc, dir, nil
}

func hasModule(dir string) bool {
	for _, name := range []string{"go.work", "go.mod"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return true
		}
	}
	return false
}

// moduleOf is the nearest directory from dir up to root that holds a
// go.mod, as the go command finds it; "" when there is none.
func moduleOf(root, dir string) string {
	for {
		if hasModule(dir) {
			return dir
		}
		if dir == root || !strings.HasPrefix(dir, root+string(filepath.Separator)) {
			return ""
		}
		dir = filepath.Dir(dir)
	}
}

// environment is what the checks run with: tc's environment (the Go
// toolchain's, or a plain one) with the Python and Node.js that needs
// name first on PATH. Each Python gets a virtual environment in work, so
// that pip installs go there and its commands (pytest) are on PATH, newest
// Python first: python3 and pip are the newest's, python3.X and pip3.X
// each one's. Node.js's bin (node, npm, npx) follows, newest first, and
// npm's global prefix is in work too. CI=true, as CI services set it.
// Each tool is said in a line of the log, with a warning when it is not
// the runtime's.
func (s *Service) environment(ctx context.Context, tc toolchain.Toolchain, needs []runtimes.Need, work string,
	note func(string, ...any), log *slog.Logger) ([]string, error) {
	env := tc.Env()
	set := func(k, v string) {
		env = slices.DeleteFunc(env, func(kv string) bool { return strings.HasPrefix(kv, k+"=") })
		env = append(env, k+"="+v)
	}
	set("CI", "true")
	if len(needs) == 0 {
		return env, nil
	}
	tools, err := runtimes.Resolve(ctx, needs, s.Runtimes)
	if err != nil {
		return nil, fmt.Errorf("checks: %w", err)
	}
	var path []string
	if tc.GoRoot != "" {
		path = append(path, filepath.Join(tc.GoRoot, "bin"))
	}
	venv, node := "", ""
	for _, t := range tools {
		note("%s\n", t)
		if t.Warning != "" {
			note("warning: %s\n", t.Warning)
		}
		if t.Note != "" {
			note("note: %s\n", t.Note)
		}
		log.Info("runtime", "runtime", t.Need.Runtime(), "version", t.Version, "exe", t.Exe, "origin", t.Origin,
			"seconds", t.Took.Seconds(), "warning", t.Warning)
		switch {
		case t.Exe == "":
		case t.Need.Language == runtimes.Python:
			dir := filepath.Join(work, "venv-"+t.Need.Runtime())
			bin, err := t.Venv(ctx, dir)
			if err != nil {
				return nil, fmt.Errorf("checks: %w", err)
			}
			note("%s: a virtual environment of its own is on PATH (python3, pip; pip install goes there)\n", t.Need.Runtime())
			path = append(path, bin)
			if venv == "" {
				venv = dir
			}
		case t.Need.Language == runtimes.Node:
			path = append(path, t.Bin)
			if node == "" {
				node = t.Exe
			}
		}
	}
	note("\n")
	if venv != "" {
		set("VIRTUAL_ENV", venv)
		set("PIP_DISABLE_PIP_VERSION_CHECK", "1")
		set("PYTHONUNBUFFERED", "1")
		if s.Caches != nil {
			set("PIP_CACHE_DIR", s.Caches.PartDir(gocache.Pip))
		}
	}
	if node != "" {
		// npm install -g goes to the run's own prefix, whose bin is on
		// PATH, never into the shared Node.js. npm reads its global config
		// from the prefix too: keep the Node.js install's own (a CA file,
		// a registry mirror).
		prefix := filepath.Join(work, "npm-global")
		path = append(path, filepath.Join(prefix, "bin"))
		set("npm_config_prefix", prefix)
		set("npm_config_globalconfig", filepath.Join(filepath.Dir(filepath.Dir(node)), "etc", "npmrc"))
		set("npm_config_update_notifier", "false")
		if s.Caches != nil {
			set("npm_config_cache", s.Caches.PartDir(gocache.Npm))
		}
	}
	for _, kv := range env {
		if p, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = append(path, p)
		}
	}
	set("PATH", strings.Join(path, string(os.PathListSeparator)))
	return env, nil
}
