package deploy

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/releases"
)

// A stack belongs to one environment of one repository. The pipeline binds
// it when it first deploys it: every stack it deploys carries the tags
// stackflow:repository and stackflow:environment, and a run that would
// deploy a stack whose tags name another repository or another environment
// (or none: a stack stackflow did not create) is refused with
// StackRefused before anything is changed. So a stackflow.yml that points
// staging at prod's stack, even on the default branch, cannot deploy to
// prod's stack.
//
// A stack stackflow deployed before stacks were bound has the repository
// tag but no environment tag: it is taken as the environment's when the
// environment's releases name it, and bound by that deploy.

// TagEnvironment is the tag that binds a stack to its environment: the
// environment's name, or "<app>/<environment>" for an app of a repository
// with several (BoundTo), so that one app's stack is never another's.
const TagEnvironment = "stackflow:environment"

// BoundTo is the value of env's stack's TagEnvironment.
func BoundTo(env pipeline.Environment) string { return releases.EnvKey(env.App, env.Name) }

// checkBinding refuses st (nil when there is no stack yet), the stack of
// in's environment, unless it belongs to that environment of in's
// repository.
func (s *Service) checkBinding(ctx context.Context, in pipeline.DeployInput, st *types.Stack) error {
	if st == nil {
		return nil // the first deploy binds it
	}
	env, repo := in.Environment, in.Run.Repository.FullName()
	env.Name = BoundTo(env) // an app's environment is <app>/<environment>
	if st.StackStatus == types.StackStatusReviewInProgress && len(st.Tags) == 0 {
		// Only change sets, no resources and no tags yet: this run's
		// CREATE change set binds it.
		return nil
	}
	refuse := func(reason, fix string) error {
		return &pipeline.StackRefused{Stack: env.Stack, Environment: env.Name, Reason: reason, Fix: fix}
	}
	adopt := fmt.Sprintf("to hand it to stackflow, tag it %s=%s and %s=%s (aws cloudformation update-stack --stack-name %s --use-previous-template --tags ...)",
		TagRepository, repo, TagEnvironment, env.Name, env.Stack)
	switch owner, bound := tagValue(st.Tags, TagRepository), tagValue(st.Tags, TagEnvironment); {
	case owner == "":
		return refuse("stackflow did not create it (it has no "+TagRepository+" tag)",
			"give "+env.Name+" a stack of its own in stackflow.yml on the default branch; "+adopt)
	case owner != repo:
		return refuse(fmt.Sprintf("it belongs to %s (its %s tag)", owner, TagRepository),
			"give "+env.Name+" a stack of its own in stackflow.yml on the default branch")
	case bound == env.Name:
		return nil
	case bound != "":
		return refuse(fmt.Sprintf("it belongs to environment %s of %s (its %s tag)", bound, repo, TagEnvironment),
			"give each environment a stack of its own in stackflow.yml on the default branch")
	}
	released, err := s.releasedTo(ctx, in)
	if err != nil {
		return err
	}
	if released {
		return nil // deployed before stacks were bound: this deploy binds it
	}
	return refuse(fmt.Sprintf("stackflow deployed it for %s before stacks were bound to environments, and %s has no release on it", repo, env.Name),
		fmt.Sprintf("if it is %s's, tag it %s=%s (aws cloudformation update-stack --stack-name %s --use-previous-template --tags ...)",
			env.Name, TagEnvironment, env.Name, env.Stack))
}

// releasedTo reports whether in's environment has a release on its stack.
func (s *Service) releasedTo(ctx context.Context, in pipeline.DeployInput) (bool, error) {
	if s.Releases == nil {
		return false, nil
	}
	all, err := s.Releases.List(ctx, in.Run.Repository.FullName(), releases.EnvKey(in.Environment.App, in.Environment.Name), 0)
	if err != nil {
		return false, fmt.Errorf("look for releases of %s on %s: %w", in.Environment.Name, in.Environment.Stack, err)
	}
	for _, r := range all {
		if r.Stack == in.Environment.Stack {
			return true, nil
		}
	}
	return false, nil
}

// tagValue returns the value of the tag key, or "".
func tagValue(tags []types.Tag, key string) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value)
		}
	}
	return ""
}
