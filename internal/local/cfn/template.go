package cfn

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Template sizes CloudFormation accepts.
const (
	maxBodyBytes = 51200
	maxURLBytes  = 1 << 20
)

// serverlessTransform is the SAM transform, the only one the engine runs.
const serverlessTransform = "AWS::Serverless-2016-10-31"

// template is a parsed template. Values are those of a YAML or JSON
// document: map[string]any, []any, string, int64, float64, bool and nil,
// with short-form tags turned into their long form.
type template struct {
	Body        string
	Description string
	Transforms  []string
	Parameters  []*paramDef
	Mappings    map[string]any
	Conditions  map[string]any
	Globals     map[string]any
	Resources   []*resourceDef
	Outputs     []*outputDef
}

// resourceDef is one entry of the Resources section.
type resourceDef struct {
	Name                string
	Type                string
	Properties          map[string]any
	DependsOn           []string
	Condition           string
	DeletionPolicy      string
	UpdateReplacePolicy string
	// UpdatePolicy is the resource's UpdatePolicy attribute, as written
	// (an alias's CodeDeployLambdaAliasUpdate is run: codedeploy.go).
	UpdatePolicy map[string]any
}

// outputDef is one entry of the Outputs section.
type outputDef struct {
	Name        string
	Description any
	Value       any
	Condition   string
	Export      any
}

// formatError is a "Template format error" as CloudFormation words it.
func formatError(format string, args ...any) error {
	return validationError("Template format error: " + fmt.Sprintf(format, args...))
}

// parseTemplate reads a YAML or JSON template.
func parseTemplate(body string) (*template, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(body), &doc); err != nil {
		kind := "YAML"
		if strings.HasPrefix(strings.TrimSpace(body), "{") {
			kind = "JSON"
		}
		return nil, formatError("%s not well-formed. (%s)", kind, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, formatError("the template must be a map of sections")
	}
	t := &template{Body: body}
	top := doc.Content[0]
	var unknown []string
	for i := 0; i+1 < len(top.Content); i += 2 {
		key, node := top.Content[i].Value, top.Content[i+1]
		v, err := toValue(node)
		if err != nil {
			return nil, err
		}
		switch key {
		case "AWSTemplateFormatVersion":
			if s := toStringOr(v, ""); s != "2010-09-09" {
				return nil, formatError("%s is not a supported value for AWSTemplateFormatVersion.", s)
			}
		case "Description":
			s, ok := v.(string)
			if !ok {
				return nil, formatError("Every Description member must be a string.")
			}
			t.Description = s
		case "Metadata", "Rules":
			// Read, not used: Rules' assertions are not evaluated locally.
		case "Transform":
			switch x := v.(type) {
			case string:
				t.Transforms = []string{x}
			case []any:
				for _, e := range x {
					s, ok := e.(string)
					if !ok {
						return nil, formatError("Transform must be a name or a list of names.")
					}
					t.Transforms = append(t.Transforms, s)
				}
			default:
				return nil, formatError("Transform must be a name or a list of names.")
			}
		case "Parameters":
			if t.Parameters, err = parseParameters(node, v); err != nil {
				return nil, err
			}
		case "Mappings":
			if t.Mappings, err = section(key, v); err != nil {
				return nil, err
			}
		case "Conditions":
			if t.Conditions, err = section(key, v); err != nil {
				return nil, err
			}
		case "Globals":
			if t.Globals, err = section(key, v); err != nil {
				return nil, err
			}
		case "Resources":
			if t.Resources, err = parseResources(node, v); err != nil {
				return nil, err
			}
		case "Outputs":
			if t.Outputs, err = parseOutputs(node, v); err != nil {
				return nil, err
			}
		default:
			unknown = append(unknown, key)
		}
	}
	if t.Globals != nil && !t.serverless() {
		unknown = append(unknown, "Globals")
	}
	if len(unknown) > 0 {
		return nil, formatError("Invalid template property or properties [%s]", strings.Join(unknown, ", "))
	}
	if len(t.Resources) == 0 {
		return nil, formatError("At least one Resources member must be defined.")
	}
	return t, nil
}

