package restapi

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// node is a resource of the API's tree: a path, its methods and the
// resources under it. Intermediate resources (/files of /files/{proxy+})
// exist without methods, as API Gateway creates them.
type node struct {
	path    string // the resource path, "/items/{id}"
	id      string // the resource ID, derived from the path
	methods map[string]Route

	literal map[string]*node
	param   *node // {name}: one per level
	greedy  *node // {name+}: one per level, and not beside {name}
	name    string
}

var paramName = regexp.MustCompile(`^[A-Za-z0-9._\-]+$`)

// newTree builds the resource tree of routes, checking them as API Gateway
// checks resources and methods.
func newTree(routes []Route) (*node, error) {
	root := &node{path: "/", id: resourceID("/")}
	for _, r := range routes {
		if !strings.HasPrefix(r.Path, "/") {
			return nil, fmt.Errorf("resource path %q must start with /", r.Path)
		}
		n := root
		parts := splitPath(r.Path)
		for i, part := range parts {
			next, err := n.child(part, i == len(parts)-1)
			if err != nil {
				return nil, fmt.Errorf("resource path %s: %w", r.Path, err)
			}
			n = next
		}
		if r.Method == "" {
			continue
		}
		if _, ok := methodNames[r.Method]; !ok {
			return nil, fmt.Errorf("%s %s: want the method GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS or ANY", r.Method, r.Path)
		}
		if r.Function == "" && r.Mock == nil {
			return nil, fmt.Errorf("%s %s: no function", r.Method, r.Path)
		}
		if n.methods == nil {
			n.methods = map[string]Route{}
		}
		if _, dup := n.methods[r.Method]; dup {
			return nil, fmt.Errorf("%s %s: the method is defined twice", r.Method, r.Path)
		}
		n.methods[r.Method] = r
	}
	return root, nil
}

// child returns (making it when new) the resource for one path part under
// n.
func (n *node) child(part string, last bool) (*node, error) {
	path := strings.TrimSuffix(n.path, "/") + "/" + part
	mk := func(name string) *node { return &node{path: path, id: resourceID(path), name: name} }
	switch {
	case strings.HasPrefix(part, "{") && strings.HasSuffix(part, "+}"):
		name := part[1 : len(part)-2]
		if !paramName.MatchString(name) {
			return nil, fmt.Errorf("bad path variable %s", part)
		}
		if !last {
			return nil, fmt.Errorf("the greedy path variable %s must be the last part", part)
		}
		if n.param != nil {
			return nil, fmt.Errorf("%s beside %s: only one path variable is allowed under %s", part, "{"+n.param.name+"}", n.path)
		}
		if n.greedy == nil {
			n.greedy = mk(name)
		} else if n.greedy.name != name {
			return nil, fmt.Errorf("%s beside {%s+}: only one path variable is allowed under %s", part, n.greedy.name, n.path)
		}
		return n.greedy, nil
	case strings.HasPrefix(part, "{") && strings.HasSuffix(part, "}"):
		name := part[1 : len(part)-1]
		if !paramName.MatchString(name) {
			return nil, fmt.Errorf("bad path variable %s", part)
		}
		if n.greedy != nil {
			return nil, fmt.Errorf("%s beside {%s+}: only one path variable is allowed under %s", part, n.greedy.name, n.path)
		}
		if n.param == nil {
			n.param = mk(name)
		} else if n.param.name != name {
			return nil, fmt.Errorf("%s beside {%s}: only one path variable is allowed under %s", part, n.param.name, n.path)
		}
		return n.param, nil
	case strings.ContainsAny(part, "{}"):
		return nil, fmt.Errorf("path part %q: a path variable must be a whole part", part)
	default:
		if n.literal == nil {
			n.literal = map[string]*node{}
		}
		c, ok := n.literal[part]
		if !ok {
			c = mk("")
			n.literal[part] = c
		}
		return c, nil
	}
}

// resourceID derives a resource ID (10 lower-case alphanumerics, as API
// Gateway's look) from a resource path, so that it is the same across
// updates.
func resourceID(path string) string {
	sum := sha256.Sum256([]byte(path))
	return hex.EncodeToString(sum[:])[:10]
}

// splitPath splits a path into its parts; "/" has none, and a trailing
// slash adds none.
func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// match finds the resource for a request's escaped path (the stage
// already removed), preferring at each part a literal over {param} over
// {proxy+}, and the path parameters it binds.
func (n *node) match(parts []string) (*node, map[string]string) {
	if len(parts) == 0 {
		return n, nil
	}
	part := unescape(parts[0])
	if c := n.literal[part]; c != nil {
		if m, params := c.match(parts[1:]); m != nil {
			return m, params
		}
	}
	if n.param != nil {
		if m, params := n.param.match(parts[1:]); m != nil {
			if params == nil {
				params = map[string]string{}
			}
			params[n.param.name] = part
			return m, params
		}
	}
	if n.greedy != nil {
		return n.greedy, map[string]string{n.greedy.name: unescape(strings.Join(parts, "/"))}
	}
	return nil, nil
}

// route returns the route for method on resource n: the method's own, or
// ANY's.
func (n *node) route(method string) (Route, bool) {
	if r, ok := n.methods[method]; ok {
		return r, true
	}
	r, ok := n.methods[AnyMethod]
	return r, ok
}

func unescape(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}
