package packager

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/workspace"
)

// pythonExcludes are the files and folders of a Python function's code
// that its zip leaves out: aws-lambda-builders' python_pip EXCLUDED_FILES.
var pythonExcludes = []string{
	".aws-sam", ".chalice", ".git", ".gitignore",
	"*.pyc", "__pycache__", "*.so",
	".Python", "*.egg-info", "*.egg",
	"pip-log.txt", "pip-delete-this-directory.txt",
	"htmlcov", ".tox", ".nox", ".coverage", ".cache", ".pytest_cache",
	".python-version",
	".mypy_cache", ".dmypy.json", ".pyre",
	".env", ".venv", "venv", "venv.bak", "env.bak", "ENV", "env",
	".vscode", ".idea",
}

// pipBuilder builds Python functions and layers as sam build's python_pip
// workflow does: the requirements.txt at the code's root is resolved to
// wheels for the function's Python and architecture, the wheels are
// unzipped (not pip-installed), and the code is copied over them without
// pythonExcludes. With no requirements.txt the zip holds the code alone.
//
// Unlike sam build, which lets pip resolve for the build machine and then
// fetches the target's wheels one by one, the whole resolution runs for
// the target (pip download --only-binary=:all: --platform ...
// --implementation cp --abi cp3XX --python-version 3.X), so environment
// markers on the Python version hold for the target's. A requirement with
// no wheel for the target is built from its source distribution with no C
// compiler; the wheel it makes is used only when it is pure Python, and
// the resolution runs again with it.
type pipBuilder struct {
	j       *job
	pythons map[string]python // by runtime
}

var _ builder = (*pipBuilder)(nil)

func newPipBuilder(j *job) builder { return &pipBuilder{j: j, pythons: map[string]python{}} }

// check refuses ParentPackageMode, which stackflow does not build.
func (b *pipBuilder) check(u *unit) error {
	if u.prop("ParentPackageMode") != nil {
		return fail(u.resource, "Metadata BuildProperties ParentPackageMode is not supported: leave it out")
	}
	return nil
}

func (b *pipBuilder) keys(ctx context.Context, us []*unit) (map[*unit]string, error) {
	return b.j.inputKeys(ctx, us, func(ctx context.Context, u *unit) (keySpec, error) {
		py, err := b.python(ctx, u)
		platforms := "platforms " + strings.Join(platformTags(u.runtime, u.arch), " ")
		return keySpec{tools: py.String(), excludes: pythonExcludes, extra: []string{platforms, b.j.pythonIndexes, "pip.conf " + b.j.pipConf}}, err
	})
}

func (b *pipBuilder) build(ctx context.Context, u *unit) (*output, error) {
	j := b.j
	py, err := b.python(ctx, u)
	if err != nil {
		return nil, err
	}
	scratch, out, began, err := j.startBuild(u, "python")
	if err != nil {
		return nil, err
	}
	prefix := layerPrefix(u)
	var deps []zipEntry
	req := filepath.Join(u.codeDir, "requirements.txt")
	if hasRequirements(req) {
		wheels, err := b.download(ctx, out, u, py, scratch)
		if err != nil {
			return nil, err
		}
		site := filepath.Join(scratch, "site")
		if err := installWheels(wheels, site); err != nil {
			return nil, j.buildFailed(u, out, began, fmt.Sprintf("unpack the wheels: %v", err))
		}
		if deps, err = treeEntries(site, prefix, nil); err != nil {
			return nil, fmt.Errorf("package %s: %w", u.name, err)
		}
	} else {
		fmt.Fprintf(out, "[%s: no requirements.txt in %s: the code alone]\n", u.name, j.rel(u.codeDir))
	}
	src, err := treeEntries(u.codeDir, prefix, pythonExcludes)
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", u.name, err)
	}
	return j.zipBuild(u, out, began, scratch, overlay(deps, src), py.String())
}

