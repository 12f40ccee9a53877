package cfn

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
)

// change is one resource change of a change set.
type change struct {
	Action      string // Add, Modify, Remove
	Logical     string
	Physical    string
	Type        string
	Replacement string // True, False, Conditional; Modify only
	Details     []changeDetail
}

// changeDetail is one property a Modify changes.
type changeDetail struct {
	Name               string
	RequiresRecreation string // Never, Always, Conditionally
	Evaluation         string // Static, Dynamic
	ChangeSource       string // DirectModification, ResourceReference, ParameterReference
}

// createChangeSetInput is what CreateChangeSet was asked.
type createChangeSetInput struct {
	StackName, ChangeSetName, Type string
	TemplateBody, TemplateURL      string
	UsePreviousTemplate            bool
	Params                         []paramInput
	Capabilities                   []string
	Tags                           []tag
	TagsGiven                      bool
	Description                    string
	ClientToken                    string
	RoleARN                        string
	OnStackFailure                 string
}

var (
	stackNamePattern     = regexp.MustCompile(`^[a-zA-Z][-a-zA-Z0-9]{0,127}$`)
	changeSetNamePattern = regexp.MustCompile(`^[a-zA-Z][-a-zA-Z0-9]{0,127}$`)
)

// createChangeSet checks a CreateChangeSet request, records the change set
// (CREATE_PENDING) and works it out in the background.
func (e *Engine) createChangeSet(ctx context.Context, in createChangeSetInput) (csID, stackID string, err error) {
	if !stackNamePattern.MatchString(in.StackName) && !strings.HasPrefix(in.StackName, "arn:") {
		return "", "", validationError(fmt.Sprintf("1 validation error detected: Value '%s' at 'stackName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*", in.StackName))
	}
	if !changeSetNamePattern.MatchString(in.ChangeSetName) {
		return "", "", validationError(fmt.Sprintf("1 validation error detected: Value '%s' at 'changeSetName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*", in.ChangeSetName))
	}
	if in.Type == "" {
		in.Type = "UPDATE"
	}
	if in.Type != "CREATE" && in.Type != "UPDATE" {
		return "", "", validationError(fmt.Sprintf("ChangeSetType %s is not supported by stackflow's local engine: use CREATE or UPDATE", in.Type))
	}

	// Look at the stack before reading the template, as CloudFormation does.
	e.mu.Lock()
	st := e.findStack(in.StackName)
	if st != nil && st.Status == statusDeleteComplete {
		st = nil
	}
	if st != nil && in.ClientToken != "" {
		for _, cs := range e.changeSets {
			if cs.StackID == st.ID && cs.Name == in.ChangeSetName && cs.token == in.ClientToken {
				e.mu.Unlock()
				return cs.ID, st.ID, nil
			}
		}
	}
	var prevTmpl *template
	var prevParams []paramValue
	var prevTags []tag
	switch {
	case in.Type == "CREATE" && st != nil && st.Status != statusReview:
		e.mu.Unlock()
		return "", "", &apiError{Code: "AlreadyExistsException", Status: 400,
			Message: fmt.Sprintf("Stack [%s] already exists and cannot be created again with the changeSet [%s].", in.StackName, in.ChangeSetName)}
	case in.Type == "UPDATE" && (st == nil || st.Status == statusReview):
		e.mu.Unlock()
		return "", "", validationError(fmt.Sprintf("Stack [%s] does not exist", in.StackName))
	case in.Type == "UPDATE" && !updatable(st.Status):
		e.mu.Unlock()
		return "", "", validationError(fmt.Sprintf("Stack:%s is in %s state and can not be updated.", st.ID, st.Status))
	}
	if st != nil {
		for _, cs := range e.changeSets {
			if cs.StackID == st.ID && cs.Name == in.ChangeSetName {
				e.mu.Unlock()
				return "", "", &apiError{Code: "AlreadyExistsException", Status: 400, Message: fmt.Sprintf("ChangeSet [%s] already exists", in.ChangeSetName)}
			}
		}
		if in.Type == "UPDATE" {
			prevTmpl, prevParams, prevTags = st.tmpl, st.params, st.tags
		}
	}
	e.mu.Unlock()

	tmpl, err := e.readTemplate(ctx, in.TemplateBody, in.TemplateURL, in.UsePreviousTemplate, prevTmpl)
	if err != nil {
		return "", "", err
	}
	params, err := resolveParams(ctx, tmpl.Parameters, in.Params, prevParams, in.Type == "CREATE", e.ssm)
	if err != nil {
		return "", "", err
	}
	if !tmpl.serverless() {
		// Without a transform, CloudFormation checks the template at once.
		// A SAM template is checked once transformed, and fails the change
		// set instead.
		if _, err := makePlan(tmpl, params, pseudoParams(e.region, e.account, in.StackName, "")); err != nil {
			var ae *apiError
			if !errors.As(err, &ae) {
				err = validationError(err.Error())
			}
			return "", "", err
		}
		if err := checkCapabilities(tmpl, in.Capabilities); err != nil {
			return "", "", err
		}
	}
	tags := in.Tags
	if !in.TagsGiven && in.Type == "UPDATE" {
		tags = prevTags
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return "", "", &apiError{Code: "ServiceUnavailable", Status: 503, Message: "the engine is closing"}
	}
	// Look again: the stack may have changed while the template was read.
	cur := e.findStack(in.StackName)
	if cur != nil && cur.Status == statusDeleteComplete {
		cur = nil
	}
	if cur != st {
		return "", "", validationError(fmt.Sprintf("Stack [%s] changed while the change set was being created: try again", in.StackName))
	}
	now := time.Now().UTC()
	if st == nil {
		st = &stack{ID: e.stackARN(in.StackName), Name: in.StackName, Created: now, resources: map[string]*resource{}}
		e.stacks[st.ID] = st
		e.live[st.Name] = st.ID
		st.setStatus(statusReview, "User Initiated", "")
	}
	cs := &changeSet{
		ID:          e.changeSetARN(in.ChangeSetName),
		Name:        in.ChangeSetName,
		StackID:     st.ID,
		StackName:   st.Name,
		Type:        in.Type,
		Status:      csCreatePending,
		ExecStatus:  execUnavailable,
		Created:     now,
		Description: in.Description,
		tmpl:        tmpl,
		params:      params,
		tags:        tags,
		caps:        in.Capabilities,
		roleARN:     in.RoleARN,
		onFailure:   in.OnStackFailure,
		token:       in.ClientToken,
	}
	e.changeSets[cs.ID] = cs
	if !e.spawnLocked(func(ctx context.Context) { e.workOut(ctx, cs) }) {
		cs.Status, cs.Reason = csFailed, "the engine is closing"
	}
	return cs.ID, st.ID, nil
}

