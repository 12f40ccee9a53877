package iam

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode"
)

// Call is a request to the local AWS, identified: the service, the
// operation and the parameters the request carries.
type Call struct {
	// Service is botocore's name of the service ("stepfunctions").
	Service string
	// Operation is the API operation ("GetObject").
	Operation string
	// Params are the request's parameters by the operation's member names
	// (Bucket, Key, TableName, QueueUrl, ...): string values only.
	Params map[string][]string
	// Entries are a batch's or a transaction's entries that name their
	// own resource or statement (a TransactWriteItems' Put, a
	// BatchExecuteStatement's statement), each as a call of the
	// operation, or action, it stands for (PutItem, ExecuteStatement,
	// ConditionCheckItem), with the entry's parameters.
	Entries []Call
}

// Action is one IAM action a call needs, on one resource.
type Action struct {
	// Action is "service:Name".
	Action string
	// Resource is an ARN, or "*" for an action that takes no resource.
	Resource string
	// Context are the service's condition keys the call carries.
	Context map[string][]string
}

// Signature is what a SigV4-signed request's credential scope says.
type Signature struct {
	AccessKey string
	Region    string
	// Service is the scope's signing name ("s3", "states").
	Service string
}

// ParseSignature reads the credential scope of a SigV4-signed request,
// from its Authorization header or, for a presigned URL, its query.
func ParseSignature(r *http.Request) (Signature, bool) {
	scope := ""
	if auth := r.Header.Get("Authorization"); auth != "" {
		_, rest, found := strings.Cut(auth, "Credential=")
		if !found {
			return Signature{}, false
		}
		scope, _, _ = strings.Cut(rest, ",")
	} else {
		scope = r.URL.Query().Get("X-Amz-Credential")
	}
	parts := strings.Split(strings.TrimSpace(scope), "/")
	if len(parts) != 5 || parts[4] != "aws4_request" {
		return Signature{}, false
	}
	return Signature{AccessKey: parts[0], Region: parts[2], Service: parts[3]}, true
}

// Identify names the operation of a request to signing service svc (its
// credential scope's service), with its body: from X-Amz-Target for JSON
// protocols, from Action for query protocols, and from the method, path
// and query for REST protocols, as botocore's models bind them.
func Identify(svc string, r *http.Request, body []byte) (Call, error) {
	data, err := services()
	if err != nil {
		return Call{}, err
	}
	var candidates []string
	for name, m := range data.Services {
		if m.SigningName == svc {
			candidates = append(candidates, name)
		}
	}
	if len(candidates) == 0 {
		return Call{}, fmt.Errorf("no service of the local AWS signs as %q", svc)
	}
	slices.Sort(candidates)
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		prefix, op, _ := strings.Cut(target, ".")
		for _, name := range candidates {
			m := data.Services[name]
			if m.TargetPrefix == prefix && m.Operations[op] != nil {
				params := jsonParams(body)
				if name == "events" && op == "PutEvents" {
					params = withEntryBuses(params, body)
				}
				ents, dup := entries(name, m.Operations[op], body)
				if dup == "" {
					dup = foldedTwice(body)
				}
				if dup != "" {
					return Call{}, &UnreadableError{Call: name + " " + op, Reason: fmt.Sprintf(
						"it names %s more than once, in different cases, and the local AWS reads either; name each parameter once", dup)}
				}
				return Call{Service: name, Operation: op, Params: params, Entries: ents}, nil
			}
		}
		return Call{}, fmt.Errorf("%s: no operation %q", svc, target)
	}
	m := data.Services[candidates[0]]
	switch m.Protocol {
	case "query":
		form := url.Values{}
		if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			form, _ = url.ParseQuery(string(body))
		}
		for k, v := range r.URL.Query() {
			form[k] = append(form[k], v...)
		}
		op := form.Get("Action")
		if m.Operations[op] == nil {
			return Call{}, fmt.Errorf("%s: no operation %q", svc, op)
		}
		return Call{Service: candidates[0], Operation: op, Params: map[string][]string(form)}, nil
	case "rest-json", "rest-xml":
		for _, name := range candidates {
			if c, ok := matchREST(name, data.Services[name], r, body); ok {
				return c, nil
			}
		}
		return Call{}, fmt.Errorf("%s: no operation is %s %s", svc, r.Method, r.URL.Path)
	}
	return Call{}, fmt.Errorf("%s: protocol %s without X-Amz-Target", svc, m.Protocol)
}

