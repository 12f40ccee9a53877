package iam

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Policy is an IAM policy document: an identity policy (inline or
// managed), a resource policy (a bucket, queue or topic policy, a Lambda
// function's permissions) or a role's trust policy.
type Policy struct {
	Version   string      `json:"Version,omitempty"`
	ID        string      `json:"Id,omitempty"`
	Statement []Statement `json:"Statement"`
}

// Statement is one statement of a Policy. Of each pair (Action and
// NotAction, Resource and NotResource, Principal and NotPrincipal) a
// statement has one or none.
type Statement struct {
	Sid          string      `json:"Sid,omitempty"`
	Effect       string      `json:"Effect"`
	Principal    *Principals `json:"Principal,omitempty"`
	NotPrincipal *Principals `json:"NotPrincipal,omitempty"`
	Action       Strings     `json:"Action,omitempty"`
	NotAction    Strings     `json:"NotAction,omitempty"`
	Resource     Strings     `json:"Resource,omitempty"`
	NotResource  Strings     `json:"NotResource,omitempty"`
	Condition    Conditions  `json:"Condition,omitempty"`
}

// Strings is a policy element that is a string or a list of strings.
type Strings []string

// UnmarshalJSON reads a string or a list of strings.
func (s *Strings) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = Strings{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("want a string or a list of strings, got %s", abbreviate(b))
	}
	*s = many
	return nil
}

// Principals is a Principal or NotPrincipal element: "*" (Wildcard), or
// principals by kind ("AWS", "Service", "Federated", "CanonicalUser").
type Principals struct {
	Wildcard bool
	ByKind   map[string]Strings
}

// UnmarshalJSON reads "*" or {"AWS": ..., "Service": ...}.
func (p *Principals) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		if one != "*" {
			return fmt.Errorf("a Principal that is a string must be \"*\", got %q", one)
		}
		p.Wildcard = true
		return nil
	}
	if err := json.Unmarshal(b, &p.ByKind); err != nil {
		return fmt.Errorf("want \"*\" or an object of principals, got %s", abbreviate(b))
	}
	return nil
}

// MarshalJSON writes the element back as it was read.
func (p Principals) MarshalJSON() ([]byte, error) {
	if p.Wildcard {
		return []byte(`"*"`), nil
	}
	return json.Marshal(p.ByKind)
}

// Conditions is a Condition element: operator -> condition key -> values.
// Values of every JSON type are kept as strings, as IAM compares them.
type Conditions map[string]map[string]Strings

// UnmarshalJSON reads values that are strings, numbers, booleans or lists
// of them.
func (c *Conditions) UnmarshalJSON(b []byte) error {
	var raw map[string]map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("a Condition is an object of operators, each an object of keys: %w", err)
	}
	out := Conditions{}
	for op, keys := range raw {
		out[op] = map[string]Strings{}
		for key, v := range keys {
			vals, err := scalars(v)
			if err != nil {
				return fmt.Errorf("condition %s %s: %w", op, key, err)
			}
			out[op][key] = vals
		}
	}
	*c = out
	return nil
}

func scalars(b []byte) (Strings, error) {
	var list []json.RawMessage
	if err := json.Unmarshal(b, &list); err != nil {
		list = []json.RawMessage{b}
	}
	out := make(Strings, 0, len(list))
	for _, item := range list {
		var v any
		if err := json.Unmarshal(item, &v); err != nil {
			return nil, err
		}
		switch v := v.(type) {
		case string:
			out = append(out, v)
		case bool:
			out = append(out, strconv.FormatBool(v))
		case float64:
			out = append(out, strings.TrimSpace(string(item)))
		default:
			return nil, fmt.Errorf("want strings, numbers or booleans, got %s", abbreviate(item))
		}
	}
	return out, nil
}

// ParsePolicy reads a policy document from JSON.
func ParsePolicy(doc []byte) (*Policy, error) {
	// A Statement may be one object rather than a list.
	var raw struct {
		Version   string          `json:"Version"`
		ID        string          `json:"Id"`
		Statement json.RawMessage `json:"Statement"`
	}
	if err := json.Unmarshal(doc, &raw); err != nil {
		return nil, fmt.Errorf("read policy document: %w", err)
	}
	p := &Policy{Version: raw.Version, ID: raw.ID}
	if len(raw.Statement) == 0 {
		return nil, fmt.Errorf("read policy document: it has no Statement")
	}
	if raw.Statement[0] == '{' {
		var s Statement
		if err := json.Unmarshal(raw.Statement, &s); err != nil {
			return nil, fmt.Errorf("read policy document: %w", err)
		}
		p.Statement = []Statement{s}
	} else if err := json.Unmarshal(raw.Statement, &p.Statement); err != nil {
		return nil, fmt.Errorf("read policy document: %w", err)
	}
	for i, s := range p.Statement {
		if s.Effect != "Allow" && s.Effect != "Deny" {
			return nil, fmt.Errorf("read policy document: statement %d has Effect %q: want Allow or Deny", i+1, s.Effect)
		}
		if (len(s.Action) == 0) == (len(s.NotAction) == 0) {
			return nil, fmt.Errorf("read policy document: statement %d needs one of Action and NotAction", i+1)
		}
	}
	return p, nil
}

// PolicyFrom turns a policy document as a template holds it (decoded
// JSON or YAML: maps, lists, strings) into a Policy.
func PolicyFrom(doc any) (*Policy, error) {
	if s, ok := doc.(string); ok {
		return ParsePolicy([]byte(s))
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("read policy document: %w", err)
	}
	return ParsePolicy(b)
}

func abbreviate(b []byte) string {
	const most = 80
	if len(b) > most {
		return string(b[:most]) + "..."
	}
	return string(b)
}
