package packager

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/stackflow/stackflow/internal/workspace"
)

// esbuildExcludes are the files and folders that nodejs_npm_esbuild does
// not copy into its build folder.
var esbuildExcludes = []string{".aws-sam", ".git", "node_modules"}

// esbuildFixed are the esbuild options that aws-lambda-builders sets
// itself and BuildProperties cannot change; esbuildIgnored are
// BuildProperties that are not esbuild options (snake_case, as
// aws-lambda-builders names them).
var (
	esbuildFixed   = []string{"bundle", "platform", "outdir"}
	esbuildIgnored = []string{"use_npm_ci", "entry_points"}
)

// esbuildBuilder builds BuildMethod esbuild as sam build's
// nodejs_npm_esbuild workflow does: the code is copied without
// node_modules, npm install --omit=dev installs its dependencies (for the
// build machine: esbuild runs there), and the esbuild of the app's own
// node_modules bundles the entry points (BuildProperties EntryPoints,
// else the Handler's file) into the zip:
//
//	esbuild <entries> --bundle --platform=node --outdir=<out>
//	        [--target=es2020] [--format=cjs] [--minify] <BuildProperties>
//
// The defaults in brackets apply when BuildProperties leaves Target,
// Format and Minify out; every other property becomes a flag as
// aws-lambda-builders writes it (Sourcemap: true is --sourcemap, Target:
// es2022 is --target=es2022, External: [a, b] is --external:a
// --external:b, MainFields, Loader, OutExtension and the rest alike).
// The packaged template then gets the Handler's basename when the
// Handler's file moved, and NODE_OPTIONS --enable-source-maps with
// Sourcemap, as sam build's EsbuildBundlerManager writes them.
//
// Functions of one code directory that bundle different entry points are
// different builds (as in sam build's build graph, the Handler and
// BuildProperties are part of an esbuild build's definition), but their
// dependencies are the same: the first build of a code directory copies it
// and runs npm install, and the job's later builds of that directory
// bundle from the same copy, each into a folder of its own beside it. Each
// is still a build of its own, with its own zip, and counts as one.
type esbuildBuilder struct {
	j *job
	// installed are the copies of code directories with their
	// dependencies installed, by installKey.
	installed map[string]*esbuildSource
}

// esbuildSource is a code directory copied and npm installed, ready for
// esbuild to bundle from.
type esbuildSource struct {
	src     string // the copy, with node_modules
	esbuild string // the app's esbuild
	version string // its version
	by      string // the function whose build installed it
}

// installKey names what npm install makes of u's code directory: units
// with the same key can bundle from one install. The install runs for the
// build machine, so the architecture does not change it.
func installKey(u *unit) string {
	ci, _ := u.prop("UseNpmCi").(bool)
	return fmt.Sprintf("%s|%s|ci=%t", u.codeDir, u.runtime, ci)
}

var _ builder = (*esbuildBuilder)(nil)

func newEsbuildBuilder(j *job) builder {
	return &esbuildBuilder{j: j, installed: map[string]*esbuildSource{}}
}

// check refuses EntryPoints that are not a list and a function with
// neither EntryPoints nor a Handler, and turns NODE_OPTIONS
// --enable-source-maps into Sourcemap: true, as sam build does.
func (b *esbuildBuilder) check(u *unit) error {
	switch ep := u.prop("EntryPoints").(type) {
	case nil:
		if u.handler == "" {
			return fail(u.resource, "Metadata BuildMethod esbuild: no BuildProperties EntryPoints and no Handler to take the entry point from")
		}
	case []string:
		if len(ep) == 0 {
			return fail(u.resource, "Metadata BuildProperties EntryPoints must not be empty")
		}
	default:
		return fail(u.resource, "Metadata BuildProperties EntryPoints must be a list of files")
	}
	if u.prop("Sourcemap") == nil {
		if v, ok := literal(b.j.nodeOptions(u.resource)); ok && slices.Contains(strings.Fields(v), "--enable-source-maps") {
			u.props = append(u.props, prop{"Sourcemap", true})
		}
	}
	return nil
}

func (b *esbuildBuilder) keys(ctx context.Context, us []*unit) (map[*unit]string, error) {
	return b.j.inputKeys(ctx, us, func(ctx context.Context, u *unit) (keySpec, error) {
		nt, err := b.j.nodeTools(ctx, u)
		if err != nil {
			return keySpec{}, err
		}
		return keySpec{tools: nt.String(), excludes: esbuildExcludes, extra: []string{b.j.npmIndexes}}, nil
	})
}