// jsonParams returns the string members (and lists of strings) at the top
// of a JSON body.
func jsonParams(body []byte) map[string][]string {
	var raw map[string]json.RawMessage
	if json.Unmarshal(body, &raw) != nil {
		return nil
	}
	out := map[string][]string{}
	for k, v := range raw {
		var s string
		if json.Unmarshal(v, &s) == nil {
			out[k] = []string{s}
			continue
		}
		var list []string
		if json.Unmarshal(v, &list) == nil {
			out[k] = list
		}
	}
	return out
}

// entries reads from a JSON body the entries of a batch or a
// transaction that name their own resource or statement (or, Keyed,
// whose keys name them), as the generated data describes them
// (operationModel.Entries). Member and kind names are matched in any
// case, as Go's JSON decoding of the local AWS matches them: an entry
// that several keys name ("Delete" and "delete") is read under each. It
// returns, instead, the name of a parameter an entry names twice in
// different cases, which the local AWS may read otherwise than IAM.
func entries(service string, om *operationModel, body []byte) ([]Call, string) {
	var out []Call
	var top map[string]json.RawMessage
	for _, e := range om.Entries {
		if e.InRequest {
			continue
		}
		if top == nil && json.Unmarshal(body, &top) != nil {
			return nil, ""
		}
		for _, list := range membersNamed(top, e.Member) {
			if e.Keyed {
				var byKey map[string]json.RawMessage
				if json.Unmarshal(list, &byKey) != nil {
					continue
				}
				for _, k := range sortedKeys(byKey) {
					out = append(out, Call{Service: service, Operation: e.Operation, Params: map[string][]string{e.Resource: {k}}})
				}
				continue
			}
			var items []json.RawMessage
			if json.Unmarshal(list, &items) != nil {
				continue
			}
			for _, item := range items {
				objs := []json.RawMessage{item}
				if e.Kind != "" {
					var kinds map[string]json.RawMessage
					if json.Unmarshal(item, &kinds) != nil {
						continue
					}
					objs = membersNamed(kinds, e.Kind)
				}
				for _, obj := range objs {
					if string(obj) == "null" {
						continue
					}
					if dup := foldedTwice(obj); dup != "" {
						return nil, dup
					}
					out = append(out, Call{Service: service, Operation: e.Operation, Params: jsonParams(obj)})
				}
			}
		}
	}
	return out, ""
}

// foldedTwice returns a key of a JSON object that another key of it is
// in another case ("TableName" and "tablename"), "" when there is none
// or it is no object: Go's JSON decoding (the local AWS's) matches
// either, and IAM must not read one where the service reads the other.
func foldedTwice(obj []byte) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(obj, &m) != nil {
		return ""
	}
	seen := map[string]string{}
	for _, k := range sortedKeys(m) {
		if other, ok := seen[foldKey(k)]; ok {
			return other
		}
		seen[foldKey(k)] = k
	}
	return ""
}

// foldKey returns s with each rune the least of its Unicode case folding
// orbit: two strings have the same foldKey when strings.EqualFold holds
// (K, k and the Kelvin sign are one).
func foldKey(s string) string {
	return strings.Map(func(r rune) rune {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		return least
	}, s)
}

// membersNamed returns the values of obj's keys that are name in any
// case.
func membersNamed(obj map[string]json.RawMessage, name string) []json.RawMessage {
	var out []json.RawMessage
	for _, k := range sortedKeys(obj) {
		if strings.EqualFold(k, name) {
			out = append(out, obj[k])
		}
	}
	return out
}

// withEntryBuses adds to the parameters of EventBridge's PutEvents the
// buses its entries go to (EventBusName, default when an entry names
// none): PutEvents is authorized on each entry's bus, and the entries are
// not at the top of the body.
func withEntryBuses(params map[string][]string, body []byte) map[string][]string {
	var in struct {
		Entries []struct{ EventBusName string }
	}
	if json.Unmarshal(body, &in) != nil || len(in.Entries) == 0 {
		return params
	}
	if params == nil {
		params = map[string][]string{}
	}
	var buses []string
	for _, e := range in.Entries {
		bus := e.EventBusName
		if bus == "" {
			bus = "default"
		}
		if !slices.Contains(buses, bus) {
			buses = append(buses, bus)
		}
	}
	params["EventBusName"] = buses
	return params
}

