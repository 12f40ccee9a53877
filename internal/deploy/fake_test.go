package deploy

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"
)

// fakeCFN is an in-memory CloudFormation for the calls the deploy handler
// makes. It follows the documented behaviour: a CREATE change set makes a
// REVIEW_IN_PROGRESS stack; a change set goes CREATE_PENDING ->
// CREATE_IN_PROGRESS -> CREATE_COMPLETE or FAILED across DescribeChangeSet
// calls, and an empty one FAILS with "The submitted information didn't
// contain changes"; an executed change set moves the stack through its
// IN_PROGRESS statuses to COMPLETE or through a rollback, one step per
// DescribeStacks call, writing stack events that DescribeStackEvents
// returns newest first, paged; a missing stack is a ValidationError "Stack
// with id X does not exist"; a stack is found by name only while it lives,
// and by ID also once deleted. DeleteStack and ContinueUpdateRollback move
// the stack through their statuses one step per DescribeStacks call too;
// UpdateTerminationProtection sets what DescribeStacks shows, and
// DeleteStack refuses a protected stack.
type fakeCFN struct {
	mu     sync.Mutex
	clock  *fakeClock
	region string
	stacks []*fakeStack
	serial int

	// What the next change set finds: its changes (none makes it empty),
	// or a failure reason; how many DescribeChangeSet calls see it in
	// progress after the first.
	changes        []types.Change
	failReason     string
	changeSetPolls int
	// What executing the next change set does: the resources that fail,
	// the extra DescribeStacks calls that see it in progress, the outputs
	// the stack has when it succeeds.
	opFailures []fakeFailure
	opPolls    int
	outputs    map[string]string
	// noTokens leaves ClientRequestToken out of stack events.
	noTokens bool
	// Page sizes of DescribeStackEvents and DescribeChangeSet.
	eventPage, changePage int
	// throttle names an operation that answers Throttling.
	throttle string
	// requireCapability is a capability the template needs.
	requireCapability types.Capability

	calls    []string
	created  []cloudformation.CreateChangeSetInput
	executed []cloudformation.ExecuteChangeSetInput
}

type fakeFailure struct {
	logicalID, resourceType string
	status                  types.ResourceStatus
	reason                  string
}

type fakeStack struct {
	name, id   string
	status     types.StackStatus
	reason     string
	outputs    []types.Output
	events     []types.StackEvent // oldest first
	changeSets []*fakeChangeSet
	steps      []func() // the running operation's next steps, one per DescribeStacks
	protected  bool
	tags       []types.Tag
}

type fakeChangeSet struct {
	id, name, token string
	typ             types.ChangeSetType
	status          types.ChangeSetStatus
	exec            types.ExecutionStatus
	reason          string
	polls           int
	changes         []types.Change
	failReason      string
	execToken       string
	stack           *fakeStack
	tags            []types.Tag
}

// fakeClock is a clock that moves one second per stack event.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) tick() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

func newFakeCFN() *fakeCFN {
	return &fakeCFN{
		clock:      &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)},
		region:     "us-east-1",
		eventPage:  100,
		changePage: 100,
	}
}

var _ cfnAPI = (*fakeCFN)(nil)

func apiErr(code, format string, args ...any) error {
	return &smithy.GenericAPIError{Code: code, Message: fmt.Sprintf(format, args...), Fault: smithy.FaultClient}
}

func (f *fakeCFN) call(op string) error {
	f.calls = append(f.calls, op)
	if f.throttle == op {
		return apiErr("Throttling", "Rate exceeded")
	}
	return nil
}