// noMatch finds the requirement that pip found no distribution for.
var noMatch = regexp.MustCompile(`(?m)No matching distribution found for (.+?)\s*$`)

// download resolves u's requirements.txt to wheels for the target and
// returns the folder that holds them.
func (b *pipBuilder) download(ctx context.Context, out *workspace.Output, u *unit, py python, scratch string) (string, error) {
	j := b.j
	began := time.Now()
	minor := strings.TrimPrefix(u.runtime, "python")
	abi := "cp" + strings.ReplaceAll(minor, ".", "")
	tags := platformTags(u.runtime, u.arch)
	wheels, built := filepath.Join(scratch, "wheels"), filepath.Join(scratch, "built")
	for _, d := range []string{wheels, built} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", fmt.Errorf("package: %w", err)
		}
	}
	args := []string{"-m", "pip", "download", "-r", "requirements.txt", "--dest", wheels, "--exists-action", "i",
		"--find-links", built, "--only-binary=:all:"}
	for _, t := range tags {
		args = append(args, "--platform", t)
	}
	args = append(args, "--implementation", "cp", "--abi", abi, "--python-version", minor)
	target := fmt.Sprintf("%s on %s (platform tags %s)", u.runtime, u.arch, strings.Join(tags, ", "))
	tried := map[string]bool{}
	for {
		var last bytes.Buffer
		err := j.run(ctx, io.MultiWriter(out, &last), u.codeDir, nil, py.exe, args...)
		if err == nil {
			return wheels, nil
		}
		if ctx.Err() != nil {
			return "", j.buildFailed(u, out, began, "pip download ran out of time")
		}
		m := noMatch.FindStringSubmatch(last.String())
		if m == nil {
			return "", j.buildFailed(u, out, began, "pip download failed")
		}
		req := m[1]
		name := requirementName(req)
		if tried[name] {
			return "", j.buildFailed(u, out, began, fmt.Sprintf("%s: no distribution fits %s, even with its source distribution built", req, target))
		}
		tried[name] = true
		// No wheel fits: build one from the source distribution, with no C
		// compiler (aws-lambda-builders' compile_c=False), as sam build
		// does when it finds no wheel.
		sdist, err := os.MkdirTemp(scratch, "sdist-")
		if err != nil {
			return "", fmt.Errorf("package: %w", err)
		}
		fmt.Fprintf(out, "[%s has no wheel for %s: building its source distribution]\n", req, target)
		if err := j.run(ctx, out, u.codeDir, []string{"CC=/var/false", "CXX=/var/false"}, py.exe,
			"-m", "pip", "wheel", "--no-deps", "--no-binary=:all:", "--wheel-dir", sdist, req); err != nil {
			if ctx.Err() != nil {
				return "", j.buildFailed(u, out, began, "pip wheel ran out of time")
			}
			return "", j.buildFailed(u, out, began, fmt.Sprintf("%s has no wheel for %s, and its source distribution does not build "+
				"without a C compiler: a package with C extensions needs a wheel for the target", req, target))
		}
		whl, _ := filepath.Glob(filepath.Join(sdist, "*.whl"))
		if len(whl) != 1 {
			return "", j.buildFailed(u, out, began, fmt.Sprintf("%s: pip wheel made %d wheels, want 1", req, len(whl)))
		}
		if !pureWheel(filepath.Base(whl[0])) {
			return "", j.buildFailed(u, out, began, fmt.Sprintf("%s has no wheel for %s, and its source distribution builds %s, "+
				"which is not pure Python: a package with C extensions needs a wheel for the target", req, target, filepath.Base(whl[0])))
		}
		if err := os.Rename(whl[0], filepath.Join(built, filepath.Base(whl[0]))); err != nil {
			return "", fmt.Errorf("package: %w", err)
		}
	}
}