// serverless reports whether the template asks for the SAM transform.
func (t *template) serverless() bool {
	return slices.Contains(t.Transforms, serverlessTransform)
}

func section(name string, v any) (map[string]any, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, formatError("The %s section must be a map.", name)
	}
	return m, nil
}

// keys returns the keys of a mapping node in document order.
func keys(n *yaml.Node) []string {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	var ks []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		ks = append(ks, n.Content[i].Value)
	}
	return ks
}

func parseResources(node *yaml.Node, v any) ([]*resourceDef, error) {
	m, err := section("Resources", v)
	if err != nil {
		return nil, err
	}
	var out []*resourceDef
	for _, name := range keys(node) {
		if !logicalID(name) {
			return nil, formatError("Resource name %s is non alphanumeric.", name)
		}
		body, ok := m[name].(map[string]any)
		if !ok {
			return nil, formatError("[/Resources/%s] Every Resources object must contain a Type member.", name)
		}
		typ, ok := body["Type"].(string)
		if !ok || typ == "" {
			return nil, formatError("[/Resources/%s] Every Resources object must contain a Type member.", name)
		}
		r := &resourceDef{Name: name, Type: typ}
		if p, ok := body["Properties"]; ok && p != nil {
			if r.Properties, ok = p.(map[string]any); !ok {
				return nil, formatError("[/Resources/%s/Properties] The Properties of a resource must be a map.", name)
			}
		}
		if r.Properties == nil {
			r.Properties = map[string]any{}
		}
		switch d := body["DependsOn"].(type) {
		case nil:
		case string:
			r.DependsOn = []string{d}
		case []any:
			for _, e := range d {
				s, ok := e.(string)
				if !ok {
					return nil, formatError("[/Resources/%s/DependsOn] DependsOn must be a name or a list of names.", name)
				}
				r.DependsOn = append(r.DependsOn, s)
			}
		default:
			return nil, formatError("[/Resources/%s/DependsOn] DependsOn must be a name or a list of names.", name)
		}
		if c, ok := body["Condition"]; ok {
			if r.Condition, ok = c.(string); !ok {
				return nil, formatError("[/Resources/%s/Condition] Condition must be the name of a condition.", name)
			}
		}
		r.DeletionPolicy = toStringOr(body["DeletionPolicy"], "")
		r.UpdateReplacePolicy = toStringOr(body["UpdateReplacePolicy"], "")
		r.UpdatePolicy, _ = body["UpdatePolicy"].(map[string]any)
		switch r.DeletionPolicy {
		case "", "Delete", "Retain", "RetainExceptOnCreate", "Snapshot":
		default:
			return nil, formatError("[/Resources/%s/DeletionPolicy] %s is not a valid DeletionPolicy.", name, r.DeletionPolicy)
		}
		out = append(out, r)
	}
	return out, nil
}

func parseOutputs(node *yaml.Node, v any) ([]*outputDef, error) {
	m, err := section("Outputs", v)
	if err != nil {
		return nil, err
	}
	var out []*outputDef
	for _, name := range keys(node) {
		body, ok := m[name].(map[string]any)
		if !ok {
			return nil, formatError("[/Outputs/%s] Every Outputs member must contain a Value object.", name)
		}
		val, ok := body["Value"]
		if !ok {
			return nil, formatError("[/Outputs/%s] Every Outputs member must contain a Value object.", name)
		}
		o := &outputDef{Name: name, Value: val, Description: body["Description"], Export: body["Export"]}
		if c, ok := body["Condition"]; ok {
			if o.Condition, ok = c.(string); !ok {
				return nil, formatError("[/Outputs/%s/Condition] Condition must be the name of a condition.", name)
			}
		}
		out = append(out, o)
	}
	return out, nil
}