// seedStack adds a stack that an earlier operation, an hour ago, left in
// status with outputs; failed lists resources that failed back then. The
// pipeline deployed it for acme/hello, bound to the environment its name
// ends in after "hello-" (hello-staging: staging).
func (f *fakeCFN) seedStack(name string, status types.StackStatus, outputs map[string]string, failed ...fakeFailure) *fakeStack {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.newStack(name, status)
	st.outputs = toOutputs(outputs)
	st.tags = []types.Tag{
		{Key: aws.String(TagRepository), Value: aws.String("acme/hello")},
		{Key: aws.String(TagEnvironment), Value: aws.String(strings.TrimPrefix(name, "hello-"))},
	}
	at := f.clock.Now().Add(-time.Hour)
	for _, fl := range failed {
		at = at.Add(time.Second)
		st.events = append(st.events, types.StackEvent{
			EventId: aws.String(strconv.Itoa(len(st.events))), StackId: aws.String(st.id), StackName: aws.String(name),
			Timestamp: aws.Time(at), ClientRequestToken: f.oldToken(),
			LogicalResourceId: aws.String(fl.logicalID), ResourceType: aws.String(fl.resourceType),
			ResourceStatus: fl.status, ResourceStatusReason: aws.String(fl.reason),
		})
	}
	at = at.Add(time.Second)
	st.events = append(st.events, types.StackEvent{
		EventId: aws.String(strconv.Itoa(len(st.events))), StackId: aws.String(st.id), StackName: aws.String(name),
		Timestamp: aws.Time(at), ClientRequestToken: f.oldToken(),
		LogicalResourceId: aws.String(name), ResourceType: aws.String("AWS::CloudFormation::Stack"),
		ResourceStatus: types.ResourceStatus(status),
	})
	return st
}

// oldToken is the client request token of an earlier operation's events.
func (f *fakeCFN) oldToken() *string {
	if f.noTokens {
		return nil
	}
	return aws.String("Console-UpdateStack-old")
}

func toOutputs(m map[string]string) []types.Output {
	var os []types.Output
	for k, v := range m {
		os = append(os, types.Output{OutputKey: aws.String(k), OutputValue: aws.String(v)})
	}
	return os
}

func (f *fakeCFN) newStack(name string, status types.StackStatus) *fakeStack {
	f.serial++
	st := &fakeStack{
		name:   name,
		id:     fmt.Sprintf("arn:aws:cloudformation:%s:123456789012:stack/%s/%08d-0000-4000-8000-000000000000", f.region, name, f.serial),
		status: status,
	}
	f.stacks = append(f.stacks, st)
	return st
}

// stack finds a stack by ID, deleted or not, or by name while it lives.
func (f *fakeCFN) stack(nameOrID string) *fakeStack {
	for _, st := range f.stacks {
		if st.id == nameOrID || (st.name == nameOrID && st.status != types.StackStatusDeleteComplete) {
			return st
		}
	}
	return nil
}

func (f *fakeCFN) changeSet(nameOrID, stackName string) *fakeChangeSet {
	for _, st := range f.stacks {
		for _, cs := range st.changeSets {
			if cs.id == nameOrID || (cs.name == nameOrID && (st.name == stackName || st.id == stackName)) {
				return cs
			}
		}
	}
	return nil
}

// event appends a stack event stamped with the next tick of the clock.
func (f *fakeCFN) event(st *fakeStack, token, logicalID, resourceType string, status types.ResourceStatus, reason string) {
	ev := types.StackEvent{
		EventId:           aws.String(strconv.Itoa(len(st.events))),
		StackId:           aws.String(st.id),
		StackName:         aws.String(st.name),
		Timestamp:         aws.Time(f.clock.tick()),
		LogicalResourceId: aws.String(logicalID),
		ResourceType:      aws.String(resourceType),
		ResourceStatus:    status,
	}
	if !f.noTokens {
		ev.ClientRequestToken = aws.String(token)
	}
	if reason != "" {
		ev.ResourceStatusReason = aws.String(reason)
	}
	st.events = append(st.events, ev)
}

func (f *fakeCFN) stackEvent(st *fakeStack, token string, status types.StackStatus, reason string) {
	st.status, st.reason = status, reason
	f.event(st, token, st.name, "AWS::CloudFormation::Stack", types.ResourceStatus(status), reason)
}

