package cfn

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// maxRequestBytes bounds a request's form.
const maxRequestBytes = 4 << 20

// pageSize is how many items a listing returns per page.
const pageSize = 100

type action func(ctx context.Context, f url.Values) (any, error)

func (e *Engine) actions() map[string]action {
	return map[string]action{
		"CreateChangeSet":             e.apiCreateChangeSet,
		"DescribeChangeSet":           e.apiDescribeChangeSet,
		"ExecuteChangeSet":            e.apiExecuteChangeSet,
		"DeleteChangeSet":             e.apiDeleteChangeSet,
		"ListChangeSets":              e.apiListChangeSets,
		"DescribeStacks":              e.apiDescribeStacks,
		"ListStacks":                  e.apiListStacks,
		"DescribeStackEvents":         e.apiDescribeStackEvents,
		"DescribeStackResources":      e.apiDescribeStackResources,
		"DescribeStackResource":       e.apiDescribeStackResource,
		"ListStackResources":          e.apiListStackResources,
		"GetTemplate":                 e.apiGetTemplate,
		"DeleteStack":                 e.apiDeleteStack,
		"ContinueUpdateRollback":      e.apiContinueUpdateRollback,
		"UpdateTerminationProtection": e.apiUpdateTerminationProtection,
		"ValidateTemplate":            e.apiValidateTemplate,
	}
}

func (e *Engine) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == FirePath {
		e.serveFire(w, r)
		return
	}
	if strings.HasPrefix(r.Header.Get("X-Amz-Target"), codeDeployTarget) {
		e.serveCodeDeploy(w, r)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxRequestBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, &apiError{Code: "ValidationError", Message: "the request is too large", Status: http.StatusRequestEntityTooLarge})
			return
		}
		writeError(w, &apiError{Code: "MalformedQueryString", Message: "the request's form cannot be read", Status: http.StatusBadRequest})
		return
	}
	name := r.Form.Get("Action")
	act, ok := e.actions()[name]
	if !ok {
		msg := fmt.Sprintf("The action %s is not valid for this web service.", name)
		if name != "" {
			msg = fmt.Sprintf("The action %s is not supported by stackflow's local CloudFormation: use change sets (CreateChangeSet, ExecuteChangeSet)", name)
		}
		writeError(w, &apiError{Code: "InvalidAction", Message: msg, Status: http.StatusBadRequest})
		return
	}
	result, err := act(r.Context(), r.Form)
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			ae = &apiError{Code: "InternalFailure", Message: err.Error(), Status: http.StatusInternalServerError}
		}
		writeError(w, ae)
		return
	}
	writeResult(w, name, result)
}

// members reads a list of structures: prefix.member.1.Field, ...
func members(f url.Values, prefix string) []map[string]string {
	var out []map[string]string
	for i := 1; ; i++ {
		p := fmt.Sprintf("%s.member.%d.", prefix, i)
		m := map[string]string{}
		for k, vs := range f {
			if rest, ok := strings.CutPrefix(k, p); ok && len(vs) > 0 {
				m[rest] = vs[0]
			}
		}
		if len(m) == 0 {
			return out
		}
		out = append(out, m)
	}
}

// strs reads a list of strings: prefix.member.1, ...
func strs(f url.Values, prefix string) []string {
	var out []string
	for i := 1; ; i++ {
		k := fmt.Sprintf("%s.member.%d", prefix, i)
		if _, ok := f[k]; !ok {
			return out
		}
		out = append(out, f.Get(k))
	}
}

func boolParam(f url.Values, k string) bool {
	b, _ := strconv.ParseBool(f.Get(k))
	return b
}

// page returns the part of n items that token asks for and the next token.
func page(n int, token string) (from, to int, next string, err error) {
	if token != "" {
		from, err = strconv.Atoi(token)
		if err != nil || from < 0 || from > n {
			return 0, 0, "", validationError("Invalid NextToken")
		}
	}
	to = min(from+pageSize, n)
	if to < n {
		next = strconv.Itoa(to)
	}
	return from, to, next, nil
}

func required(f url.Values, k string) (string, error) {
	v := f.Get(k)
	if v == "" {
		return "", validationError(fmt.Sprintf("1 validation error detected: Value null at '%s%s' failed to satisfy constraint: Member must not be null", strings.ToLower(k[:1]), k[1:]))
	}
	return v, nil
}

