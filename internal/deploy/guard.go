package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/stackflow/stackflow/internal/approvals"
	"github.com/stackflow/stackflow/internal/locks"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/releases"
	"github.com/stackflow/stackflow/internal/runlog"
)

// TaskSender fails another run's approval wait: when a newer commit of its
// branch takes over the environment, the older run's approval is void.
// *sfn.Client is one.
type TaskSender interface {
	SendTaskFailure(ctx context.Context, in *sfn.SendTaskFailureInput, optFns ...func(*sfn.Options)) (*sfn.SendTaskFailureOutput, error)
}

var _ TaskSender = (*sfn.Client)(nil)

// Invoke is the deploy handler: it does every action of pipeline.DeployInput,
// those that guard an environment (its lock, approvals, rollbacks) and
// those that deploy its stack (see Handle), and returns the action's
// output: a pipeline.Lock, a pipeline.Rollback, a pipeline.RollbackPlan, a
// pipeline.StateError or a pipeline.Deployment. Its errors are in the form
// the state machine matches.
func (s *Service) Invoke(ctx context.Context, in pipeline.DeployInput) (any, error) {
	ctx = runlog.WithRun(ctx, in.Run, in.Execution)
	out, err := s.guard(ctx, in)
	if err != nil {
		s.logger().ErrorContext(ctx, "deploy step failed", "action", string(in.Action),
			"stack", in.Environment.Stack, "error", err.Error())
		return nil, pipeline.ForStateMachine(err)
	}
	return out, nil
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func (s *Service) guard(ctx context.Context, in pipeline.DeployInput) (any, error) {
	switch in.Action {
	case pipeline.ActionLock:
		return s.lock(ctx, in)
	case pipeline.ActionRequestApproval:
		return struct{}{}, s.requestApproval(ctx, in)
	case pipeline.ActionPrepareRollback:
		return s.prepareRollback(ctx, in)
	case pipeline.ActionPlanRollback:
		return s.planRollback(ctx, in)
	case pipeline.ActionFindPackage:
		return s.findPackage(ctx, in)
	case pipeline.ActionGiveUp:
		return s.giveUp(ctx, in)
	case pipeline.ActionCreateChangeSet, pipeline.ActionDescribeChangeSet, pipeline.ActionDescribeStack,
		pipeline.ActionRecordRelease, pipeline.ActionDeleteStack, pipeline.ActionDescribeDeletion:
		if err := s.renew(ctx, in, false); err != nil {
			return nil, err
		}
	case pipeline.ActionExecuteChangeSet:
		if err := s.renew(ctx, in, false); err != nil {
			return nil, err
		}
		// The last chance to stop before the stack changes: a newer commit
		// of the branch that waits for this environment goes instead. A
		// rollback goes on: it puts back a release that serves.
		if !in.Rollback.Active() {
			if err := s.stillNewest(ctx, in); err != nil {
				return nil, err
			}
		}
	}
	if in.Rollback.Active() {
		// Putting the last good release back is deploying that release:
		// its commit, its environment, its package.
		in.Run.Commit, in.Run.Branch = in.Rollback.Commit, in.Rollback.Branch
	}
	d, err := s.Handle(ctx, in)
	if err != nil {
		return nil, err
	}
	if in.Action == pipeline.ActionDescribeDeletion && d.Done {
		// The preview is gone: nothing more to guard.
		if err := s.unlock(ctx, in); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// stillNewest fails with Superseded when a newer run of in's branch has
// reached its environment since in's run took the lock.
func (s *Service) stillNewest(ctx context.Context, in pipeline.DeployInput) error {
	if s.Locks == nil || !in.Lock.Held {
		return nil
	}
	c, err := s.claim(in)
	if err != nil {
		return err
	}
	err = s.Locks.Register(ctx, c)
	var sup *locks.SupersededError
	if errors.As(err, &sup) {
		return superseded(in, sup.Newer)
	}
	return err
}

// superseded is the error of in's run, which newer superseded.
func superseded(in pipeline.DeployInput, newer locks.Holder) *pipeline.Superseded {
	return &pipeline.Superseded{Environment: in.Environment.Name, Branch: in.Run.Lane(), By: newer.Commit, Rollback: newer.Rollback}
}

// claim is in's run asking for its environment's stack.
func (s *Service) claim(in pipeline.DeployInput) (locks.Claim, error) {
	at := in.StartedAt
	if r := in.Run.Retry; r != nil && r.StartedAt != "" {
		// A retry stands where the run it resumes stood among its
		// branch's runs: a newer commit that got further supersedes it.
		at = r.StartedAt
	}
	started, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return locks.Claim{}, fmt.Errorf("lock %s: the execution's start time %q is not RFC 3339 ($$.Execution.StartTime)", in.Environment.Name, at)
	}
	region := in.Environment.Region
	if region == "" {
		region = s.region
	}
	return locks.Claim{
		Account:  locks.AccountOf(in.Environment.RoleARN),
		Rollback: in.Run.Rollback != nil,
		Stack:    in.Environment.Stack, Region: region, Repository: in.Run.Repository.FullName(),
		Branch: in.Run.Lane(), Environment: in.Environment.Name,
		Execution: in.Execution, Commit: in.Run.Commit, StartedAt: started,
	}, nil
}

// lease is how long the lock of in's environment is taken for from now:
// the pipeline's lease, plus the smoke test's budget, since the smoke test
// runs between two renewals.
func lease(in pipeline.DeployInput) time.Duration {
	set := in.Run.Settings.WithDefaults()
	return time.Duration(set.LockLeaseSeconds+in.Environment.SmokeTimeoutSeconds) * time.Second
}

// lock registers the run as the newest of its branch at the environment,
// and takes the environment's lock or says who holds it.
func (s *Service) lock(ctx context.Context, in pipeline.DeployInput) (pipeline.Lock, error) {
	if s.Locks == nil {
		return pipeline.Lock{}, errors.New("lock: no table for locks (RELEASES_TABLE)")
	}
	frozen, during, err := s.checkFreeze(in)
	if err != nil || frozen != nil {
		return deref(frozen), err
	}
	c, err := s.claim(in)
	if err != nil {
		return pipeline.Lock{}, err
	}
	if err := s.Locks.Register(ctx, c); err != nil {
		var sup *locks.SupersededError
		if errors.As(err, &sup) {
			return pipeline.Lock{}, superseded(in, sup.Newer)
		}
		return pipeline.Lock{}, err
	}
	if s.Releases != nil {
		// What stackflow retry resumes the run with.
		if err := s.Releases.RecordRun(ctx, releases.RunRecord{
			Execution: in.Execution, Repository: in.Run.Repository.FullName(), Branch: in.Run.Branch,
			Commit: in.Run.Commit, StartedAt: c.StartedAt, Package: in.Package,
		}); err != nil {
			return pipeline.Lock{}, err
		}
	}
	l := lease(in)
	held, holder, err := s.Locks.Acquire(ctx, c, l)
	if err != nil {
		return pipeline.Lock{}, err
	}
	if !held && holder.Awaiting && holder.Repository == c.Repository && holder.Branch == c.Branch && holder.StartedAt.Before(c.StartedAt) {
		// An older commit of this branch waits for its approval here: this
		// newer one takes its place, and the older run stops.
		if held, err = s.Locks.TakeOver(ctx, c, holder, l); err != nil {
			return pipeline.Lock{}, err
		}
		if held {
			s.voidApproval(ctx, holder, in)
		}
	}
	if held {
		summary := fmt.Sprintf("%s: deploying %s", in.Environment.Name, in.Run.Short())
		if during != "" {
			summary += "; " + during
		}
		return pipeline.Lock{
			Held:         true,
			ExpiresAt:    s.now().Add(l).UTC().Format(time.RFC3339),
			Summary:      summary,
			DuringFreeze: during,
		}, nil
	}
	now := s.now().UTC()
	since, err := time.Parse(time.RFC3339, in.Lock.WaitingSince)
	if err != nil {
		since = now
	}
	if waited := now.Sub(since); waited > pipeline.MaxLockWaitSeconds*time.Second {
		return pipeline.Lock{}, fmt.Errorf("gave up waiting for %s after %s: %s holds it (a run waiting for approval holds its environment until it is answered or times out; stackflow show %s)",
			in.Environment.Name, waited.Round(time.Minute), pipeline.ShortSHA(holder.Commit), pipeline.ExecutionNameOf(holder.Execution))
	}
	set := in.Run.Settings.WithDefaults()
	waited := in.Lock.WaitSeconds
	if in.Lock.FrozenUntil != "" {
		waited = 0 // a freeze's wait, not the lock's
	}
	wait := min(max(waited*2, set.LockPollSeconds), max(set.LockPollSeconds, pipeline.MaxLockPollSeconds))
	// A holder that stops renewing frees the environment when its lease
	// lapses: look again just after that rather than a doubled wait later.
	// A live holder renews in time, and the doubling goes on.
	if lapse := int(math.Ceil(holder.ExpiresAt.Sub(now).Seconds())) + 1; lapse < wait {
		wait = max(lapse, set.LockPollSeconds)
	}
	return pipeline.Lock{
		HolderCommit:    holder.Commit,
		HolderExecution: holder.Execution,
		Announce:        holder.Execution != in.Lock.HolderExecution,
		ExpiresAt:       holder.ExpiresAt.Format(time.RFC3339),
		WaitingSince:    since.Format(time.RFC3339),
		WaitSeconds:     wait,
		Summary:         fmt.Sprintf("waiting for %s (held by %s)", in.Environment.Name, pipeline.ShortSHA(holder.Commit)),
	}, nil
}

// voidApproval fails the approval wait of holder, a run that in's run took
// the environment from, so that it ends superseded.
func (s *Service) voidApproval(ctx context.Context, holder locks.Holder, in pipeline.DeployInput) {
	log := s.logger()
	if s.Approvals == nil || s.Tasks == nil {
		return
	}
	pending, err := s.Approvals.Pending(ctx, holder.Execution)
	if err != nil {
		log.ErrorContext(ctx, "read the superseded run's approval", "error", err.Error())
		return
	}
	for _, r := range pending {
		if r.Environment != in.Environment.Name {
			continue
		}
		sup := &pipeline.Superseded{Environment: in.Environment.Name, Branch: in.Run.Lane(), By: in.Run.Commit, Rollback: in.Run.Rollback != nil}
		if _, err := s.Tasks.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{
			TaskToken: aws.String(r.Token),
			Error:     aws.String("Superseded"),
			Cause:     aws.String(sup.Error()),
		}); err != nil && !taskGone(err) {
			// Keep the request: the older run still waits, and stackflow
			// approve or reject can still answer it; whatever answers,
			// it finds its lock taken at its next step and stops.
			log.ErrorContext(ctx, "stop the superseded run's approval wait", "execution", holder.Execution, "error", err.Error())
			continue
		}
		if err := s.Approvals.Delete(ctx, holder.Execution, r.Environment); err != nil {
			log.ErrorContext(ctx, "forget the superseded run's approval", "error", err.Error())
		}
		log.InfoContext(ctx, "took the environment from a run waiting for approval",
			"environment", in.Environment.Name, "superseded", holder.Execution)
	}
}

// taskGone reports whether err says the task token no longer waits: the
// run timed out or ended.
func taskGone(err error) bool {
	code, _ := apiError(err)
	return code == "TaskTimedOut" || code == "TaskDoesNotExist"
}

// renew extends the lock that in's run holds, marking whether it waits for
// an approval. A run that lost its lock must not touch the stack.
func (s *Service) renew(ctx context.Context, in pipeline.DeployInput, awaiting bool) error {
	if s.Locks == nil || !in.Lock.Held {
		return nil
	}
	c, err := s.claim(in)
	if err != nil {
		return err
	}
	l := lease(in)
	if awaiting {
		l += time.Duration(in.Environment.ApprovalTimeoutSeconds) * time.Second
	}
	err = s.Locks.Renew(ctx, c, l, awaiting)
	if !errors.Is(err, locks.ErrNotHeld) {
		return err
	}
	holder, herr := s.Locks.Holder(ctx, c)
	if herr != nil {
		return herr
	}
	if holder.Branch == c.Branch && holder.Repository == c.Repository && holder.StartedAt.After(c.StartedAt) {
		return superseded(in, holder)
	}
	by := "nobody holds it now"
	if holder.Execution != "" {
		by = pipeline.ShortSHA(holder.Commit) + " holds it now"
	}
	return fmt.Errorf("lost the lock of %s: its lease lapsed before the run renewed it and %s; the deploy stops so that two never touch the stack at once (raise LockLeaseSeconds if steps take longer)",
		in.Environment.Name, by)
}

// requestApproval keeps the approval's task token for stackflow approve and
// holds the lock for as long as the approval may take.
func (s *Service) requestApproval(ctx context.Context, in pipeline.DeployInput) error {
	if s.Approvals == nil {
		return errors.New("request approval: no table for approvals (RELEASES_TABLE)")
	}
	if in.TaskToken == "" {
		return errors.New("request approval: no task token in the input ($$.Task.Token)")
	}
	// Keep the request before marking the lock awaiting: a newer run that
	// takes the lock over from an awaiting run finds its request to void.
	now := s.now().UTC()
	err := s.Approvals.Put(ctx, approvals.Request{
		Execution: in.Execution, Repository: in.Run.Repository.FullName(), Environment: in.Environment.Name,
		Stack: in.Environment.Stack, Commit: in.Run.Commit, Branch: in.Run.Branch,
		Changes: in.Deployment.Changes, Summary: pipeline.ChangeSummary(in.Deployment.Changes),
		RequestedAt: now, ExpiresAt: now.Add(time.Duration(in.Environment.ApprovalTimeoutSeconds) * time.Second),
		Approvers: in.Environment.Approvers, Token: in.TaskToken,
	})
	if err != nil {
		return err
	}
	if err := s.renew(ctx, in, true); err != nil {
		_ = s.Approvals.Delete(ctx, in.Execution, in.Environment.Name)
		return err
	}
	s.logger().InfoContext(ctx, "waiting for approval", "environment", in.Environment.Name,
		"changes", pipeline.ChangeSummary(in.Deployment.Changes))
	return nil
}

// prepareRollback finds the release to put back after in's smoke test
// failed: the environment's newest release of another commit.
func (s *Service) prepareRollback(ctx context.Context, in pipeline.DeployInput) (pipeline.Rollback, error) {
	reason := failureMessage(in.Failure)
	env := in.Environment.Name
	if in.Rollback.Active() {
		return pipeline.Rollback{}, &pipeline.RollbackFailed{Environment: env, To: in.Rollback.Commit,
			Reason: "its smoke test failed too: " + reason}
	}
	if s.Releases == nil {
		return pipeline.Rollback{}, errors.New("prepare rollback: no releases table (RELEASES_TABLE)")
	}
	all, err := s.Releases.List(ctx, in.Run.Repository.FullName(), releases.EnvKey(in.Environment.App, env), 0)
	if err != nil {
		return pipeline.Rollback{}, err
	}
	for _, r := range all {
		if r.Commit == in.Run.Commit || r.Stack != in.Environment.Stack {
			continue
		}
		if r.Deployed == nil || r.Package == nil {
			break // recorded before releases kept what a redeploy needs
		}
		return pipeline.Rollback{
			Commit: r.Commit, Branch: r.Branch, Environment: r.Deployed, Package: r.Package,
			FailedCommit: in.Run.Commit, Reason: reason,
			Summary: fmt.Sprintf("%s: rolling back to %s", env, pipeline.ShortSHA(r.Commit)),
		}, nil
	}
	// Nothing to go back to: the environment fails with its smoke test.
	return pipeline.Rollback{
		FailedCommit: in.Run.Commit, Reason: reason,
		Summary: fmt.Sprintf("%s has no earlier release to roll back to", env),
	}, nil
}

// planRollback plans a run of stackflow rollback: the release of the run's
// commit, redeployed to its environment as it was.
func (s *Service) planRollback(ctx context.Context, in pipeline.DeployInput) (pipeline.RollbackPlan, error) {
	if in.Run.Rollback == nil || in.Run.Rollback.Environment == "" {
		return pipeline.RollbackPlan{}, errors.New("plan rollback: the run names no environment to roll back")
	}
	if s.Releases == nil {
		return pipeline.RollbackPlan{}, errors.New("plan rollback: no releases table (RELEASES_TABLE)")
	}
	env := in.Run.Rollback.Environment
	r, err := s.Releases.Find(ctx, in.Run.Repository.FullName(), env, in.Run.Commit)
	if err != nil {
		return pipeline.RollbackPlan{}, err
	}
	if r.Deployed == nil || r.Package == nil {
		return pipeline.RollbackPlan{}, fmt.Errorf("the release %s of %s was recorded before releases kept their environment and package: deploy that commit again instead",
			pipeline.ShortSHA(r.Commit), env)
	}
	summary := fmt.Sprintf("rolled back %s to %s", env, pipeline.ShortSHA(r.Commit))
	if by := in.Run.Rollback.By; by != "" {
		summary += " (asked by " + by + ")"
	}
	return pipeline.RollbackPlan{
		Run: in.Run,
		Source: pipeline.Source{Plan: pipeline.Plan{
			Environments: []pipeline.Environment{*r.Deployed},
			Deploy:       true,
			Summary:      summary,
		}},
		Package: *r.Package,
	}, nil
}

// findPackage finds the package that a run of stackflow promote or
// stackflow retry deploys, and returns the state the run goes on with:
// for a promotion, the package the source environment released at the
// run's commit, of the run's branch; for a retry, the package the retried
// run deployed, as the lock step recorded it, and that run's start, which
// the retry takes as its own among its branch's runs. Neither comes from
// the run's input: a promotion or a retry deploys only what the pipeline
// itself packaged and recorded.
func (s *Service) findPackage(ctx context.Context, in pipeline.DeployInput) (pipeline.RollbackPlan, error) {
	if s.Releases == nil {
		return pipeline.RollbackPlan{}, errors.New("find the package: no releases table (RELEASES_TABLE)")
	}
	if in.Source == nil {
		return pipeline.RollbackPlan{}, errors.New("find the package: no plan in the input ($.source)")
	}
	out := pipeline.RollbackPlan{Run: in.Run, Source: *in.Source}
	repo := in.Run.Repository.FullName()
	switch {
	case in.Run.Promote != nil:
		p := in.Run.Promote
		what := fmt.Sprintf("promote %s from %s to %s", in.Run.Short(), p.From, p.Environment)
		r, err := s.Releases.Find(ctx, repo, p.From, in.Run.Commit)
		if err != nil {
			return out, &pipeline.Refused{What: what, Reason: err.Error()}
		}
		if r.Commit != in.Run.Commit || r.Branch != in.Run.Branch {
			return out, &pipeline.Refused{What: what,
				Reason: fmt.Sprintf("%s released %s of %s, not %s of %s", p.From, pipeline.ShortSHA(r.Commit), r.Branch, in.Run.Short(), in.Run.Branch)}
		}
		if r.Package == nil {
			return out, &pipeline.Refused{What: what,
				Reason: "the release was recorded before releases kept their package", Fix: "deploy the commit again with a push"}
		}
		out.Package = *r.Package
		if out.Run.Retry != nil {
			out.Run.Retry.StartedAt = "" // a promotion is new: it goes by its own start
		}
	case in.Run.Retry != nil:
		rt := in.Run.Retry
		what := "retry " + pipeline.ExecutionNameOf(rt.Of)
		rec, err := s.Releases.Run(ctx, rt.Of)
		if errors.Is(err, releases.ErrNoRunRecord) {
			return out, &pipeline.Refused{What: what, Reason: "it never reached an environment, so it left no package to deploy",
				Fix: "push the commit again (or push a fix)"}
		}
		if err != nil {
			return out, err
		}
		if rec.Repository != repo || rec.Commit != in.Run.Commit || rec.Branch != in.Run.Branch {
			return out, &pipeline.Refused{What: what,
				Reason: fmt.Sprintf("it delivered %s of %s in %s, not %s of %s in %s", pipeline.ShortSHA(rec.Commit), rec.Branch, rec.Repository, in.Run.Short(), in.Run.Branch, repo)}
		}
		out.Package = rec.Package
		started := *rt
		started.StartedAt = rec.StartedAt.UTC().Format(time.RFC3339Nano)
		out.Run.Retry = &started
	default:
		return out, errors.New("find the package: the run is neither a promotion nor a retry")
	}
	return out, nil
}

// giveUp releases the lock of an environment whose deploy failed or
// stopped, forgets its approval request, and returns the failure in the
// form the Fail state shows: its name and a plain message.
func (s *Service) giveUp(ctx context.Context, in pipeline.DeployInput) (pipeline.StateError, error) {
	out := pipeline.StateError{Error: "UnexpectedError", Cause: "the deploy stopped"}
	if in.Failure != nil {
		out = pipeline.StateError{Error: in.Failure.Error, Cause: failureMessage(in.Failure)}
	}
	switch {
	case out.Error == "RolledBack" || out.Error == "RollbackFailed":
		// They say what the rollback did.
	case in.Rollback.Active():
		out.Cause = fmt.Sprintf("%s (while rolling %s back to %s after %s)", out.Cause, in.Environment.Name,
			pipeline.ShortSHA(in.Rollback.Commit), in.Rollback.Reason)
	case in.Rollback.Summary != "":
		out.Cause += "; " + in.Rollback.Summary
	}
	if out.Error == pipeline.ErrApprovalTimedOut {
		out.Cause = fmt.Sprintf("nobody approved the deploy of %s to %s within %s", in.Run.Short(), in.Environment.Name,
			time.Duration(in.Environment.ApprovalTimeoutSeconds)*time.Second)
	}
	if s.Locks != nil && in.StartedAt != "" {
		c, err := s.claim(in)
		if err != nil {
			return pipeline.StateError{}, err
		}
		if err := s.Locks.Release(ctx, c); err != nil {
			return pipeline.StateError{}, err
		}
	}
	if s.Approvals != nil && in.Environment.ApprovalRequired {
		// An answer to a request left behind finds the run ended: harmless.
		if err := s.Approvals.Delete(ctx, in.Execution, in.Environment.Name); err != nil {
			s.logger().ErrorContext(ctx, "forget the approval request", "environment", in.Environment.Name, "error", err.Error())
		}
	}
	return out, nil
}

// failureMessage is the plain message of a caught error: Step Functions
// puts a Lambda function's error in Cause as JSON with errorMessage.
func failureMessage(e *pipeline.StateError) string {
	if e == nil {
		return ""
	}
	var lambdaErr struct {
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal([]byte(e.Cause), &lambdaErr) == nil && lambdaErr.ErrorMessage != "" {
		return lambdaErr.ErrorMessage
	}
	return e.Cause
}

// recordRollback records the release that an automatic rollback put back,
// releases the lock, and ends the environment with RolledBack.
func (s *Service) recordRollback(ctx context.Context, in pipeline.DeployInput) error {
	if err := s.Releases.Record(ctx, releases.Release{
		Repository: in.Run.Repository.FullName(), App: in.Environment.App, Environment: in.Environment.Name, Stack: in.Environment.Stack,
		Commit: in.Rollback.Commit, Branch: in.Rollback.Branch, Execution: in.Execution,
		TemplateURL: in.Package.TemplateURL, DeployedAt: s.now(), Outputs: in.Deployment.Outputs,
		Deployed: in.Rollback.Environment, Package: in.Rollback.Package, RollbackOf: in.Rollback.FailedCommit,
	}); err != nil {
		return err
	}
	if err := s.unlock(ctx, in); err != nil {
		return err
	}
	return &pipeline.RolledBack{Environment: in.Environment.Name, To: in.Rollback.Commit, Reason: in.Rollback.Reason}
}

// unlock releases the lock that in's run holds.
func (s *Service) unlock(ctx context.Context, in pipeline.DeployInput) error {
	if s.Locks == nil || !in.Lock.Held {
		return nil
	}
	c, err := s.claim(in)
	if err != nil {
		return err
	}
	return s.Locks.Release(ctx, c)
}