func (f *fakeCFN) DescribeStacks(_ context.Context, in *cloudformation.DescribeStacksInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("DescribeStacks"); err != nil {
		return nil, err
	}
	name := aws.ToString(in.StackName)
	st := f.stack(name)
	if st == nil {
		return nil, apiErr("ValidationError", "Stack with id %s does not exist", name)
	}
	if len(st.steps) > 0 {
		step := st.steps[0]
		st.steps = st.steps[1:]
		step()
	}
	out := types.Stack{
		StackName:                   aws.String(st.name),
		StackId:                     aws.String(st.id),
		StackStatus:                 st.status,
		Outputs:                     slices.Clone(st.outputs),
		EnableTerminationProtection: aws.Bool(st.protected),
		Tags:                        slices.Clone(st.tags),
	}
	if st.reason != "" {
		out.StackStatusReason = aws.String(st.reason)
	}
	return &cloudformation.DescribeStacksOutput{Stacks: []types.Stack{out}}, nil
}

var changeSetNamePattern = regexp.MustCompile(`^[a-zA-Z][-a-zA-Z0-9]*$`)

func (f *fakeCFN) CreateChangeSet(_ context.Context, in *cloudformation.CreateChangeSetInput, _ ...func(*cloudformation.Options)) (*cloudformation.CreateChangeSetOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("CreateChangeSet"); err != nil {
		return nil, err
	}
	f.created = append(f.created, *in)
	name, stackName := aws.ToString(in.ChangeSetName), aws.ToString(in.StackName)
	if len(name) > 128 || !changeSetNamePattern.MatchString(name) {
		return nil, apiErr("ValidationError", "1 validation error detected: Value '%s' at 'changeSetName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*", name)
	}
	if aws.ToString(in.TemplateURL) == "" {
		return nil, apiErr("ValidationError", "Specify either TemplateBody or TemplateURL")
	}
	if f.requireCapability != "" && !slices.Contains(in.Capabilities, f.requireCapability) {
		return nil, apiErr("InsufficientCapabilitiesException", "Requires capabilities : [%s]", f.requireCapability)
	}
	st := f.stack(stackName)
	switch in.ChangeSetType {
	case types.ChangeSetTypeCreate:
		if st != nil && st.status != types.StackStatusReviewInProgress {
			return nil, apiErr("ValidationError", "Stack [%s] already exists and cannot be created again with the changeSet [%s].", stackName, name)
		}
		if st == nil {
			st = f.newStack(stackName, types.StackStatusReviewInProgress)
			f.stackEvent(st, "", types.StackStatusReviewInProgress, "User Initiated")
		}
	case types.ChangeSetTypeUpdate, "":
		if st == nil {
			return nil, apiErr("ValidationError", "Stack [%s] does not exist", stackName)
		}
		if st.status == types.StackStatusRollbackComplete || strings.HasSuffix(string(st.status), "_IN_PROGRESS") {
			return nil, apiErr("ValidationError", "Stack:%s is in %s state and can not be updated.", st.id, st.status)
		}
	default:
		return nil, apiErr("ValidationError", "unsupported ChangeSetType %s", in.ChangeSetType)
	}
	for _, cs := range st.changeSets {
		if cs.name == name {
			if in.ClientToken != nil && cs.token == *in.ClientToken {
				return &cloudformation.CreateChangeSetOutput{Id: aws.String(cs.id), StackId: aws.String(st.id)}, nil
			}
			return nil, apiErr("AlreadyExistsException", "ChangeSet %s already exists", name)
		}
	}
	f.serial++
	cs := &fakeChangeSet{
		id:     fmt.Sprintf("arn:aws:cloudformation:%s:123456789012:changeSet/%s/%08d-1111-4000-8000-000000000000", f.region, name, f.serial),
		name:   name,
		token:  aws.ToString(in.ClientToken),
		typ:    in.ChangeSetType,
		status: types.ChangeSetStatusCreatePending,
		exec:   types.ExecutionStatusUnavailable,
		polls:  f.changeSetPolls, changes: f.changes, failReason: f.failReason,
		stack: st, tags: slices.Clone(in.Tags),
	}
	if cs.failReason == "" && len(cs.changes) == 0 {
		cs.failReason = "The submitted information didn't contain changes. Submit different information to create a change set."
	}
	st.changeSets = append(st.changeSets, cs)
	return &cloudformation.CreateChangeSetOutput{Id: aws.String(cs.id), StackId: aws.String(st.id)}, nil
}