// restRoute is a REST operation's binding, compiled.
type restRoute struct {
	op      string
	method  string
	path    *regexp.Regexp
	names   []string // the path's labels, in order
	query   map[string]string
	literal int // literal characters in the path and query: how specific
}

var (
	routesMu sync.Mutex
	routes   = map[string][]restRoute{}
)

func restRoutes(service string, m *serviceModel) []restRoute {
	routesMu.Lock()
	defer routesMu.Unlock()
	if r, ok := routes[service]; ok {
		return r
	}
	var out []restRoute
	for op, om := range m.Operations {
		if om.Method == "" {
			continue
		}
		path, rawQuery, _ := strings.Cut(om.URI, "?")
		rt := restRoute{op: op, method: om.Method, query: map[string]string{}}
		var re strings.Builder
		re.WriteString("^")
		rest := path
		for rest != "" {
			i := strings.IndexByte(rest, '{')
			if i < 0 {
				re.WriteString(regexp.QuoteMeta(rest))
				rt.literal += len(rest)
				break
			}
			re.WriteString(regexp.QuoteMeta(rest[:i]))
			rt.literal += i
			j := strings.IndexByte(rest[i:], '}')
			label := rest[i+1 : i+j]
			if greedy, ok := strings.CutSuffix(label, "+"); ok {
				rt.names = append(rt.names, greedy)
				re.WriteString("(.+)")
			} else {
				rt.names = append(rt.names, label)
				re.WriteString("([^/]+)")
			}
			rest = rest[i+j+1:]
		}
		// S3 puts a bucket's operations at /{Bucket} and a client may send
		// a trailing slash.
		re.WriteString("/?$")
		rt.path = regexp.MustCompile(re.String())
		for _, kv := range strings.Split(rawQuery, "&") {
			if kv == "" {
				continue
			}
			k, v, _ := strings.Cut(kv, "=")
			if k == "x-id" {
				continue // the SDK's hint, not a discriminator
			}
			rt.query[k] = v
			rt.literal += len(kv) + 1
		}
		out = append(out, rt)
	}
	// The most specific first; ties by name, so that matching is stable.
	slices.SortFunc(out, func(a, b restRoute) int {
		if a.literal != b.literal {
			return b.literal - a.literal
		}
		return strings.Compare(a.op, b.op)
	})
	routes[service] = out
	return out
}

func matchREST(service string, m *serviceModel, r *http.Request, body []byte) (Call, bool) {
	path := r.URL.EscapedPath()
	q := r.URL.Query()
	// aws-sdk-go-v2 names S3's operation in x-id where the path alone
	// does not: it decides among the routes that match.
	xid := q.Get("x-id")
	var found *restRoute
	var groups []string
	rts := restRoutes(service, m)
	for i := range rts {
		rt := &rts[i]
		if rt.method != r.Method {
			continue
		}
		g := rt.path.FindStringSubmatch(path)
		if g == nil {
			continue
		}
		ok := true
		for k, v := range rt.query {
			if !q.Has(k) || (v != "" && q.Get(k) != v) {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		if xid != "" && rt.op != xid {
			if found == nil {
				found, groups = rt, g
			}
			continue
		}
		found, groups = rt, g
		break
	}
	if found == nil {
		return Call{}, false
	}
	params := map[string][]string{}
	om := m.Operations[found.op]
	for i, label := range found.names {
		v, err := url.PathUnescape(groups[i+1])
		if err != nil {
			v = groups[i+1]
		}
		for member, where := range om.Members {
			if where == "uri:"+label {
				params[member] = []string{v}
			}
		}
	}
	for member, where := range om.Members {
		kind, name, _ := strings.Cut(where, ":")
		switch kind {
		case "querystring":
			if q.Has(name) {
				params[member] = q[name]
			}
		case "header":
			if v := r.Header.Values(name); len(v) > 0 {
				params[member] = v
			}
		}
	}
	for k, v := range jsonParams(body) {
		if _, ok := params[k]; !ok {
			params[k] = v
		}
	}
	return Call{Service: service, Operation: found.op, Params: params}, true
}
