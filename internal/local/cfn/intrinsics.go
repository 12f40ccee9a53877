package cfn

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// templateError is an error in a template found while evaluating it.
func templateError(format string, args ...any) error {
	return errors.New("Template error: " + fmt.Sprintf(format, args...))
}

// pseudoParams returns the pseudo parameters of a stack.
func pseudoParams(region, account, stackName, stackID string) map[string]any {
	partition, suffix := "aws", "amazonaws.com"
	switch {
	case strings.HasPrefix(region, "cn-"):
		partition, suffix = "aws-cn", "amazonaws.com.cn"
	case strings.HasPrefix(region, "us-gov-"):
		partition = "aws-us-gov"
	}
	return map[string]any{
		"AWS::Region":           region,
		"AWS::AccountId":        account,
		"AWS::StackName":        stackName,
		"AWS::StackId":          stackID,
		"AWS::Partition":        partition,
		"AWS::URLSuffix":        suffix,
		"AWS::NoValue":          noValue,
		"AWS::NotificationARNs": []any{},
	}
}

// evaluator evaluates intrinsic functions.
type evaluator struct {
	params   map[string]paramValue
	pseudo   map[string]any
	mappings map[string]any
	conds    *conditions
	// ref resolves Ref of a resource, attr its Fn::GetAtt; both are given
	// only names that are not parameters.
	ref  func(name string) (any, error)
	attr func(name, attribute string) (any, error)
}

// eval evaluates every intrinsic function in v and drops AWS::NoValue.
func (ev *evaluator) eval(v any) (any, error) {
	if fn, arg, ok := intrinsic(v); ok {
		return ev.call(fn, arg)
	}
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			r, err := ev.eval(e)
			if err != nil {
				return nil, err
			}
			if r == noValue {
				continue
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			r, err := ev.eval(e)
			if err != nil {
				return nil, err
			}
			if r == noValue {
				continue
			}
			out = append(out, r)
		}
		return out, nil
	}
	return v, nil
}

// str evaluates v into a string.
func (ev *evaluator) str(fn string, v any) (string, error) {
	r, err := ev.eval(v)
	if err != nil {
		return "", err
	}
	s, ok := scalarString(r)
	if !ok {
		return "", templateError("every argument of %s must be a string, got %s", fn, typeName(r))
	}
	return s, nil
}

// list evaluates v into a list.
func (ev *evaluator) list(fn string, v any) ([]any, error) {
	r, err := ev.eval(v)
	if err != nil {
		return nil, err
	}
	l, ok := r.([]any)
	if !ok {
		return nil, templateError("%s needs a list, got %s", fn, typeName(r))
	}
	return l, nil
}

func args(fn string, arg any, n ...int) ([]any, error) {
	l, ok := arg.([]any)
	if !ok {
		return nil, templateError("%s needs a list of arguments", fn)
	}
	for _, want := range n {
		if len(l) == want {
			return l, nil
		}
	}
	return nil, templateError("%s has %d arguments, want %v", fn, len(l), n)
}

