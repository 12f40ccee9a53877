package runs

import (
	"cmp"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// Run is one execution of the pipeline: which commit it delivers, how it
// ended and, when it failed, where.
type Run struct {
	// Execution is the execution's name, <slug>-<branch>-<sha7>.
	Execution string `json:"execution"`
	// ARN is the execution's ARN.
	ARN string `json:"arn"`
	// Repository ("workspace/slug"), Branch and Commit (all 40
	// characters) come from the execution's input; they are empty when the
	// input is not a stackflow run.
	Repository string `json:"repository"`
	Branch     string `json:"branch"`
	Commit     string `json:"commit"`
	// Message is the first line of the commit's message, when the push
	// that started the run said it.
	Message string `json:"message,omitempty"`
	// Status is the execution's: RUNNING, SUCCEEDED, FAILED, TIMED_OUT,
	// ABORTED or PENDING_REDRIVE.
	Status string `json:"status"`
	// Started is when the execution started; Stopped when it ended (nil
	// while it runs).
	Started time.Time  `json:"started"`
	Stopped *time.Time `json:"stopped,omitempty"`
	// Seconds is how long it ran, or has been running.
	Seconds float64 `json:"seconds"`
	// Failure says where a run that did not succeed stopped; nil for
	// runs that succeeded or still run.
	Failure *Failure `json:"failure,omitempty"`
	// RetryOf names the execution a retry (stackflow retry) resumed;
	// PromotedFrom and PromotedTo the environments of a promotion
	// (stackflow promote).
	RetryOf      string `json:"retryOf,omitempty"`
	PromotedFrom string `json:"promotedFrom,omitempty"`
	PromotedTo   string `json:"promotedTo,omitempty"`
}

// Short is the run's commit abbreviated to seven characters.
func (r Run) Short() string { return pipeline.ShortSHA(r.Commit) }

// Failure is where a run stopped and why.
type Failure struct {
	// State is the state that failed, as the console names it.
	State string `json:"state"`
	// Environment is the environment whose promotion failed, when the
	// state is one of the promotion Map's.
	Environment string `json:"environment,omitempty"`
	// Error is the error's name (ChecksFailed, StackDeployFailed, ...).
	Error string `json:"error"`
	// Cause is the error's message: the errorMessage of a Lambda error
	// payload, or the cause as Step Functions gives it.
	Cause string `json:"cause,omitempty"`
}

// Phase is the part of a run a state belongs to; `stackflow logs --step`
// names the ones with output worth reading.
type Phase string

// The phases of a run.
const (
	PhaseStatus  Phase = "status"
	PhaseSource  Phase = "source"
	PhaseChecks  Phase = "checks"
	PhasePackage Phase = "package"
	PhaseDeploy  Phase = "deploy"
	PhaseSmoke   Phase = "smoke"
)

// LogPhases are the phases whose output Client.Logs reads.
var LogPhases = []Phase{PhaseChecks, PhasePackage, PhaseDeploy, PhaseSmoke}

// phaseOf is the phase of each Task state of statemachine/pipeline.asl.json
// (a test keeps it in step with the definition).
var phaseOf = map[string]Phase{
	"Report the run started":                PhaseStatus,
	"Plan the rollback":                     PhaseDeploy,
	"Read the plan to redeploy":             PhaseSource,
	"Find the package to deploy":            PhaseDeploy,
	"Fetch the source and read the plan":    PhaseSource,
	"Take the preview's lock":               PhaseDeploy,
	"Delete the preview stack":              PhaseDeploy,
	"Check the deletion":                    PhaseDeploy,
	"Report the preview deleted":            PhaseStatus,
	"Hand the checks their URLs":            PhaseChecks,
	"Run the checks":                        PhaseChecks,
	"Keep the checks' caches":               PhaseChecks,
	"Hand the package step its URLs":        PhasePackage,
	"Package the app once":                  PhasePackage,
	"Publish the package":                   PhasePackage,
	"Take the environment's lock":           PhaseDeploy,
	"Say the run waits for the environment": PhaseStatus,
	"Create the change set":                 PhaseDeploy,
	"Check the change set":                  PhaseDeploy,
	"Ask for approval":                      PhaseStatus,
	"Wait for approval":                     PhaseDeploy,
	"Execute the change set":                PhaseDeploy,
	"Check the stack":                       PhaseDeploy,
	"Smoke test the environment":            PhaseSmoke,
	"Record the release":                    PhaseDeploy,
	"Find the last good release":            PhaseDeploy,
	"Give up the environment":               PhaseDeploy,
	"Report success":                        PhaseStatus,
	"Report the failure":                    PhaseStatus,
	"Report the run stopped":                PhaseStatus,
	"Stop the run":                          PhaseStatus,
	"Start the app's run":                   PhaseSource,
	"Report the app skipped":                PhaseStatus,
	"Report the apps' runs":                 PhaseStatus,
	"Look at the earlier app's run":         PhaseDeploy,
}

// Step statuses.
const (
	StepRunning   = "RUNNING"
	StepSucceeded = "SUCCEEDED"
	StepFailed    = "FAILED"
	StepAborted   = "ABORTED"
	StepTimedOut  = "TIMED_OUT"
)

// Step is one state the run went through, in the order entered. A state
// entered again (a Wait in a polling loop, the states of each environment)
// is a Step each time.
type Step struct {
	// Name is the state's name; Type its type (Task, Choice, Wait, Pass,
	// Map, Succeed, Fail).
	Name string `json:"name"`
	Type string `json:"type"`
	// Phase is the part of the run a Task state belongs to.
	Phase Phase `json:"phase,omitempty"`
	// Environment is set for the states of one environment's promotion.
	Environment string `json:"environment,omitempty"`
	// StartSeconds is when the state was entered, from the run's start;
	// Seconds how long it took (so far, while it runs).
	StartSeconds float64 `json:"startSeconds"`
	Seconds      float64 `json:"seconds"`
	// Status is RUNNING, SUCCEEDED, FAILED (also when a Catch went on),
	// ABORTED or TIMED_OUT.
	Status string `json:"status"`
	// Retries is how many times a Task was tried again after a failure.
	Retries int `json:"retries"`
	// Error and Cause are a failed state's error name and message.
	Error string `json:"error,omitempty"`
	Cause string `json:"cause,omitempty"`
	// Summary is the one line a Task's handler returned as its summary.
	Summary string `json:"summary,omitempty"`

	output    string // the state's output, as the history gives it
	result    string // the task's own result
	iteration int    // the promotion iteration, -1 outside one
	attempts  int
	start     time.Time
}

// Environment results.
const (
	EnvDelivered  = "DELIVERED"
	EnvFailed     = "FAILED"
	EnvInProgress = "IN_PROGRESS"
	EnvAborted    = "ABORTED"
	EnvNotReached = "NOT_REACHED"
)

// EnvironmentResult is what a run did to one environment of its plan.
type EnvironmentResult struct {
	Name  string `json:"name"`
	Stack string `json:"stack"`
	// Status is DELIVERED, FAILED, IN_PROGRESS, ABORTED or NOT_REACHED.
	Status string `json:"status"`
	// StackStatus is the stack's last status the run saw.
	StackStatus string `json:"stackStatus,omitempty"`
	// Outputs are the stack's outputs once deployed; URL is the first of
	// them that is an http(s) URL, by output name.
	Outputs map[string]string `json:"outputs,omitempty"`
	URL     string            `json:"url,omitempty"`
	// ChangeSet summarises the change set ("hello-staging: 3 to add");
	// Changes lists it, one line per resource. NoChanges is true when the
	// change set was empty.
	ChangeSet string   `json:"changeSet,omitempty"`
	Changes   []string `json:"changes,omitempty"`
	NoChanges bool     `json:"noChanges,omitempty"`
	// Approval says whether the deploy waits for approval, and how to
	// give it, or who approved it.
	Approval string `json:"approval,omitempty"`
	// Deploy and Smoke are the deploy's and the smoke test's summaries.
	Deploy string `json:"deploy,omitempty"`
	Smoke  string `json:"smoke,omitempty"`
	// SmokeChecks are the smoke checks' outcomes.
	SmokeChecks []pipeline.SmokeOutcome `json:"smokeChecks,omitempty"`
	// Failure is where the environment's promotion stopped.
	Failure *Failure `json:"failure,omitempty"`
}

// Links point at more about a run.
type Links struct {
	// Console is the execution's page in the Step Functions console.
	Console string `json:"console"`
	// Logs are the s3:// URLs of the stored output of the checks and the
	// package steps that ran, by phase.
	Logs map[Phase]string `json:"logs,omitempty"`
}

// Timeline is one run read from its execution history.
type Timeline struct {
	Run
	// Steps are the states in the order they were entered.
	Steps []Step `json:"steps"`
	// Checks are the checks that ran and how each ended, when they all
	// passed (a failed check is the failure's Cause).
	Checks []pipeline.CheckResult `json:"checks,omitempty"`
	// Package is the package step's summary.
	Package string `json:"package,omitempty"`
	// Environments are the environments of the run's plan, in order.
	Environments []EnvironmentResult `json:"environments"`
	Links        Links               `json:"links"`
	// DefaultBranch is the branch whose stackflow.yml decided where the
	// run's commit deploys, and the commit of it that was read; nil for a
	// run planned before the default branch decided, or not yet planned.
	DefaultBranch *pipeline.DefaultBranch `json:"defaultBranch,omitempty"`
	// Ignored are the deploy settings of the commit's own stackflow.yml
	// and samconfig.toml that the run did not use, since they differ from
	// the default branch's.
	Ignored []pipeline.IgnoredSetting `json:"ignored,omitempty"`
	// Note says how the run was chosen when that was not plain, such as
	// the newest of several runs of one commit.
	Note string `json:"note,omitempty"`
	// Ready is the environment the run stopped before because it takes
	// promotions only (promotion: manual), with the command that
	// promotes the commit there.
	Ready *pipeline.ReadyToPromote `json:"ready,omitempty"`

	logKeys map[Phase]string // log keys the step outputs name
	plan    *pipeline.Plan
}

// ConsoleURL is the page of the execution arn in the Step Functions
// console of its region.
func ConsoleURL(arn string) string {
	region := LocalRegion
	if parts := strings.Split(arn, ":"); len(parts) > 3 && parts[3] != "" {
		region = parts[3]
	}
	return fmt.Sprintf("https://%s.console.aws.amazon.com/states/home?region=%s#/v2/executions/details/%s", region, region, arn)
}

// runOf is the summary of the execution desc.
func runOf(desc *sfn.DescribeExecutionOutput, now time.Time) Run {
	r := Run{
		Execution: aws.ToString(desc.Name),
		ARN:       aws.ToString(desc.ExecutionArn),
		Status:    string(desc.Status),
		Started:   aws.ToTime(desc.StartDate),
	}
	var in pipeline.ExecutionInput
	if json.Unmarshal([]byte(aws.ToString(desc.Input)), &in) == nil && in.Run.Repository.Slug != "" {
		r.Repository, r.Branch, r.Commit = in.Run.Repository.FullName(), in.Run.Branch, in.Run.Commit
		if in.Run.Tag != "" {
			r.Branch = in.Run.Ref() // "tag v1.2.0": a tag's run has no branch
		}
		if a := in.Run.AppName(); a != "" {
			r.Repository += " (" + a + ")"
		}
		if p := in.Run.Push; p != nil {
			r.Message = p.Message
		}
		if rt := in.Run.Retry; rt != nil {
			r.RetryOf = pipeline.ExecutionNameOf(rt.Of)
		}
		if p := in.Run.Promote; p != nil {
			r.PromotedFrom, r.PromotedTo = p.From, p.Environment
		}
	}
	end := now
	if desc.StopDate != nil {
		stopped := aws.ToTime(desc.StopDate)
		r.Stopped, end = &stopped, stopped
	}
	r.Seconds = end.Sub(r.Started).Seconds()
	return r
}

// envState is what the history tells of one environment's promotion.
type envState struct {
	name       string
	status     string
	deployment *pipeline.Deployment
	changes    []string
	noChanges  bool
	changeSet  string
	smoke      *pipeline.SmokeResult
	approval   *pipeline.Approval
	delivered  *delivered
	failed     *Step
}

// delivered is the output of "Environment delivered", one item of
// $.environments.
type delivered struct {
	Name    string            `json:"name"`
	Stack   string            `json:"stack"`
	Outputs map[string]string `json:"outputs"`
	Deploy  string            `json:"deploy"`
	Smoke   string            `json:"smoke"`
}

// builder reads an execution's history into a Timeline.
type builder struct {
	t       *Timeline
	start   time.Time
	open    map[string]int // iteration/state name -> index in t.Steps
	task    int            // the Task step whose task events come now
	mapStep int            // the Map step being run
	iter    int            // the promotion iteration, -1 outside one
	env     string
	envs    map[int]*envState
}

// buildTimeline reads the history events of the execution desc, in order.
func buildTimeline(desc *sfn.DescribeExecutionOutput, events []types.HistoryEvent, now time.Time) *Timeline {
	t := &Timeline{Run: runOf(desc, now), Steps: []Step{}, Environments: []EnvironmentResult{}, logKeys: map[Phase]string{}}
	b := &builder{t: t, start: t.Started, open: map[string]int{}, task: -1, mapStep: -1, iter: -1, envs: map[int]*envState{}}
	for _, e := range events {
		b.see(e)
	}
	end := now
	if t.Stopped != nil {
		end = *t.Stopped
	}
	for _, i := range b.open {
		s := &t.Steps[i]
		s.Seconds = end.Sub(s.start).Seconds()
		if t.Stopped != nil && s.Status == StepRunning {
			s.Status = StepFailed
		}
	}
	if desc.Status != types.ExecutionStatusSucceeded && desc.Status != types.ExecutionStatusRunning {
		t.Failure = b.failure(aws.ToString(desc.Error), causeMessage(aws.ToString(desc.Cause)))
	}
	b.environments(aws.ToString(desc.Output))
	t.Links.Console = ConsoleURL(t.ARN)
	return t
}

func (b *builder) key(name string) string { return fmt.Sprintf("%d/%s", b.iter, name) }

func (b *builder) see(e types.HistoryEvent) {
	at := aws.ToTime(e.Timestamp)
	typ := string(e.Type)
	switch {
	case e.StateEnteredEventDetails != nil:
		b.entered(strings.TrimSuffix(typ, "StateEntered"), e.StateEnteredEventDetails, at)
	case e.StateExitedEventDetails != nil:
		b.exited(e.StateExitedEventDetails, at)
	case e.Type == types.HistoryEventTypeLambdaFunctionScheduled || e.Type == types.HistoryEventTypeTaskScheduled ||
		e.Type == types.HistoryEventTypeActivityScheduled:
		if s := b.current(); s != nil {
			s.attempts++
			s.Retries = max(s.attempts-1, 0)
			s.Status, s.Error, s.Cause = StepRunning, "", ""
		}
	case e.LambdaFunctionSucceededEventDetails != nil:
		b.succeeded(aws.ToString(e.LambdaFunctionSucceededEventDetails.Output))
	case e.TaskSucceededEventDetails != nil:
		b.succeeded(aws.ToString(e.TaskSucceededEventDetails.Output))
	case e.MapIterationStartedEventDetails != nil:
		b.iter = int(e.MapIterationStartedEventDetails.Index)
		st := b.envState(b.iter)
		st.status = EnvInProgress
		b.env = st.name
	case e.MapIterationSucceededEventDetails != nil:
		b.iterationEnded(EnvDelivered, StepSucceeded, at)
	case e.MapIterationFailedEventDetails != nil:
		b.iterationEnded(EnvFailed, StepFailed, at)
	case e.MapIterationAbortedEventDetails != nil:
		b.iterationEnded(EnvAborted, StepAborted, at)
	case e.Type == types.HistoryEventTypeMapStateFailed:
		if b.mapStep >= 0 {
			m := &b.t.Steps[b.mapStep]
			m.Status = StepFailed
			if f := b.lastFailedIn(true); f != nil {
				m.Error, m.Cause = f.Error, f.Cause
			}
		}
	case e.ExecutionFailedEventDetails != nil:
		d := e.ExecutionFailedEventDetails
		b.ended(StepFailed, aws.ToString(d.Error), aws.ToString(d.Cause), at)
	case e.ExecutionTimedOutEventDetails != nil:
		d := e.ExecutionTimedOutEventDetails
		b.ended(StepTimedOut, aws.ToString(d.Error), aws.ToString(d.Cause), at)
	case e.ExecutionAbortedEventDetails != nil:
		d := e.ExecutionAbortedEventDetails
		b.ended(StepAborted, aws.ToString(d.Error), aws.ToString(d.Cause), at)
	case e.Type == types.HistoryEventTypeExecutionSucceeded:
		b.ended(StepSucceeded, "", "", at)
	default:
		if name, cause, ok := taskFailure(e); ok {
			if s := b.current(); s != nil {
				s.Status, s.Error, s.Cause = StepFailed, name, causeMessage(cause)
			}
		}
	}
}

// current is the Task step whose task events come now.
func (b *builder) current() *Step {
	if b.task < 0 {
		return nil
	}
	return &b.t.Steps[b.task]
}

func (b *builder) entered(typ string, d *types.StateEnteredEventDetails, at time.Time) {
	name := aws.ToString(d.Name)
	if b.iter >= 0 && b.env == "" {
		var in struct {
			Environment struct {
				Name string `json:"name"`
			} `json:"environment"`
		}
		if json.Unmarshal([]byte(aws.ToString(d.Input)), &in) == nil && in.Environment.Name != "" {
			b.env = in.Environment.Name
			b.envState(b.iter).name = b.env
		}
	}
	s := Step{
		Name: name, Type: typ, Environment: b.env, Status: StepRunning,
		StartSeconds: at.Sub(b.start).Seconds(), start: at, iteration: b.iter,
	}
	if typ == "Task" {
		s.Phase = phaseOf[name]
	}
	b.t.Steps = append(b.t.Steps, s)
	i := len(b.t.Steps) - 1
	b.open[b.key(name)] = i
	switch typ {
	case "Task":
		b.task = i
	case "Map":
		b.mapStep = i
	}
}

func (b *builder) exited(d *types.StateExitedEventDetails, at time.Time) {
	name := aws.ToString(d.Name)
	i, ok := b.open[b.key(name)]
	if !ok {
		return
	}
	delete(b.open, b.key(name))
	s := &b.t.Steps[i]
	s.Seconds = at.Sub(s.start).Seconds()
	s.output = aws.ToString(d.Output)
	if s.Status == StepRunning {
		s.Status = StepSucceeded
	}
	if b.task == i {
		b.task = -1
	}
	if b.mapStep == i {
		b.mapStep = -1
	}
	b.read(s)
}

// succeeded records a task's result and its summary.
func (b *builder) succeeded(output string) {
	s := b.current()
	if s == nil {
		return
	}
	s.result = output
	// A step's summary, a commit status's description, or the plan's.
	var r struct {
		Summary     string `json:"summary"`
		Description string `json:"description"`
		Plan        struct {
			Summary string `json:"summary"`
		} `json:"plan"`
	}
	if json.Unmarshal([]byte(output), &r) == nil {
		s.Summary = cmp.Or(r.Summary, r.Description, r.Plan.Summary)
	}
}

// read learns what a state's output tells of the run: the plan, the
// checks, the package, and each environment's deployment and smoke test.
func (b *builder) read(s *Step) {
	if s.output == "" || s.Status != StepSucceeded {
		return
	}
	var state struct {
		Source     *pipeline.Source       `json:"source"`
		Checks     *pipeline.ChecksResult `json:"checks"`
		Package    *pipeline.Package      `json:"package"`
		Deployment *pipeline.Deployment   `json:"deployment"`
		// smoke is a SmokeResult in an iteration's state and a summary
		// in the output of "Environment delivered".
		Smoke    json.RawMessage    `json:"smoke"`
		Stack    string             `json:"stack"`
		Deploy   *string            `json:"deploy"`
		Approval *pipeline.Approval `json:"approval"`
	}
	if json.Unmarshal([]byte(s.output), &state) != nil {
		return
	}
	t := b.t
	if s.iteration < 0 {
		if state.Source != nil && t.plan == nil {
			plan := state.Source.Plan
			t.plan = &plan
			t.DefaultBranch, t.Ignored, t.Ready = plan.DefaultBranch, plan.Ignored, plan.Ready
			for i, e := range plan.Environments {
				if st, ok := b.envs[i]; ok && st.name == "" {
					st.name = e.Name
				}
			}
		}
		if state.Checks != nil {
			t.Checks = state.Checks.Checks
			if state.Checks.LogKey != "" {
				t.logKeys[PhaseChecks] = state.Checks.LogKey
			}
		}
		if state.Package != nil {
			t.Package = state.Package.Summary
			if state.Package.LogKey != "" {
				t.logKeys[PhasePackage] = state.Package.LogKey
			}
		}
		return
	}
	st := b.envState(s.iteration)
	if d := state.Deployment; d != nil {
		st.deployment = d
		if len(d.Changes) > 0 || d.NoChanges {
			st.changes, st.noChanges = d.Changes, d.NoChanges
		}
		if s.Name == "Check the change set" && d.Done {
			st.changeSet = d.Summary
		}
	}
	if a := state.Approval; a != nil && a.By != "" {
		st.approval = a
	}
	if len(state.Smoke) > 0 && state.Smoke[0] == '{' {
		var smoke pipeline.SmokeResult
		if json.Unmarshal(state.Smoke, &smoke) == nil {
			st.smoke = &smoke
		}
	}
	if state.Deploy != nil && state.Stack != "" {
		var d delivered
		if json.Unmarshal([]byte(s.output), &d) == nil {
			st.delivered = &d
		}
	}
}

// envState is the state of the promotion's iteration i.
func (b *builder) envState(i int) *envState {
	st, ok := b.envs[i]
	if !ok {
		st = &envState{status: EnvNotReached}
		if b.t.plan != nil && i < len(b.t.plan.Environments) {
			st.name = b.t.plan.Environments[i].Name
		}
		b.envs[i] = st
	}
	return st
}

// iterationEnded closes the current iteration: its states still open end
// with status (an uncaught failure leaves the failed state open).
func (b *builder) iterationEnded(env, status string, at time.Time) {
	st := b.envState(b.iter)
	st.status = env
	for k, i := range b.open {
		s := &b.t.Steps[i]
		if s.iteration != b.iter {
			continue
		}
		s.Seconds = at.Sub(s.start).Seconds()
		if s.Status == StepRunning {
			s.Status = status
		}
		delete(b.open, k)
		if b.task == i {
			b.task = -1
		}
	}
	if env == EnvFailed {
		st.failed = b.lastFailedIn(true)
	}
	b.iter, b.env = -1, ""
}

// lastFailedIn is the last failed state, inside the promotion's
// iterations when inMap, or nil.
func (b *builder) lastFailedIn(inMap bool) *Step {
	for i := len(b.t.Steps) - 1; i >= 0; i-- {
		s := &b.t.Steps[i]
		if s.Status == StepFailed && s.Error != "" && (s.iteration >= 0) == inMap {
			return s
		}
	}
	return nil
}

// ended closes every state still open when the execution ended.
func (b *builder) ended(status, name, cause string, at time.Time) {
	for k, i := range b.open {
		s := &b.t.Steps[i]
		s.Seconds = at.Sub(s.start).Seconds()
		if s.Type == "Fail" {
			s.Status, s.Error, s.Cause = StepFailed, name, causeMessage(cause)
		} else if s.Status == StepRunning {
			s.Status = status
		}
		delete(b.open, k)
	}
	b.task, b.mapStep, b.iter = -1, -1, -1
}

// failure finds the state where the run stopped with the error name and
// message: the last failed Task with that very error, else the last failed
// state with that name, else the last failed state, else the last state
// entered.
func (b *builder) failure(name, cause string) *Failure {
	steps := b.t.Steps
	pick := func(match func(*Step) bool) *Step {
		for i := len(steps) - 1; i >= 0; i-- {
			s := &steps[i]
			if s.Status == StepFailed && s.Type != "Fail" && s.Type != "Map" && s.Type != "Parallel" && match(s) {
				return s
			}
		}
		return nil
	}
	s := pick(func(s *Step) bool { return s.Error == name && s.Cause == cause })
	if s == nil && name != "" {
		s = pick(func(s *Step) bool { return s.Error == name })
	}
	if s == nil {
		s = pick(func(s *Step) bool { return s.Error != "" })
	}
	if s == nil {
		for i := len(steps) - 1; i >= 0; i-- {
			if steps[i].Type != "Fail" {
				s = &steps[i]
				break
			}
		}
	}
	f := &Failure{Error: name, Cause: cause}
	if s != nil {
		f.State, f.Environment = s.Name, s.Environment
	}
	return f
}

// environments fills the timeline's environments from the plan and what
// each iteration did; output is the execution's output, whose
// $.environments a succeeded run has.
func (b *builder) environments(output string) {
	t := b.t
	var planned []pipeline.Environment
	if t.plan != nil {
		planned = t.plan.Environments
	}
	n := len(planned)
	for i := range b.envs {
		n = max(n, i+1)
	}
	var out struct {
		Environments []delivered `json:"environments"`
	}
	_ = json.Unmarshal([]byte(output), &out)
	for i := range n {
		r := EnvironmentResult{Status: EnvNotReached}
		if i < len(planned) {
			r.Name, r.Stack = planned[i].Name, planned[i].Stack
		}
		st := b.envs[i]
		if st == nil {
			st = &envState{status: EnvNotReached}
		}
		if st.name != "" {
			r.Name = st.name
		}
		if st.delivered == nil && i < len(out.Environments) {
			st.delivered = &out.Environments[i]
			st.status = EnvDelivered
		}
		r.Status = st.status
		if d := st.deployment; d != nil {
			r.Stack = d.Stack
			r.StackStatus = d.Status
			r.Outputs = d.Outputs
			r.Deploy = d.Summary
		}
		r.Changes, r.NoChanges, r.ChangeSet = st.changes, st.noChanges, st.changeSet
		if s := st.smoke; s != nil {
			r.Smoke, r.SmokeChecks = s.Summary, s.Checks
		}
		if d := st.delivered; d != nil {
			r.Name, r.Stack, r.Deploy, r.Smoke = d.Name, d.Stack, d.Deploy, d.Smoke
			if len(d.Outputs) > 0 {
				r.Outputs = d.Outputs
			}
		}
		r.URL = firstURL(r.Outputs)
		if a := st.approval; a != nil {
			r.Approval = "approved by " + a.By
		}
		for _, s := range t.Steps {
			if s.iteration == i && s.Name == "Wait for approval" && s.Status == StepRunning {
				r.Approval = fmt.Sprintf("waiting: stackflow approve %s --env %s, or stackflow reject %s --env %s --reason TEXT",
					t.Execution, r.Name, t.Execution, r.Name)
			}
		}
		if f := st.failed; f != nil {
			r.Failure = &Failure{State: f.Name, Environment: r.Name, Error: f.Error, Cause: f.Cause}
		}
		t.Environments = append(t.Environments, r)
	}
}

// firstURL is the first output, by name, whose value is an http(s) URL.
func firstURL(outputs map[string]string) string {
	keys := make([]string, 0, len(outputs))
	for k := range outputs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if v := outputs[k]; strings.HasPrefix(v, "https://") || strings.HasPrefix(v, "http://") {
			return v
		}
	}
	return ""
}

