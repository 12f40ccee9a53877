package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// The helpers below walk a yaml.Node tree so that every problem is reported
// with the line it is on and the path of the key it concerns
// ("environments[0].smoke[1].status").

func errAt(n *yaml.Node, problem, fix string) *pipeline.ConfigInvalid {
	return &pipeline.ConfigInvalid{File: File, Line: n.Line, Problem: problem, Fix: fix}
}

// resolve follows aliases (*name) to the node they stand for.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe says what n is, for "want X, got Y" messages.
func describe(n *yaml.Node) string {
	switch {
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case isNull(n):
		return "nothing"
	default:
		return strconv.Quote(n.Value)
	}
}

func key(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

func where(path string) string {
	if path == "" {
		return "at the top level"
	}
	return "in " + path
}

// pair is one key and its value in a mapping, in the file's order.
type pair struct {
	key *yaml.Node
	val *yaml.Node
}

// pairs returns the entries of the mapping n, refusing anything else and
// repeated keys.
func pairs(n *yaml.Node, path, what string) ([]pair, error) {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		return nil, errAt(n, fmt.Sprintf("%s: want %s, got %s", pathOr(path), what, describe(n)),
			"write it as indented key: value lines or {key: value}")
	}
	var out []pair
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode || isNull(k) {
			return nil, errAt(k, fmt.Sprintf("%s: a key must be a plain word, got %s", pathOr(path), describe(k)),
				"write keys as plain words")
		}
		if first, ok := seen[k.Value]; ok {
			return nil, errAt(k, fmt.Sprintf("duplicate key %q %s (first at line %d)", k.Value, where(path), first),
				"keep one of them")
		}
		seen[k.Value] = k.Line
		out = append(out, pair{key: k, val: v})
	}
	return out, nil
}

func pathOr(path string) string {
	if path == "" {
		return "the file"
	}
	return path
}

// object returns the values of the mapping n by key, refusing keys that are
// not in known with a suggestion of the nearest known key.
func object(n *yaml.Node, path string, known []string) (map[string]*yaml.Node, error) {
	ps, err := pairs(n, path, "a mapping")
	if err != nil {
		return nil, err
	}
	out := make(map[string]*yaml.Node, len(ps))
	for _, p := range ps {
		if !slices.Contains(known, p.key.Value) {
			return nil, errAt(p.key, fmt.Sprintf("unknown key %q %s", p.key.Value, where(path)), suggest(p.key.Value, known))
		}
		out[p.key.Value] = p.val
	}
	return out, nil
}

// suggest names the known key nearest to k, or lists them all.
func suggest(k string, known []string) string {
	best, bestDist := "", 3
	for _, c := range known {
		d := distance(strings.ToLower(k), c)
		if len(k) >= 3 && (strings.HasPrefix(c, strings.ToLower(k)) || strings.HasPrefix(strings.ToLower(k), c)) {
			d = min(d, 2)
		}
		if d < bestDist {
			best, bestDist = c, d
		}
	}
	if best != "" {
		return fmt.Sprintf("did you mean %q?", best)
	}
	return "known keys here: " + strings.Join(known, ", ")
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// text returns the scalar n as written: numbers and booleans become their
// text, so "parameters: {Count: 3}" gives "3".
func text(n *yaml.Node, path string) (string, error) {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode || isNull(n) {
		return "", errAt(n, fmt.Sprintf("%s: want a string, got %s", path, describe(n)),
			"give it a single value, or remove the key")
	}
	return n.Value, nil
}

// nonEmpty is text that may not be empty.
func nonEmpty(n *yaml.Node, path string) (string, error) {
	s, err := text(n, path)
	if err == nil && strings.TrimSpace(s) == "" {
		err = errAt(resolve(n), path+": is empty", "give it a value, or remove the key")
	}
	return s, err
}

// integer returns the scalar n as an int.
func integer(n *yaml.Node, path, what, example string) (int, error) {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		if v, err := strconv.Atoi(n.Value); err == nil {
			return v, nil
		}
	}
	return 0, errAt(n, fmt.Sprintf("%s: want %s such as %s, got %s", path, what, example, describe(n)),
		"write a whole number without quotes, such as "+example)
}

// list returns the items of the sequence n.
func list(n *yaml.Node, path, example string) ([]*yaml.Node, error) {
	n = resolve(n)
	if n.Kind != yaml.SequenceNode {
		return nil, errAt(n, fmt.Sprintf("%s: want a list, got %s", path, describe(n)),
			"write a list, such as "+example)
	}
	return n.Content, nil
}

// stringList returns the sequence n of non-empty strings.
func stringList(n *yaml.Node, path, example string) ([]string, error) {
	items, err := list(n, path, example)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(items))
	for i, item := range items {
		s, err := nonEmpty(item, index(path, i))
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// stringMap returns the mapping n of names to scalar values, each rendered
// as text. valid, when set, checks each name.
func stringMap(n *yaml.Node, path string, valid func(k *yaml.Node, path string) error) (map[string]string, error) {
	ps, err := pairs(n, path, "a mapping of names to values")
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(ps))
	for _, p := range ps {
		if valid != nil {
			if err := valid(p.key, path); err != nil {
				return nil, err
			}
		}
		v, err := text(p.val, key(path, p.key.Value))
		if err != nil {
			return nil, err
		}
		out[p.key.Value] = v
	}
	return out, nil
}
