package cfn

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// runner runs one operation on a stack.
type runner struct {
	e     *Engine
	st    *stack
	token string
}

func (x *runner) op() *op {
	return &op{e: x.e, stackName: x.st.Name, stackID: x.st.ID, roleARN: x.st.roleARN}
}

// evaluatorLocked evaluates p's values over the stack's resources as they
// are now; the caller holds e.mu.
func (x *runner) evaluatorLocked(p *plan) *evaluator {
	return &evaluator{
		params: p.params, pseudo: p.pseudo, mappings: p.tmpl.Mappings, conds: p.conds,
		ref: func(name string) (any, error) {
			r := x.st.resources[name]
			if r == nil || r.Physical == "" {
				return nil, templateError("resource %s is not available", name)
			}
			return r.Physical, nil
		},
		attr: func(name, att string) (any, error) {
			r := x.st.resources[name]
			if r == nil {
				return nil, templateError("instance of Fn::GetAtt references undefined resource %s", name)
			}
			v, ok := r.Attrs[att]
			if !ok {
				return nil, templateError("resource %s does not have attribute %s", name, att)
			}
			return v, nil
		},
	}
}

// propsLocked evaluates a resource's properties; the caller holds e.mu.
func (x *runner) propsLocked(p *plan, def *resourceDef) (map[string]any, error) {
	v, err := x.evaluatorLocked(p).eval(def.Properties)
	if err != nil {
		return nil, err
	}
	props, _ := x.e.localURLsLocked(v).(map[string]any)
	if props == nil {
		props = map[string]any{}
	}
	return props, nil
}

// outputsLocked evaluates p's outputs; the caller holds e.mu.
func (x *runner) outputsLocked(p *plan) ([]output, error) {
	ev := x.evaluatorLocked(p)
	var outs []output
	for _, o := range p.outputs {
		v, err := ev.eval(o.Value)
		if err != nil {
			return nil, err
		}
		v = x.e.localURLsLocked(v)
		s, ok := scalarString(v)
		if !ok {
			return nil, templateError("the value of output %s must be a string, got %s", o.Name, typeName(v))
		}
		if s, err = x.e.resolveOutput(x.e.ctx, s); err != nil {
			return nil, err
		}
		out := output{Key: o.Name, Value: s}
		if o.Description != nil {
			d, err := ev.eval(o.Description)
			if err != nil {
				return nil, err
			}
			out.Description = toStringOr(d, "")
		}
		if ex, ok := o.Export.(map[string]any); ok {
			n, err := ev.eval(ex["Name"])
			if err != nil {
				return nil, err
			}
			out.ExportName = toStringOr(n, "")
		}
		outs = append(outs, out)
	}
	return outs, nil
}

// event records a resource event.
func (x *runner) event(r *resource, status, reason string) {
	x.e.mu.Lock()
	defer x.e.mu.Unlock()
	x.eventLocked(r, status, reason)
}

func (x *runner) eventLocked(r *resource, status, reason string) {
	r.Status, r.Reason, r.Updated = status, reason, time.Now().UTC()
	x.st.addEvent(r.Logical, r.Physical, r.Type, status, reason, x.token)
}

func (x *runner) setStatus(status, reason string) {
	x.e.mu.Lock()
	defer x.e.mu.Unlock()
	x.st.setStatus(status, reason, x.token)
}

