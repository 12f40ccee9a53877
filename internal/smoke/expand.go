package smoke

import (
	"maps"
	"regexp"
	"slices"
	"strings"
)

// placeholder is a reference to a stack output: ${OutputName}.
var placeholder = regexp.MustCompile(`\$\{([^}]*)\}`)

// expand replaces every ${Name} in s with the stack output Name and returns
// the names that are not outputs.
//
// When isURL, an output whose value is a URL (it holds "://") is joined to
// the text after it as a base URL is to a path: "${ApiUrl}hello" and
// "${ApiUrl}/hello" both give ".../hello" whether ApiUrl ends in "/" or not
// (SAM's own ApiUrl outputs end in "/"), while a URL that is only
// "${ApiUrl}" keeps the value as it is.
func expand(s string, outputs map[string]string, isURL bool) (string, []string) {
	var (
		b       strings.Builder
		missing []string
		last    int
	)
	for _, m := range placeholder.FindAllStringSubmatchIndex(s, -1) {
		b.WriteString(s[last:m[0]])
		last = m[1]
		name := s[m[2]:m[3]]
		v, ok := outputs[name]
		if !ok {
			if !slices.Contains(missing, name) {
				missing = append(missing, name)
			}
			continue
		}
		if isURL && strings.Contains(v, "://") {
			v = joinBase(v, s[m[1]:])
		}
		b.WriteString(v)
	}
	b.WriteString(s[last:])
	return b.String(), missing
}

// joinBase returns base so that base+rest has exactly one "/" between them
// when rest is a path: one is dropped when both have it, one is added when
// neither has and rest is plain text (not a query, a fragment, a port or
// another placeholder).
func joinBase(base, rest string) string {
	switch {
	case rest == "":
		return base
	case strings.HasSuffix(base, "/") && strings.HasPrefix(rest, "/"):
		return strings.TrimSuffix(base, "/")
	case !strings.HasSuffix(base, "/") && !strings.HasPrefix(rest, "${") && !strings.ContainsAny(rest[:1], "/?#:"):
		return base + "/"
	}
	return base
}

// outputNames lists the names of outputs, sorted.
func outputNames(outputs map[string]string) []string {
	return slices.Sorted(maps.Keys(outputs))
}