// python resolves the Python that builds u: python3.X of u's runtime when
// it runs, else python3, with pip. The wheels are chosen for the runtime
// whatever the Python; it only runs pip and builds pure-Python source
// distributions.
func (b *pipBuilder) python(ctx context.Context, u *unit) (python, error) {
	if py, ok := b.pythons[u.runtime]; ok {
		return py, nil
	}
	py, err := findPython(ctx, b.j, u, true)
	if err != nil {
		return python{}, err
	}
	b.j.note("[%s: %s]\n", u.runtime, py)
	b.pythons[u.runtime] = py
	return py, nil
}

// python is a Python interpreter that builds run.
type python struct {
	exe, version string
	pip          string // pip's version, "" when not asked
}

func (p python) String() string {
	if p.pip == "" {
		return "python " + p.version
	}
	return "python " + p.version + ", pip " + p.pip
}

// pythonVersions prints Python's version and pip's, when it has pip.
const pythonVersions = `import sys
try:
    from importlib.metadata import version
    pip = version("pip")
except Exception:
    pip = ""
print("%d.%d.%d" % sys.version_info[:3], pip)`

// findPython looks for python3.X of u's runtime, then python3, that runs
// (and has pip, when withPip).
func findPython(ctx context.Context, j *job, u *unit, withPip bool) (python, error) {
	minor := strings.TrimPrefix(u.runtime, "python")
	why := "no python3 on PATH"
	for _, name := range []string{"python" + minor, "python3"} {
		exe := j.look(name)
		if exe == "" {
			continue
		}
		// One quick run: importing pip itself takes a second.
		v, err := j.capture(ctx, u.codeDir, exe, "-c", pythonVersions)
		if err != nil {
			continue // a shim of a Python that is not installed
		}
		f := strings.Fields(v)
		py := python{exe: exe, version: f[0]}
		if !withPip {
			return py, nil
		}
		if len(f) < 2 {
			why = fmt.Sprintf("%s (%s) has no pip", name, py.version)
			continue
		}
		py.pip = f[1]
		return py, nil
	}
	return python{}, &pipeline.PackageFailed{Function: u.name,
		Reason: fmt.Sprintf("%s builds with pip, but %s: install Python 3 with pip", u.runtime, why)}
}

// platformTags are the wheel platforms that fit runtime on arch, in the
// order aws-lambda-builders lists them (DependencyBuilder.
// compatible_platforms): up to manylinux_2_17 on python3.11, whose Amazon
// Linux 2 has glibc 2.26, and up to manylinux_2_34 from python3.12 on
// Amazon Linux 2023.
func platformTags(runtime, arch string) []string {
	a := "x86_64"
	if arch == "arm64" {
		a = "aarch64"
	}
	tags := []string{"any", "linux_" + a}
	if a == "x86_64" {
		tags = append(tags, "manylinux1_x86_64", "manylinux2010_x86_64")
	}
	tags = append(tags, "manylinux2014_"+a, "manylinux_2_17_"+a)
	if runtime != "python3.11" {
		tags = append(tags, "manylinux_2_28_"+a, "manylinux_2_34_"+a)
	}
	return tags
}

// hasRequirements reports whether the requirements file at path names at
// least one requirement, as aws-lambda-builders' _has_at_least_one_package
// judges it.
func hasRequirements(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			return true
		}
	}
	return false
}

