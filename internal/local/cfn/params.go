package cfn

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// paramDef is one entry of the Parameters section.
type paramDef struct {
	Name                  string
	Type                  string
	Default               string
	HasDefault            bool
	AllowedValues         []string
	AllowedPattern        string
	MinLength, MaxLength  *int64
	MinValue, MaxValue    *float64
	NoEcho                bool
	Description           string
	ConstraintDescription string
}

// list reports whether the parameter's value is a list.
func (p *paramDef) list() bool {
	t := strings.TrimSuffix(strings.TrimPrefix(p.Type, "AWS::SSM::Parameter::Value<"), ">")
	return t == "CommaDelimitedList" || strings.HasPrefix(t, "List<")
}

// ssm reports whether the parameter's value names an SSM parameter whose
// value is the one used.
func (p *paramDef) ssm() bool {
	return strings.HasPrefix(p.Type, "AWS::SSM::Parameter::Value<")
}

// number reports whether the value (or each element) must be a number.
func (p *paramDef) number() bool {
	return p.Type == "Number" || p.Type == "List<Number>"
}

// paramValue is a parameter's value in a stack.
type paramValue struct {
	Key   string
	Value string
	// Resolved is the SSM parameter's value, for SSM parameter types.
	Resolved string
	NoEcho   bool
	def      *paramDef
}

// effective is the value the template sees.
func (v paramValue) effective() string {
	if v.def != nil && v.def.ssm() {
		return v.Resolved
	}
	return v.Value
}

// ref is what Ref of the parameter evaluates to: a string, or a list of
// strings for list types.
func (v paramValue) ref() any {
	s := v.effective()
	if v.def == nil || !v.def.list() {
		return s
	}
	var out []any
	for part := range strings.SplitSeq(s, ",") {
		out = append(out, strings.TrimSpace(part))
	}
	return out
}

// display is the value DescribeStacks shows.
func (v paramValue) display() string {
	if v.NoEcho {
		return "****"
	}
	return v.Value
}

// paramInput is a parameter as CreateChangeSet gives it.
type paramInput struct {
	Key         string
	Value       string
	HasValue    bool
	UsePrevious bool
}

var paramTypes = regexp.MustCompile(`^(String|Number|List<Number>|CommaDelimitedList|List<String>|` +
	`AWS::SSM::Parameter::Name|AWS::SSM::Parameter::Value<(String|List<String>|CommaDelimitedList)>|` +
	`AWS::[A-Za-z0-9]+::[A-Za-z0-9]+::[A-Za-z0-9]+|List<AWS::[A-Za-z0-9]+::[A-Za-z0-9]+::[A-Za-z0-9]+>)$`)

func parseParameters(node *yaml.Node, v any) ([]*paramDef, error) {
	m, err := section("Parameters", v)
	if err != nil {
		return nil, err
	}
	var out []*paramDef
	for _, name := range keys(node) {
		if !logicalID(name) {
			return nil, formatError("Parameter name %s is non alphanumeric.", name)
		}
		body, ok := m[name].(map[string]any)
		if !ok {
			return nil, formatError("[/Parameters/%s] Every Parameters object must contain a Type member.", name)
		}
		p := &paramDef{Name: name}
		p.Type, ok = body["Type"].(string)
		if !ok || p.Type == "" {
			return nil, formatError("[/Parameters/%s] Every Parameters object must contain a Type member.", name)
		}
		if !paramTypes.MatchString(p.Type) {
			return nil, formatError("Unrecognized parameter type: %s", p.Type)
		}
		if d, ok := body["Default"]; ok {
			p.HasDefault = true
			switch x := d.(type) {
			case []any:
				var parts []string
				for _, e := range x {
					parts = append(parts, toStringOr(e, ""))
				}
				p.Default = strings.Join(parts, ",")
			default:
				s, ok := scalarString(d)
				if !ok {
					return nil, formatError("[/Parameters/%s/Default] Default must be a string.", name)
				}
				p.Default = s
			}
		}
		if av, ok := body["AllowedValues"]; ok {
			list, ok := av.([]any)
			if !ok {
				return nil, formatError("[/Parameters/%s/AllowedValues] AllowedValues must be a list.", name)
			}
			for _, e := range list {
				p.AllowedValues = append(p.AllowedValues, toStringOr(e, ""))
			}
		}
		if ap, ok := body["AllowedPattern"]; ok {
			p.AllowedPattern = toStringOr(ap, "")
			if _, err := regexp.Compile(p.AllowedPattern); err != nil {
				return nil, formatError("[/Parameters/%s/AllowedPattern] %s is not a valid pattern.", name, p.AllowedPattern)
			}
		}
		for _, f := range []struct {
			key string
			dst **int64
		}{{"MinLength", &p.MinLength}, {"MaxLength", &p.MaxLength}} {
			if x, ok := body[f.key]; ok {
				i, ok := toInt(x)
				if !ok {
					return nil, formatError("[/Parameters/%s/%s] %s must be an integer.", name, f.key, f.key)
				}
				*f.dst = &i
			}
		}
		for _, f := range []struct {
			key string
			dst **float64
		}{{"MinValue", &p.MinValue}, {"MaxValue", &p.MaxValue}} {
			if x, ok := body[f.key]; ok {
				n, err := strconv.ParseFloat(toStringOr(x, ""), 64)
				if err != nil {
					return nil, formatError("[/Parameters/%s/%s] %s must be a number.", name, f.key, f.key)
				}
				*f.dst = &n
			}
		}
		if ne, ok := body["NoEcho"]; ok {
			p.NoEcho, _ = toBool(ne)
		}
		p.Description = toStringOr(body["Description"], "")
		p.ConstraintDescription = toStringOr(body["ConstraintDescription"], "")
		out = append(out, p)
	}
	return out, nil
}