func (ev *evaluator) call(fn string, arg any) (any, error) {
	switch fn {
	case "Ref":
		name, ok := arg.(string)
		if !ok {
			return nil, templateError("Ref needs a name, got %s", typeName(arg))
		}
		return ev.refOf(name)
	case "Condition":
		name, ok := arg.(string)
		if !ok {
			return nil, templateError("Condition needs a condition's name")
		}
		return ev.conds.value(name)
	case "Fn::GetAtt":
		var res, att string
		switch x := arg.(type) {
		case string:
			var ok bool
			if res, att, ok = strings.Cut(x, "."); !ok {
				return nil, templateError("Fn::GetAtt needs Resource.Attribute, got %q", x)
			}
		case []any:
			if len(x) != 2 {
				return nil, templateError("Fn::GetAtt needs [Resource, Attribute]")
			}
			var err error
			if res, err = ev.str(fn, x[0]); err != nil {
				return nil, err
			}
			if att, err = ev.str(fn, x[1]); err != nil {
				return nil, err
			}
		default:
			return nil, templateError("Fn::GetAtt needs [Resource, Attribute]")
		}
		return ev.attr(res, att)
	case "Fn::Sub":
		return ev.sub(arg)
	case "Fn::Join":
		a, err := args(fn, arg, 2)
		if err != nil {
			return nil, err
		}
		delim, ok := a[0].(string)
		if !ok {
			return nil, templateError("the delimiter of Fn::Join must be a string")
		}
		l, err := ev.list(fn, a[1])
		if err != nil {
			return nil, err
		}
		parts := make([]string, 0, len(l))
		for _, e := range l {
			s, ok := scalarString(e)
			if !ok {
				return nil, templateError("every element Fn::Join joins must be a string, got %s", typeName(e))
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, delim), nil
	case "Fn::Select":
		a, err := args(fn, arg, 2)
		if err != nil {
			return nil, err
		}
		is, err := ev.str(fn, a[0])
		if err != nil {
			return nil, err
		}
		i, ok := toInt(is)
		if !ok {
			return nil, templateError("the index of Fn::Select must be a number, got %q", is)
		}
		l, err := ev.list(fn, a[1])
		if err != nil {
			return nil, err
		}
		if i < 0 || int(i) >= len(l) {
			return nil, templateError("Fn::Select cannot select nonexistent value at index %d", i)
		}
		return l[i], nil
	case "Fn::Split":
		a, err := args(fn, arg, 2)
		if err != nil {
			return nil, err
		}
		delim, ok := a[0].(string)
		if !ok {
			return nil, templateError("the delimiter of Fn::Split must be a string")
		}
		s, err := ev.str(fn, a[1])
		if err != nil {
			return nil, err
		}
		var out []any
		for _, p := range strings.Split(s, delim) {
			out = append(out, p)
		}
		return out, nil
	case "Fn::If":
		a, err := args(fn, arg, 3)
		if err != nil {
			return nil, err
		}
		name, ok := a[0].(string)
		if !ok {
			return nil, templateError("the first argument of Fn::If must be a condition's name")
		}
		c, err := ev.conds.value(name)
		if err != nil {
			return nil, err
		}
		if c {
			return ev.eval(a[1])
		}
		return ev.eval(a[2])
	case "Fn::Equals":
		a, err := args(fn, arg, 2)
		if err != nil {
			return nil, err
		}
		x, err := ev.eval(a[0])
		if err != nil {
			return nil, err
		}
		y, err := ev.eval(a[1])
		if err != nil {
			return nil, err
		}
		return canonical(x) == canonical(y), nil
	case "Fn::Not":
		a, err := args(fn, arg, 1)
		if err != nil {
			return nil, err
		}
		b, err := ev.boolean(fn, a[0])
		return !b, err
	case "Fn::And", "Fn::Or":
		l, ok := arg.([]any)
		if !ok || len(l) < 2 || len(l) > 10 {
			return nil, templateError("%s needs 2 to 10 conditions", fn)
		}
		and := fn == "Fn::And"
		for _, e := range l {
			b, err := ev.boolean(fn, e)
			if err != nil {
				return nil, err
			}
			if b != and {
				return !and, nil
			}
		}
		return and, nil
	case "Fn::FindInMap":
		a, err := args(fn, arg, 3, 4)
		if err != nil {
			return nil, err
		}
		var ks [3]string
		for i := range ks {
			if ks[i], err = ev.str(fn, a[i]); err != nil {
				return nil, err
			}
		}
		m, _ := ev.mappings[ks[0]].(map[string]any)
		if m == nil {
			return nil, templateError("Unable to get mapping for %s::%s::%s", ks[0], ks[1], ks[2])
		}
		top, _ := m[ks[1]].(map[string]any)
		v, ok := top[ks[2]]
		if !ok {
			return nil, templateError("Unable to get mapping for %s::%s::%s", ks[0], ks[1], ks[2])
		}
		return v, nil
	case "Fn::Base64":
		s, err := ev.str(fn, arg)
		if err != nil {
			return nil, err
		}
		return base64.StdEncoding.EncodeToString([]byte(s)), nil
	case "Fn::GetAZs":
		region, err := ev.str(fn, arg)
		if err != nil {
			return nil, err
		}
		if region == "" {
			region = toStringOr(ev.pseudo["AWS::Region"], "")
		}
		return []any{region + "a", region + "b", region + "c"}, nil
	}
	return nil, templateError("%s is not supported by stackflow's local engine", fn)
}

func (ev *evaluator) boolean(fn string, v any) (bool, error) {
	r, err := ev.eval(v)
	if err != nil {
		return false, err
	}
	b, ok := r.(bool)
	if !ok {
		return false, templateError("%s needs conditions, got %s", fn, typeName(r))
	}
	return b, nil
}

// refOf evaluates Ref name.
func (ev *evaluator) refOf(name string) (any, error) {
	if p, ok := ev.params[name]; ok {
		return p.ref(), nil
	}
	if v, ok := ev.pseudo[name]; ok {
		return v, nil
	}
	if ev.ref == nil {
		return nil, templateError("Unresolved resource dependencies [%s]", name)
	}
	return ev.ref(name)
}

// sub evaluates Fn::Sub in either form.
func (ev *evaluator) sub(arg any) (any, error) {
	var (
		s    string
		vars map[string]any
	)
	switch x := arg.(type) {
	case string:
		s = x
	case []any:
		if len(x) != 2 {
			return nil, templateError("Fn::Sub needs a string, or [string, {variables}]")
		}
		var ok bool
		if s, ok = x[0].(string); !ok {
			return nil, templateError("the first argument of Fn::Sub must be a string")
		}
		v, err := ev.eval(x[1])
		if err != nil {
			return nil, err
		}
		if vars, ok = v.(map[string]any); !ok {
			return nil, templateError("the second argument of Fn::Sub must be a map of variables")
		}
	default:
		return nil, templateError("Fn::Sub needs a string, or [string, {variables}]")
	}
	var (
		b    strings.Builder
		ferr error
	)
	walkSub(s, func(lit string) { b.WriteString(lit) }, func(name string) {
		if ferr != nil {
			return
		}
		v, err := ev.subVar(name, vars)
		if err != nil {
			ferr = err
			return
		}
		str, ok := scalarString(v)
		if !ok {
			ferr = templateError("the variable %s in Fn::Sub is %s, want a string", name, typeName(v))
			return
		}
		b.WriteString(str)
	})
	if ferr != nil {
		return nil, ferr
	}
	return b.String(), nil
}

func (ev *evaluator) subVar(name string, vars map[string]any) (any, error) {
	if v, ok := vars[name]; ok {
		return v, nil
	}
	if _, ok := ev.params[name]; ok {
		return ev.refOf(name)
	}
	if _, ok := ev.pseudo[name]; ok {
		return ev.refOf(name)
	}
	if res, att, ok := strings.Cut(name, "."); ok {
		return ev.attr(res, att)
	}
	return ev.refOf(name)
}

// walkSub splits an Fn::Sub string into literal text and variable names:
// "${!Name}" is the literal "${Name}".
func walkSub(s string, literal func(string), variable func(string)) {
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			literal(s)
			return
		}
		literal(s[:i])
		rest := s[i+2:]
		j := strings.Index(rest, "}")
		if j < 0 {
			literal(s[i:])
			return
		}
		name := rest[:j]
		if strings.HasPrefix(name, "!") {
			literal("${" + name[1:] + "}")
		} else {
			variable(strings.TrimSpace(name))
		}
		s = rest[j+1:]
	}
}