// createOne creates the resource def of plan p and publishes it in the
// stack. A resource that was made but then failed is returned too, so a
// rollback deletes it.
func (x *runner) createOne(ctx context.Context, p *plan, def *resourceDef, status string) (*resource, error) {
	e := x.e
	e.mu.Lock()
	r := &resource{Logical: def.Name, Type: def.Type, DeletionPolicy: def.DeletionPolicy}
	x.st.resources[def.Name] = r
	x.eventLocked(r, status, "")
	props, err := x.propsLocked(p, def)
	e.mu.Unlock()
	if err != nil {
		x.event(r, statusCreateFailed, errorMessage(err))
		return nil, err
	}
	k, err := kindOf(def.Type)
	if err != nil {
		x.event(r, statusCreateFailed, err.Error())
		return nil, err
	}
	w := r.clone()
	w.Props = props
	if err := k.create(ctx, x.op(), w); err != nil {
		x.event(r, statusCreateFailed, errorMessage(err))
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	*r = *w
	x.eventLocked(r, statusCreateComplete, "")
	return r, nil
}

// deleteOne deletes r. With detached, r is an old physical resource that
// the stack no longer lists (one that was replaced). onCreate says the
// operation is the rollback of a create, where RetainExceptOnCreate does
// not retain.
func (x *runner) deleteOne(ctx context.Context, r *resource, detached, onCreate bool) error {
	e := x.e
	retain := r.DeletionPolicy == "Retain" || (r.DeletionPolicy == "RetainExceptOnCreate" && !onCreate)
	ev := r
	if detached {
		ev = r.clone()
	}
	if retain {
		x.event(ev, statusDeleteSkipped, "")
		if !detached {
			e.mu.Lock()
			delete(x.st.resources, r.Logical)
			e.mu.Unlock()
		}
		return nil
	}
	x.event(ev, statusDeleteInProgress, "")
	var err error
	if k := kinds[r.Type]; k != nil && k.remove != nil && r.Physical != "" {
		err = k.remove(ctx, x.op(), r)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err != nil {
		x.eventLocked(ev, statusDeleteFailed, errorMessage(err))
		return err
	}
	x.eventLocked(ev, statusDeleteComplete, "")
	if !detached {
		delete(x.st.resources, r.Logical)
	}
	return nil
}

// executeCreate runs a CREATE change set.
func (x *runner) executeCreate(ctx context.Context, cs *changeSet, disableRollback bool) {
	p := cs.plan
	var (
		made   []*resource
		failed []string
	)
	for _, name := range p.order {
		if ctx.Err() != nil {
			return
		}
		r, err := x.createOne(ctx, p, p.byName[name], statusCreateInProgress)
		if r != nil {
			made = append(made, r)
		}
		if err != nil {
			failed = append(failed, name)
			break
		}
	}
	if len(failed) == 0 {
		x.e.mu.Lock()
		outs, err := x.outputsLocked(p)
		if err == nil {
			x.st.outputs = outs
			x.st.setStatus(statusCreateComplete, "", x.token)
			x.e.finishChangeSetLocked(cs, execComplete)
			x.e.mu.Unlock()
			return
		}
		x.e.mu.Unlock()
		failed = append(failed, "Outputs ("+errorMessage(err)+")")
	}
	reason := fmt.Sprintf("The following resource(s) failed to create: [%s]. ", strings.Join(failed, ", "))
	x.e.finishChangeSet(cs, execFailed)
	if disableRollback {
		x.setStatus(statusCreateFailed, reason)
		return
	}
	x.setStatus(statusRollbackInProgress, reason+"Rollback requested by user.")
	ok := true
	// The failed resource has nothing to delete; those made go last first.
	x.e.mu.Lock()
	for _, name := range failed {
		if r := x.st.resources[name]; r != nil && r.Physical == "" {
			x.eventLocked(r, statusDeleteComplete, "")
			delete(x.st.resources, name)
		}
	}
	x.e.mu.Unlock()
	for _, r := range slices.Backward(made) {
		if err := x.deleteOne(ctx, r, false, true); err != nil {
			ok = false
		}
	}
	if !ok {
		x.setStatus(statusRollbackFailed, reason)
		return
	}
	x.setStatus(statusRollbackComplete, reason+"Rollback requested by user.")
	if cs.onFailure == "DELETE" {
		x.setStatus(statusDeleteInProgress, "")
		x.deleteAll(ctx, nil)
	}
}

// step is what an update did to one resource, for its rollback.
type step struct {
	action string // created, updated, replaced
	prev   *resource
	next   *resource
}

// logical is the logical ID of the resource s changed.
func (s step) logical() string {
	if s.prev != nil {
		return s.prev.Logical
	}
	return s.next.Logical
}

// executeUpdate runs an UPDATE change set.
func (x *runner) executeUpdate(ctx context.Context, cs *changeSet, disableRollback bool) {
	e, st, p := x.e, x.st, cs.plan
	e.mu.Lock()
	prevPlan, prevTmpl, prevParams, prevTags, prevCaps, prevDesc, prevRole := st.plan, st.tmpl, st.params, st.tags, st.caps, st.Description, st.roleARN
	prevRes := maps.Clone(st.resources)
	st.plan, st.tmpl, st.params, st.tags, st.caps, st.Description, st.roleARN = p, cs.tmpl, cs.params, cs.tags, cs.caps, cs.tmpl.Description, cs.roleARN
	st.Updated = time.Now().UTC()
	e.mu.Unlock()

	var (
		steps  []step
		failed []string
		verb   = "update"
	)
	for _, name := range p.order {
		if ctx.Err() != nil {
			return
		}
		def := p.byName[name]
		old := prevRes[name]
		if old == nil {
			r, err := x.createOne(ctx, p, def, statusCreateInProgress)
			if r != nil {
				steps = append(steps, step{action: "created", next: r})
			}
			if err != nil {
				failed, verb = append(failed, name), "create"
				break
			}
			continue
		}
		s, err := x.updateOne(ctx, p, def, old)
		if s != nil {
			steps = append(steps, *s)
		}
		if err != nil {
			failed = append(failed, name)
			break
		}
	}
	if len(failed) == 0 {
		e.mu.Lock()
		outs, err := x.outputsLocked(p)
		if err == nil {
			st.outputs = outs
			st.setStatus(statusUpdateCleanup, "", x.token)
			e.finishChangeSetLocked(cs, execComplete)
		}
		e.mu.Unlock()
		if err == nil {
			x.cleanupUpdate(ctx, steps, prevPlan, prevRes, p)
			x.setStatus(statusUpdateComplete, "")
			return
		}
		failed = append(failed, "Outputs ("+errorMessage(err)+")")
	}
	reason := fmt.Sprintf("The following resource(s) failed to %s: [%s]. ", verb, strings.Join(failed, ", "))
	e.finishChangeSet(cs, execFailed)
	if disableRollback {
		x.setStatus(statusUpdateFailed, reason)
		return
	}
	x.setStatus(statusUpdateRollback, reason)
	e.mu.Lock()
	for _, name := range failed {
		// A new resource that failed before it was made has nothing to
		// delete.
		if r := st.resources[name]; r != nil && r.Physical == "" && prevRes[name] == nil {
			x.eventLocked(r, statusDeleteComplete, "")
			delete(st.resources, name)
		}
	}
	// The stack is the previous release again, whatever the rollback of
	// its resources comes to.
	st.plan, st.tmpl, st.params, st.tags, st.caps, st.Description, st.roleARN = prevPlan, prevTmpl, prevParams, prevTags, prevCaps, prevDesc, prevRole
	e.mu.Unlock()
	x.rollbackUpdate(ctx, &updateRollback{reason: reason, undo: steps, steps: steps}, nil)
}

// updateRollback is the rollback of a failed update: the resources to put
// back as they were, and every step of the update, whose new resources the
// rollback's cleanup deletes.
type updateRollback struct {
	reason string
	// undo are the steps still to undo, in the order they were done.
	undo []step
	// steps are all the update's steps, in the order they were done.
	steps []step
}

// rollbackUpdate undoes rb's steps, the last done first, skipping the
// resources named in skip (they are left as they are and marked
// UPDATE_COMPLETE, as ContinueUpdateRollback's ResourcesToSkip does). When
// a resource cannot be put back, the stack ends in UPDATE_ROLLBACK_FAILED
// and keeps what is left to undo for ContinueUpdateRollback; otherwise the
// update's new resources are deleted and the stack ends in
// UPDATE_ROLLBACK_COMPLETE.
func (x *runner) rollbackUpdate(ctx context.Context, rb *updateRollback, skip []string) {
	e, st := x.e, x.st
	var left []step
	for _, s := range slices.Backward(rb.undo) {
		if ctx.Err() != nil {
			return
		}
		logical := s.logical()
		if slices.Contains(skip, logical) {
			e.mu.Lock()
			if r := st.resources[logical]; r != nil {
				x.eventLocked(r, statusUpdateComplete, "Skipped by ContinueUpdateRollback (ResourcesToSkip): the resource is as the failed update or the world left it, not as the template says")
			}
			e.mu.Unlock()
			continue
		}
		switch s.action {
		case "updated":
			if err := x.revert(ctx, s); err != nil {
				left = append([]step{s}, left...)
			}
		case "replaced":
			e.mu.Lock()
			st.resources[s.prev.Logical] = s.prev
			x.eventLocked(s.prev, statusUpdateComplete, "")
			e.mu.Unlock()
		}
	}
	e.mu.Lock()
	if len(left) > 0 {
		rb.undo = left
		st.rollback = rb
		st.setStatus(statusUpdateRollbackFailed, rb.reason, x.token)
		e.mu.Unlock()
		return
	}
	st.rollback = nil
	st.setStatus(statusUpdateRollbackCleanup, "", x.token)
	e.mu.Unlock()
	for _, s := range slices.Backward(rb.steps) {
		switch s.action {
		case "created":
			_ = x.deleteOne(ctx, s.next, false, false)
		case "replaced":
			if s.next.Physical != "" {
				_ = x.deleteOne(ctx, s.next, true, false)
			}
		}
	}
	x.setStatus(statusUpdateRollbackComplete, rb.reason)
}

// detachedLocked returns the new physical resources of replacements
// that a failed rollback left behind: the stack no longer lists them, so
// deleting the stack must delete them too. The caller holds e.mu.
func (st *stack) detachedLocked() []*resource {
	if st.rollback == nil {
		return nil
	}
	var out []*resource
	for _, s := range st.rollback.steps {
		if s.action == "replaced" && s.next.Physical != "" && st.resources[s.next.Logical] != s.next {
			out = append(out, s.next)
		}
	}
	return out
}

// updateOne brings the existing resource old to def of plan p: nothing
// when its properties are unchanged, an update in place, or a replacement.
func (x *runner) updateOne(ctx context.Context, p *plan, def *resourceDef, old *resource) (*step, error) {
	e := x.e
	e.mu.Lock()
	props, err := x.propsLocked(p, def)
	e.mu.Unlock()
	if err == nil && canonical(props) == canonical(old.Props) {
		return nil, nil
	}
	if err != nil {
		x.event(old, statusUpdateFailed, errorMessage(err))
		return nil, err
	}
	k, err := kindOf(def.Type)
	if err != nil {
		x.event(old, statusUpdateFailed, err.Error())
		return nil, err
	}
	replace := false
	for _, key := range k.replace {
		if canonical(props[key]) != canonical(old.Props[key]) {
			replace = true
		}
	}
	if replace {
		next := &resource{Logical: def.Name, Type: def.Type, DeletionPolicy: def.DeletionPolicy, Props: props}
		x.event(old, statusUpdateInProgress, "Requested update requires the creation of a new physical resource; hence creating one.")
		if err := k.create(ctx, x.op(), next); err != nil {
			x.event(old, statusUpdateFailed, errorMessage(err))
			return &step{action: "replaced", prev: old, next: next}, err
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		x.st.resources[def.Name] = next
		x.eventLocked(next, statusUpdateComplete, "")
		return &step{action: "replaced", prev: old, next: next}, nil
	}
	next := old.clone()
	next.Props = props
	next.DeletionPolicy = def.DeletionPolicy
	if def.UpdatePolicy != nil {
		e.mu.Lock()
		up, err := x.evaluatorLocked(p).eval(def.UpdatePolicy)
		e.mu.Unlock()
		if err != nil {
			x.event(old, statusUpdateFailed, errorMessage(err))
			return nil, err
		}
		next.UpdatePolicy, _ = up.(map[string]any)
	}
	x.event(old, statusUpdateInProgress, "")
	s := &step{action: "updated", prev: old, next: next}
	// Without an update, the new properties are only recorded: the
	// physical ID and attributes stay.
	if k.update != nil {
		o := x.op()
		o.progress = func(reason string) { x.event(old, statusUpdateInProgress, reason) }
		err := k.update(ctx, o, old, next)
		next.UpdatePolicy = nil
		if err != nil {
			x.event(old, statusUpdateFailed, errorMessage(err))
			if denied := (*accessDenied)(nil); errors.As(err, &denied) {
				// The service role may not make the change: nothing
				// changed, and the rollback has nothing to put back.
				s.next = old.clone()
			}
			return s, err
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	x.st.resources[def.Name] = next
	x.eventLocked(next, statusUpdateComplete, "")
	return s, nil
}

// revert updates a resource back to what it was before the update.
func (x *runner) revert(ctx context.Context, s step) error {
	e := x.e
	x.event(s.next, statusUpdateInProgress, "")
	back := s.prev.clone()
	if k := kinds[s.prev.Type]; k != nil && k.update != nil {
		o := x.op()
		o.rollback = true
		if err := k.update(ctx, o, s.next, back); err != nil {
			x.event(s.next, statusUpdateFailed, errorMessage(err))
			return err
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	x.st.resources[back.Logical] = back
	x.eventLocked(back, statusUpdateComplete, "")
	return nil
}

// cleanupUpdate deletes what a successful update left: the old physical
// resources of replaced ones, and the resources the template no longer has.
func (x *runner) cleanupUpdate(ctx context.Context, steps []step, prevPlan *plan, prevRes map[string]*resource, p *plan) {
	for _, s := range steps {
		if s.action == "replaced" {
			_ = x.deleteOne(ctx, s.prev, true, false)
		}
	}
	var order []string
	if prevPlan != nil {
		order = slices.Clone(prevPlan.order)
	}
	for _, name := range slices.Sorted(maps.Keys(prevRes)) {
		if !slices.Contains(order, name) {
			order = append(order, name)
		}
	}
	for _, name := range slices.Backward(order) {
		if _, keep := p.byName[name]; keep {
			continue
		}
		if r := prevRes[name]; r != nil {
			_ = x.deleteOne(ctx, r, false, false)
		}
	}
}

// deleteAll deletes every resource of the stack, the last made first, and
// ends in DELETE_COMPLETE or DELETE_FAILED.
func (x *runner) deleteAll(ctx context.Context, retain []string) {
	e, st := x.e, x.st
	e.mu.Lock()
	var order []string
	if st.plan != nil {
		for _, name := range st.plan.order {
			if st.resources[name] != nil {
				order = append(order, name)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(st.resources)) {
		if !slices.Contains(order, name) {
			order = append([]string{name}, order...)
		}
	}
	e.mu.Unlock()
	var failed []string
	for _, name := range slices.Backward(order) {
		if ctx.Err() != nil {
			return
		}
		e.mu.Lock()
		r := st.resources[name]
		e.mu.Unlock()
		if r == nil {
			continue
		}
		if slices.Contains(retain, name) {
			x.event(r, statusDeleteSkipped, "")
			e.mu.Lock()
			delete(st.resources, name)
			e.mu.Unlock()
			continue
		}
		if err := x.deleteOne(ctx, r, false, false); err != nil {
			failed = append(failed, name)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(failed) > 0 {
		st.setStatus(statusDeleteFailed, fmt.Sprintf("The following resource(s) failed to delete: [%s]. ", strings.Join(failed, ", ")), x.token)
		return
	}
	st.setStatus(statusDeleteComplete, "", x.token)
	st.Deleted = time.Now().UTC()
	st.outputs = nil
	if e.live[st.Name] == st.ID {
		delete(e.live, st.Name)
	}
	for id, cs := range e.changeSets {
		if cs.StackID == st.ID {
			delete(e.changeSets, id)
		}
	}
}

// finishChangeSet records how a change set's execution ended.
func (e *Engine) finishChangeSet(cs *changeSet, status string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.finishChangeSetLocked(cs, status)
}

func (e *Engine) finishChangeSetLocked(cs *changeSet, status string) {
	cs.ExecStatus = status
}

// errorMessage is the text of err for a status reason.
func errorMessage(err error) string {
	if ae, ok := err.(*apiError); ok {
		return ae.Message
	}
	return err.Error()
}
