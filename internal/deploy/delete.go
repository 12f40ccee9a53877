package deploy

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// deleteStack does ActionDeleteStack and ActionDescribeDeletion: it deletes
// the preview stack of a closed pull request and reports it Done once the
// stack is gone (DELETE_COMPLETE, or no stack at all). Both actions look at
// the stack and do what it needs, so either may be called again: a stack
// busy with another operation is waited for, then deleted.
//
// Deleting is the one thing the pipeline does that cannot be undone, so it
// refuses every stack but a pull request's preview (Environment.PullRequest
// set) that stackflow deployed for this run's repository (its
// stackflow:repository tag), and a stack with termination protection.
func (s *Service) deleteStack(ctx context.Context, cfn cfnAPI, in pipeline.DeployInput) (pipeline.Deployment, error) {
	env := in.Environment
	if env.PullRequest == 0 {
		return pipeline.Deployment{}, fmt.Errorf("delete stack %s: refused: environment %q is not a pull request's preview, "+
			"and the pipeline deletes only preview stacks", env.Stack, env.Name)
	}
	what := fmt.Sprintf("preview stack %s of pull request #%d", env.Stack, env.PullRequest)
	d := in.Deployment
	d.Stack, d.Done = env.Stack, false
	id := d.StackID
	if id == "" {
		id = env.Stack
	}
	st, err := findStack(ctx, cfn, id, env.Stack)
	if err != nil {
		return pipeline.Deployment{}, err
	}
	if st == nil || st.StackStatus == types.StackStatusDeleteComplete {
		d.Done = true
		if d.StackID == "" && st == nil {
			d.Summary = what + " does not exist: nothing to delete"
			return d, nil
		}
		d.Status = string(types.StackStatusDeleteComplete)
		d.Summary = "deleted " + what
		return d, nil
	}
	d.StackID, d.Status = aws.ToString(st.StackId), string(st.StackStatus)
	switch status := st.StackStatus; {
	case status == types.StackStatusDeleteInProgress:
		d.Summary = "deleting " + what
		return d, nil
	case status == types.StackStatusDeleteFailed && in.Action == pipeline.ActionDescribeDeletion:
		return pipeline.Deployment{}, s.deletionFailure(ctx, cfn, in, st)
	case inProgress(status):
		d.Summary = fmt.Sprintf("waiting for %s to finish %s before deleting it", what, status)
		return d, nil
	}
	if aws.ToBool(st.EnableTerminationProtection) {
		return pipeline.Deployment{}, fmt.Errorf("delete %s: refused: the stack has termination protection; "+
			"turn it off (aws cloudformation update-termination-protection --no-enable-termination-protection --stack-name %s) "+
			"if it is really to go, and delete it yourself", what, env.Stack)
	}
	// A stack that only has change sets (REVIEW_IN_PROGRESS) has no
	// resources and carries no tags yet.
	if st.StackStatus != types.StackStatusReviewInProgress {
		if got, want := tagValue(st.Tags, TagRepository), in.Run.Repository.FullName(); got != want {
			return pipeline.Deployment{}, fmt.Errorf("delete %s: refused: the stack's %s tag is %q, not %q: "+
				"the pipeline deletes only the preview stacks it deployed for the repository", what, TagRepository, got, want)
		}
		if got := tagValue(st.Tags, TagEnvironment); got != "" && got != env.Name {
			return pipeline.Deployment{}, fmt.Errorf("delete %s: refused: the stack's %s tag is %q, not %q: "+
				"it belongs to another environment", what, TagEnvironment, got, env.Name)
		}
	}
	d.StartedAt = s.now().UTC().Format(timeFormat)
	if _, err := cfn.DeleteStack(ctx, &cloudformation.DeleteStackInput{
		StackName:          st.StackId,
		RoleARN:            s.serviceRole(env),
		ClientRequestToken: aws.String(recoveryToken(in, "delete")),
	}); err != nil {
		return pipeline.Deployment{}, awsError("delete "+what, err)
	}
	d.Status = string(types.StackStatusDeleteInProgress)
	d.Summary = fmt.Sprintf("deleting %s: the pull request was closed", what)
	return d, nil
}

// deletionFailure explains why the delete of a preview stack failed, and
// what a person can do.
func (s *Service) deletionFailure(ctx context.Context, cfn cfnAPI, in pipeline.DeployInput, st *types.Stack) error {
	stack := in.Environment.Stack
	reason := aws.ToString(st.StackStatusReason)
	since, _ := time.Parse(timeFormat, in.Deployment.StartedAt)
	ev, err := firstFailure(ctx, cfn, aws.ToString(st.StackId), since, recoveryToken(in, "delete"))
	if err != nil {
		return err
	}
	resource, retain := "", "<LogicalResourceId>"
	if ev != nil {
		retain = aws.ToString(ev.LogicalResourceId)
		resource = retain
		if t := aws.ToString(ev.ResourceType); t != "" {
			resource += " (" + t + ")"
		}
		resource += ": "
		reason = aws.ToString(ev.ResourceStatusReason)
	}
	return fmt.Errorf("delete preview stack %s (%s): %s%s; empty or remove what cannot be deleted and delete the stack yourself, "+
		"or keep it (aws cloudformation delete-stack --stack-name %s --retain-resources %s)",
		stack, st.StackStatus, resource, truncate(reason, 500), stack, retain)
}
