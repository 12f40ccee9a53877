package events

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Pattern is an event pattern in the grammar that EventBridge rules and
// Lambda's event filtering (an event source mapping's FilterCriteria)
// share: an object whose keys name fields of the event, each a nested
// pattern or a list of values any of which matches (a JSON string, number,
// boolean or null, or an operator: prefix, suffix, equals-ignore-case,
// wildcard, anything-but, numeric, exists), and "$or" with a list of
// patterns. A field that is a list in the event matches when one of its
// elements does. Fields the pattern does not name are not looked at.
type Pattern struct {
	root map[string]any
}

// ParsePattern reads a pattern (JSON), refusing what Lambda and
// EventBridge refuse: a pattern that is not an object, a field whose
// value is neither an object nor a list, an unknown operator.
func ParsePattern(text string) (*Pattern, error) {
	var root map[string]any
	if err := json.Unmarshal([]byte(text), &root); err != nil {
		return nil, fmt.Errorf("the pattern %q is not a JSON object: %w", text, err)
	}
	if err := checkPattern(root); err != nil {
		return nil, fmt.Errorf("the pattern %s: %w", text, err)
	}
	return &Pattern{root: root}, nil
}

func checkPattern(p map[string]any) error {
	for key, v := range p {
		if key == "$or" {
			list, ok := v.([]any)
			if !ok || len(list) < 2 {
				return fmt.Errorf(`"$or" takes a list of at least two patterns`)
			}
			for _, sub := range list {
				m, ok := sub.(map[string]any)
				if !ok {
					return fmt.Errorf(`"$or" takes a list of patterns (objects)`)
				}
				if err := checkPattern(m); err != nil {
					return err
				}
			}
			continue
		}
		switch x := v.(type) {
		case map[string]any:
			if err := checkPattern(x); err != nil {
				return err
			}
		case []any:
			for _, m := range x {
				if op, ok := m.(map[string]any); ok {
					if err := checkOperator(key, op); err != nil {
						return err
					}
				}
			}
		default:
			return fmt.Errorf("the field %q must be a list of values or a nested pattern, not %v", key, v)
		}
	}
	return nil
}

func checkOperator(key string, op map[string]any) error {
	if len(op) != 1 {
		return fmt.Errorf("a matcher of %q must have one operator, got %v", key, op)
	}
	for name, arg := range op {
		switch name {
		case "prefix", "suffix", "equals-ignore-case", "wildcard", "anything-but", "exists":
		case "numeric":
			list, ok := arg.([]any)
			if !ok || len(list) == 0 || len(list)%2 != 0 {
				return fmt.Errorf(`"numeric" of %q takes pairs of an operator and a number`, key)
			}
			for i := 0; i < len(list); i += 2 {
				o, _ := list[i].(string)
				if _, ok := list[i+1].(float64); !ok || !slices.Contains([]string{"<", "<=", "=", ">", ">="}, o) {
					return fmt.Errorf(`"numeric" of %q takes pairs of an operator (<, <=, =, >, >=) and a number`, key)
				}
			}
		default:
			return fmt.Errorf("unknown operator %q of %q (stackflow local knows prefix, suffix, equals-ignore-case, wildcard, anything-but, numeric, exists and $or)", name, key)
		}
	}
	return nil
}

// Match reports whether event (decoded JSON) matches the pattern.
func (p *Pattern) Match(event any) bool { return matchObject(p.root, event) }

// MatchJSON reports whether the JSON event matches the pattern.
func (p *Pattern) MatchJSON(event []byte) bool {
	var v any
	if json.Unmarshal(event, &v) != nil {
		return false
	}
	return p.Match(v)
}

func matchObject(p map[string]any, event any) bool {
	obj, _ := event.(map[string]any)
	for key, want := range p {
		if key == "$or" {
			list, _ := want.([]any)
			if !slices.ContainsFunc(list, func(sub any) bool {
				m, _ := sub.(map[string]any)
				return matchObject(m, event)
			}) {
				return false
			}
			continue
		}
		val, present := obj[key]
		switch w := want.(type) {
		case map[string]any:
			// A list of objects matches when one of them does.
			if !present || !slices.ContainsFunc(leaves(val), func(v any) bool { return matchObject(w, v) }) {
				return false
			}
		case []any:
			if !slices.ContainsFunc(w, func(m any) bool { return matchValue(m, val, present) }) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// leaves are the values a field holds: its elements when it is a list.
func leaves(v any) []any {
	if list, ok := v.([]any); ok {
		return list
	}
	return []any{v}
}

func matchValue(m, val any, present bool) bool {
	op, isOp := m.(map[string]any)
	if !isOp {
		return present && slices.ContainsFunc(leaves(val), func(v any) bool { return equal(m, v) })
	}
	for name, arg := range op {
		if name == "exists" {
			want, _ := arg.(bool)
			_, object := val.(map[string]any)
			return want == (present && !object)
		}
		if !present {
			return false
		}
		return slices.ContainsFunc(leaves(val), func(v any) bool { return matchOperator(name, arg, v) })
	}
	return false
}

func matchOperator(name string, arg, v any) bool {
	s, isString := v.(string)
	switch name {
	case "prefix", "suffix":
		if !isString {
			return false
		}
		want, ignoreCase := stringArg(arg)
		if ignoreCase {
			s, want = strings.ToLower(s), strings.ToLower(want)
		}
		if name == "prefix" {
			return strings.HasPrefix(s, want)
		}
		return strings.HasSuffix(s, want)
	case "equals-ignore-case":
		want, _ := arg.(string)
		return isString && strings.EqualFold(s, want)
	case "wildcard":
		want, _ := arg.(string)
		return isString && wildcard(want, s)
	case "numeric":
		n, ok := v.(float64)
		if !ok {
			return false
		}
		list, _ := arg.([]any)
		for i := 0; i+1 < len(list); i += 2 {
			o, _ := list[i].(string)
			x, _ := list[i+1].(float64)
			if !compare(n, o, x) {
				return false
			}
		}
		return true
	case "anything-but":
		switch a := arg.(type) {
		case []any:
			return !slices.ContainsFunc(a, func(x any) bool { return equal(x, v) })
		case map[string]any:
			for op, sub := range a {
				if op == "equals-ignore-case" {
					return !slices.ContainsFunc(leaves(sub), func(x any) bool { return matchOperator(op, x, v) })
				}
				return isString && !matchOperator(op, sub, v)
			}
			return false
		default:
			return !equal(a, v)
		}
	}
	return false
}

// stringArg reads a prefix's or suffix's argument: a string, or
// {"equals-ignore-case": string}.
func stringArg(arg any) (string, bool) {
	if m, ok := arg.(map[string]any); ok {
		s, _ := m["equals-ignore-case"].(string)
		return s, true
	}
	s, _ := arg.(string)
	return s, false
}

// wildcard matches s against a pattern whose * matches any run of
// characters, slashes included.
func wildcard(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

func compare(n float64, op string, x float64) bool {
	switch op {
	case "<":
		return n < x
	case "<=":
		return n <= x
	case "=":
		return n == x
	case ">":
		return n > x
	case ">=":
		return n >= x
	}
	return false
}

// equal compares a pattern's literal with an event's value: strings,
// numbers (by value), booleans and null.
func equal(want, v any) bool {
	switch w := want.(type) {
	case nil:
		return v == nil
	case string, bool, float64:
		return w == v
	}
	return false
}
