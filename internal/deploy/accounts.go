package deploy

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// SessionName is the role session name of every role the deploy handler
// assumes: CloudTrail in the environment's account shows the pipeline's
// calls under it.
const SessionName = "stackflow-deploy"

// roleClients returns a function that builds the CloudFormation client of a
// region from cfg and, when role is not empty, with role's credentials:
// assumed through STS (cfg's own credentials and endpoint) as SessionName,
// kept and renewed before they expire. Clients of one role share its
// credentials; the caller keeps the clients.
func roleClients(cfg aws.Config) func(region, role string) cfnAPI {
	roles := map[string]aws.CredentialsProvider{}
	return func(region, role string) cfnAPI {
		c := cfg.Copy()
		if role != "" {
			creds, ok := roles[role]
			if !ok {
				provider := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), role, func(o *stscreds.AssumeRoleOptions) {
					o.RoleSessionName = SessionName
				})
				creds = aws.NewCredentialsCache(provider)
				roles[role] = creds
			}
			c.Credentials = creds
		}
		return cloudformation.NewFromConfig(c, func(o *cloudformation.Options) { o.Region = region })
	}
}

// serviceRole is the service role CloudFormation deploys env's stack with:
// the environment's CloudFormationRoleARN; else, for an environment in the
// pipeline's own account (no RoleARN), the pipeline's; else none, and
// CloudFormation acts as the assumed role (or the role the stack already
// has).
func (s *Service) serviceRole(env pipeline.Environment) *string {
	switch {
	case env.CloudFormationRoleARN != "":
		return aws.String(env.CloudFormationRoleARN)
	case env.RoleARN == "" && s.roleARN != "":
		return aws.String(s.roleARN)
	}
	return nil
}

// checkRoles refuses an environment whose roles the pipeline may not use:
// a role_arn it would assume, or a cloudformation_role_arn it would pass
// to CloudFormation itself (with no role_arn), that no pattern of
// AllowedRoles matches. The pipeline's IAM policy allows only those
// (the EnvironmentRoleArns parameter); this says so before AWS refuses.
// With no AllowedRoles, nothing is checked.
func (s *Service) checkRoles(env pipeline.Environment) error {
	if len(s.AllowedRoles) == 0 {
		return nil
	}
	allowed := func(arn string) bool {
		return slices.ContainsFunc(s.AllowedRoles, func(p string) bool { return pipeline.MatchARN(p, arn) })
	}
	refuse := func(key, arn, verb string) error {
		return &pipeline.StackRefused{Stack: env.Stack, Environment: env.Name,
			Reason: fmt.Sprintf("its %s %s is not a role the pipeline may %s (EnvironmentRoleArns: %s)", key, arn, verb, strings.Join(s.AllowedRoles, ", ")),
			Fix:    "name a role that EnvironmentRoleArns allows, or add it to EnvironmentRoleArns when you install the pipeline"}
	}
	switch {
	case env.RoleARN != "" && !allowed(env.RoleARN):
		return refuse("role_arn", env.RoleARN, "assume")
	case env.RoleARN == "" && env.CloudFormationRoleARN != "" && !allowed(env.CloudFormationRoleARN):
		return refuse("cloudformation_role_arn", env.CloudFormationRoleARN, "pass to CloudFormation")
	}
	return nil
}

// assumeRoleFailure returns the STS error in err's chain when a call failed
// because the environment's role could not be assumed, or nil.
func assumeRoleFailure(err error) *smithy.OperationError {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if oe, ok := e.(*smithy.OperationError); ok && oe.ServiceID == sts.ServiceID {
			return oe
		}
	}
	return nil
}

// roleError says what to do when the role of an environment could not be
// assumed for op.
func roleError(op string, sts *smithy.OperationError) error {
	return fmt.Errorf("%s: the environment's role_arn could not be assumed: %w "+
		"(the role's trust policy must let the pipeline's deploy function assume it, "+
		"and the deploy function's policy must allow sts:AssumeRole on it)", op, sts)
}
