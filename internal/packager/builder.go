package packager

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// builder builds the code of one build method, as one of
// aws-lambda-builders' workflows does (workflows/go_modules, python_pip,
// python_uv, nodejs_npm, nodejs_npm_esbuild). A job makes one of each
// builder it needs; the builders table says which.
type builder interface {
	// check refuses, before anything is built, a unit that this builder
	// cannot build (a Go function whose Handler is not bootstrap, esbuild
	// BuildProperties of the wrong type).
	check(u *unit) error
	// keys returns the build key of each unit: a hash of everything its
	// build reads. A unit without a key is built. An error fails the step:
	// a tool the units need is missing.
	keys(ctx context.Context, us []*unit) (map[*unit]string, error)
	// build builds u and zips it, reproducibly.
	build(ctx context.Context, u *unit) (*output, error)
}

// output is what one build made.
type output struct {
	a *artifact
	// handler, when set, is the Handler that every function of the unit
	// gets in the packaged template (esbuild moves the handler's file).
	handler string
	// tool names the tools that built it, for the build record.
	tool string
}

// finisher is a builder with work left after every unit is packaged
// (the Go builder saves its caches).
type finisher interface {
	finish(ctx context.Context)
}

// method names one way to build: a runtime family and the template's
// Metadata.BuildMethod, "" when the runtime alone decides (a BuildMethod
// that names a runtime of the family, such as python3.12, is "" too). It is
// the key of the builders table, as sam build picks a workflow by
// BuildMethod first and by runtime next (samcli/lib/build/workflow_config.py).
type method struct {
	family string // "provided", "python" or "nodejs"
	build  string // "", "go1.x", "python-uv", "esbuild"
}

func (m method) String() string {
	if m.build == "" {
		return m.family
	}
	return m.family + "/" + m.build
}

// builders is every build method stackflow builds and the builder that
// builds it.
var builders = map[method]func(*job) builder{
	{family: "provided", build: "go1.x"}:   newGoBuilder,
	{family: "python"}:                     newPipBuilder,
	{family: "python", build: "python-uv"}: newUVBuilder,
	{family: "nodejs"}:                     newNpmBuilder,
	{family: "nodejs", build: "esbuild"}:   newEsbuildBuilder,
}

// runtimes are the Lambda runtimes stackflow builds, by family.
var runtimes = map[string][]string{
	"provided": {"provided.al2023", "provided.al2"},
	"python":   {"python3.11", "python3.12", "python3.13", "python3.14"},
	"nodejs":   {"nodejs20.x", "nodejs22.x", "nodejs24.x"},
}

// layerDirs are the folders a layer's files go in, by family, where the
// runtime looks for them (/opt/python, /opt/nodejs/node_modules), as
// samcli's get_layer_subfolder places them.
var layerDirs = map[string]string{"python": "python", "nodejs": "nodejs"}

// family returns the family of the runtime id rt, "" when stackflow does
// not build it.
func family(rt string) string {
	for fam, ids := range runtimes {
		if slices.Contains(ids, rt) {
			return fam
		}
	}
	if strings.HasPrefix(rt, "provided") {
		return "provided"
	}
	return ""
}

// supported says which runtimes are built, for messages.
const supported = "python3.11-python3.14, nodejs20.x-nodejs24.x, and provided.al2023 with BuildMethod go1.x"

// unit is one build: a function's or a layer's code built by one method
// for one architecture. Resources whose builds would be the same share one
// unit and its zip.
type unit struct {
	resource
	method  method
	runtime string // python3.12, nodejs22.x, provided.al2023
	codeDir string // absolute
	arch    string // "x86_64" or "arm64", as SAM spells them
	layer   bool   // a LayerVersion: files go under layerDirs[family]
	handler string // the function's Handler ("" for layers)
	// props is Metadata.BuildProperties, in the template's order.
	props []prop
}

// prop is one entry of Metadata.BuildProperties.
type prop struct {
	name  string
	value any // bool, string or []string
}

// goarch is u.arch as Go spells it.
func (u *unit) goarch() string {
	if u.arch == "x86_64" {
		return "amd64"
	}
	return u.arch
}

// kind says what u builds, for messages: "function" or "layer".
func (u *unit) kind() string {
	if u.layer {
		return "layer"
	}
	return "function"
}

