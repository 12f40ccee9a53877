package deploy

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// A stack that CloudFormation cannot take a change set for is put right
// first, inside the same two actions the state machine already calls:
// createChangeSet starts putting it right and returns a Deployment that is
// not done, with Recovering saying how; each describeChangeSet looks at the
// stack, and once it is right, creates the change set, which the next
// describeChangeSet describes as usual.
//
//   - ROLLBACK_COMPLETE (a failed first create: the stack has no resources
//     left, only its failed history) is deleted, then created again.
//   - UPDATE_ROLLBACK_FAILED (an update whose rollback could not put a
//     resource back) gets ContinueUpdateRollback, then the update. If the
//     rollback fails again, a person must put the resource right: the
//     deploy fails and says which resource and how.
//   - An operation in progress that this run did not start (a person's
//     update, another tool's) is waited for, then looked at again.

// The values of pipeline.Deployment.Recovering.
const (
	recoverFailedCreate = "deleteFailedCreate"
	recoverRollback     = "continueRollback"
	recoverWait         = "waitForStack"
)

// findStack returns the stack nameOrID names, or nil when there is none. By
// ID, a deleted stack is found too (DELETE_COMPLETE).
func findStack(ctx context.Context, cfn cfnAPI, nameOrID, stack string) (*types.Stack, error) {
	out, err := cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(nameOrID)})
	if isStackMissing(err) || (err == nil && len(out.Stacks) == 0) {
		return nil, nil
	}
	if err != nil {
		return nil, awsError("describe stack "+stack, err)
	}
	return &out.Stacks[0], nil
}

// inProgress reports whether status is an operation under way that a
// change set must wait for. REVIEW_IN_PROGRESS is not: it is a stack that
// only has change sets, which a CREATE change set can take.
func inProgress(status types.StackStatus) bool {
	return strings.HasSuffix(string(status), "_IN_PROGRESS") && status != types.StackStatusReviewInProgress
}

// recoveryToken is the ClientRequestToken of the stack operation op
// ("delete", "continue") that the run's execution starts to put the stack
// right: its own, so that its events are told apart from the change set's.
func recoveryToken(in pipeline.DeployInput, op string) string {
	return changeSetName(in.Run, in.Execution) + "-" + op
}

// recover starts putting st right when CloudFormation cannot take a change
// set for it as it is, and reports whether it did.
func (s *Service) recover(ctx context.Context, cfn cfnAPI, in pipeline.DeployInput, st *types.Stack) (pipeline.Deployment, bool, error) {
	if st == nil {
		return pipeline.Deployment{}, false, nil
	}
	env := in.Environment
	d := pipeline.Deployment{Stack: env.Stack, StackID: aws.ToString(st.StackId), Status: string(st.StackStatus)}
	switch status := st.StackStatus; {
	case status == types.StackStatusRollbackComplete:
		if aws.ToBool(st.EnableTerminationProtection) {
			return d, false, &pipeline.StackDeployFailed{Stack: env.Stack, Status: string(status), Reason: fmt.Sprintf(
				"a failed first create left the stack in ROLLBACK_COMPLETE, and it must be deleted before it can be created again, "+
					"but it has termination protection: turn it off (aws cloudformation update-termination-protection "+
					"--no-enable-termination-protection --stack-name %s) and run again", env.Stack)}
		}
		d.StartedAt = s.now().UTC().Format(timeFormat)
		// Nothing is lost: a ROLLBACK_COMPLETE stack's resources were
		// deleted by its rollback (or are retained, which DeleteStack
		// keeps too).
		if _, err := cfn.DeleteStack(ctx, &cloudformation.DeleteStackInput{
			StackName:          st.StackId,
			RoleARN:            s.serviceRole(env),
			ClientRequestToken: aws.String(recoveryToken(in, "delete")),
		}); err != nil {
			return d, false, awsError("delete "+env.Stack+" left by a failed first create", err)
		}
		d.Recovering = recoverFailedCreate
		d.Status = string(types.StackStatusDeleteInProgress)
		d.Summary = fmt.Sprintf("deleting %s, left in ROLLBACK_COMPLETE by a failed first create, to create it again", env.Stack)
		return d, true, nil
	case status == types.StackStatusUpdateRollbackFailed:
		d.StartedAt = s.now().UTC().Format(timeFormat)
		if _, err := cfn.ContinueUpdateRollback(ctx, &cloudformation.ContinueUpdateRollbackInput{
			StackName:          st.StackId,
			RoleARN:            s.serviceRole(env),
			ClientRequestToken: aws.String(recoveryToken(in, "continue")),
		}); err != nil {
			return d, false, awsError("continue the update rollback of "+env.Stack, err)
		}
		d.Recovering = recoverRollback
		d.Status = string(types.StackStatusUpdateRollbackInProgress)
		d.Summary = fmt.Sprintf("continuing the rollback of %s, left in UPDATE_ROLLBACK_FAILED by an update whose rollback failed, to update it again", env.Stack)
		return d, true, nil
	case inProgress(status):
		d.Recovering = recoverWait
		d.Summary = fmt.Sprintf("waiting for %s to finish %s, an operation started outside this run", env.Stack, status)
		return d, true, nil
	}
	return pipeline.Deployment{}, false, nil
}

