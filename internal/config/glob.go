package config

import (
	"fmt"
	"path"
	"strings"
)

// MatchPath reports whether the slash-separated file name, from the
// repository root, matches the glob pattern: "*" matches any characters
// but "/", "?" one character but "/", "[a-z]" one of a class (as
// path.Match has them), and "**" as a whole path segment matches any
// number of segments, none included. A pattern matches the whole name:
// "services/api/**" matches every file under services/api, "**/*.md"
// every Markdown file, "*.md" only those at the root. A pattern that
// ValidGlob refuses matches nothing.
func MatchPath(pattern, name string) bool {
	return matchSegments(strings.Split(pattern, "/"), strings.Split(name, "/"))
}

func matchSegments(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			// Collapse repeated "**" and try every split of what follows.
			for len(pat) > 0 && pat[0] == "**" {
				pat = pat[1:]
			}
			if len(pat) == 0 {
				return true
			}
			for i := range name {
				if matchSegments(pat, name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, err := path.Match(pat[0], name[0]); err != nil || !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}

// ValidGlob says what is wrong with a path pattern of paths or
// paths_ignore, or returns "" when MatchPath can use it.
func ValidGlob(pattern string) string {
	switch {
	case strings.TrimSpace(pattern) == "":
		return "is empty"
	case strings.HasPrefix(pattern, "/"):
		return "starts with /: patterns are paths from the repository root, without a leading /"
	case strings.Contains(pattern, `\`):
		return `has a \: write paths with /`
	}
	for _, seg := range strings.Split(pattern, "/") {
		switch {
		case seg == "":
			return "has an empty path segment (//, or a trailing /): end a folder with /** for everything under it"
		case seg == "." || seg == "..":
			return "has a . or .. segment: write the path from the repository root"
		case seg != "**" && strings.Contains(seg, "**"):
			return fmt.Sprintf("has ** inside the segment %q: ** stands for whole segments only (a/**/b); use * within a segment", seg)
		}
		if _, err := path.Match(seg, ""); err != nil {
			return fmt.Sprintf("has a malformed segment %q: close every [ with ], or escape it as \\[", seg)
		}
	}
	return ""
}

// matchAny returns the first of patterns that name matches, and whether
// one does.
func matchAny(patterns []string, name string) (string, bool) {
	for _, p := range patterns {
		if MatchPath(p, name) {
			return p, true
		}
	}
	return "", false
}
