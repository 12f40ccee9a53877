package packager

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/runtimes"
)

// uvExcludes are pythonExcludes and uv's own files: aws-lambda-builders'
// python_uv EXCLUDED_FILES.
var uvExcludes = append([]string{".uv-cache", "uv.lock.bak"}, pythonExcludes...)

// uvManifests are the requirements files that BuildMethod python-uv reads,
// in aws-lambda-builders' order of preference (detect_uv_manifest); with
// none, pyproject.toml and its uv.lock.
var uvManifests = []string{"requirements.txt", "requirements-dev.txt", "requirements-test.txt", "requirements-prod.txt"}

// uvBuilder builds BuildMethod python-uv as sam build's python_uv workflow
// does: a requirements file is installed with uv pip install --target for
// the function's Python and platform (--python-version,
// --python-platform <arch>-unknown-linux-gnu); a pyproject.toml with a
// uv.lock is first exported to requirements (uv export --locked, where
// sam build lets uv export update a stale lock), and one without a lock is
// locked first. The code is copied over without uvExcludes.
type uvBuilder struct {
	j       *job
	uv      string // uv's path, once found
	version string // uv's version
}

var _ builder = (*uvBuilder)(nil)

func newUVBuilder(j *job) builder { return &uvBuilder{j: j} }

func (b *uvBuilder) check(*unit) error { return nil }

func (b *uvBuilder) keys(ctx context.Context, us []*unit) (map[*unit]string, error) {
	return b.j.inputKeys(ctx, us, func(ctx context.Context, u *unit) (keySpec, error) {
		err := b.find(ctx, u)
		return keySpec{tools: "uv " + b.version, excludes: uvExcludes, extra: []string{b.j.pythonIndexes}}, err
	})
}

// find looks uv up in ToolPath and PATH.
func (b *uvBuilder) find(ctx context.Context, u *unit) error {
	if b.uv != "" {
		return nil
	}
	exe := b.j.look("uv")
	if exe == "" {
		return &pipeline.PackageFailed{Function: u.name, Reason: fmt.Sprintf("Metadata BuildMethod python-uv needs uv, "+
			"and there is no uv on PATH: install it from PyPI (pip install uv==%s)", runtimes.UVVersion)}
	}
	v, err := b.j.capture(ctx, u.codeDir, exe, "--version")
	if err != nil {
		return &pipeline.PackageFailed{Function: u.name, Reason: fmt.Sprintf("uv does not run: %v", err)}
	}
	b.uv, b.version = exe, strings.TrimPrefix(strings.Fields(v + " ?")[1], "v")
	b.j.note("[python-uv: uv %s]\n", b.version)
	return nil
}

func (b *uvBuilder) build(ctx context.Context, u *unit) (*output, error) {
	j := b.j
	if err := b.find(ctx, u); err != nil {
		return nil, err
	}
	scratch, out, began, err := j.startBuild(u, "uv")
	if err != nil {
		return nil, err
	}
	minor := strings.TrimPrefix(u.runtime, "python")
	req := ""
	for _, m := range uvManifests {
		if _, err := os.Stat(filepath.Join(u.codeDir, m)); err == nil {
			req = m
			break
		}
	}
	_, errProject := os.Stat(filepath.Join(u.codeDir, "pyproject.toml"))
	if req == "" && errProject == nil {
		if _, err := os.Stat(filepath.Join(u.codeDir, "uv.lock")); err != nil {
			if err := j.run(ctx, out, u.codeDir, nil, b.uv, "lock", "--no-progress", "--python", minor); err != nil {
				return nil, j.buildFailed(u, out, began, "uv lock failed")
			}
		}
		req = filepath.Join(scratch, "lock_requirements.txt")
		if err := j.run(ctx, out, u.codeDir, nil, b.uv, "export", "--locked", "--format", "requirements.txt", "--no-emit-project",
			"--no-hashes", "--output-file", req, "--python", minor); err != nil {
			return nil, j.buildFailed(u, out, began, "uv export --locked failed: is uv.lock up to date with pyproject.toml? (uv lock)")
		}
	}
	var deps []zipEntry
	if req != "" {
		site := filepath.Join(scratch, "site")
		platform := map[string]string{"x86_64": "x86_64-unknown-linux-gnu", "arm64": "aarch64-unknown-linux-gnu"}[u.arch]
		if err := j.run(ctx, out, u.codeDir, nil, b.uv, "pip", "install", "-r", req, "--target", site,
			"--python-version", minor, "--python-platform", platform); err != nil {
			return nil, j.buildFailed(u, out, began, "uv pip install failed")
		}
		if deps, err = treeEntries(site, layerPrefix(u), nil); err != nil {
			return nil, fmt.Errorf("package %s: %w", u.name, err)
		}
	} else {
		fmt.Fprintf(out, "[%s: no requirements file or pyproject.toml in %s: the code alone]\n", u.name, j.rel(u.codeDir))
	}
	src, err := treeEntries(u.codeDir, layerPrefix(u), uvExcludes)
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", u.name, err)
	}
	return j.zipBuild(u, out, began, scratch, overlay(deps, src), "uv "+b.version)
}