func (f *fakeCFN) DescribeChangeSet(_ context.Context, in *cloudformation.DescribeChangeSetInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeChangeSetOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("DescribeChangeSet"); err != nil {
		return nil, err
	}
	cs := f.changeSet(aws.ToString(in.ChangeSetName), aws.ToString(in.StackName))
	if cs == nil {
		return nil, apiErr("ChangeSetNotFound", "ChangeSet [%s] does not exist", aws.ToString(in.ChangeSetName))
	}
	start := 0
	if in.NextToken != nil {
		var err error
		if start, err = strconv.Atoi(*in.NextToken); err != nil {
			return nil, apiErr("ValidationError", "bad NextToken")
		}
	} else {
		// Each fresh look finds the change set a little further along.
		switch {
		case cs.status == types.ChangeSetStatusCreatePending:
			cs.status = types.ChangeSetStatusCreateInProgress
		case cs.status == types.ChangeSetStatusCreateInProgress && cs.polls > 0:
			cs.polls--
		case cs.status == types.ChangeSetStatusCreateInProgress && cs.failReason != "":
			cs.status, cs.reason = types.ChangeSetStatusFailed, cs.failReason
		case cs.status == types.ChangeSetStatusCreateInProgress:
			cs.status, cs.exec = types.ChangeSetStatusCreateComplete, types.ExecutionStatusAvailable
		}
	}
	out := &cloudformation.DescribeChangeSetOutput{
		ChangeSetId: aws.String(cs.id), ChangeSetName: aws.String(cs.name),
		StackId: aws.String(cs.stack.id), StackName: aws.String(cs.stack.name),
		Status: cs.status, ExecutionStatus: cs.exec,
	}
	if cs.reason != "" {
		out.StatusReason = aws.String(cs.reason)
	}
	if cs.status == types.ChangeSetStatusCreateComplete {
		end := min(start+f.changePage, len(cs.changes))
		out.Changes = slices.Clone(cs.changes[start:end])
		if end < len(cs.changes) {
			out.NextToken = aws.String(strconv.Itoa(end))
		}
	}
	return out, nil
}

func (f *fakeCFN) DeleteChangeSet(_ context.Context, in *cloudformation.DeleteChangeSetInput, _ ...func(*cloudformation.Options)) (*cloudformation.DeleteChangeSetOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("DeleteChangeSet"); err != nil {
		return nil, err
	}
	cs := f.changeSet(aws.ToString(in.ChangeSetName), aws.ToString(in.StackName))
	if cs == nil {
		return nil, apiErr("ChangeSetNotFound", "ChangeSet [%s] does not exist", aws.ToString(in.ChangeSetName))
	}
	if cs.exec == types.ExecutionStatusExecuteInProgress {
		return nil, apiErr("InvalidChangeSetStatus", "Cannot delete ChangeSet in status EXECUTE_IN_PROGRESS")
	}
	cs.stack.changeSets = slices.DeleteFunc(cs.stack.changeSets, func(c *fakeChangeSet) bool { return c == cs })
	return &cloudformation.DeleteChangeSetOutput{}, nil
}