func (e *Engine) apiCreateChangeSet(ctx context.Context, f url.Values) (any, error) {
	in := createChangeSetInput{
		StackName:           f.Get("StackName"),
		ChangeSetName:       f.Get("ChangeSetName"),
		Type:                f.Get("ChangeSetType"),
		TemplateBody:        f.Get("TemplateBody"),
		TemplateURL:         f.Get("TemplateURL"),
		UsePreviousTemplate: boolParam(f, "UsePreviousTemplate"),
		Capabilities:        strs(f, "Capabilities"),
		Description:         f.Get("Description"),
		ClientToken:         f.Get("ClientToken"),
		RoleARN:             f.Get("RoleARN"),
		OnStackFailure:      f.Get("OnStackFailure"),
	}
	if _, err := required(f, "StackName"); err != nil {
		return nil, err
	}
	if _, err := required(f, "ChangeSetName"); err != nil {
		return nil, err
	}
	for _, p := range members(f, "Parameters") {
		v, has := p["ParameterValue"]
		use, _ := strconv.ParseBool(p["UsePreviousValue"])
		in.Params = append(in.Params, paramInput{Key: p["ParameterKey"], Value: v, HasValue: has, UsePrevious: use})
	}
	for _, t := range members(f, "Tags") {
		in.Tags = append(in.Tags, tag{Key: t["Key"], Value: t["Value"]})
	}
	_, in.TagsGiven = f["Tags"]
	in.TagsGiven = in.TagsGiven || len(in.Tags) > 0
	id, stackID, err := e.createChangeSet(ctx, in)
	if err != nil {
		return nil, err
	}
	return struct {
		ID      string `xml:"Id"`
		StackID string `xml:"StackId"`
	}{id, stackID}, nil
}

// findChangeSetLocked finds the change set a request names; the caller
// holds e.mu.
func (e *Engine) findChangeSetLocked(name, stackName string) (*changeSet, error) {
	notFound := &apiError{Code: "ChangeSetNotFound", Message: fmt.Sprintf("ChangeSet [%s] does not exist", name), Status: http.StatusNotFound}
	if strings.HasPrefix(name, "arn:") {
		if cs := e.changeSets[name]; cs != nil {
			return cs, nil
		}
		return nil, notFound
	}
	if stackName == "" {
		return nil, validationError("StackName must be specified if ChangeSetName is not specified as an ARN.")
	}
	st := e.findStack(stackName)
	if st == nil {
		return nil, validationError(fmt.Sprintf("Stack [%s] does not exist", stackName))
	}
	for _, cs := range e.changeSets {
		if cs.StackID == st.ID && cs.Name == name {
			return cs, nil
		}
	}
	return nil, notFound
}

func (e *Engine) apiDescribeChangeSet(_ context.Context, f url.Values) (any, error) {
	name, err := required(f, "ChangeSetName")
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	cs, err := e.findChangeSetLocked(name, f.Get("StackName"))
	if err != nil {
		return nil, err
	}
	from, to, next, err := page(len(cs.changes), f.Get("NextToken"))
	if err != nil {
		return nil, err
	}
	var changes []xChange
	for _, c := range cs.changes[from:to] {
		rc := xResourceChange{Action: c.Action, LogicalResourceID: c.Logical, PhysicalResourceID: c.Physical, ResourceType: c.Type, Replacement: c.Replacement}
		if c.Action == "Modify" {
			rc.Scope = []string{"Properties"}
		}
		for _, d := range c.Details {
			rc.Details = append(rc.Details, xDetail{
				Target:       xTarget{Attribute: "Properties", Name: d.Name, RequiresRecreation: d.RequiresRecreation},
				Evaluation:   d.Evaluation,
				ChangeSource: d.ChangeSource,
			})
		}
		changes = append(changes, xChange{Type: "Resource", ResourceChange: rc})
	}
	return struct {
		ChangeSetName       string
		ChangeSetID         string `xml:"ChangeSetId"`
		StackID             string `xml:"StackId"`
		StackName           string
		Description         string       `xml:",omitempty"`
		Parameters          []xParameter `xml:"Parameters>member"`
		CreationTime        string
		ExecutionStatus     string
		Status              string
		StatusReason        string    `xml:",omitempty"`
		Capabilities        []string  `xml:"Capabilities>member"`
		Tags                []xTag    `xml:"Tags>member"`
		Changes             []xChange `xml:"Changes>member"`
		IncludeNestedStacks bool
		NextToken           string `xml:",omitempty"`
	}{
		ChangeSetName:   cs.Name,
		ChangeSetID:     cs.ID,
		StackID:         cs.StackID,
		StackName:       cs.StackName,
		Description:     cs.Description,
		Parameters:      xParams(cs.params),
		CreationTime:    xmlTime(cs.Created),
		ExecutionStatus: cs.ExecStatus,
		Status:          cs.Status,
		StatusReason:    cs.Reason,
		Capabilities:    cs.caps,
		Tags:            xTags(cs.tags),
		Changes:         changes,
		NextToken:       next,
	}, nil
}