// spawnLocked is spawn for a caller that holds e.mu.
func (e *Engine) spawnLocked(f func(ctx context.Context)) bool {
	if e.closed {
		return false
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		f(e.ctx)
	}()
	return true
}

// updatable reports whether a stack in status can take an UPDATE change set.
func updatable(status string) bool {
	switch status {
	case statusCreateComplete, statusUpdateComplete, statusUpdateRollbackComplete, statusUpdateFailed:
		return true
	}
	return false
}

// readTemplate gets the template from the body, S3 or the stack.
func (e *Engine) readTemplate(ctx context.Context, body, templateURL string, usePrevious bool, prev *template) (*template, error) {
	n := 0
	for _, given := range []bool{body != "", templateURL != "", usePrevious} {
		if given {
			n++
		}
	}
	switch {
	case n == 0:
		return nil, validationError("Either Template URL or Template Body must be specified.")
	case n > 1:
		return nil, validationError("Specify exactly one of TemplateBody, TemplateURL and UsePreviousTemplate.")
	case usePrevious:
		if prev == nil {
			return nil, validationError("UsePreviousTemplate can only be used on an existing stack.")
		}
		return prev, nil
	case body != "":
		if len(body) > maxBodyBytes {
			return nil, validationError(fmt.Sprintf("1 validation error detected: Value '...' at 'templateBody' failed to satisfy constraint: Member must have length less than or equal to %d", maxBodyBytes))
		}
		return parseTemplate(body)
	}
	loc, err := parseTemplateURL(templateURL)
	if err != nil {
		return nil, err
	}
	b, err := e.getObject(ctx, loc, maxURLBytes)
	if err != nil {
		return nil, validationError("S3 error: " + strings.TrimPrefix(err.Error(), "read "+loc.String()+": "))
	}
	return parseTemplate(string(b))
}

// workOut processes a change set's template and works out its changes.
// The SAM transform runs without the engine's lock: it takes a while.
func (e *Engine) workOut(ctx context.Context, cs *changeSet) {
	e.mu.Lock()
	if cs.Status != csCreatePending {
		e.mu.Unlock()
		return
	}
	cs.Status = csCreateInProgress
	st := e.stacks[cs.StackID]
	stackName, stackID := st.Name, st.ID
	e.mu.Unlock()
	processed, err := e.process(ctx, cs.tmpl, cs.params, stackName, stackID)

	e.mu.Lock()
	defer e.mu.Unlock()
	if cs.Status != csCreateInProgress {
		return // deleted meanwhile
	}
	fail := func(err error) {
		cs.Status, cs.ExecStatus, cs.Reason = csFailed, execUnavailable, errorMessage(err)
	}
	if err != nil {
		fail(err)
		return
	}
	if cs.tmpl.serverless() {
		if err := checkCapabilities(processed, cs.caps); err != nil {
			fail(err)
			return
		}
	}
	p, err := makePlan(processed, cs.params, pseudoParams(e.region, e.account, stackName, stackID))
	if err != nil {
		fail(err)
		return
	}
	cs.plan = p
	changes, err := e.diffLocked(st, p, cs.Type == "CREATE")
	if err != nil {
		fail(err)
		return
	}
	cs.changes = changes
	if cs.Type == "UPDATE" && len(changes) == 0 && !e.otherChangesLocked(st, cs) {
		cs.Status, cs.ExecStatus, cs.Reason = csFailed, execUnavailable, emptyChangeSet
		return
	}
	cs.Status, cs.ExecStatus = csCreateComplete, execAvailable
}

