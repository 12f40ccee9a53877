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

// timeFormat is how Deployment.StartedAt is written.
const timeFormat = time.RFC3339

// Stack event reasons of resources that did not fail themselves but were
// stopped because another one failed.
var cancelledReasons = []string{"Resource creation cancelled", "Resource update cancelled"}

// outcome is what a stack status means for a deploy.
type outcome int

const (
	waiting outcome = iota
	succeeded
	failed
)

// stackOutcome classifies status. noChanges is true when nothing was
// executed and the stack is only being read for its outputs.
func stackOutcome(status types.StackStatus, noChanges bool) outcome {
	switch status {
	case types.StackStatusCreateComplete, types.StackStatusUpdateComplete,
		types.StackStatusUpdateCompleteCleanupInProgress:
		// The new release serves; the cleanup only removes old resources.
		return succeeded
	case types.StackStatusUpdateRollbackComplete, types.StackStatusImportComplete,
		types.StackStatusImportRollbackComplete:
		// Stable: with an empty change set, the stack already runs this
		// very template.
		if noChanges {
			return succeeded
		}
		return failed
	case types.StackStatusReviewInProgress:
		// Before ExecuteChangeSet has taken effect, or a stack that was
		// never created at all (an empty CREATE change set).
		if noChanges {
			return succeeded
		}
		return waiting
	}
	s := string(status)
	if strings.HasPrefix(s, "DELETE_") {
		return failed
	}
	if strings.HasSuffix(s, "_IN_PROGRESS") {
		// Including UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS: wait for
		// the rollback to settle before reporting it.
		return waiting
	}
	return failed
}

func (s *Service) describeStack(ctx context.Context, cfn cfnAPI, in pipeline.DeployInput) (pipeline.Deployment, error) {
	d := in.Deployment
	d.Stack, d.Done = in.Environment.Stack, false
	// By ID, a deleted stack is still found (DELETE_COMPLETE).
	id := d.StackID
	if id == "" {
		id = d.Stack
	}
	out, err := cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(id)})
	if isStackMissing(err) || (err == nil && len(out.Stacks) == 0) {
		return pipeline.Deployment{}, &pipeline.StackDeployFailed{Stack: d.Stack, Reason: "the stack does not exist: it was deleted"}
	}
	if err != nil {
		return pipeline.Deployment{}, awsError("describe stack "+d.Stack, err)
	}
	st := out.Stacks[0]
	d.Status = string(st.StackStatus)
	if st.StackId != nil {
		d.StackID = *st.StackId
	}

	switch stackOutcome(st.StackStatus, d.NoChanges) {
	case waiting:
		d.Summary = d.Stack + " " + d.Status
		return d, nil
	case succeeded:
		d.Done = true
		d.Outputs = outputs(st.Outputs)
		d.Summary = d.Stack + " " + d.Status
		if d.NoChanges {
			d.Summary = fmt.Sprintf("%s: no changes (%s)", d.Stack, d.Status)
		}
		if d.Recovered != "" {
			d.Summary += " (" + d.Recovered + ")"
		}
		on, err := s.protect(ctx, cfn, in.Environment, &st)
		if err != nil {
			return pipeline.Deployment{}, err
		}
		if on {
			d.Summary += "; termination protection turned on"
		}
		return d, nil
	}
	return pipeline.Deployment{}, s.failure(ctx, cfn, in, st)
}

