package packager

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// template is the app's SAM template as a YAML node tree, so that what the
// packager does not touch (short-form intrinsics such as !Ref and !Sub,
// comments, order, quoting) is written back as it was.
type template struct {
	root string // the repository's root
	dir  string // the template's directory
	file string // the template's path in the repository, for messages
	doc  *yaml.Node
	top  *yaml.Node // the document's mapping
}

func readTemplate(root, file string) (*template, error) {
	path, err := within(root, root, file)
	if err != nil {
		return nil, &pipeline.ConfigInvalid{File: file, Problem: "the template " + err.Error()}
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &pipeline.ConfigInvalid{File: file, Problem: "no such template in the repository",
			Fix: "commit it, or set the template's path in stackflow.yml"}
	}
	if err != nil {
		return nil, fmt.Errorf("read template %s: %w", file, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &pipeline.ConfigInvalid{File: file, Problem: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || deref(doc.Content[0]).Kind != yaml.MappingNode {
		return nil, &pipeline.ConfigInvalid{File: file, Problem: "the template is not a YAML or JSON mapping"}
	}
	t := &template{root: root, dir: filepath.Dir(path), file: file, doc: &doc, top: deref(doc.Content[0])}
	if res := get(t.top, "Resources"); res == nil || res.Kind != yaml.MappingNode {
		return nil, &pipeline.ConfigInvalid{File: file, Problem: "the template has no Resources mapping"}
	}
	return t, nil
}

// encode writes the template back as YAML (a JSON template stays in JSON's
// flow style, which is YAML too).
func (t *template) encode() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(t.doc); err != nil {
		return nil, fmt.Errorf("write template: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("write template: %w", err)
	}
	return buf.Bytes(), nil
}

// resource is one entry of the template's Resources.
type resource struct {
	name string
	typ  string
	node *yaml.Node // the resource's mapping
}

func (t *template) resources() []resource {
	res := get(t.top, "Resources")
	var out []resource
	for i := 0; i+1 < len(res.Content); i += 2 {
		node := deref(res.Content[i+1])
		if node.Kind != yaml.MappingNode {
			continue
		}
		typ, _ := literal(get(node, "Type"))
		out = append(out, resource{name: res.Content[i].Value, typ: typ, node: node})
	}
	return out
}

// globalFunction returns Globals.Function's key, or nil.
func (t *template) globalFunction(key string) *yaml.Node {
	return get(get(t.top, "Globals"), "Function", key)
}

// prop returns the function r's property key, or the Globals' one.
func (t *template) prop(r resource, key string) *yaml.Node {
	if n := get(r.node, "Properties", key); n != nil {
		return n
	}
	return t.globalFunction(key)
}

// GoArch maps an architecture as SAM (x86_64, arm64) or Go (amd64, arm64)
// spells it, or "host" for this machine's, to Go's name.
func GoArch(arch string) (string, error) {
	switch arch {
	case "x86_64", "amd64":
		return "amd64", nil
	case "arm64", "aarch64":
		return "arm64", nil
	case "host":
		if runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64" {
			return runtime.GOARCH, nil
		}
	}
	return "", fmt.Errorf("architecture %q: want arm64, x86_64 (amd64) or host", arch)
}

// reference is a property whose local file or directory is uploaded, as
// sam package uploads them.
type reference struct {
	typ, prop string
	// zipDir is true when a directory is zipped; otherwise a file is wanted.
	zipDir bool
	// bucket and key name the fields of the S3 location that replaces the
	// path; when empty, it is replaced by an s3:// URI.
	bucket, key string
}

var references = []reference{
	{typ: "AWS::Serverless::StateMachine", prop: "DefinitionUri", bucket: "Bucket", key: "Key"},
	{typ: "AWS::Serverless::Api", prop: "DefinitionUri"},
	{typ: "AWS::Serverless::HttpApi", prop: "DefinitionUri"},
	{typ: "AWS::Serverless::LayerVersion", prop: "ContentUri", zipDir: true},
	{typ: "AWS::Lambda::Function", prop: "Code", zipDir: true, bucket: "S3Bucket", key: "S3Key"},
	{typ: "AWS::Lambda::LayerVersion", prop: "Content", zipDir: true, bucket: "S3Bucket", key: "S3Key"},
	{typ: "AWS::StepFunctions::StateMachine", prop: "DefinitionS3Location", bucket: "Bucket", key: "Key"},
	{typ: "AWS::ApiGateway::RestApi", prop: "BodyS3Location", bucket: "Bucket", key: "Key"},
	{typ: "AWS::ApiGatewayV2::Api", prop: "BodyS3Location", bucket: "Bucket", key: "Key"},
}

// within resolves the slash-separated path p, relative to dir, and refuses
// one that is absolute or leaves root.
func within(root, dir, p string) (string, error) {
	if p == "" || filepath.IsAbs(p) || strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("%q must be a relative path in the repository", p)
	}
	abs := filepath.Join(dir, filepath.FromSlash(p))
	rel, err := filepath.Rel(root, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%q leaves the repository", p)
	}
	return abs, nil
}

// YAML node helpers.

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// get follows keys through nested mappings; nil when one is missing.
func get(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		n = deref(n)
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
				break
			}
		}
		n = next
	}
	return deref(n)
}

// set sets m's key to v, keeping the key's place when it is there.
func set(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, scalar(m, key), v)
}

// remove deletes m's key.
func remove(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}

// mapping returns m's key, a mapping, adding an empty one when missing.
func mapping(m *yaml.Node, key string) *yaml.Node {
	if n := get(m, key); n != nil && n.Kind == yaml.MappingNode {
		return n
	}
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: m.Style & yaml.FlowStyle}
	set(m, key, n)
	return n
}

// scalar is a string node styled to sit in parent: quoted in a JSON
// template's flow mappings, plain in block YAML.
func scalar(parent *yaml.Node, value string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value}
	if parent.Style&yaml.FlowStyle != 0 {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

// s3Location is a {bucket: ..., key: ...} mapping styled for parent.
func s3Location(parent *yaml.Node, bucketField, bucket, keyField, key string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: parent.Style & yaml.FlowStyle}
	n.Content = []*yaml.Node{scalar(n, bucketField), scalar(n, bucket), scalar(n, keyField), scalar(n, key)}
	return n
}

// literal returns n's value when it is a plain string, not an intrinsic
// function such as !Ref.
func literal(n *yaml.Node) (string, bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		return "", false
	}
	return n.Value, true
}

// localPath returns n's value when it names a local file or directory:
// a string that is not an S3 or HTTPS location.
func localPath(n *yaml.Node) (string, bool) {
	v, ok := literal(n)
	if !ok || v == "" || strings.Contains(v, "://") {
		return "", false
	}
	return v, true
}