// ssmReader reads SSM parameters for parameters of SSM types.
type ssmReader interface {
	GetParameter(ctx context.Context, name string) (string, error)
}

// resolveParams gives each of the template's parameters its value: the one
// given, the previous one (UsePreviousValue), or the default; and checks
// it against the parameter's constraints with CloudFormation's messages.
func resolveParams(ctx context.Context, defs []*paramDef, given []paramInput, previous []paramValue, create bool, ssm ssmReader) ([]paramValue, error) {
	byKey := map[string]paramInput{}
	var unknown []string
	for _, g := range given {
		if !slices.ContainsFunc(defs, func(d *paramDef) bool { return d.Name == g.Key }) {
			unknown = append(unknown, g.Key)
			continue
		}
		byKey[g.Key] = g
	}
	if len(unknown) > 0 {
		return nil, validationError(fmt.Sprintf("Parameters: [%s] do not exist in the template", strings.Join(unknown, ", ")))
	}
	prev := map[string]paramValue{}
	for _, p := range previous {
		prev[p.Key] = p
	}
	var (
		out     []paramValue
		missing []string
	)
	for _, d := range defs {
		v := paramValue{Key: d.Name, NoEcho: d.NoEcho, def: d}
		g, given := byKey[d.Name]
		switch {
		case given && g.UsePrevious:
			p, ok := prev[d.Name]
			if create || !ok {
				return nil, validationError(fmt.Sprintf("Invalid input for parameter key %s. Cannot specify usePreviousValue as true for a parameter key that has no previous value", d.Name))
			}
			v.Value = p.Value
		case given && g.HasValue:
			v.Value = g.Value
		case d.HasDefault:
			v.Value = d.Default
		default:
			missing = append(missing, d.Name)
			continue
		}
		if err := checkParam(d, v.Value); err != nil {
			return nil, err
		}
		if d.ssm() {
			if ssm == nil {
				return nil, validationError(fmt.Sprintf("Parameter %s of type %s cannot be resolved locally", d.Name, d.Type))
			}
			r, err := ssm.GetParameter(ctx, v.Value)
			if err != nil {
				return nil, validationError(fmt.Sprintf("Parameters [%s] referenced by template have types not supported by CloudFormation: %v", v.Value, err))
			}
			v.Resolved = r
		}
		out = append(out, v)
	}
	if len(missing) > 0 {
		return nil, validationError(fmt.Sprintf("Parameters: [%s] must have values", strings.Join(missing, ", ")))
	}
	return out, nil
}

// checkParam checks value against d's constraints.
func checkParam(d *paramDef, value string) error {
	fail := func(msg string) error {
		if d.ConstraintDescription != "" {
			msg = fmt.Sprintf("Parameter '%s' failed to satisfy constraint: %s", d.Name, d.ConstraintDescription)
		}
		return validationError(msg)
	}
	elems := []string{value}
	if d.list() {
		elems = nil
		for part := range strings.SplitSeq(value, ",") {
			elems = append(elems, strings.TrimSpace(part))
		}
	}
	for _, e := range elems {
		if d.number() {
			n, err := strconv.ParseFloat(e, 64)
			if err != nil {
				return validationError(fmt.Sprintf("Parameter '%s' must be a number.", d.Name))
			}
			if d.MinValue != nil && n < *d.MinValue {
				return fail(fmt.Sprintf("Parameter '%s' must be a number not less than %s", d.Name, num(*d.MinValue)))
			}
			if d.MaxValue != nil && n > *d.MaxValue {
				return fail(fmt.Sprintf("Parameter '%s' must be a number not greater than %s", d.Name, num(*d.MaxValue)))
			}
		}
		if len(d.AllowedValues) > 0 && !slices.Contains(d.AllowedValues, e) {
			return fail(fmt.Sprintf("Parameter '%s' must be one of AllowedValues", d.Name))
		}
	}
	if d.number() {
		return nil
	}
	n := int64(utf8.RuneCountInString(value))
	if d.MinLength != nil && n < *d.MinLength {
		return fail(fmt.Sprintf("Parameter '%s' must contain at least %d characters", d.Name, *d.MinLength))
	}
	if d.MaxLength != nil && n > *d.MaxLength {
		return fail(fmt.Sprintf("Parameter '%s' must contain at most %d characters", d.Name, *d.MaxLength))
	}
	if d.AllowedPattern != "" {
		re, err := regexp.Compile("^(?:" + d.AllowedPattern + ")$")
		if err != nil || !re.MatchString(value) {
			return fail(fmt.Sprintf("Parameter '%s' must match pattern %s", d.Name, d.AllowedPattern))
		}
	}
	return nil
}

func num(f float64) string {
	return strconv.FormatFloat(f, 'f', -1, 64)
}
