package cfn

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// noValueType is the type of noValue.
type noValueType struct{}

// noValue is what Ref AWS::NoValue evaluates to: the property or list
// element that holds it is removed.
var noValue = noValueType{}

// intrinsic returns the function name and argument of v when v is an
// intrinsic function ({"Ref": ...}, {"Fn::X": ...}, {"Condition": ...}).
func intrinsic(v any) (string, any, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", nil, false
	}
	for k, arg := range m {
		if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
			return k, arg, true
		}
	}
	return "", nil, false
}

// scalarString formats a scalar as CloudFormation turns it into a string.
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case int64:
		return strconv.FormatInt(x, 10), true
	case int:
		return strconv.Itoa(x), true
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return strconv.FormatInt(int64(x), 10), true
		}
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// toStringOr returns v as a string, or def when v is not a scalar.
func toStringOr(v any, def string) string {
	if s, ok := scalarString(v); ok {
		return s
	}
	return def
}

// toInt reads an integer property, given as a number or a numeric string.
func toInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int:
		return int64(x), true
	case float64:
		if x == math.Trunc(x) {
			return int64(x), true
		}
	case string:
		if i, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64); err == nil {
			return i, true
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil && f == math.Trunc(f) {
			return int64(f), true
		}
	}
	return 0, false
}

// toBool reads a boolean property, given as a boolean or "true"/"false".
func toBool(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		switch strings.ToLower(x) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	return false, false
}

// canonical is v as JSON with sorted keys and scalars written as strings, so
// that 30 and "30" compare equal, as CloudFormation compares properties.
func canonical(v any) string {
	b, _ := json.Marshal(normalize(v))
	return string(b)
}

func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = normalize(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = normalize(e)
		}
		return l
	case nil:
		return nil
	}
	if s, ok := scalarString(v); ok {
		return s
	}
	return fmt.Sprint(v)
}

// mapStrings replaces every string in v by f of it.
func mapStrings(v any, f func(string) string) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = mapStrings(e, f)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = mapStrings(e, f)
		}
		return l
	case string:
		return f(x)
	}
	return v
}

// prop returns the property at a dotted path ("Environment.Variables").
func prop(props map[string]any, path string) any {
	var cur any = props
	for part := range strings.SplitSeq(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}

// stringMap reads a map of strings, such as Environment.Variables.
func stringMap(v any) (map[string]string, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("want a map of strings, got %s", typeName(v))
	}
	out := make(map[string]string, len(m))
	for k, e := range m {
		s, ok := scalarString(e)
		if !ok {
			return nil, fmt.Errorf("the value of %s must be a string, got %s", k, typeName(e))
		}
		out[k] = s
	}
	return out, nil
}

// typeName names v's type as a template author knows it.
func typeName(v any) string {
	switch v.(type) {
	case map[string]any:
		return "a map"
	case []any:
		return "a list"
	case string:
		return "a string"
	case int64, int, float64:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "nothing"
	}
	return fmt.Sprintf("%T", v)
}

// deepCopy copies a plain value.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = deepCopy(e)
		}
		return l
	}
	return v
}