// describeRecovery looks at a stack being put right, and once it is,
// creates its change set.
func (s *Service) describeRecovery(ctx context.Context, cfn cfnAPI, in pipeline.DeployInput) (pipeline.Deployment, error) {
	d := in.Deployment
	d.Stack, d.Done = in.Environment.Stack, false
	id := d.StackID
	if id == "" {
		id = d.Stack
	}
	st, err := findStack(ctx, cfn, id, d.Stack)
	if err != nil {
		return pipeline.Deployment{}, err
	}
	var status types.StackStatus
	if st != nil {
		status = st.StackStatus
		d.Status = string(status)
	}
	// done says what was done, for this step's summary; recovered says it
	// for the deploy's last one.
	var done, recovered string
	switch d.Recovering {
	case recoverFailedCreate:
		switch {
		case st == nil || status == types.StackStatusDeleteComplete:
			done = fmt.Sprintf("deleted %s, left in ROLLBACK_COMPLETE by a failed first create", d.Stack)
			recovered = "deleted and created again: a failed first create had left it in ROLLBACK_COMPLETE"
		case status == types.StackStatusDeleteFailed:
			return pipeline.Deployment{}, s.recoveryFailure(ctx, cfn, in, st, "delete", func(string) string {
				return fmt.Sprintf("the stack that a failed first create left could not be deleted: delete it "+
					"(aws cloudformation delete-stack --stack-name %s, with --retain-resources for what cannot be deleted) and run again", d.Stack)
			})
		default:
			d.Summary = fmt.Sprintf("deleting %s (%s), left in ROLLBACK_COMPLETE by a failed first create, to create it again", d.Stack, status)
			return d, nil
		}
	case recoverRollback:
		switch {
		case status == types.StackStatusUpdateRollbackFailed:
			return pipeline.Deployment{}, s.recoveryFailure(ctx, cfn, in, st, "continue", func(resource string) string {
				if resource == "" {
					resource = "<LogicalResourceId>"
				}
				return fmt.Sprintf("the rollback of the stack's last update failed again: put the resource back as it was, "+
					"or skip it (aws cloudformation continue-update-rollback --stack-name %s --resources-to-skip %s), and run again", d.Stack, resource)
			})
		case st != nil && inProgress(status):
			d.Summary = fmt.Sprintf("continuing the rollback of %s (%s), left in UPDATE_ROLLBACK_FAILED by an update whose rollback failed, to update it again", d.Stack, status)
			return d, nil
		}
		done = fmt.Sprintf("continued the rollback of %s, left in UPDATE_ROLLBACK_FAILED, to %s", d.Stack, status)
		recovered = "the rollback of its last update, stopped in UPDATE_ROLLBACK_FAILED, was continued first"
	case recoverWait:
		if st != nil && inProgress(status) {
			d.Summary = fmt.Sprintf("waiting for %s to finish %s, an operation started outside this run", d.Stack, status)
			return d, nil
		}
		// The stack is looked at afresh: the operation may have left it
		// in a status that needs putting right too.
		done = fmt.Sprintf("%s is no longer busy with an operation started outside this run", d.Stack)
	default:
		return pipeline.Deployment{}, fmt.Errorf("describe change set of %s: unknown recovery %q in the deployment", d.Stack, d.Recovering)
	}
	next, err := s.createChangeSet(ctx, cfn, in)
	if err != nil {
		return pipeline.Deployment{}, err
	}
	next.Summary = done + "; " + next.Summary
	next.Recovered = d.Recovered
	if recovered != "" {
		next.Recovered = recovered
	}
	return next, nil
}

// recoveryFailure explains why putting stack st right (the stack operation
// op with its own token) failed, and what a person must do: fix, given the
// logical ID of the resource that failed ("" when none is known).
func (s *Service) recoveryFailure(ctx context.Context, cfn cfnAPI, in pipeline.DeployInput, st *types.Stack, op string, fix func(resource string) string) error {
	e := &pipeline.StackDeployFailed{Stack: in.Environment.Stack, Status: string(st.StackStatus)}
	reason := aws.ToString(st.StackStatusReason)
	since, _ := time.Parse(timeFormat, in.Deployment.StartedAt)
	ev, err := firstFailure(ctx, cfn, aws.ToString(st.StackId), since, recoveryToken(in, op))
	if err != nil {
		return err
	}
	logical := ""
	if ev != nil {
		logical = aws.ToString(ev.LogicalResourceId)
		e.Resource = logical
		if t := aws.ToString(ev.ResourceType); t != "" {
			e.Resource += " (" + t + ")"
		}
		reason = aws.ToString(ev.ResourceStatusReason)
	}
	e.Reason = truncate(joinReason(reason, fix(logical)), 1000)
	return e
}