func (b *esbuildBuilder) build(ctx context.Context, u *unit) (*output, error) {
	j := b.j
	nt, err := j.nodeTools(ctx, u)
	if err != nil {
		return nil, err
	}
	scratch, out, began, err := j.startBuild(u, "esbuild")
	if err != nil {
		return nil, err
	}
	prepared, err := b.prepare(ctx, u, nt, scratch, out, began)
	if err != nil {
		return nil, err
	}
	src := prepared.src
	// src and out sit side by side, so the paths esbuild writes into
	// source maps (../src/...) are the same in every build.
	outDir, err := os.MkdirTemp(filepath.Dir(src), "out-")
	if err != nil {
		return nil, fmt.Errorf("package: %w", err)
	}
	manifest, err := os.ReadFile(filepath.Join(src, "package.json"))
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", u.name, err)
	}
	esbuild, version := prepared.esbuild, prepared.version
	args, err := esbuildArgs(u, src, "../"+filepath.Base(outDir), manifest)
	if err != nil {
		return nil, j.buildFailed(u, out, began, err.Error())
	}
	if err := j.run(ctx, out, src, nil, esbuild, args...); err != nil {
		return nil, j.buildFailed(u, out, began, "esbuild failed")
	}
	entries, err := treeEntries(outDir, "", nil)
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", u.name, err)
	}
	o, err := j.zipBuild(u, out, began, scratch, entries, nt.String()+", esbuild "+version)
	if err != nil {
		return nil, err
	}
	o.handler = movedHandler(u.handler, outDir)
	return o, nil
}

// prepare returns u's code directory copied into scratch without
// node_modules, with its dependencies installed by npm install --omit=dev
// (for the build machine: esbuild runs there), and the app's esbuild found
// in it; or the copy that an earlier build of the job made of the same
// directory, installed the same way.
func (b *esbuildBuilder) prepare(ctx context.Context, u *unit, nt *nodeTools, scratch string, out *workspace.Output, began time.Time) (*esbuildSource, error) {
	j := b.j
	key := installKey(u)
	if s, ok := b.installed[key]; ok {
		fmt.Fprintf(out, "[%s: bundling from the copy of %s that %s's build installed (npm install once per code directory)]\n",
			u.name, j.rel(u.codeDir), s.by)
		return s, nil
	}
	src := filepath.Join(scratch, "src")
	if err := copyTree(u.codeDir, src, esbuildExcludes); err != nil {
		return nil, fmt.Errorf("package %s: %w", u.name, err)
	}
	if _, err := os.Stat(filepath.Join(src, "package.json")); err != nil {
		return nil, j.buildFailed(u, out, began, "Metadata BuildMethod esbuild: no package.json in "+j.rel(u.codeDir)+
			": esbuild comes from the app's node_modules, so list it in package.json's dependencies")
	}
	if err := j.npmInstall(ctx, out, u, nt, src, false); err != nil {
		return nil, j.buildFailed(u, out, began, err.Error())
	}
	esbuild := filepath.Join(src, "node_modules", ".bin", "esbuild")
	if _, err := os.Stat(esbuild); err != nil {
		return nil, j.buildFailed(u, out, began, "esbuild is not in the app's node_modules after npm install --omit=dev: "+
			"list esbuild in package.json's dependencies (devDependencies are not installed)")
	}
	version, err := j.capture(ctx, src, esbuild, "--version")
	if err != nil {
		return nil, j.buildFailed(u, out, began, fmt.Sprintf("esbuild does not run: %v", err))
	}
	s := &esbuildSource{src: src, esbuild: esbuild, version: version, by: u.name}
	b.installed[key] = s
	return s, nil
}