func xParams(ps []paramValue) []xParameter {
	var out []xParameter
	for _, p := range ps {
		x := xParameter{ParameterKey: p.Key, ParameterValue: p.display()}
		if p.def != nil && p.def.ssm() && !p.NoEcho {
			x.ResolvedValue = p.Resolved
		}
		out = append(out, x)
	}
	return out
}

func xTags(ts []tag) []xTag {
	var out []xTag
	for _, t := range ts {
		out = append(out, xTag(t))
	}
	return out
}

func (e *Engine) apiExecuteChangeSet(_ context.Context, f url.Values) (any, error) {
	name, err := required(f, "ChangeSetName")
	if err != nil {
		return nil, err
	}
	token := f.Get("ClientRequestToken")
	disable := boolParam(f, "DisableRollback")
	e.mu.Lock()
	defer e.mu.Unlock()
	cs, err := e.findChangeSetLocked(name, f.Get("StackName"))
	if err != nil {
		return nil, err
	}
	st := e.stacks[cs.StackID]
	if cs.ExecStatus != execAvailable {
		if token != "" && cs.token == token && cs.ExecStatus != execUnavailable && cs.ExecStatus != execObsolete {
			return struct{}{}, nil
		}
		return nil, &apiError{Code: "InvalidChangeSetStatus", Status: http.StatusBadRequest,
			Message: fmt.Sprintf("ChangeSet [%s] cannot be executed in its current execution status of [%s]", cs.ID, cs.ExecStatus)}
	}
	if st == nil || st.busy {
		status := ""
		if st != nil {
			status = st.Status
		}
		return nil, validationError(fmt.Sprintf("Stack:%s is in %s state and can not be updated.", cs.StackID, status))
	}
	if cs.Type == "CREATE" && cs.onFailure == "DO_NOTHING" {
		disable = true
	}
	// The other change sets were made for the stack as it is now.
	for id, other := range e.changeSets {
		if other.StackID == st.ID && other != cs {
			delete(e.changeSets, id)
		}
	}
	cs.ExecStatus = execInProgress
	cs.token = token
	st.busy = true
	st.disableRollback = disable
	x := &runner{e: e, st: st, token: token}
	run := x.executeUpdate
	if cs.Type == "CREATE" {
		st.tmpl, st.plan, st.params, st.tags, st.caps, st.Description, st.roleARN = cs.tmpl, cs.plan, cs.params, cs.tags, cs.caps, cs.tmpl.Description, cs.roleARN
		st.setStatus(statusCreateInProgress, "User Initiated", token)
		run = x.executeCreate
	} else {
		st.setStatus(statusUpdateInProgress, "User Initiated", token)
	}
	ok := e.spawnLocked(func(ctx context.Context) {
		defer func() {
			e.mu.Lock()
			st.busy = false
			e.mu.Unlock()
		}()
		run(ctx, cs, disable)
	})
	if !ok {
		return nil, &apiError{Code: "ServiceUnavailable", Message: "the engine is closing", Status: http.StatusServiceUnavailable}
	}
	return struct{}{}, nil
}

func (e *Engine) apiDeleteChangeSet(_ context.Context, f url.Values) (any, error) {
	name, err := required(f, "ChangeSetName")
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	cs, err := e.findChangeSetLocked(name, f.Get("StackName"))
	if err != nil {
		return nil, err
	}
	if cs.Status == csCreatePending || cs.Status == csCreateInProgress || cs.ExecStatus == execInProgress {
		return nil, &apiError{Code: "InvalidChangeSetStatus", Status: http.StatusBadRequest,
			Message: fmt.Sprintf("Cannot delete ChangeSet [%s] in status %s", cs.ID, cs.Status)}
	}
	delete(e.changeSets, cs.ID)
	return struct{}{}, nil
}