// target names what u's build makes: units with the same target share one
// build.
func (u *unit) target() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s|%s|%s|%t", u.method, u.codeDir, u.arch, u.runtime, u.layer)
	if u.method.build == "esbuild" {
		fmt.Fprintf(&b, "|%s", u.handler) // the default entry point
	}
	for _, p := range u.props {
		fmt.Fprintf(&b, "|%s=%v", p.name, p.value)
	}
	return b.String()
}

// prop returns the value of BuildProperties' name, nil when unset.
func (u *unit) prop(name string) any {
	for _, p := range u.props {
		if p.name == name {
			return p.value
		}
	}
	return nil
}

// fail is a PackageFailed for r.
func fail(r resource, format string, args ...any) error {
	return &pipeline.PackageFailed{Function: r.name, Reason: fmt.Sprintf(format, args...)}
}

// function checks that the function r can be built and returns what to
// build, or nil when r has nothing to build (its code is inline, an image
// already in a registry, or already in S3).
func (j *job) function(r resource) (*unit, error) {
	t := j.t
	if get(r.node, "Properties", "InlineCode") != nil {
		return nil, nil
	}
	if pt, _ := literal(t.prop(r, "PackageType")); pt == "Image" {
		if get(r.node, "Metadata", "Dockerfile") != nil {
			return nil, fail(r, "PackageType Image: image functions are not built; stackflow builds zip functions only "+
				"(push the image to a registry yourself and set ImageUri)")
		}
		return nil, nil // an image already in a registry
	}
	codeURI := "." // SAM's default: the template's folder
	if n := t.prop(r, "CodeUri"); n != nil {
		p, ok := localPath(n)
		if !ok {
			return nil, nil // already packaged: an S3 location or an intrinsic
		}
		codeURI = p
	}
	bm, _ := literal(get(r.node, "Metadata", "BuildMethod"))
	rt, _ := literal(t.prop(r, "Runtime"))
	m, why := selectMethod(rt, bm)
	if why != "" {
		return nil, fail(r, "%s", why)
	}
	arch, err := architecture(t.prop(r, "Architectures"), "Architectures", j.Arch)
	if err != nil {
		return nil, fail(r, "%v", err)
	}
	u := &unit{resource: r, method: m, runtime: rt, arch: arch}
	u.handler, _ = literal(t.prop(r, "Handler"))
	if u.props, why = buildProperties(get(r.node, "Metadata", "BuildProperties")); why != "" {
		return nil, fail(r, "%s", why)
	}
	return j.finishUnit(u, codeURI, "CodeUri")
}

// layer checks that the layer r can be built and returns what to build,
// or nil when r has no Metadata.BuildMethod: its ContentUri is then zipped
// as it is, as sam package does.
func (j *job) layer(r resource) (*unit, error) {
	bm, _ := literal(get(r.node, "Metadata", "BuildMethod"))
	if bm == "" {
		return nil, nil
	}
	p, ok := localPath(get(r.node, "Properties", "ContentUri"))
	if !ok {
		return nil, nil
	}
	fam := family(bm)
	switch {
	case bm == "makefile":
		return nil, fail(r, "Metadata BuildMethod makefile: layers built by a Makefile are not supported; "+
			"use BuildMethod python3.11-python3.14 or nodejs20.x-nodejs24.x, or commit the layer's files and drop BuildMethod")
	case fam == "python" || fam == "nodejs":
	default:
		return nil, fail(r, "Metadata BuildMethod %q: layers are built for a runtime, python3.11-python3.14 or nodejs20.x-nodejs24.x", bm)
	}
	arch, err := architecture(get(r.node, "Metadata", "BuildArchitecture"), "Metadata BuildArchitecture", j.Arch)
	if err != nil {
		return nil, fail(r, "%v", err)
	}
	u := &unit{resource: r, method: method{family: fam}, runtime: bm, arch: arch, layer: true}
	var why string
	if u.props, why = buildProperties(get(r.node, "Metadata", "BuildProperties")); why != "" {
		return nil, fail(r, "%s", why)
	}
	return j.finishUnit(u, p, "ContentUri")
}

// finishUnit resolves u's code directory and lets u's builder check it.
func (j *job) finishUnit(u *unit, uri, prop string) (*unit, error) {
	dir, err := within(j.t.root, j.t.dir, uri)
	if err != nil {
		return nil, fail(u.resource, "%s %v", prop, err)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, fail(u.resource, "%s %q is not a directory of the repository", prop, uri)
	}
	u.codeDir = dir
	if err := j.builder(u.method).check(u); err != nil {
		return nil, err
	}
	return u, nil
}

