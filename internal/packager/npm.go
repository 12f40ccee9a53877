package packager

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/stackflow/stackflow/internal/archive"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/workspace"
)

// npmExcludes are the files and folders that nodejs_npm leaves out of a
// function's zip; npmKeyExcludes are those a build key does not read
// (npm pack never packs node_modules).
var (
	npmExcludes    = []string{".aws-sam", ".git"}
	npmKeyExcludes = []string{".aws-sam", ".git", "node_modules"}
)

// npmCPU is npm's name (process.arch) of each architecture.
var npmCPU = map[string]string{"x86_64": "x64", "arm64": "arm64"}

// npmBuilder builds Node.js functions and layers as sam build's nodejs_npm
// workflow does: npm pack decides the files (package.json files,
// .npmignore, .gitignore), .npmrc and the lock files are copied beside
// them, then npm install --omit=dev (npm ci --omit=dev with
// BuildProperties UseNpmCi: true and a lock file) installs the
// dependencies, and .npmrc and node_modules/.package-lock.json are
// removed. Unlike sam build, npm is told the target (--cpu, --os=linux,
// --libc=glibc), so packages with a prebuilt binary per platform install
// the function's. With no package.json the zip holds the code alone.
type npmBuilder struct{ j *job }

var _ builder = (*npmBuilder)(nil)

func newNpmBuilder(j *job) builder { return &npmBuilder{j: j} }

func (b *npmBuilder) check(*unit) error { return nil }

func (b *npmBuilder) keys(ctx context.Context, us []*unit) (map[*unit]string, error) {
	return b.j.inputKeys(ctx, us, func(ctx context.Context, u *unit) (keySpec, error) {
		nt, err := b.j.nodeTools(ctx, u)
		if err != nil {
			return keySpec{}, err
		}
		return keySpec{tools: nt.String(), excludes: npmKeyExcludes, extra: []string{b.j.npmIndexes}}, nil
	})
}

func (b *npmBuilder) build(ctx context.Context, u *unit) (*output, error) {
	j := b.j
	nt, err := j.nodeTools(ctx, u)
	if err != nil {
		return nil, err
	}
	scratch, out, began, err := j.startBuild(u, "npm")
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(u.codeDir, "package.json")); err != nil {
		fmt.Fprintf(out, "[%s: no package.json in %s: the code alone]\n", u.name, j.rel(u.codeDir))
		entries, err := treeEntries(u.codeDir, layerPrefix(u), npmExcludes)
		if err != nil {
			return nil, fmt.Errorf("package %s: %w", u.name, err)
		}
		return j.zipBuild(u, out, began, scratch, entries, nt.String())
	}

	// npm pack decides which files are the package's.
	if err := j.run(ctx, out, scratch, nil, nt.npm, "pack", "-q", "file:"+u.codeDir); err != nil {
		return nil, j.buildFailed(u, out, began, "npm pack failed")
	}
	tgz, _ := filepath.Glob(filepath.Join(scratch, "*.tgz"))
	if len(tgz) != 1 {
		return nil, j.buildFailed(u, out, began, fmt.Sprintf("npm pack made %d tarballs, want 1", len(tgz)))
	}
	unpacked := filepath.Join(scratch, "unpacked")
	if err := extractTarball(tgz[0], unpacked); err != nil {
		return nil, fmt.Errorf("package %s: %w", u.name, err)
	}
	for _, name := range []string{".npmrc", "package-lock.json", "npm-shrinkwrap.json"} {
		if fi, err := os.Stat(filepath.Join(u.codeDir, name)); err == nil && fi.Mode().IsRegular() {
			if err := copyFile(filepath.Join(u.codeDir, name), filepath.Join(unpacked, name), 0o644); err != nil {
				return nil, fmt.Errorf("package %s: %w", u.name, err)
			}
		}
	}
	root := filepath.Join(scratch, "out")
	dir := filepath.Join(root, strings.TrimSuffix(layerPrefix(u), "/"))
	if err := copyTree(unpacked, dir, npmExcludes); err != nil {
		return nil, fmt.Errorf("package %s: %w", u.name, err)
	}
	if err := b.j.npmInstall(ctx, out, u, nt, dir, true); err != nil {
		return nil, j.buildFailed(u, out, began, err.Error())
	}
	for _, f := range []string{".npmrc", filepath.Join("node_modules", ".package-lock.json")} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !os.IsNotExist(err) {
			return nil, fmt.Errorf("package %s: %w", u.name, err)
		}
	}
	entries, err := treeEntries(root, "", nil)
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", u.name, err)
	}
	return j.zipBuild(u, out, began, scratch, entries, nt.String())
}