func (e *Engine) apiListChangeSets(_ context.Context, f url.Values) (any, error) {
	name, err := required(f, "StackName")
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.findStack(name)
	if st == nil {
		return nil, validationError(fmt.Sprintf("Stack [%s] does not exist", name))
	}
	var sets []*changeSet
	for _, cs := range e.changeSets {
		if cs.StackID == st.ID {
			sets = append(sets, cs)
		}
	}
	slices.SortFunc(sets, func(a, b *changeSet) int { return a.Created.Compare(b.Created) })
	from, to, next, err := page(len(sets), f.Get("NextToken"))
	if err != nil {
		return nil, err
	}
	var out []xChangeSetSummary
	for _, cs := range sets[from:to] {
		out = append(out, xChangeSetSummary{
			StackID: cs.StackID, StackName: cs.StackName, ChangeSetID: cs.ID, ChangeSetName: cs.Name,
			ExecutionStatus: cs.ExecStatus, Status: cs.Status, StatusReason: cs.Reason,
			CreationTime: xmlTime(cs.Created), Description: cs.Description,
		})
	}
	return struct {
		Summaries []xChangeSetSummary `xml:"Summaries>member"`
		NextToken string              `xml:",omitempty"`
	}{out, next}, nil
}

func (e *Engine) xStackLocked(st *stack) xStack {
	x := xStack{
		StackID:                     st.ID,
		StackName:                   st.Name,
		Description:                 st.Description,
		Parameters:                  xParams(st.params),
		CreationTime:                xmlTime(st.Created),
		DeletionTime:                xmlTime(st.Deleted),
		LastUpdatedTime:             xmlTime(st.Updated),
		StackStatus:                 st.Status,
		StackStatusReason:           st.Reason,
		DisableRollback:             st.disableRollback,
		Capabilities:                st.caps,
		RoleARN:                     st.roleARN,
		Tags:                        xTags(st.tags),
		EnableTerminationProtection: st.protected,
		DriftInformation:            xDrift{StackDriftStatus: "NOT_CHECKED"},
	}
	for _, o := range st.outputs {
		x.Outputs = append(x.Outputs, xOutput{OutputKey: o.Key, OutputValue: o.Value, Description: o.Description, ExportName: o.ExportName})
	}
	return x
}

func (e *Engine) apiDescribeStacks(_ context.Context, f url.Values) (any, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var stacks []*stack
	if name := f.Get("StackName"); name != "" {
		st := e.findStack(name)
		if st == nil {
			return nil, stackMissing(name)
		}
		stacks = []*stack{st}
	} else {
		stacks = e.sortedStacks(false)
	}
	from, to, next, err := page(len(stacks), f.Get("NextToken"))
	if err != nil {
		return nil, err
	}
	var out []xStack
	for _, st := range stacks[from:to] {
		out = append(out, e.xStackLocked(st))
	}
	return struct {
		Stacks    []xStack `xml:"Stacks>member"`
		NextToken string   `xml:",omitempty"`
	}{out, next}, nil
}

func (e *Engine) apiListStacks(_ context.Context, f url.Values) (any, error) {
	filter := strs(f, "StackStatusFilter")
	e.mu.Lock()
	defer e.mu.Unlock()
	var stacks []*stack
	for _, st := range e.sortedStacks(true) {
		if len(filter) == 0 || slices.Contains(filter, st.Status) {
			stacks = append(stacks, st)
		}
	}
	from, to, next, err := page(len(stacks), f.Get("NextToken"))
	if err != nil {
		return nil, err
	}
	var out []xStackSummary
	for _, st := range stacks[from:to] {
		out = append(out, xStackSummary{
			StackID: st.ID, StackName: st.Name, TemplateDescription: st.Description,
			CreationTime: xmlTime(st.Created), LastUpdatedTime: xmlTime(st.Updated), DeletionTime: xmlTime(st.Deleted),
			StackStatus: st.Status, StackStatusReason: st.Reason,
		})
	}
	return struct {
		StackSummaries []xStackSummary `xml:"StackSummaries>member"`
		NextToken      string          `xml:",omitempty"`
	}{out, next}, nil
}