// builder returns the job's builder for m, made on first use.
func (j *job) builder(m method) builder {
	if b, ok := j.builders[m]; ok {
		return b
	}
	b := builders[m](j)
	j.builders[m] = b
	return b
}

// selectMethod picks the build method of a function with runtime rt and
// Metadata.BuildMethod bm, as sam build picks its workflow, or says why
// stackflow does not build it.
func selectMethod(rt, bm string) (method, string) {
	fam := family(rt)
	switch {
	case rt == "go1.x":
		return method{}, "runtime go1.x is retired: use Runtime provided.al2023 with Handler bootstrap"
	case rt == "" && bm == "go1.x":
		return method{}, "no Runtime: use Runtime provided.al2023 with Handler bootstrap"
	case rt == "":
		return method{}, fmt.Sprintf("no Runtime: stackflow builds %s", supported)
	case bm == "go1.x" && fam != "provided":
		return method{}, fmt.Sprintf("runtime %s cannot run a Go binary: use Runtime provided.al2023 with Handler bootstrap", rt)
	case fam == "":
		return method{}, fmt.Sprintf("runtime %s is not built: stackflow builds %s", rt, supported)
	}
	m := method{family: fam, build: bm}
	if bm != "" && family(bm) == fam && fam != "provided" {
		m.build = "" // BuildMethod: python3.12 on a python function
	}
	if _, ok := builders[m]; ok {
		return m, ""
	}
	if fam == "provided" {
		if bm == "" {
			return method{}, fmt.Sprintf("no Metadata BuildMethod: only Go functions with BuildMethod go1.x are built on %s (makefile builds are not supported)", rt)
		}
		return method{}, fmt.Sprintf("Metadata BuildMethod %q: only Go functions with BuildMethod go1.x are built on %s", bm, rt)
	}
	var ok []string
	for k := range builders {
		if k.family == fam && k.build != "" {
			ok = append(ok, k.build)
		}
	}
	slices.Sort(ok)
	return method{}, fmt.Sprintf("Metadata BuildMethod %q does not build a %s function: leave it out, or use %s", bm, rt, strings.Join(ok, " or "))
}

// architecture reads an Architectures list (or a layer's
// BuildArchitecture) and returns SAM's name for it, x86_64 when n is
// missing, as SAM defaults. override, when set, is the Go name of the
// architecture every unit is built for instead (local runs build for the
// host).
func architecture(n *yaml.Node, what, override string) (string, error) {
	arch := "x86_64"
	if n = deref(n); n != nil {
		a, ok := literal(n)
		if n.Kind == yaml.SequenceNode {
			ok = len(n.Content) == 1
			if ok {
				a, ok = literal(n.Content[0])
			}
		}
		if !ok {
			return "", fmt.Errorf("%s must name one architecture, arm64 or x86_64", what)
		}
		arch = a
	}
	if arch != "x86_64" && arch != "arm64" {
		return "", fmt.Errorf("architecture %q: want arm64 or x86_64", arch)
	}
	switch override {
	case "amd64":
		arch = "x86_64"
	case "arm64":
		arch = "arm64"
	}
	return arch, nil
}

// buildProperties reads Metadata.BuildProperties: each value true, false,
// a string or a list of strings, as aws-lambda-builders takes them; or
// says what is wrong.
func buildProperties(n *yaml.Node) ([]prop, string) {
	n = deref(n)
	if n == nil {
		return nil, ""
	}
	if n.Kind != yaml.MappingNode {
		return nil, "Metadata BuildProperties must be a mapping"
	}
	var out []prop
	for i := 0; i+1 < len(n.Content); i += 2 {
		name, v := n.Content[i].Value, deref(n.Content[i+1])
		bad := fmt.Sprintf("Metadata BuildProperties %s: want true, false, a string or a list of strings", name)
		switch {
		case v.Kind == yaml.ScalarNode && v.ShortTag() == "!!bool":
			out = append(out, prop{name, v.Value == "true" || v.Value == "True" || v.Value == "TRUE"})
		case v.Kind == yaml.ScalarNode && v.ShortTag() == "!!str":
			out = append(out, prop{name, v.Value})
		case v.Kind == yaml.SequenceNode:
			var list []string
			for _, e := range v.Content {
				s, ok := literal(e)
				if !ok {
					return nil, bad
				}
				list = append(list, s)
			}
			out = append(out, prop{name, list})
		default:
			return nil, bad
		}
	}
	return out, ""
}