// esbuildArgs are the arguments of esbuild for u, run in src and writing
// to outdir, as aws-lambda-builders' EsbuildCommandBuilder makes them.
// manifest is the package.json, whose dependencies are all made external
// when External lists ./node_modules/*.
func esbuildArgs(u *unit, src, outdir string, manifest []byte) ([]string, error) {
	var args []string
	props := slices.Clone(u.props)
	if ext, _ := u.prop("External").([]string); slices.Contains(ext, "./node_modules/*") {
		deps, err := dependencies(manifest)
		if err != nil {
			return nil, err
		}
		for _, d := range deps {
			args = append(args, "--external:"+d)
		}
		props = slices.DeleteFunc(props, func(p prop) bool { return p.name == "External" })
	}
	entries, _ := u.prop("EntryPoints").([]string)
	if entries == nil {
		entries = []string{strings.Split(u.handler, ".")[0]}
	}
	for _, e := range entries {
		ep, err := entryPoint(src, e)
		if err != nil {
			return nil, err
		}
		args = append(args, ep)
	}
	args = append(args, "--bundle", "--platform=node", "--outdir="+outdir)
	set := map[string]bool{}
	for _, p := range props {
		set[snake(p.name)] = true
	}
	if !set["target"] {
		args = append(args, "--target=es2020")
	}
	if !set["format"] {
		args = append(args, "--format=cjs")
	}
	if !set["minify"] {
		args = append(args, "--minify")
	}
	for _, p := range props {
		name := snake(p.name)
		if slices.Contains(esbuildFixed, name) || slices.Contains(esbuildIgnored, name) {
			continue
		}
		flag := "--" + strings.ReplaceAll(name, "_", "-")
		switch v := p.value.(type) {
		case bool:
			if v {
				args = append(args, flag)
			}
		case string:
			args = append(args, flag+"="+v)
		case []string:
			for _, item := range v {
				args = append(args, flag+":"+item)
			}
		}
	}
	return args, nil
}

// entryPoint is the entry point e with an explicit .ts or .js suffix when
// it has none, as aws-lambda-builders' _get_explicit_file_type finds it.
func entryPoint(src, e string) (string, error) {
	if path.Ext(e) != "" {
		if _, err := os.Stat(filepath.Join(src, filepath.FromSlash(e))); err == nil {
			return e, nil
		}
	} else {
		for _, ext := range []string{".ts", ".js"} {
			if _, err := os.Stat(filepath.Join(src, filepath.FromSlash(e+ext))); err == nil {
				return e + ext, nil
			}
		}
	}
	return "", fmt.Errorf("entry point %s does not exist", e)
}

// snake turns a BuildProperties name into aws-lambda-builders' snake_case
// (MainFields is main_fields), as samcli's ResourceMetadataNormalizer.
func snake(name string) string {
	var b strings.Builder
	for i, r := range name {
		if i > 0 && unicode.IsUpper(r) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// dependencies are the names of package.json's dependencies, in its order.
func dependencies(manifest []byte) ([]string, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(manifest, &top); err != nil {
		return nil, fmt.Errorf("package.json: %w", err)
	}
	raw, ok := top["dependencies"]
	if !ok {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("package.json: dependencies is not an object")
	}
	var names []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("package.json: %w", err)
		}
		name, _ := tok.(string)
		names = append(names, name)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, fmt.Errorf("package.json: %w", err)
		}
	}
	return names, nil
}

// movedHandler is the Handler that sam build writes for an esbuild
// function whose bundle is in outDir: the Handler's basename when the file
// it names (src/app.handler: src/app.js) is not in the bundle, "" (keep
// it) when it is or when it points into a layer (/opt).
func movedHandler(handler, outDir string) string {
	if handler == "" || strings.HasPrefix(handler, "/opt") {
		return ""
	}
	base := path.Base(handler)
	file := path.Join(path.Dir(handler), strings.TrimSuffix(base, path.Ext(base))+".js")
	if fi, err := os.Stat(filepath.Join(outDir, filepath.FromSlash(file))); err == nil && fi.Mode().IsRegular() {
		return ""
	}
	if base == handler {
		return ""
	}
	return base
}

// nodeOptions is NODE_OPTIONS of the function r, its own or Globals'.
func (j *job) nodeOptions(r resource) *yaml.Node {
	if n := get(r.node, "Properties", "Environment", "Variables", "NODE_OPTIONS"); n != nil {
		return n
	}
	return get(j.t.globalFunction("Environment"), "Variables", "NODE_OPTIONS")
}

// rewrite edits the packaged template's function u after its build b as
// sam build does for esbuild functions: the Handler that the build moved,
// and NODE_OPTIONS with --enable-source-maps when Sourcemap is true.
func (j *job) rewrite(u *unit, b *result, props *yaml.Node) {
	if u.method.build != "esbuild" {
		return
	}
	if b.handler != "" {
		set(props, "Handler", scalar(props, b.handler))
	}
	if on, _ := u.prop("Sourcemap").(bool); !on {
		return
	}
	existing := ""
	if n := j.nodeOptions(u.resource); n != nil {
		v, ok := literal(n)
		if !ok || slices.Contains(strings.Fields(v), "--enable-source-maps") {
			return // an intrinsic function, or already on
		}
		existing = v
	}
	vars := mapping(mapping(props, "Environment"), "Variables")
	// sam build joins with a space, even to an empty value.
	set(vars, "NODE_OPTIONS", scalar(vars, existing+" --enable-source-maps"))
}
