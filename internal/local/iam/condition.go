package iam

import (
	"bytes"
	"encoding/base64"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// condContext is a request's condition keys, looked up without regard to case.
type condContext struct {
	keys map[string][]string
}

func newContext(keys map[string][]string) *condContext {
	c := &condContext{keys: make(map[string][]string, len(keys))}
	for k, v := range keys {
		c.keys[strings.ToLower(k)] = v
	}
	return c
}

func (c *condContext) get(key string) ([]string, bool) {
	v, ok := c.keys[strings.ToLower(key)]
	return v, ok
}

// substitute replaces the policy variables of s (${aws:username},
// ${aws:PrincipalTag/team}, ${key, 'default'}, and ${*}, ${?}, ${$} for
// those characters) with the request's values; ok is false when a
// variable has no single value and no default, and the element then
// matches nothing.
func (c *condContext) substitute(s string) (string, bool) {
	if !strings.Contains(s, "${") {
		return s, true
	}
	var b strings.Builder
	for {
		start := strings.Index(s, "${")
		if start < 0 {
			b.WriteString(s)
			return b.String(), true
		}
		end := strings.IndexByte(s[start:], '}')
		if end < 0 {
			b.WriteString(s)
			return b.String(), true
		}
		b.WriteString(s[:start])
		name := strings.TrimSpace(s[start+2 : start+end])
		s = s[start+end+1:]
		switch name {
		case "*", "?", "$":
			// A literal: glob treats a literal * or ? as a wildcard still,
			// which matches the character itself among others.
			b.WriteString(name)
			continue
		}
		def, hasDef := "", false
		if key, d, ok := strings.Cut(name, ","); ok {
			name = strings.TrimSpace(key)
			d = strings.TrimSpace(d)
			if len(d) >= 2 && d[0] == '\'' && d[len(d)-1] == '\'' {
				def, hasDef = d[1:len(d)-1], true
			}
		}
		if v, ok := c.get(name); ok && len(v) == 1 {
			b.WriteString(v[0])
		} else if hasDef {
			b.WriteString(def)
		} else {
			return "", false
		}
	}
}

// conditionsMatch reports whether every condition holds: operators and
// keys are ANDed, the values of one key ORed (for negated operators, none
// may match).
func conditionsMatch(conds Conditions, ctx *condContext) bool {
	for op, keys := range conds {
		for key, values := range keys {
			if !conditionHolds(op, key, values, ctx) {
				return false
			}
		}
	}
	return true
}

func conditionHolds(op, key string, values []string, ctx *condContext) bool {
	set := ""
	if prefix, rest, ok := strings.Cut(op, ":"); ok {
		set, op = prefix, rest
	}
	ifExists := false
	if base, ok := strings.CutSuffix(op, "IfExists"); ok && op != "IfExists" {
		op, ifExists = base, true
	}
	if op == "Null" {
		_, present := ctx.get(key)
		for _, v := range values {
			if strings.EqualFold(v, "true") == !present {
				return true
			}
		}
		return false
	}
	cmp, negated, known := operator(op)
	if !known {
		return false // an unknown operator never matches, as IAM's does not
	}
	got, present := ctx.get(key)
	if !present {
		switch {
		case ifExists:
			return true
		case set == "ForAllValues":
			return true
		case set == "ForAnyValue":
			return false
		default:
			return negated
		}
	}
	subst := make([]string, 0, len(values))
	for _, v := range values {
		if s, ok := ctx.substitute(v); ok {
			subst = append(subst, s)
		}
	}
	// matches reports whether one request value matches one of the
	// policy's values, before negation.
	matches := func(g string) bool {
		for _, v := range subst {
			if cmp(g, v) {
				return true
			}
		}
		return false
	}
	switch set {
	case "ForAllValues":
		// Every value of the request must match (for negated operators:
		// match none).
		for _, g := range got {
			if matches(g) == negated {
				return false
			}
		}
		return true
	case "ForAnyValue":
		for _, g := range got {
			if matches(g) != negated {
				return true
			}
		}
		return false
	default:
		any := false
		for _, g := range got {
			if matches(g) {
				any = true
				break
			}
		}
		return any != negated
	}
}

// operator returns the comparison of a condition operator (without its
// set prefix and IfExists suffix) and whether the operator negates it.
func operator(op string) (cmp func(got, want string) bool, negated, known bool) {
	switch op {
	case "StringEquals":
		return func(g, w string) bool { return g == w }, false, true
	case "StringNotEquals":
		return func(g, w string) bool { return g == w }, true, true
	case "StringEqualsIgnoreCase":
		return strings.EqualFold, false, true
	case "StringNotEqualsIgnoreCase":
		return strings.EqualFold, true, true
	case "StringLike":
		return func(g, w string) bool { return glob(w, g, false) }, false, true
	case "StringNotLike":
		return func(g, w string) bool { return glob(w, g, false) }, true, true
	case "NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals":
		return numeric(op), op == "NumericNotEquals", true
	case "DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals":
		return date(op), op == "DateNotEquals", true
	case "Bool":
		return strings.EqualFold, false, true
	case "BinaryEquals":
		return func(g, w string) bool {
			gb, err1 := base64.StdEncoding.DecodeString(g)
			wb, err2 := base64.StdEncoding.DecodeString(w)
			return err1 == nil && err2 == nil && bytes.Equal(gb, wb)
		}, false, true
	case "IpAddress", "NotIpAddress":
		return func(g, w string) bool {
			addr, err := netip.ParseAddr(g)
			if err != nil {
				return false
			}
			if !strings.Contains(w, "/") {
				a, err := netip.ParseAddr(w)
				return err == nil && a == addr
			}
			prefix, err := netip.ParsePrefix(w)
			return err == nil && prefix.Contains(addr)
		}, op == "NotIpAddress", true
	case "ArnEquals", "ArnLike":
		return arnLike, false, true
	case "ArnNotEquals", "ArnNotLike":
		return arnLike, true, true
	}
	return nil, false, false
}

// arnLike matches an ARN against a pattern part by part (the six
// colon-separated parts, the last taking the rest), each with wildcards.
func arnLike(got, want string) bool {
	gp := strings.SplitN(got, ":", 6)
	wp := strings.SplitN(want, ":", 6)
	if len(gp) != 6 || len(wp) != 6 {
		return false
	}
	for i := range gp {
		if !glob(wp[i], gp[i], false) {
			return false
		}
	}
	return true
}

func numeric(op string) func(g, w string) bool {
	return func(g, w string) bool {
		a, err1 := strconv.ParseFloat(g, 64)
		b, err2 := strconv.ParseFloat(w, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		return compare(op, a, b)
	}
}

func date(op string) func(g, w string) bool {
	return func(g, w string) bool {
		a, ok1 := parseDate(g)
		b, ok2 := parseDate(w)
		if !ok1 || !ok2 {
			return false
		}
		return compare(op, float64(a.UnixMilli()), float64(b.UnixMilli()))
	}
}

func parseDate(s string) (time.Time, bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), true
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// compare applies the relation an operator's name ends with; the
// Not-operators compare as Equals and are negated by their caller.
func compare(op string, a, b float64) bool {
	switch {
	case strings.HasSuffix(op, "LessThanEquals"):
		return a <= b
	case strings.HasSuffix(op, "LessThan"):
		return a < b
	case strings.HasSuffix(op, "GreaterThanEquals"):
		return a >= b
	case strings.HasSuffix(op, "GreaterThan"):
		return a > b
	default:
		return a == b
	}
}