func (f *fakeCFN) ExecuteChangeSet(_ context.Context, in *cloudformation.ExecuteChangeSetInput, _ ...func(*cloudformation.Options)) (*cloudformation.ExecuteChangeSetOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("ExecuteChangeSet"); err != nil {
		return nil, err
	}
	f.executed = append(f.executed, *in)
	cs := f.changeSet(aws.ToString(in.ChangeSetName), aws.ToString(in.StackName))
	if cs == nil {
		return nil, apiErr("ChangeSetNotFound", "ChangeSet [%s] does not exist", aws.ToString(in.ChangeSetName))
	}
	token := aws.ToString(in.ClientRequestToken)
	if cs.execToken != "" && cs.execToken == token {
		return &cloudformation.ExecuteChangeSetOutput{}, nil // a retry
	}
	if cs.status != types.ChangeSetStatusCreateComplete || cs.exec != types.ExecutionStatusAvailable {
		return nil, apiErr("InvalidChangeSetStatus", "ChangeSet [%s] cannot be executed in its current status of [%s]", cs.id, cs.status)
	}
	cs.execToken, cs.exec = token, types.ExecutionStatusExecuteInProgress
	st := cs.stack
	st.tags = cs.tags // an executed change set's tags are the stack's
	for _, other := range st.changeSets {
		if other != cs {
			other.exec = types.ExecutionStatusObsolete
		}
	}
	f.startOperation(st, cs, token)
	return &cloudformation.ExecuteChangeSetOutput{}, nil
}

// startOperation moves st into the executed change set's operation and
// queues its further steps, one per DescribeStacks.
func (f *fakeCFN) startOperation(st *fakeStack, cs *fakeChangeSet, token string) {
	create := cs.typ == types.ChangeSetTypeCreate
	verb := "UPDATE"
	if create {
		verb = "CREATE"
	}
	f.stackEvent(st, token, types.StackStatus(verb+"_IN_PROGRESS"), "User Initiated")
	failures, polls, outputs := f.opFailures, f.opPolls, toOutputs(f.outputs)

	st.steps = append(st.steps, func() {
		for _, c := range cs.changes {
			rc := c.ResourceChange
			f.event(st, token, aws.ToString(rc.LogicalResourceId), aws.ToString(rc.ResourceType), types.ResourceStatus(verb+"_IN_PROGRESS"), "")
		}
	})
	for range polls {
		st.steps = append(st.steps, func() {})
	}
	if len(failures) == 0 {
		st.steps = append(st.steps, func() {
			for _, c := range cs.changes {
				rc := c.ResourceChange
				f.event(st, token, aws.ToString(rc.LogicalResourceId), aws.ToString(rc.ResourceType), types.ResourceStatus(verb+"_COMPLETE"), "")
			}
			st.outputs = outputs
			if create {
				f.stackEvent(st, token, types.StackStatusCreateComplete, "")
				cs.exec = types.ExecutionStatusExecuteComplete
				return
			}
			f.stackEvent(st, token, types.StackStatusUpdateCompleteCleanupInProgress, "")
		})
		if !create {
			st.steps = append(st.steps, func() {
				f.stackEvent(st, token, types.StackStatusUpdateComplete, "")
				cs.exec = types.ExecutionStatusExecuteComplete
			})
		}
		return
	}

	var names []string
	for _, fl := range failures {
		names = append(names, fl.logicalID)
	}
	st.steps = append(st.steps, func() {
		for _, fl := range failures {
			f.event(st, token, fl.logicalID, fl.resourceType, fl.status, fl.reason)
		}
		if create {
			f.stackEvent(st, token, types.StackStatusRollbackInProgress,
				fmt.Sprintf("The following resource(s) failed to create: [%s]. Rollback requested by user.", strings.Join(names, ", ")))
			return
		}
		f.stackEvent(st, token, types.StackStatusUpdateRollbackInProgress,
			fmt.Sprintf("The following resource(s) failed to update: [%s].", strings.Join(names, ", ")))
	})
	if create {
		st.steps = append(st.steps, func() {
			for _, fl := range failures {
				f.event(st, token, fl.logicalID, fl.resourceType, types.ResourceStatusDeleteComplete, "")
			}
			f.stackEvent(st, token, types.StackStatusRollbackComplete, "")
			cs.exec = types.ExecutionStatusExecuteFailed
		})
		return
	}
	st.steps = append(st.steps,
		func() { f.stackEvent(st, token, types.StackStatusUpdateRollbackCompleteCleanupInProgress, "") },
		func() {
			f.stackEvent(st, token, types.StackStatusUpdateRollbackComplete, "")
			cs.exec = types.ExecutionStatusExecuteFailed
		})
}