// unresolved stands for a value only known once a resource is made.
func unresolved(name string) string {
	return "{{stackflow:unresolved:" + name + "}}"
}

// diffLocked works out the resource changes plan makes to st; the caller
// holds e.mu.
func (e *Engine) diffLocked(st *stack, p *plan, create bool) ([]change, error) {
	var changes []change
	if create {
		for _, name := range p.order {
			changes = append(changes, change{Action: "Add", Logical: name, Type: p.byName[name].Type})
		}
		return changes, nil
	}
	var retyped []string
	for _, name := range p.order {
		if old := st.resources[name]; old != nil && old.Type != p.byName[name].Type {
			retyped = append(retyped, name)
		}
	}
	if len(retyped) > 0 {
		return nil, validationError(fmt.Sprintf("Update of resource type is not permitted. The new template modifies resource type of the following resources: [%s]", strings.Join(retyped, ", ")))
	}
	pending := map[string]bool{} // resources whose values change
	ev := &evaluator{
		params: p.params, pseudo: p.pseudo, mappings: p.tmpl.Mappings, conds: p.conds,
		ref: func(name string) (any, error) {
			if r := st.resources[name]; r != nil && !pending[name] && r.Physical != "" {
				return r.Physical, nil
			}
			return unresolved(name), nil
		},
		attr: func(name, att string) (any, error) {
			if r := st.resources[name]; r != nil && !pending[name] {
				if v, ok := r.Attrs[att]; ok {
					return v, nil
				}
			}
			return unresolved(name + "." + att), nil
		},
	}
	for _, name := range p.order {
		def := p.byName[name]
		old := st.resources[name]
		if old == nil {
			pending[name] = true
			changes = append(changes, change{Action: "Add", Logical: name, Type: def.Type})
			continue
		}
		v, err := ev.eval(def.Properties)
		if err != nil {
			return nil, err
		}
		props, _ := e.localURLsLocked(v).(map[string]any)
		if canonical(props) == canonical(old.Props) {
			continue
		}
		c := change{Action: "Modify", Logical: name, Physical: old.Physical, Type: def.Type, Replacement: "False"}
		var replace []string
		if k := kinds[def.Type]; k != nil {
			replace = k.replace
		}
		for _, key := range slices.Sorted(maps.Keys(union(props, old.Props))) {
			if canonical(props[key]) == canonical(old.Props[key]) {
				continue
			}
			d := changeDetail{Name: key, RequiresRecreation: "Never", Evaluation: "Static", ChangeSource: "DirectModification"}
			dynamic := strings.Contains(canonical(props[key]), "{{stackflow:unresolved:")
			if dynamic {
				d.Evaluation, d.ChangeSource = "Dynamic", "ResourceReference"
			}
			if slices.Contains(replace, key) {
				d.RequiresRecreation = "Always"
				switch {
				case dynamic && c.Replacement != "True":
					c.Replacement = "Conditional"
				case !dynamic:
					c.Replacement = "True"
				}
			}
			c.Details = append(c.Details, d)
		}
		if c.Replacement != "False" {
			pending[name] = true
		}
		changes = append(changes, c)
	}
	// Removed resources, the last created first.
	var removed []string
	if st.plan != nil {
		for _, name := range slices.Backward(st.plan.order) {
			if _, keep := p.byName[name]; !keep && st.resources[name] != nil {
				removed = append(removed, name)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(st.resources)) {
		if _, keep := p.byName[name]; !keep && !slices.Contains(removed, name) {
			removed = append(removed, name)
		}
	}
	for _, name := range removed {
		r := st.resources[name]
		changes = append(changes, change{Action: "Remove", Logical: name, Physical: r.Physical, Type: r.Type})
	}
	return changes, nil
}

func union(a, b map[string]any) map[string]any {
	out := maps.Clone(a)
	if out == nil {
		out = map[string]any{}
	}
	for k, v := range b {
		if _, ok := out[k]; !ok {
			out[k] = v
		}
	}
	return out
}

// otherChangesLocked reports whether an UPDATE change set without resource
// changes still changes the stack: its outputs, tags or description.
func (e *Engine) otherChangesLocked(st *stack, cs *changeSet) bool {
	if canonical(tagMap(st.tags)) != canonical(tagMap(cs.tags)) {
		return true
	}
	if st.tmpl != nil && st.tmpl.Description != cs.tmpl.Description {
		return true
	}
	x := &runner{e: e, st: st}
	outs, err := x.outputsLocked(cs.plan)
	if err != nil {
		return true
	}
	return canonical(outputMap(outs)) != canonical(outputMap(st.outputs))
}

func tagMap(ts []tag) map[string]any {
	m := map[string]any{}
	for _, t := range ts {
		m[t.Key] = t.Value
	}
	return m
}

func outputMap(os []output) map[string]any {
	m := map[string]any{}
	for _, o := range os {
		m[o.Key] = []any{o.Value, o.Description, o.ExportName}
	}
	return m
}
