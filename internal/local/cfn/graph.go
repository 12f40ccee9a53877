package cfn

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// plan is a processed template with its parameters' values: the resources
// and outputs whose conditions hold, and the order to create them in.
type plan struct {
	tmpl    *template // processed: Globals merged, implicit resources added
	params  map[string]paramValue
	pseudo  map[string]any
	conds   *conditions
	active  []*resourceDef
	byName  map[string]*resourceDef
	deps    map[string][]string
	order   []string
	outputs []*outputDef
}

// references calls add for every name v refers to with Ref, Fn::GetAtt
// (with the attribute) and Fn::Sub. pick says which branch of an Fn::If is
// taken; nil takes both.
func references(v any, pick func(cond string) (bool, error), add func(name, attr string)) error {
	if fn, arg, ok := intrinsic(v); ok {
		switch fn {
		case "Ref":
			if s, ok := arg.(string); ok {
				add(s, "")
				return nil
			}
		case "Fn::GetAtt":
			switch x := arg.(type) {
			case string:
				res, att, _ := strings.Cut(x, ".")
				add(res, att)
				return nil
			case []any:
				if len(x) == 2 {
					if res, ok := x[0].(string); ok {
						att, _ := x[1].(string)
						add(res, att)
						return references(x[1], pick, add)
					}
				}
			}
		case "Fn::Sub":
			var (
				s    string
				vars map[string]any
			)
			switch x := arg.(type) {
			case string:
				s = x
			case []any:
				if len(x) == 2 {
					s, _ = x[0].(string)
					vars, _ = x[1].(map[string]any)
					if err := references(x[1], pick, add); err != nil {
						return err
					}
				}
			}
			walkSub(s, func(string) {}, func(name string) {
				if _, ok := vars[name]; ok {
					return
				}
				if res, att, ok := strings.Cut(name, "."); ok {
					add(res, att)
					return
				}
				add(name, "")
			})
			return nil
		case "Fn::If":
			if x, ok := arg.([]any); ok && len(x) == 3 && pick != nil {
				if name, ok := x[0].(string); ok {
					c, err := pick(name)
					if err != nil {
						return err
					}
					if c {
						return references(x[1], pick, add)
					}
					return references(x[2], pick, add)
				}
			}
		}
		return references(arg, pick, add)
	}
	switch x := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			if err := references(x[k], pick, add); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range x {
			if err := references(e, pick, add); err != nil {
				return err
			}
		}
	}
	return nil
}

// makePlan evaluates a processed template's conditions, checks its
// references and orders its resources.
func makePlan(t *template, params []paramValue, pseudo map[string]any) (*plan, error) {
	if err := checkDynamicReferences(t); err != nil {
		return nil, err
	}
	p := &plan{tmpl: t, params: map[string]paramValue{}, pseudo: pseudo, byName: map[string]*resourceDef{}, deps: map[string][]string{}}
	for _, v := range params {
		p.params[v.Key] = v
	}
	p.conds = newConditions(t.Conditions, p.params, pseudo, t.Mappings)
	for _, r := range t.Resources {
		if r.Condition != "" {
			ok, err := p.conds.value(r.Condition)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
		}
		p.active = append(p.active, r)
		p.byName[r.Name] = r
	}
	known := func(name string) bool {
		_, param := p.params[name]
		_, ps := pseudo[name]
		return param || ps
	}
	var unresolved []string
	for _, r := range p.active {
		seen := map[string]bool{}
		var attrErr error
		// Refs in an UpdatePolicy (an alias's CodeDeploy hooks) are
		// dependencies too, as on AWS.
		err := references(map[string]any{"Properties": r.Properties, "UpdatePolicy": r.UpdatePolicy}, p.conds.value, func(name, attr string) {
			if known(name) && attr == "" {
				return
			}
			dep, ok := p.byName[name]
			if !ok {
				if !slices.Contains(unresolved, name) {
					unresolved = append(unresolved, name)
				}
				return
			}
			if attr != "" && attrErr == nil {
				attrErr = checkAttr(dep, attr)
			}
			if name != r.Name && !seen[name] {
				seen[name] = true
				p.deps[r.Name] = append(p.deps[r.Name], name)
			}
		})
		if err != nil {
			return nil, err
		}
		if attrErr != nil {
			return nil, attrErr
		}
		for _, d := range r.DependsOn {
			if _, ok := p.byName[d]; !ok {
				return nil, formatError("Unresolved resource dependencies [%s] in the Resources block of the template", d)
			}
			if !seen[d] {
				seen[d] = true
				p.deps[r.Name] = append(p.deps[r.Name], d)
			}
		}
	}
	if len(unresolved) > 0 {
		return nil, formatError("Unresolved resource dependencies [%s] in the Resources block of the template", strings.Join(unresolved, ", "))
	}
	for _, o := range t.Outputs {
		if o.Condition != "" {
			ok, err := p.conds.value(o.Condition)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
		}
		var bad []string
		var attrErr error
		err := references(o.Value, p.conds.value, func(name, attr string) {
			if known(name) && attr == "" {
				return
			}
			dep, ok := p.byName[name]
			if !ok {
				bad = append(bad, name)
				return
			}
			if attr != "" && attrErr == nil {
				attrErr = checkAttr(dep, attr)
			}
		})
		if err != nil {
			return nil, err
		}
		if len(bad) > 0 {
			return nil, formatError("Unresolved resource dependencies [%s] in the Outputs block of the template", strings.Join(bad, ", "))
		}
		if attrErr != nil {
			return nil, attrErr
		}
		p.outputs = append(p.outputs, o)
	}
	order, err := topoOrder(p.active, p.deps)
	if err != nil {
		return nil, err
	}
	p.order = order
	return p, nil
}

// checkAttr checks that Fn::GetAtt asks r for an attribute its type has.
func checkAttr(r *resourceDef, attr string) error {
	k := kinds[r.Type]
	if k == nil || k.attrs == nil {
		// Unsupported types fail when created; their attributes are not
		// known here.
		return nil
	}
	if slices.Contains(k.attrs, attr) {
		return nil
	}
	return validationError(fmt.Sprintf("Template error: resource %s does not support attribute type %s in Fn::GetAtt", r.Name, attr))
}

// topoOrder orders resources so each comes after those it depends on,
// keeping the template's order where it is free.
func topoOrder(rs []*resourceDef, deps map[string][]string) ([]string, error) {
	done := map[string]bool{}
	var order []string
	for len(order) < len(rs) {
		progressed := false
		for _, r := range rs {
			if done[r.Name] {
				continue
			}
			ready := true
			for _, d := range deps[r.Name] {
				if !done[d] {
					ready = false
					break
				}
			}
			if ready {
				done[r.Name] = true
				order = append(order, r.Name)
				progressed = true
			}
		}
		if !progressed {
			var cycle []string
			for _, r := range rs {
				if !done[r.Name] && inCycle(r.Name, deps, done) {
					cycle = append(cycle, r.Name)
				}
			}
			return nil, validationError(fmt.Sprintf("Circular dependency between resources: [%s]", strings.Join(cycle, ", ")))
		}
	}
	return order, nil
}

// inCycle reports whether name can reach itself through undone resources.
func inCycle(name string, deps map[string][]string, done map[string]bool) bool {
	seen := map[string]bool{}
	stack := slices.Clone(deps[name])
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n == name {
			return true
		}
		if seen[n] || done[n] {
			continue
		}
		seen[n] = true
		stack = append(stack, deps[n]...)
	}
	return false
}