func (f *fakeCFN) DescribeStackEvents(_ context.Context, in *cloudformation.DescribeStackEventsInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeStackEventsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("DescribeStackEvents"); err != nil {
		return nil, err
	}
	name := aws.ToString(in.StackName)
	st := f.stack(name)
	if st == nil {
		return nil, apiErr("ValidationError", "Stack [%s] does not exist", name)
	}
	newestFirst := slices.Clone(st.events)
	slices.Reverse(newestFirst)
	start := 0
	if in.NextToken != nil {
		var err error
		if start, err = strconv.Atoi(*in.NextToken); err != nil {
			return nil, apiErr("ValidationError", "bad NextToken")
		}
	}
	end := min(start+f.eventPage, len(newestFirst))
	out := &cloudformation.DescribeStackEventsOutput{StackEvents: newestFirst[start:end]}
	if end < len(newestFirst) {
		out.NextToken = aws.String(strconv.Itoa(end))
	}
	return out, nil
}

func (f *fakeCFN) DeleteStack(_ context.Context, in *cloudformation.DeleteStackInput, _ ...func(*cloudformation.Options)) (*cloudformation.DeleteStackOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("DeleteStack"); err != nil {
		return nil, err
	}
	name := aws.ToString(in.StackName)
	st := f.stack(name)
	if st == nil || st.status == types.StackStatusDeleteComplete || st.status == types.StackStatusDeleteInProgress {
		return &cloudformation.DeleteStackOutput{}, nil
	}
	if st.protected {
		return nil, apiErr("ValidationError", "Stack [%s] cannot be deleted while TerminationProtection is enabled", name)
	}
	if len(st.steps) > 0 {
		return nil, apiErr("ValidationError", "Stack [%s] cannot be deleted while in status %s", name, st.status)
	}
	token := aws.ToString(in.ClientRequestToken)
	f.stackEvent(st, token, types.StackStatusDeleteInProgress, "User Initiated")
	st.steps = append(st.steps, func() {
		st.outputs = nil
		f.stackEvent(st, token, types.StackStatusDeleteComplete, "")
	})
	return &cloudformation.DeleteStackOutput{}, nil
}

func (f *fakeCFN) ContinueUpdateRollback(_ context.Context, in *cloudformation.ContinueUpdateRollbackInput, _ ...func(*cloudformation.Options)) (*cloudformation.ContinueUpdateRollbackOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("ContinueUpdateRollback"); err != nil {
		return nil, err
	}
	st := f.stack(aws.ToString(in.StackName))
	if st == nil {
		return nil, apiErr("ValidationError", "Stack [%s] does not exist", aws.ToString(in.StackName))
	}
	if st.status != types.StackStatusUpdateRollbackFailed {
		return nil, apiErr("ValidationError", "ContinueUpdateRollback cannot be called from current stack status")
	}
	token := aws.ToString(in.ClientRequestToken)
	f.stackEvent(st, token, types.StackStatusUpdateRollbackInProgress, "User Initiated")
	st.steps = append(st.steps,
		func() { f.stackEvent(st, token, types.StackStatusUpdateRollbackCompleteCleanupInProgress, "") },
		func() { f.stackEvent(st, token, types.StackStatusUpdateRollbackComplete, "") })
	return &cloudformation.ContinueUpdateRollbackOutput{}, nil
}

func (f *fakeCFN) UpdateTerminationProtection(_ context.Context, in *cloudformation.UpdateTerminationProtectionInput, _ ...func(*cloudformation.Options)) (*cloudformation.UpdateTerminationProtectionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("UpdateTerminationProtection"); err != nil {
		return nil, err
	}
	st := f.stack(aws.ToString(in.StackName))
	if st == nil || st.status == types.StackStatusDeleteComplete {
		return nil, apiErr("ValidationError", "Stack with id %s does not exist", aws.ToString(in.StackName))
	}
	st.protected = aws.ToBool(in.EnableTerminationProtection)
	return &cloudformation.UpdateTerminationProtectionOutput{StackId: aws.String(st.id)}, nil
}