func (e *Engine) apiDescribeStackEvents(_ context.Context, f url.Values) (any, error) {
	name, err := required(f, "StackName")
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.findStack(name)
	if st == nil {
		return nil, validationError(fmt.Sprintf("Stack [%s] does not exist", name))
	}
	from, to, next, err := page(len(st.events), f.Get("NextToken"))
	if err != nil {
		return nil, err
	}
	var out []xEvent
	for i := from; i < to; i++ {
		ev := st.events[len(st.events)-1-i]
		out = append(out, xEvent{
			StackID: st.ID, EventID: ev.ID, StackName: st.Name,
			LogicalResourceID: ev.Logical, PhysicalResourceID: ev.Physical, ResourceType: ev.Type,
			Timestamp: xmlTime(ev.Time), ResourceStatus: ev.Status, ResourceStatusReason: ev.Reason,
			ClientRequestToken: ev.Token,
		})
	}
	return struct {
		StackEvents []xEvent `xml:"StackEvents>member"`
		NextToken   string   `xml:",omitempty"`
	}{out, next}, nil
}

// resourcesLocked returns st's resources in the order they were made; the
// caller holds e.mu.
func resourcesLocked(st *stack) []*resource {
	var out []*resource
	seen := map[string]bool{}
	if st.plan != nil {
		for _, name := range st.plan.order {
			if r := st.resources[name]; r != nil {
				out = append(out, r)
				seen[name] = true
			}
		}
	}
	var rest []*resource
	for name, r := range st.resources {
		if !seen[name] {
			rest = append(rest, r)
		}
	}
	slices.SortFunc(rest, func(a, b *resource) int { return strings.Compare(a.Logical, b.Logical) })
	return append(out, rest...)
}

func xResourceOf(st *stack, r *resource, summary bool) xResource {
	x := xResource{
		LogicalResourceID:    r.Logical,
		PhysicalResourceID:   r.Physical,
		ResourceType:         r.Type,
		ResourceStatus:       r.Status,
		ResourceStatusReason: r.Reason,
		DriftInformation:     &xResourceDrift{StackResourceDriftStatus: "NOT_CHECKED"},
	}
	if summary {
		x.LastUpdatedTimestamp = xmlTime(r.Updated)
	} else {
		x.StackName, x.StackID, x.Timestamp = st.Name, st.ID, xmlTime(r.Updated)
	}
	return x
}