// failure explains why stack st ended in a failed status: the first
// resource of this operation that failed, and what the status means for
// the release that serves.
func (s *Service) failure(ctx context.Context, cfn cfnAPI, in pipeline.DeployInput, st types.Stack) error {
	d := in.Deployment
	e := &pipeline.StackDeployFailed{Stack: d.Stack, Status: string(st.StackStatus)}
	reason := aws.ToString(st.StackStatusReason)
	if !d.NoChanges && st.StackId != nil {
		since, _ := time.Parse(timeFormat, d.StartedAt)
		ev, err := firstFailure(ctx, cfn, *st.StackId, since, changeSetName(in.Run, in.Execution))
		if err != nil {
			return err
		}
		if ev != nil {
			e.Resource = aws.ToString(ev.LogicalResourceId)
			if t := aws.ToString(ev.ResourceType); t != "" {
				e.Resource += " (" + t + ")"
			}
			reason = aws.ToString(ev.ResourceStatusReason)
		}
	}
	var note string
	switch st.StackStatus {
	case types.StackStatusUpdateRollbackComplete:
		note = "CloudFormation rolled the update back: the previous release is still serving"
	case types.StackStatusRollbackComplete:
		note = "the first create was rolled back: fix the cause and push again; " +
			"the next run deletes the stack and creates it again"
	case types.StackStatusRollbackFailed:
		note = fmt.Sprintf("the first create was rolled back, and the rollback failed: delete the stack "+
			"(aws cloudformation delete-stack --stack-name %s) before it can be created again", d.Stack)
	case types.StackStatusUpdateRollbackFailed:
		note = fmt.Sprintf("the rollback failed too: put the resource back as it was; the next run continues the rollback "+
			"(aws cloudformation continue-update-rollback --stack-name %s) before it deploys", d.Stack)
	case types.StackStatusDeleteComplete:
		note = "the stack was deleted"
	case types.StackStatusDeleteInProgress, types.StackStatusDeleteFailed:
		note = "the stack is being deleted"
	}
	e.Reason = truncate(joinReason(reason, note), 1000)
	return e
}

func joinReason(reason, note string) string {
	switch {
	case reason == "":
		return note
	case note == "":
		return reason
	}
	return reason + "; " + note
}

// firstFailure returns the earliest event of the stack operation started at
// since (and, where events carry one, with the client request token) whose
// resource failed for its own reason, or nil if there is none. Stack events
// come newest first, so it pages back until it reaches an older event.
func firstFailure(ctx context.Context, cfn cfnAPI, stackID string, since time.Time, token string) (*types.StackEvent, error) {
	var (
		first *types.StackEvent
		next  *string
	)
	for range maxPages {
		out, err := cfn.DescribeStackEvents(ctx, &cloudformation.DescribeStackEventsInput{
			StackName: aws.String(stackID),
			NextToken: next,
		})
		if err != nil {
			return nil, awsError("describe stack events", err)
		}
		for i := range out.StackEvents {
			ev := &out.StackEvents[i]
			if ev.Timestamp != nil && ev.Timestamp.Before(since) {
				return first, nil
			}
			if ofOperation(ev, since, token) && isOwnFailure(ev) {
				first = ev
			}
		}
		if out.NextToken == nil {
			break
		}
		next = out.NextToken
	}
	return first, nil
}

// ofOperation reports whether ev, which is not older than since, belongs to
// the operation with the client request token. Without a start time, only
// the token can tell.
func ofOperation(ev *types.StackEvent, since time.Time, token string) bool {
	if t := aws.ToString(ev.ClientRequestToken); t != "" {
		return t == token
	}
	return !since.IsZero()
}

// isOwnFailure reports whether ev is a resource that failed, not one that
// was cancelled because another failed.
func isOwnFailure(ev *types.StackEvent) bool {
	if !strings.HasSuffix(string(ev.ResourceStatus), "_FAILED") {
		return false
	}
	reason := aws.ToString(ev.ResourceStatusReason)
	for _, c := range cancelledReasons {
		if strings.Contains(reason, c) {
			return false
		}
	}
	return true
}

// outputs returns a stack's outputs by key.
func outputs(os []types.Output) map[string]string {
	if len(os) == 0 {
		return nil
	}
	m := make(map[string]string, len(os))
	for _, o := range os {
		m[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	return m
}

// protect turns on the termination protection of st, env's stack, when env
// is protected and st is not yet, and reports whether it did. A pull
// request's preview is never protected: the pipeline deletes it when the
// pull request closes. Protection is only ever turned on: turning it off
// is left to a person.
func (s *Service) protect(ctx context.Context, cfn cfnAPI, env pipeline.Environment, st *types.Stack) (bool, error) {
	if !env.Protected || env.PullRequest != 0 || aws.ToBool(st.EnableTerminationProtection) {
		return false, nil
	}
	if _, err := cfn.UpdateTerminationProtection(ctx, &cloudformation.UpdateTerminationProtectionInput{
		StackName:                   st.StackId,
		EnableTerminationProtection: aws.Bool(true),
	}); err != nil {
		return false, awsError("turn on the termination protection of "+env.Stack, err)
	}
	st.EnableTerminationProtection = aws.Bool(true)
	return true, nil
}
