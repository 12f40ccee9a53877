package httpapi

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// DefaultRoute is the route key of the route that serves what no other
// route matches.
const DefaultRoute = "$default"

// Route sends the requests that its key matches to a function.
type Route struct {
	// Key is the route key: "GET /items/{id}", "ANY /files/{proxy+}" or
	// "$default".
	Key string
	// Function is the name or ARN of the function that serves the route.
	Function string
}

// The kinds of path segment, in the order in which they are preferred.
const (
	literal = iota
	param
	greedy
)

type segment struct {
	kind int
	text string // the literal, or the parameter's name
}

// route is a parsed Route.
type route struct {
	Route
	method   string // "" for $default
	segments []segment
}

var (
	methods   = map[string]bool{"GET": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "HEAD": true, "OPTIONS": true, "ANY": true}
	paramName = regexp.MustCompile(`^[A-Za-z0-9._\-]+$`)
)

// parseRoutes checks routes as API Gateway checks route keys.
func parseRoutes(routes []Route) ([]route, error) {
	seen := map[string]bool{}
	out := make([]route, 0, len(routes))
	for _, r := range routes {
		p, err := parseRoute(r)
		if err != nil {
			return nil, err
		}
		key := p.method + " " + pathKey(p.segments)
		if p.method == "" {
			key = DefaultRoute
		}
		if seen[key] {
			return nil, fmt.Errorf("route with key %s already exists for this API", r.Key)
		}
		seen[key] = true
		out = append(out, p)
	}
	return out, nil
}

func parseRoute(r Route) (route, error) {
	if r.Function == "" {
		return route{}, fmt.Errorf("route %s: no function", r.Key)
	}
	if r.Key == DefaultRoute {
		return route{Route: r}, nil
	}
	method, path, ok := strings.Cut(r.Key, " ")
	if !ok || !methods[method] {
		return route{}, fmt.Errorf("route key %q: want \"$default\" or \"METHOD /path\" with METHOD one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, ANY", r.Key)
	}
	if !strings.HasPrefix(path, "/") {
		return route{}, fmt.Errorf("route key %q: the path must start with /", r.Key)
	}
	var segs []segment
	parts := splitPath(path)
	for i, part := range parts {
		switch {
		case strings.HasPrefix(part, "{") && strings.HasSuffix(part, "+}"):
			if i != len(parts)-1 {
				return route{}, fmt.Errorf("route key %q: a greedy path variable must be the last segment", r.Key)
			}
			name := strings.TrimSuffix(strings.TrimPrefix(part, "{"), "+}")
			if !paramName.MatchString(name) {
				return route{}, fmt.Errorf("route key %q: bad path variable %q", r.Key, part)
			}
			segs = append(segs, segment{greedy, name})
		case strings.HasPrefix(part, "{") && strings.HasSuffix(part, "}"):
			name := strings.TrimSuffix(strings.TrimPrefix(part, "{"), "}")
			if !paramName.MatchString(name) {
				return route{}, fmt.Errorf("route key %q: bad path variable %q", r.Key, part)
			}
			segs = append(segs, segment{param, name})
		case strings.ContainsAny(part, "{}"):
			return route{}, fmt.Errorf("route key %q: a path variable must be a whole segment", r.Key)
		default:
			segs = append(segs, segment{literal, part})
		}
	}
	return route{Route: r, method: method, segments: segs}, nil
}

func pathKey(segs []segment) string {
	var b strings.Builder
	for _, s := range segs {
		b.WriteByte('/')
		switch s.kind {
		case literal:
			b.WriteString(s.text)
		case param:
			b.WriteString("{}")
		default:
			b.WriteString("{+}")
		}
	}
	return b.String()
}

// splitPath splits a path into its segments; "/" has none, and a trailing
// slash adds none.
func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// match finds the route for a request with method and escaped path (the
// stage already removed), and the path parameters it binds.
func match(routes []route, method, escapedPath string) (*route, map[string]string) {
	parts := splitPath(escapedPath)
	var (
		best       *route
		bestParams map[string]string
		def        *route
	)
	for i := range routes {
		r := &routes[i]
		if r.method == "" {
			def = r
			continue
		}
		if r.method != "ANY" && r.method != method {
			continue
		}
		params, ok := bind(r.segments, parts)
		if !ok {
			continue
		}
		if best == nil || better(r, best) {
			best, bestParams = r, params
		}
	}
	if best != nil {
		return best, bestParams
	}
	return def, nil
}

// bind matches segments against the request's path parts.
func bind(segs []segment, parts []string) (map[string]string, bool) {
	var params map[string]string
	set := func(k, v string) {
		if params == nil {
			params = map[string]string{}
		}
		params[k] = v
	}
	for i, s := range segs {
		if s.kind == greedy {
			if i >= len(parts) {
				return nil, false
			}
			rest := strings.Join(parts[i:], "/")
			set(s.text, unescape(rest))
			return params, true
		}
		if i >= len(parts) {
			return nil, false
		}
		switch s.kind {
		case literal:
			if unescape(parts[i]) != s.text {
				return nil, false
			}
		case param:
			set(s.text, unescape(parts[i]))
		}
	}
	return params, len(segs) == len(parts)
}

// better reports whether route a is more specific than b: segment by
// segment, a literal over a variable over a greedy variable; then a method
// over ANY.
func better(a, b *route) bool {
	for i := 0; i < len(a.segments) && i < len(b.segments); i++ {
		if a.segments[i].kind != b.segments[i].kind {
			return a.segments[i].kind < b.segments[i].kind
		}
	}
	if len(a.segments) != len(b.segments) {
		return len(a.segments) > len(b.segments)
	}
	return a.method != "ANY" && b.method == "ANY"
}

func unescape(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}