func logicalID(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// toValue turns a YAML node into a plain value, with CloudFormation's
// short-form tags (!Ref, !GetAtt, !Sub, ...) in their long form.
func toValue(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return toValue(n.Content[0])
	case yaml.AliasNode:
		return toValue(n.Alias)
	case yaml.ScalarNode:
		if custom(n.Tag) {
			return shortForm(n, n.Value)
		}
		return scalar(n)
	case yaml.SequenceNode:
		list := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := toValue(c)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		if custom(n.Tag) {
			return shortForm(n, list)
		}
		return list, nil
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, vn := n.Content[i], n.Content[i+1]
			if k.Tag == "!!merge" {
				merged, err := toValue(vn)
				if err != nil {
					return nil, err
				}
				if mm, ok := merged.(map[string]any); ok {
					for mk, mv := range mm {
						if _, set := m[mk]; !set {
							m[mk] = mv
						}
					}
				}
				continue
			}
			v, err := toValue(vn)
			if err != nil {
				return nil, err
			}
			m[k.Value] = v
		}
		if custom(n.Tag) {
			return shortForm(n, m)
		}
		return m, nil
	}
	return nil, formatError("unexpected YAML node at line %d", n.Line)
}

func custom(tag string) bool {
	return strings.HasPrefix(tag, "!") && !strings.HasPrefix(tag, "!!")
}

func scalar(n *yaml.Node) (any, error) {
	switch n.Tag {
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return n.Value, nil
		}
		return b, nil
	case "!!int":
		var i int64
		if err := n.Decode(&i); err == nil {
			return i, nil
		}
		if f, err := strconv.ParseFloat(n.Value, 64); err == nil {
			return f, nil
		}
		return n.Value, nil
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return n.Value, nil
		}
		return f, nil
	}
	// Strings, and what YAML would read as timestamps or binary:
	// CloudFormation keeps those as text.
	return n.Value, nil
}

// shortForm turns a tagged node into its long form.
func shortForm(n *yaml.Node, v any) (any, error) {
	name := strings.TrimPrefix(n.Tag, "!")
	switch name {
	case "Ref":
		return map[string]any{"Ref": v}, nil
	case "Condition":
		return map[string]any{"Condition": v}, nil
	case "GetAtt":
		if s, ok := v.(string); ok {
			res, attr, ok := strings.Cut(s, ".")
			if !ok {
				return nil, formatError("Template error: the attribute in Fn::GetAtt must be written Resource.Attribute (line %d)", n.Line)
			}
			return map[string]any{"Fn::GetAtt": []any{res, attr}}, nil
		}
		return map[string]any{"Fn::GetAtt": v}, nil
	case "Base64", "Cidr", "FindInMap", "GetAZs", "ImportValue", "Join", "Select", "Split", "Sub", "Transform",
		"And", "Equals", "If", "Not", "Or", "Length", "ToJsonString":
		return map[string]any{"Fn::" + name: v}, nil
	}
	return nil, formatError("unknown tag !%s (line %d)", name, n.Line)
}

// orderedJSON returns a YAML or JSON template as JSON whose objects keep
// the template's order of keys (Go maps have none), with short-form tags
// in their long form: what SAM's translator is given, so that the
// resources it makes keep the template's order.
func orderedJSON(body string) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(body), &doc); err != nil {
		return nil, formatError("not well-formed. (%s)", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, formatError("the template must be a map of sections")
	}
	var buf bytes.Buffer
	if err := writeOrdered(&buf, doc.Content[0]); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeOrdered(buf *bytes.Buffer, n *yaml.Node) error {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if custom(n.Tag) || (n.Kind != yaml.MappingNode && n.Kind != yaml.SequenceNode) || merges(n) {
		v, err := toValue(n)
		if err != nil {
			return err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return formatError("%v", err)
		}
		buf.Write(b)
		return nil
	}
	if n.Kind == yaml.SequenceNode {
		buf.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeOrdered(buf, c); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
		return nil
	}
	buf.WriteByte('{')
	for i := 0; i+1 < len(n.Content); i += 2 {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, _ := json.Marshal(n.Content[i].Value)
		buf.Write(k)
		buf.WriteByte(':')
		if err := writeOrdered(buf, n.Content[i+1]); err != nil {
			return err
		}
	}
	buf.WriteByte('}')
	return nil
}

// merges reports whether a mapping node has a YAML merge key (<<), whose
// order toValue settles.
func merges(n *yaml.Node) bool {
	if n.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i < len(n.Content); i += 2 {
		if n.Content[i].Tag == "!!merge" {
			return true
		}
	}
	return false
}