// conditions evaluates a template's conditions, each once.
type conditions struct {
	defs  map[string]any
	ev    *evaluator
	memo  map[string]bool
	doing map[string]bool
}

func newConditions(defs map[string]any, params map[string]paramValue, pseudo map[string]any, mappings map[string]any) *conditions {
	c := &conditions{defs: defs, memo: map[string]bool{}, doing: map[string]bool{}}
	c.ev = &evaluator{
		params: params, pseudo: pseudo, mappings: mappings, conds: c,
		ref: func(name string) (any, error) {
			return nil, formatError("Unresolved dependencies [%s]. Cannot reference resources in the Conditions block of the template", name)
		},
		attr: func(name, _ string) (any, error) {
			return nil, formatError("Unresolved dependencies [%s]. Cannot reference resources in the Conditions block of the template", name)
		},
	}
	return c
}

// value is the value of the condition named name.
func (c *conditions) value(name string) (bool, error) {
	if c == nil {
		return false, formatError("Unresolved condition dependency %s", name)
	}
	if v, ok := c.memo[name]; ok {
		return v, nil
	}
	def, ok := c.defs[name]
	if !ok {
		return false, formatError("Unresolved condition dependency %s", name)
	}
	if c.doing[name] {
		return false, formatError("Circular condition dependency %s", name)
	}
	c.doing[name] = true
	defer delete(c.doing, name)
	b, err := c.ev.boolean("Condition "+name, def)
	if err != nil {
		return false, err
	}
	c.memo[name] = b
	return b, nil
}