var distName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*`)

// requirementName is the normalized project name of a requirement such
// as "Foo_Bar[x]>=1" (PEP 503: foo-bar).
func requirementName(req string) string {
	n := distName.FindString(strings.TrimSpace(req))
	return strings.ToLower(regexp.MustCompile(`[-_.]+`).ReplaceAllString(n, "-"))
}

// wheelTags splits a wheel's file name into its distribution, version,
// ABI and platform tags.
func wheelTags(name string) (dist, version, abi, platform string, ok bool) {
	parts := strings.Split(strings.TrimSuffix(name, ".whl"), "-")
	if len(parts) < 5 || !strings.HasSuffix(name, ".whl") {
		return "", "", "", "", false
	}
	return parts[0], parts[1], parts[len(parts)-2], parts[len(parts)-1], true
}

// pureWheel reports whether the wheel called name runs anywhere: no ABI,
// any platform.
func pureWheel(name string) bool {
	_, _, abi, platform, ok := wheelTags(name)
	return ok && abi == "none" && platform == "any"
}

// installWheels unzips every wheel in dir into site, in name order, and
// moves each wheel's <dist>-<version>.data/purelib and platlib up into
// site, as aws-lambda-builders' _install_wheels does.
func installWheels(dir, site string) error {
	names, err := filepath.Glob(filepath.Join(dir, "*.whl"))
	if err != nil {
		return err
	}
	slices.Sort(names)
	for _, w := range names {
		if err := unzipTo(w, site); err != nil {
			return err
		}
		dist, version, _, _, ok := wheelTags(filepath.Base(w))
		if !ok {
			return fmt.Errorf("%s is not a wheel's name", filepath.Base(w))
		}
		data := filepath.Join(site, dist+"-"+version+".data")
		for _, sub := range []string{"purelib", "platlib"} {
			d := filepath.Join(data, sub)
			if _, err := os.Stat(d); err != nil {
				continue
			}
			if err := copyTree(d, site, nil); err != nil {
				return err
			}
			if err := os.RemoveAll(d); err != nil {
				return err
			}
		}
	}
	return nil
}

// layerPrefix is where u's files go in its zip: a layer's under the folder
// its runtime reads, a function's at the root.
func layerPrefix(u *unit) string {
	if u.layer {
		return layerDirs[u.method.family] + "/"
	}
	return ""
}

// startBuild makes a scratch folder for u's build, named for the
// builder, and the output that logs it.
func (j *job) startBuild(u *unit, builder string) (string, *workspace.Output, time.Time, error) {
	scratch, err := os.MkdirTemp(j.tmp, builder+"-")
	if err != nil {
		return "", nil, time.Time{}, fmt.Errorf("package %s: %w", u.name, err)
	}
	return scratch, &workspace.Output{Echo: j.echo}, time.Now(), nil
}

// buildFailed ends u's build with reason: the build output goes to the
// log, and its tail to the PackageFailed.
func (j *job) buildFailed(u *unit, out *workspace.Output, began time.Time, reason string) error {
	fmt.Fprintf(out, "[%s after %s]\n", reason, round(time.Since(began)))
	j.out.WriteString(out.String())
	return &pipeline.PackageFailed{Function: u.name, Reason: reason, Tail: out.Tail()}
}

// zipBuild zips entries as u's build, after checking that no native code
// in them is for another architecture, and logs what was built.
func (j *job) zipBuild(u *unit, out *workspace.Output, began time.Time, dir string, entries []zipEntry, tools string) (*output, error) {
	if bad := foreignBinary(entries, u.arch); bad != "" {
		return nil, j.buildFailed(u, out, began, fmt.Sprintf("%s is native code for another architecture than %s: "+
			"it was compiled on the build machine; use a package with a prebuilt binary for linux on %s", bad, u.arch, u.arch))
	}
	a, err := writeZip(dir, entries)
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", u.name, err)
	}
	fmt.Fprintf(out, "[built %s %s for %s on %s with %s in %s: %d files, %s zip, sha256 %s]\n\n",
		u.kind(), u.name, u.runtime, u.arch, tools, round(time.Since(began)), len(entries), size(a.size), a.sha)
	j.out.WriteString(out.String())
	j.log.Info("built", "function", u.name, "method", u.method.String(), "runtime", u.runtime, "arch", u.arch, "bytes", a.size, "sha256", a.sha)
	return &output{a: a, tool: tools}, nil
}

// rel is path relative to the repository's root, for messages.
func (j *job) rel(path string) string {
	r, err := filepath.Rel(j.t.root, path)
	if err != nil {
		return path
	}
	return filepath.ToSlash(r)
}
