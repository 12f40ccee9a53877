package packager

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/stackflow/stackflow/internal/toolchain"
)

// BuildVersion is the version of how stackflow builds and zips a function.
// It is part of every build key: bump it whenever that changes (build
// flags, environment, zip layout), so that no zip made the old way is
// reused.
const BuildVersion = 1

// buildEnv are the variables of a toolchain's environment that change what
// go build makes, beside GOOS and GOARCH.
var buildEnv = []string{"CGO_ENABLED", "GOFLAGS", "GOEXPERIMENT", "GOAMD64", "GOARM64", "GOWORK"}

// listFields are the fields of go list's output that a build key reads.
const listFields = "ImportPath,Dir,Standard,DepOnly,Module,Imports,GoFiles,CgoFiles,SFiles,HFiles,SysoFiles,EmbedFiles,Error,DepsErrors"

// listed is one package as go list -json describes it.
type listed struct {
	ImportPath string
	Dir        string
	Standard   bool
	DepOnly    bool
	Module     *struct {
		Path    string
		Version string
		GoMod   string
		Replace *struct {
			Path    string
			Version string
		}
	}
	Imports    []string
	GoFiles    []string
	CgoFiles   []string
	SFiles     []string
	HFiles     []string
	SysoFiles  []string
	EmbedFiles []string
	Error      *struct{ Err string }
	DepsErrors []*struct{ Err string }
}

// buildKeys computes the build key of each of dirs, main packages of the
// module or workspace in modDir, built for linux/goarch with tc: a hash of
// everything the build reads. That is the Go files (and assembly, syso and
// embedded files) of every package of the repository the main package
// depends on, the go.mod and go.sum of their modules (which pin every
// other module), the go.work files, the toolchain, the platform, the build
// flags and the environment that changes builds, and BuildVersion. Two
// builds with the same key make the same zip.
//
// A directory whose packages go list cannot load has no key: it is built,
// and the build reports why it fails.
func buildKeys(ctx context.Context, tc toolchain.Toolchain, root, modDir, goarch string, dirs []string) (map[string]string, error) {
	if toolchain.Compare(strings.TrimPrefix(tc.Version, "go"), "1.19") < 0 {
		return nil, fmt.Errorf("go list -json=fields needs go1.19 or later, not %s", tc.Version)
	}
	args := []string{"list", "-e", "-deps", "-tags", "lambda.norpc", "-json=" + listFields}
	for _, d := range dirs {
		rel, err := filepath.Rel(modDir, d)
		if err != nil {
			return nil, err
		}
		args = append(args, "./"+filepath.ToSlash(rel))
	}
	cmd := tc.Command(ctx, modDir, tc.Go, args...)
	cmd.Env = append(cmd.Env, "GOOS=linux", "GOARCH="+goarch)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go list: %w: %s", err, firstLine(stderr.String()))
	}
	pkgs := map[string]*listed{}
	var roots []*listed
	for dec := json.NewDecoder(&stdout); ; {
		p := new(listed)
		if err := dec.Decode(p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list: %w", err)
		}
		pkgs[p.ImportPath] = p
		if !p.DepOnly {
			roots = append(roots, p)
		}
	}

	common, err := commonInputs(tc, modDir, goarch)
	if err != nil {
		return nil, err
	}
	files := fileHasher{}
	keys := map[string]string{}
	for _, d := range dirs {
		var main *listed
		for _, r := range roots {
			if sameDir(r.Dir, d) {
				main = r
			}
		}
		if main == nil {
			continue
		}
		if key, err := packageKey(root, common, main, pkgs, files); err == nil {
			keys[d] = key
		}
	}
	return keys, nil
}

// commonInputs are the inputs that every build in modDir for goarch
// shares: the build's version, flags, platform and toolchain, and the
// workspace files.
func commonInputs(tc toolchain.Toolchain, modDir, goarch string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "stackflow build v%d\n", BuildVersion)
	fmt.Fprintf(&b, "args %q\n", goBuildArgs("bootstrap"))
	fmt.Fprintf(&b, "platform linux/%s\n", goarch)
	fmt.Fprintf(&b, "toolchain %s\n", tc.Version)
	// A release's VERSION file names it exactly, build time included.
	if v, err := os.ReadFile(filepath.Join(tc.GoRoot, "VERSION")); err == nil {
		fmt.Fprintf(&b, "toolchain VERSION %x\n", sha256.Sum256(v))
	}
	env := tc.Env()
	for _, k := range buildEnv {
		for _, kv := range env {
			if v, ok := strings.CutPrefix(kv, k+"="); ok {
				fmt.Fprintf(&b, "env %s=%q\n", k, v)
			}
		}
	}
	for _, name := range []string{"go.work", "go.work.sum", "go.mod", "go.sum"} {
		sum, err := hashFileIfAny(filepath.Join(modDir, name))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "file %s %s\n", name, sum)
	}
	return b.String(), nil
}

