package cfn

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// What the engine rehearses, for `stackflow plan`: read from the same
// table of kinds that the engine runs, so that what plan says and what a
// run does cannot drift apart.

// Supported says whether the local engine runs (or records) resources of
// the CloudFormation type typ. A resource of any other type fails, and
// rolls its stack back.
func Supported(typ string) bool {
	return kinds[typ] != nil
}

// Gap is something of a template that stackflow local does not rehearse
// as AWS runs it: a resource type, or a property of one.
type Gap struct {
	// Type is the resource type.
	Type string `json:"type"`
	// Property is the property (a dotted path into one, such as
	// Body.securityDefinitions); empty when the gap is the type itself.
	Property string `json:"property,omitempty"`
	// Resources are the logical IDs of the template's resources it
	// concerns.
	Resources []string `json:"resources"`
	// Fails says that a local run fails the stack on it; otherwise the
	// stack is made and Note says what differs.
	Fails bool `json:"fails"`
	// Note says what happens locally.
	Note string `json:"note"`
}

// String is the gap as one line: "AWS::SQS::Queue (Queue, Jobs): ...".
func (g Gap) String() string {
	what := g.Type
	if g.Property != "" {
		what += " " + g.Property
	}
	return fmt.Sprintf("%s (%s): %s", what, strings.Join(g.Resources, ", "), g.Note)
}

// Unrehearsed lists what the local engine would not rehearse of a
// CloudFormation template, JSON or YAML: the resource types it does not
// run and the properties it refuses (a local run fails the stack on
// them), then the types it only records and the properties it accepts
// and does not apply. One gap lists every resource of its type and
// property. The template must be plain CloudFormation: run a SAM
// template through Translate first.
func Unrehearsed(template []byte) ([]Gap, error) {
	t, err := parseTemplate(string(template))
	if err != nil {
		return nil, errors.New(errorMessage(err))
	}
	if t.serverless() {
		return nil, fmt.Errorf("list what is not rehearsed: the template has the transform %s: translate it first (Translate)", serverlessTransform)
	}
	gaps := map[[2]string]*Gap{}
	add := func(typ, property, logical, note string, fails bool) {
		g := gaps[[2]string{typ, property}]
		if g == nil {
			g = &Gap{Type: typ, Property: property, Fails: fails, Note: note}
			gaps[[2]string{typ, property}] = g
		}
		g.Resources = append(g.Resources, logical)
	}
	for _, r := range t.Resources {
		k := kinds[r.Type]
		if k == nil {
			add(r.Type, "", r.Name, "the type does not run locally: a local run fails the stack", true)
			continue
		}
		for _, p := range slices.Sorted(maps.Keys(k.refused)) {
			if prop(r.Properties, p) != nil {
				add(r.Type, p, r.Name, "refused locally: "+k.refused[p], true)
			}
		}
		switch {
		case k.recordedOnly:
			add(r.Type, "", r.Name, "recorded only: "+cmp.Or(k.note, "stackflow local keeps its name and attributes and runs nothing of it"), false)
		case k.note != "":
			add(r.Type, "", r.Name, k.note, false)
		}
		for _, p := range slices.Sorted(maps.Keys(k.ignored)) {
			if prop(r.Properties, p) != nil {
				add(r.Type, p, r.Name, k.ignored[p], false)
			}
		}
	}
	out := make([]Gap, 0, len(gaps))
	for _, g := range gaps {
		out = append(out, *g)
	}
	slices.SortFunc(out, func(a, b Gap) int {
		if a.Fails != b.Fails {
			if a.Fails {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.Property, b.Property))
	})
	return out, nil
}

// Translate returns a template as CloudFormation runs it: a SAM template
// (Transform: AWS::Serverless-2016-10-31) as SAM's translator sam makes
// it into plain CloudFormation, given the stack's name, region and
// parameter values (a parameter without one takes its Default); any other
// template as it is. The error of a template that is not valid SAM is
// CloudFormation's ("Transform AWS::Serverless-2016-10-31 failed with:
// ...").
func Translate(ctx context.Context, sam Transformer, template []byte, stackName, region string, params map[string]string) ([]byte, error) {
	t, err := parseTemplate(string(template))
	if err != nil {
		return nil, errors.New(errorMessage(err))
	}
	if !t.serverless() {
		return template, nil
	}
	var values []paramValue
	for _, d := range t.Parameters {
		v, ok := params[d.Name]
		if !ok && !d.HasDefault {
			continue
		}
		if !ok {
			v = d.Default
		}
		values = append(values, paramValue{Key: d.Name, Value: v, Resolved: v, def: d})
	}
	// The transform needs only what a stack gives it: the engine's
	// region, account and translator.
	e := &Engine{region: region, account: DefaultAccountID, sam: sam}
	stackID := fmt.Sprintf("arn:aws:cloudformation:%s:%s:stack/%s/%s", region, DefaultAccountID, stackName, newUUID())
	processed, err := e.process(ctx, t, values, stackName, stackID)
	if err != nil {
		return nil, errors.New(errorMessage(err))
	}
	return []byte(processed.Body), nil
}