// taskFailure is the error name and cause of an event that failed a task.
func taskFailure(e types.HistoryEvent) (name, cause string, ok bool) {
	switch {
	case e.LambdaFunctionFailedEventDetails != nil:
		d := e.LambdaFunctionFailedEventDetails
		return aws.ToString(d.Error), aws.ToString(d.Cause), true
	case e.LambdaFunctionTimedOutEventDetails != nil:
		d := e.LambdaFunctionTimedOutEventDetails
		return aws.ToString(d.Error), aws.ToString(d.Cause), true
	case e.LambdaFunctionScheduleFailedEventDetails != nil:
		d := e.LambdaFunctionScheduleFailedEventDetails
		return aws.ToString(d.Error), aws.ToString(d.Cause), true
	case e.LambdaFunctionStartFailedEventDetails != nil:
		d := e.LambdaFunctionStartFailedEventDetails
		return aws.ToString(d.Error), aws.ToString(d.Cause), true
	case e.TaskFailedEventDetails != nil:
		d := e.TaskFailedEventDetails
		return aws.ToString(d.Error), aws.ToString(d.Cause), true
	case e.TaskTimedOutEventDetails != nil:
		d := e.TaskTimedOutEventDetails
		return aws.ToString(d.Error), aws.ToString(d.Cause), true
	case e.TaskStartFailedEventDetails != nil:
		d := e.TaskStartFailedEventDetails
		return aws.ToString(d.Error), aws.ToString(d.Cause), true
	case e.TaskSubmitFailedEventDetails != nil:
		d := e.TaskSubmitFailedEventDetails
		return aws.ToString(d.Error), aws.ToString(d.Cause), true
	case e.ActivityFailedEventDetails != nil:
		d := e.ActivityFailedEventDetails
		return aws.ToString(d.Error), aws.ToString(d.Cause), true
	case e.ActivityTimedOutEventDetails != nil:
		d := e.ActivityTimedOutEventDetails
		return aws.ToString(d.Error), aws.ToString(d.Cause), true
	}
	return "", "", false
}

// causeMessage is the errorMessage of a Lambda error payload, which is how
// Step Functions gives a function error's Cause, or the cause itself.
func causeMessage(cause string) string {
	var payload struct {
		ErrorMessage string `json:"errorMessage"`
	}
	if strings.HasPrefix(cause, "{") && json.Unmarshal([]byte(cause), &payload) == nil && payload.ErrorMessage != "" {
		return payload.ErrorMessage
	}
	return cause
}