// packageKey hashes common and every package main depends on. Packages of
// versioned modules outside the repository are named by module version,
// which go.sum pins; every other package (of the repository, of a local
// replacement, vendored) by its files' contents.
func packageKey(root, common string, main *listed, pkgs map[string]*listed, files fileHasher) (string, error) {
	deps := closure(main, pkgs)
	h := sha256.New()
	io.WriteString(h, common)
	fmt.Fprintf(h, "main %s\n", main.ImportPath)
	modFiles := map[string]bool{}
	for _, p := range deps {
		if p.Error != nil || len(p.DepsErrors) > 0 {
			return "", fmt.Errorf("package %s does not load", p.ImportPath)
		}
		if p.Standard {
			continue // the toolchain's
		}
		fmt.Fprintf(h, "package %s\n", p.ImportPath)
		version := ""
		if m := p.Module; m != nil {
			version = m.Version
			if m.Replace != nil {
				version = m.Replace.Version
				fmt.Fprintf(h, "replaced %s => %s %s\n", m.Path, m.Replace.Path, m.Replace.Version)
			}
			fmt.Fprintf(h, "module %s %s\n", m.Path, m.Version)
		}
		if version != "" && !inside(root, p.Dir) {
			continue // a module version, pinned by go.sum
		}
		if m := p.Module; m != nil && m.GoMod != "" && !modFiles[m.GoMod] {
			modFiles[m.GoMod] = true
			for _, f := range []string{m.GoMod, filepath.Join(filepath.Dir(m.GoMod), "go.sum")} {
				sum, err := files.hashIfAny(f)
				if err != nil {
					return "", err
				}
				fmt.Fprintf(h, "modfile %s %s\n", relTo(root, f), sum)
			}
		}
		var names []string
		for _, list := range [][]string{p.GoFiles, p.CgoFiles, p.SFiles, p.HFiles, p.SysoFiles, p.EmbedFiles} {
			names = append(names, list...)
		}
		slices.Sort(names)
		for _, name := range slices.Compact(names) {
			sum, err := files.hash(filepath.Join(p.Dir, filepath.FromSlash(name)))
			if err != nil {
				return "", err
			}
			fmt.Fprintf(h, "file %s %s\n", name, sum)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// closure is main and every package it imports, directly or not, sorted
// by import path.
func closure(main *listed, pkgs map[string]*listed) []*listed {
	seen := map[string]bool{main.ImportPath: true}
	queue := []*listed{main}
	for i := 0; i < len(queue); i++ {
		for _, imp := range queue[i].Imports {
			if p := pkgs[imp]; p != nil && !seen[imp] {
				seen[imp] = true
				queue = append(queue, p)
			}
		}
	}
	slices.SortFunc(queue, func(a, b *listed) int { return strings.Compare(a.ImportPath, b.ImportPath) })
	return queue
}

// fileHasher hashes files once each.
type fileHasher map[string]string

func (f fileHasher) hash(path string) (string, error) {
	if sum, ok := f[path]; ok {
		return sum, nil
	}
	a, err := hashFile(path, "")
	if err != nil {
		return "", err
	}
	f[path] = a.sha
	return a.sha, nil
}

func (f fileHasher) hashIfAny(path string) (string, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return "none", nil
	}
	return f.hash(path)
}

func hashFileIfAny(path string) (string, error) {
	return fileHasher{}.hashIfAny(path)
}

// inside reports whether path is root or under it.
func inside(root, path string) bool {
	rel, err := filepath.Rel(root, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

func relTo(root, path string) string {
	if rel, err := filepath.Rel(root, path); err == nil && inside(root, path) {
		return filepath.ToSlash(rel)
	}
	return filepath.Base(path)
}

// sameDir reports whether a and b are the same directory, links resolved.
func sameDir(a, b string) bool {
	if a == b {
		return true
	}
	ra, err1 := filepath.EvalSymlinks(a)
	rb, err2 := filepath.EvalSymlinks(b)
	return err1 == nil && err2 == nil && ra == rb
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// inputKey is the build key of u when its build reads the files under its
// code directory: a hash of BuildVersion, u's method, runtime,
// architecture, handler and BuildProperties, the tools that build it, the
// lines of extra (platform tags, the package indexes the build resolves
// from), and every file under the code directory that excludes
// leaves in. Two builds with the same key make the same zip, as long as
// what the files ask for (unpinned requirements, the registry's contents)
// has not changed.
func inputKey(u *unit, tools string, excludes []string, extra ...string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "stackflow build v%d\n", BuildVersion)
	fmt.Fprintf(h, "method %s\nruntime %s\narch %s\nlayer %t\ntools %q\n", u.method, u.runtime, u.arch, u.layer, tools)
	if u.method.build == "esbuild" {
		fmt.Fprintf(h, "handler %q\n", u.handler)
	}
	for _, p := range u.props {
		fmt.Fprintf(h, "property %q %#v\n", p.name, p.value)
	}
	for _, l := range extra {
		fmt.Fprintf(h, "%s\n", l)
	}
	if err := hashTree(h, u.codeDir, excludes); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// keySpec is what a unit's inputKey reads besides the unit: the tools that
// build it, the files of its code that the build leaves out, and more
// lines.
type keySpec struct {
	tools    string
	excludes []string
	extra    []string
}

// inputKeys computes the inputKey of each of us with spec. An error of
// spec (a missing tool) fails the step; a unit whose key cannot be
// computed has none, and is built.
func (j *job) inputKeys(ctx context.Context, us []*unit, spec func(context.Context, *unit) (keySpec, error)) (map[*unit]string, error) {
	keys := map[*unit]string{}
	for _, u := range us {
		ks, err := spec(ctx, u)
		if err != nil {
			return nil, err
		}
		key, err := inputKey(u, ks.tools, ks.excludes, ks.extra...)
		if err != nil {
			j.note("[no build key for %s: %v; building]\n", u.name, err)
			continue
		}
		keys[u] = key
	}
	return keys, nil
}