func (e *Engine) apiDescribeStackResources(_ context.Context, f url.Values) (any, error) {
	name, logical, physical := f.Get("StackName"), f.Get("LogicalResourceId"), f.Get("PhysicalResourceId")
	if name == "" && physical == "" {
		return nil, validationError("Either StackName or PhysicalResourceId must be specified.")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var st *stack
	if name != "" {
		if st = e.findStack(name); st == nil {
			return nil, stackMissing(name)
		}
	} else {
		for _, s := range e.sortedStacks(false) {
			for _, r := range s.resources {
				if r.Physical == physical {
					st = s
				}
			}
		}
		if st == nil {
			return nil, validationError(fmt.Sprintf("Stack for %s does not exist", physical))
		}
	}
	var out []xResource
	for _, r := range resourcesLocked(st) {
		if (logical == "" || r.Logical == logical) && (physical == "" || r.Physical == physical || name != "") {
			out = append(out, xResourceOf(st, r, false))
		}
	}
	return struct {
		StackResources []xResource `xml:"StackResources>member"`
	}{out}, nil
}

func (e *Engine) apiDescribeStackResource(_ context.Context, f url.Values) (any, error) {
	name, err := required(f, "StackName")
	if err != nil {
		return nil, err
	}
	logical, err := required(f, "LogicalResourceId")
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.findStack(name)
	if st == nil {
		return nil, stackMissing(name)
	}
	r := st.resources[logical]
	if r == nil {
		return nil, validationError(fmt.Sprintf("Resource %s does not exist for stack %s", logical, name))
	}
	x := xResourceOf(st, r, false)
	x.LastUpdatedTimestamp, x.Timestamp = x.Timestamp, ""
	return struct {
		StackResourceDetail xResource
	}{x}, nil
}

func (e *Engine) apiListStackResources(_ context.Context, f url.Values) (any, error) {
	name, err := required(f, "StackName")
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.findStack(name)
	if st == nil {
		return nil, stackMissing(name)
	}
	rs := resourcesLocked(st)
	from, to, next, err := page(len(rs), f.Get("NextToken"))
	if err != nil {
		return nil, err
	}
	var out []xResource
	for _, r := range rs[from:to] {
		out = append(out, xResourceOf(st, r, true))
	}
	return struct {
		StackResourceSummaries []xResource `xml:"StackResourceSummaries>member"`
		NextToken              string      `xml:",omitempty"`
	}{out, next}, nil
}

// apiGetTemplate answers a stack's or change set's template: as
// submitted (TemplateStage Original, the default), or as processed
// (Processed: what SAM's translator made of a SAM template, JSON; the same
// as Original for other templates).
func (e *Engine) apiGetTemplate(_ context.Context, f url.Values) (any, error) {
	name, csName := f.Get("StackName"), f.Get("ChangeSetName")
	if name == "" && csName == "" {
		return nil, validationError("Either StackName or ChangeSetName must be specified.")
	}
	stage := f.Get("TemplateStage")
	switch stage {
	case "":
		stage = "Original"
	case "Original", "Processed":
	default:
		return nil, validationError(fmt.Sprintf("1 validation error detected: Value '%s' at 'templateStage' failed to satisfy constraint: Member must satisfy enum value set: [Original, Processed]", stage))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var (
		t *template
		p *plan
	)
	if csName != "" {
		cs, err := e.findChangeSetLocked(csName, name)
		if err != nil {
			return nil, err
		}
		t, p = cs.tmpl, cs.plan
	} else {
		st := e.findStack(name)
		if st == nil {
			return nil, stackMissing(name)
		}
		t, p = st.tmpl, st.plan
	}
	stages := []string{"Original"}
	if p != nil {
		stages = append(stages, "Processed")
		if stage == "Processed" {
			t = p.tmpl
		}
	}
	body := ""
	if t != nil {
		body = t.Body
	}
	return struct {
		TemplateBody    string
		StagesAvailable []string `xml:"StagesAvailable>member"`
	}{body, stages}, nil
}

func (e *Engine) apiDeleteStack(_ context.Context, f url.Values) (any, error) {
	name, err := required(f, "StackName")
	if err != nil {
		return nil, err
	}
	retain := strs(f, "RetainResources")
	token := f.Get("ClientRequestToken")
	role := f.Get("RoleARN")
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.findStack(name)
	if st == nil || st.Status == statusDeleteComplete || st.Status == statusDeleteInProgress {
		return struct{}{}, nil
	}
	if st.protected {
		return nil, validationError(fmt.Sprintf("Stack [%s] cannot be deleted while TerminationProtection is enabled", name))
	}
	if len(retain) > 0 && st.Status != statusDeleteFailed {
		return nil, validationError(fmt.Sprintf("Invalid operation on stack [%s]. RetainResources can only be specified when the stack is in DELETE_FAILED state", st.ID))
	}
	if st.busy {
		return nil, validationError(fmt.Sprintf("Stack [%s] cannot be deleted while in status %s", name, st.Status))
	}
	if role != "" {
		st.roleARN = role
	}
	st.busy = true
	st.setStatus(statusDeleteInProgress, "User Initiated", token)
	// The new resources of replacements that a failed rollback left are
	// no longer listed, but they are the stack's to delete.
	detached := st.detachedLocked()
	st.rollback = nil
	x := &runner{e: e, st: st, token: token}
	ok := e.spawnLocked(func(ctx context.Context) {
		defer func() {
			e.mu.Lock()
			st.busy = false
			e.mu.Unlock()
		}()
		for _, r := range detached {
			_ = x.deleteOne(ctx, r, true, false)
		}
		x.deleteAll(ctx, retain)
	})
	if !ok {
		return nil, &apiError{Code: "ServiceUnavailable", Message: "the engine is closing", Status: http.StatusServiceUnavailable}
	}
	return struct{}{}, nil
}

// apiContinueUpdateRollback takes up the rollback of a stack in
// UPDATE_ROLLBACK_FAILED where it stopped: it tries again to put back the
// resources that could not be, leaving those named in ResourcesToSkip as
// they are, and ends in UPDATE_ROLLBACK_COMPLETE, or in
// UPDATE_ROLLBACK_FAILED again.
func (e *Engine) apiContinueUpdateRollback(_ context.Context, f url.Values) (any, error) {
	name, err := required(f, "StackName")
	if err != nil {
		return nil, err
	}
	skip := strs(f, "ResourcesToSkip")
	token := f.Get("ClientRequestToken")
	role := f.Get("RoleARN")
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.findStack(name)
	if st == nil || st.Status == statusDeleteComplete {
		return nil, validationError(fmt.Sprintf("Stack [%s] does not exist", name))
	}
	if token != "" && st.Status != statusUpdateRollbackFailed && st.continueToken == token {
		// The same request again: it was taken.
		return struct{}{}, nil
	}
	if st.Status != statusUpdateRollbackFailed || st.busy || st.rollback == nil {
		return nil, validationError("ContinueUpdateRollback cannot be called from current stack status")
	}
	rb := st.rollback
	for _, name := range skip {
		failed := false
		for _, s := range rb.undo {
			failed = failed || s.logical() == name
		}
		if !failed {
			return nil, validationError(fmt.Sprintf("ResourcesToSkip: resource [%s] did not fail to roll back; only resources in UPDATE_FAILED after a failed rollback can be skipped", name))
		}
	}
	if role != "" {
		// As on AWS, the role is the stack's from now on.
		st.roleARN = role
	}
	st.continueToken = token
	st.busy = true
	st.setStatus(statusUpdateRollback, "User Initiated", token)
	x := &runner{e: e, st: st, token: token}
	ok := e.spawnLocked(func(ctx context.Context) {
		defer func() {
			e.mu.Lock()
			st.busy = false
			e.mu.Unlock()
		}()
		x.rollbackUpdate(ctx, rb, skip)
	})
	if !ok {
		return nil, &apiError{Code: "ServiceUnavailable", Message: "the engine is closing", Status: http.StatusServiceUnavailable}
	}
	return struct{}{}, nil
}

// apiUpdateTerminationProtection turns a stack's termination protection on
// or off.
func (e *Engine) apiUpdateTerminationProtection(_ context.Context, f url.Values) (any, error) {
	name, err := required(f, "StackName")
	if err != nil {
		return nil, err
	}
	v, err := required(f, "EnableTerminationProtection")
	if err != nil {
		return nil, err
	}
	enable, err := strconv.ParseBool(v)
	if err != nil {
		return nil, validationError(fmt.Sprintf("1 validation error detected: Value '%s' at 'enableTerminationProtection' failed to satisfy constraint: Member must be true or false", v))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.findStack(name)
	if st == nil || st.Status == statusDeleteComplete {
		return nil, stackMissing(name)
	}
	st.protected = enable
	return struct {
		StackID string `xml:"StackId"`
	}{st.ID}, nil
}

func (e *Engine) apiValidateTemplate(ctx context.Context, f url.Values) (any, error) {
	t, err := e.readTemplate(ctx, f.Get("TemplateBody"), f.Get("TemplateURL"), false, nil)
	if err != nil {
		return nil, err
	}
	if !t.serverless() {
		// References can be checked without parameter values: every
		// branch of every Fn::If counts.
		names := map[string]bool{}
		for _, p := range t.Parameters {
			names[p.Name] = true
		}
		for k := range pseudoParams(e.region, e.account, "", "") {
			names[k] = true
		}
		for _, r := range t.Resources {
			names[r.Name] = true
		}
		for _, r := range t.Resources {
			var bad []string
			_ = references(r.Properties, nil, func(name, _ string) {
				if !names[name] && !slices.Contains(bad, name) {
					bad = append(bad, name)
				}
			})
			for _, d := range r.DependsOn {
				if !names[d] {
					bad = append(bad, d)
				}
			}
			if len(bad) > 0 {
				return nil, formatError("Unresolved resource dependencies [%s] in the Resources block of the template", strings.Join(bad, ", "))
			}
		}
	}
	var params []xTemplateParameter
	for _, p := range t.Parameters {
		params = append(params, xTemplateParameter{ParameterKey: p.Name, DefaultValue: p.Default, NoEcho: p.NoEcho, Description: p.Description})
	}
	var caps []string
	reason := ""
	if c := requiredCapability(t); c != "" {
		caps = []string{c}
		var iam []string
		for _, r := range t.Resources {
			if strings.HasPrefix(r.Type, "AWS::IAM::") {
				iam = append(iam, r.Name)
			}
		}
		reason = fmt.Sprintf("The following resource(s) require capabilities: [%s]", strings.Join(iam, ", "))
	}
	return struct {
		Parameters         []xTemplateParameter `xml:"Parameters>member"`
		Description        string               `xml:",omitempty"`
		Capabilities       []string             `xml:"Capabilities>member"`
		CapabilitiesReason string               `xml:",omitempty"`
		DeclaredTransforms []string             `xml:"DeclaredTransforms>member"`
	}{params, t.Description, caps, reason, t.Transforms}, nil
}
