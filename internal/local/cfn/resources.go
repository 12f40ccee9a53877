package cfn

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// op is what a resource type sees of the stack operation it serves.
type op struct {
	e         *Engine
	stackName string
	stackID   string
	// rollback is true when the operation puts a resource back as it was
	// (a failed update's rollback): CodeDeploy's hooks do not run then.
	rollback bool
	// progress records an UPDATE_IN_PROGRESS event of the resource being
	// updated with a reason (nil: nothing is recorded).
	progress func(reason string)
}

// kind is a resource type the engine can create.
type kind struct {
	// attrs are the attributes Fn::GetAtt may ask for.
	attrs []string
	// replace are the properties whose change replaces the resource.
	replace []string
	// create makes the resource from r.Props (its properties, evaluated)
	// and sets r.Physical (what Ref gives) and r.Attrs (what Fn::GetAtt
	// gives). On error it leaves nothing behind.
	create func(ctx context.Context, o *op, r *resource) error
	// update changes the resource prev in place into next (next.Props are
	// the new properties; next.Physical is prev's). nil means there is
	// nothing to do but record.
	update func(ctx context.Context, o *op, prev, next *resource) error
	// remove deletes the resource; nil means there is nothing to delete.
	remove func(ctx context.Context, o *op, r *resource) error

	// What the engine does not rehearse of the type, which `stackflow
	// plan` lists (Unrehearsed): ignored are the properties (a name, or a
	// dotted path into one: Body.securityDefinitions) it accepts and does
	// not apply, each with what that means locally; refused are those that
	// fail the resource when given, each with the reason (register makes
	// the engine refuse them); note says what the type as a whole does not
	// do locally.
	ignored, refused map[string]string
	note             string
	// recordedOnly is a type whose resources are only recorded.
	recordedOnly bool
}

// kinds are the CloudFormation resource types the engine runs. Each file
// res_*.go that implements types adds them in its init (register).
// Recorded-only types (IAM roles and policies, log groups, CodeDeploy)
// get a physical ID and attributes shaped like AWS's, and nothing else:
// the local AWS does not enforce IAM or keep logs.
var kinds = map[string]*kind{}

// register adds resource types to kinds, each seeing its properties'
// dynamic references resolved (dynref.go); a type registered twice is a
// programming error.
func register(types map[string]*kind) {
	for typ, k := range types {
		if kinds[typ] != nil {
			panic("cfn: resource type " + typ + " registered twice")
		}
		kinds[typ] = withIAM(typ, withRefusals(withDynamicReferences(typ, k)))
	}
}

// withRefusals is k failing a resource that gives one of k.refused.
func withRefusals(k *kind) *kind {
	if len(k.refused) == 0 {
		return k
	}
	w := *k
	refuse := func(props map[string]any) error {
		for _, p := range slices.Sorted(maps.Keys(k.refused)) {
			if prop(props, p) != nil {
				return reasonf("%s is not supported by stackflow's local engine: %s", p, k.refused[p])
			}
		}
		return nil
	}
	if k.create != nil {
		w.create = func(ctx context.Context, o *op, r *resource) error {
			if err := refuse(r.Props); err != nil {
				return err
			}
			return k.create(ctx, o, r)
		}
	}
	w.update = func(ctx context.Context, o *op, prev, next *resource) error {
		if err := refuse(next.Props); err != nil {
			return err
		}
		if k.update == nil {
			return nil
		}
		return k.update(ctx, o, prev, next)
	}
	return &w
}

// recorded is a type whose resources are only recorded.
func recorded(attrs, replace []string, name func(o *op, r *resource)) *kind {
	return &kind{
		attrs:        attrs,
		replace:      replace,
		recordedOnly: true,
		create: func(_ context.Context, o *op, r *resource) error {
			name(o, r)
			return nil
		},
	}
}

// reason is a resource's failure worded as CloudFormation words them: a
// sentence that often starts with the name of a property or a type.
type reason string

func (r reason) Error() string { return string(r) }

func reasonf(format string, args ...any) error {
	return reason(fmt.Sprintf(format, args...))
}

// kindOf returns the kind of typ, or an error that says it is not
// supported.
func kindOf(typ string) (*kind, error) {
	if k := kinds[typ]; k != nil {
		return k, nil
	}
	return nil, reasonf("Resource type %s is not supported by stackflow's local engine", typ)
}

// localServer is an API that the engine serves on a loopback port (an HTTP
// API, a REST API, a function URL), kept in e.apis by the ID in its AWS
// URL, so that resolved values map that URL to the loopback one
// (localURLsLocked).
type localServer interface {
	// URL is where it is served: http://127.0.0.1:<port>.
	URL() string
	// Close stops serving.
	Close() error
}

// apiURL matches the URL API Gateway serves an API at
// (https://<id>.execute-api.<region>.amazonaws.com), and a function URL
// (https://<id>.lambda-url.<region>.on.aws).
var apiURL = regexp.MustCompile(`https://(?:([a-z0-9]{10})\.execute-api\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?|([a-z0-9]{32})\.lambda-url\.[a-z0-9-]+\.on\.aws)`)

// localURLsLocked replaces, in every string of v, the URL of an API or
// function URL that runs locally by its local URL; the caller holds e.mu.
func (e *Engine) localURLsLocked(v any) any {
	if len(e.apis) == 0 {
		return v
	}
	return mapStrings(v, func(s string) string {
		if !strings.Contains(s, ".execute-api.") && !strings.Contains(s, ".lambda-url.") {
			return s
		}
		return apiURL.ReplaceAllStringFunc(s, func(u string) string {
			m := apiURL.FindStringSubmatch(u)
			if srv, ok := e.apis[m[1]+m[2]]; ok {
				return srv.URL()
			}
			return u
		})
	})
}