// npmInstall installs the production dependencies of the package in dir,
// as nodejs_npm's install action does: npm install --omit=dev, or npm ci
// --omit=dev when BuildProperties UseNpmCi is true and there is a lock
// file. With forTarget, npm installs the packages of the function's
// platform rather than the build machine's.
func (j *job) npmInstall(ctx context.Context, out *workspace.Output, u *unit, nt *nodeTools, dir string, forTarget bool) error {
	args := []string{"install", "-q", "--no-audit", "--no-save", "--omit=dev"}
	if ci, _ := u.prop("UseNpmCi").(bool); ci {
		for _, lock := range []string{"package-lock.json", "npm-shrinkwrap.json"} {
			if _, err := os.Stat(filepath.Join(dir, lock)); err == nil {
				args = []string{"ci", "--no-audit", "--omit=dev"}
				break
			}
		}
	}
	if forTarget {
		args = append(args, "--cpu="+npmCPU[u.arch], "--os=linux", "--libc=glibc")
	}
	if err := j.run(ctx, out, dir, nil, nt.npm, args...); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("npm %s ran out of time", args[0])
		}
		return fmt.Errorf("npm %s failed", args[0])
	}
	return nil
}

// nodeTools are the node and npm that Node.js builds run.
type nodeTools struct {
	node, npm       string
	nodeVer, npmVer string
}

func (n *nodeTools) String() string { return "node " + n.nodeVer + ", npm " + n.npmVer }

// nodeTools looks node and npm up in ToolPath and PATH, once a job.
func (j *job) nodeTools(ctx context.Context, u *unit) (*nodeTools, error) {
	if j.node != nil {
		return j.node, nil
	}
	nt := &nodeTools{node: j.look("node"), npm: j.look("npm")}
	if nt.node == "" || nt.npm == "" {
		return nil, &pipeline.PackageFailed{Function: u.name,
			Reason: fmt.Sprintf("%s builds with node and npm, and they are not on PATH: install Node.js", u.runtime)}
	}
	var err error
	if nt.nodeVer, err = j.capture(ctx, u.codeDir, nt.node, "--version"); err == nil {
		if nt.npmVer = npmVersion(nt.npm); nt.npmVer == "" {
			nt.npmVer, err = j.capture(ctx, u.codeDir, nt.npm, "--version")
		}
	}
	if err != nil {
		return nil, &pipeline.PackageFailed{Function: u.name, Reason: fmt.Sprintf("node or npm does not run: %v", err)}
	}
	j.note("[node.js: %s]\n", nt)
	j.node = nt
	return nt, nil
}

// npmVersion reads the version of the npm installed at path from its
// package.json (npm --version takes most of a second), "" when it is not
// installed the usual way (bin/npm-cli.js in the npm package).
func npmVersion(path string) string {
	cli, err := filepath.EvalSymlinks(path)
	if err != nil {
		return ""
	}
	body, err := os.ReadFile(filepath.Join(filepath.Dir(filepath.Dir(cli)), "package.json"))
	if err != nil {
		return ""
	}
	var pkg struct{ Name, Version string }
	if json.Unmarshal(body, &pkg) != nil || pkg.Name != "npm" {
		return ""
	}
	return pkg.Version
}

// extractTarball unpacks the tarball that npm pack made into dir; its
// top folder, package/, is stripped.
func extractTarball(path, dir string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("npm pack's tarball: %w", err)
	}
	defer f.Close()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("npm pack's tarball: %w", err)
	}
	if err := archive.Extract(f, dir, archive.DefaultLimits); err != nil {
		return fmt.Errorf("npm pack's tarball: %w", err)
	}
	return nil
}
