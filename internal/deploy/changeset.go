package deploy

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// DefaultCapabilities are what a change set acknowledges when the
// environment names none: what a SAM app usually needs.
var DefaultCapabilities = []string{"CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"}

// Tags stackflow puts on every stack it deploys, besides the environment's.
const (
	TagCommit     = "stackflow:commit"
	TagBranch     = "stackflow:branch"
	TagRepository = "stackflow:repository"
)

// The status reasons of a change set that failed only because it was empty,
// as CloudFormation words them: success with nothing to do.
var emptyChangeSetReasons = []string{
	"The submitted information didn't contain changes",
	"No updates are to be performed",
}

// maxChangeLines bounds Deployment.Changes so the state stays small.
const maxChangeLines = 100

// maxPages bounds how many pages of one listing are read.
const maxPages = 50

func (s *Service) createChangeSet(ctx context.Context, cfn cfnAPI, in pipeline.DeployInput) (pipeline.Deployment, error) {
	env := in.Environment
	if in.Package.TemplateURL == "" {
		return pipeline.Deployment{}, fmt.Errorf("create change set for %s: the package has no template URL", env.Stack)
	}
	st, err := findStack(ctx, cfn, env.Stack, env.Stack)
	if err != nil {
		return pipeline.Deployment{}, err
	}
	// Before anything is changed, putting a stuck stack right included:
	// the stack must be this environment's.
	if err := s.checkBinding(ctx, in, st); err != nil {
		return pipeline.Deployment{}, err
	}
	// And what it deploys must be what was packaged: CloudFormation reads
	// the template now; Lambda reads the zips when the change set is
	// executed, when they are checked again.
	if err := s.verifyTemplate(ctx, in); err != nil {
		return pipeline.Deployment{}, err
	}
	if err := s.verifyZips(ctx, in); err != nil {
		return pipeline.Deployment{}, err
	}
	if d, started, err := s.recover(ctx, cfn, in, st); err != nil || started {
		return d, err
	}
	typ, err := changeSetType(st)
	if err != nil {
		return pipeline.Deployment{}, err
	}
	if typ == types.ChangeSetTypeUpdate {
		// The stack exists: a protected environment's is protected now,
		// not only after this deploy succeeds.
		if _, err := s.protect(ctx, cfn, env, st); err != nil {
			return pipeline.Deployment{}, err
		}
	}
	name := changeSetName(in.Run, in.Execution)
	out, err := cfn.CreateChangeSet(ctx, &cloudformation.CreateChangeSetInput{
		RoleARN:       s.serviceRole(env),
		StackName:     aws.String(env.Stack),
		ChangeSetName: aws.String(name),
		ClientToken:   aws.String(name),
		ChangeSetType: typ,
		TemplateURL:   aws.String(in.Package.TemplateURL),
		Parameters:    parameters(env.Parameters),
		Capabilities:  capabilities(env.Capabilities),
		Tags:          tags(env, in.Run),
		Description: aws.String(truncate(fmt.Sprintf("stackflow %s %s %s",
			in.Run.Repository.FullName(), in.Run.Branch, in.Run.Short()), 1024)),
	})
	if err != nil {
		// CloudFormation refuses some change sets outright: a template or
		// parameter it rejects, a capability not acknowledged. Retrying
		// cannot help; the message says what to fix.
		switch code, msg := apiError(err); code {
		case "ValidationError", "InsufficientCapabilitiesException":
			return pipeline.Deployment{}, &pipeline.StackDeployFailed{
				Stack:  env.Stack,
				Reason: truncate("CloudFormation refused the change set: "+msg, 1000),
			}
		}
		return pipeline.Deployment{}, awsError("create change set for "+env.Stack, err)
	}
	return pipeline.Deployment{
		Stack:         env.Stack,
		StackID:       aws.ToString(out.StackId),
		ChangeSetID:   aws.ToString(out.Id),
		ChangeSetType: string(typ),
		Status:        string(types.ChangeSetStatusCreatePending),
		Summary:       fmt.Sprintf("%s: creating %s change set %s", env.Stack, typ, name),
	}, nil
}

// changeSetType says whether st (nil when there is no stack) must be
// created or updated, and refuses a stack that CloudFormation cannot
// update and that the pipeline does not put right by itself (see recover).
func changeSetType(st *types.Stack) (types.ChangeSetType, error) {
	if st == nil {
		return types.ChangeSetTypeCreate, nil
	}
	stack, status := aws.ToString(st.StackName), st.StackStatus
	refuse := func(reason string) (types.ChangeSetType, error) {
		return "", &pipeline.StackDeployFailed{Stack: stack, Status: string(status), Reason: reason}
	}
	switch status {
	case types.StackStatusReviewInProgress:
		// A stack made by a CREATE change set that was never executed.
		return types.ChangeSetTypeCreate, nil
	case types.StackStatusRollbackFailed:
		return refuse(fmt.Sprintf("the stack's first create failed, and so did its rollback, so resources may be left: "+
			"delete it (aws cloudformation delete-stack --stack-name %s) and run again", stack))
	case types.StackStatusDeleteFailed:
		return refuse(fmt.Sprintf("a delete of the stack failed: finish deleting it "+
			"(aws cloudformation delete-stack --stack-name %s) and run again", stack))
	}
	return types.ChangeSetTypeUpdate, nil
}

// isStackMissing reports whether err is CloudFormation's answer for a stack
// that does not exist: a ValidationError "Stack with id X does not exist".
func isStackMissing(err error) bool {
	code, msg := apiError(err)
	return code == "ValidationError" && strings.Contains(msg, "does not exist")
}

// parameters turns values into CloudFormation parameters, sorted by key.
func parameters(values map[string]string) []types.Parameter {
	var ps []types.Parameter
	for _, k := range slices.Sorted(maps.Keys(values)) {
		ps = append(ps, types.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(values[k])})
	}
	return ps
}

// capabilities returns names as CloudFormation capabilities, or the default
// ones when there are none.
func capabilities(names []string) []types.Capability {
	if len(names) == 0 {
		names = DefaultCapabilities
	}
	cs := make([]types.Capability, 0, len(names))
	for _, n := range names {
		cs = append(cs, types.Capability(n))
	}
	return cs
}

// tags returns the environment's tags and stackflow's own, sorted by key:
// the commit, the branch, and the repository and environment the stack is
// bound to (see checkBinding). stackflow's win over an environment tag of
// the same key, and empty values are left out: CloudFormation wants 1 to
// 256 characters.
func tags(env pipeline.Environment, run pipeline.Run) []types.Tag {
	all := maps.Clone(env.Tags)
	if all == nil {
		all = map[string]string{}
	}
	all[TagCommit] = run.Commit
	all[TagBranch] = run.Branch
	all[TagRepository] = run.Repository.FullName()
	all[TagEnvironment] = BoundTo(env)
	var ts []types.Tag
	for _, k := range slices.Sorted(maps.Keys(all)) {
		if all[k] == "" {
			continue
		}
		ts = append(ts, types.Tag{Key: aws.String(k), Value: aws.String(truncate(all[k], 256))})
	}
	return ts
}

func (s *Service) describeChangeSet(ctx context.Context, cfn cfnAPI, in pipeline.DeployInput) (pipeline.Deployment, error) {
	if in.Deployment.Recovering != "" {
		return s.describeRecovery(ctx, cfn, in)
	}
	d := in.Deployment
	d.Stack, d.Done = in.Environment.Stack, false
	if d.ChangeSetID == "" {
		return pipeline.Deployment{}, fmt.Errorf("describe change set of %s: no change set ID in the deployment", d.Stack)
	}
	var (
		changes []types.Change
		next    *string
		out     *cloudformation.DescribeChangeSetOutput
	)
	for range maxPages {
		var err error
		out, err = cfn.DescribeChangeSet(ctx, &cloudformation.DescribeChangeSetInput{
			ChangeSetName: aws.String(d.ChangeSetID),
			NextToken:     next,
		})
		if err != nil {
			return pipeline.Deployment{}, awsError("describe change set of "+d.Stack, err)
		}
		changes = append(changes, out.Changes...)
		if out.Status != types.ChangeSetStatusCreateComplete || out.NextToken == nil {
			break
		}
		next = out.NextToken
	}
	d.Status = string(out.Status)
	reason := aws.ToString(out.StatusReason)

	switch out.Status {
	case types.ChangeSetStatusCreatePending, types.ChangeSetStatusCreateInProgress:
		d.Summary = fmt.Sprintf("%s: change set %s", d.Stack, out.Status)
		return d, nil
	case types.ChangeSetStatusCreateComplete:
		d.Done = true
		d.Changes = changeLines(changes)
		d.Summary = d.Stack + ": " + countChanges(changes)
		return d, nil
	case types.ChangeSetStatusFailed:
		if !isEmptyChangeSet(reason) {
			return pipeline.Deployment{}, &pipeline.StackDeployFailed{
				Stack:  d.Stack,
				Status: string(out.Status),
				Reason: truncate("the change set failed: "+reason, 1000),
			}
		}
		// Nothing to do. An empty change set cannot be executed; delete it
		// so it does not linger in the console.
		if _, err := cfn.DeleteChangeSet(ctx, &cloudformation.DeleteChangeSetInput{
			ChangeSetName: aws.String(d.ChangeSetID),
		}); err != nil {
			return pipeline.Deployment{}, awsError("delete empty change set of "+d.Stack, err)
		}
		d.Done, d.NoChanges = true, true
		d.Changes = nil
		d.Summary = d.Stack + ": no changes"
		return d, nil
	default:
		return pipeline.Deployment{}, &pipeline.StackDeployFailed{
			Stack:  d.Stack,
			Status: string(out.Status),
			Reason: "the change set was deleted before it could be executed",
		}
	}
}

// isEmptyChangeSet reports whether a failed change set's reason says only
// that there was nothing to change.
func isEmptyChangeSet(reason string) bool {
	for _, r := range emptyChangeSetReasons {
		if strings.Contains(reason, r) {
			return true
		}
	}
	return false
}

// changeLines describes each resource change in one line, such as
// "Add ApiFunction (AWS::Lambda::Function)" or
// "Modify Table (AWS::DynamoDB::Table) (replacement: True)".
func changeLines(changes []types.Change) []string {
	var lines []string
	for _, c := range changes {
		rc := c.ResourceChange
		if rc == nil {
			continue
		}
		if len(lines) == maxChangeLines {
			lines = append(lines, fmt.Sprintf("... and %d more", countResourceChanges(changes)-maxChangeLines))
			break
		}
		line := fmt.Sprintf("%s %s", rc.Action, aws.ToString(rc.LogicalResourceId))
		if t := aws.ToString(rc.ResourceType); t != "" {
			line += " (" + t + ")"
		}
		if rc.Action == types.ChangeActionModify && (rc.Replacement == types.ReplacementTrue || rc.Replacement == types.ReplacementConditional) {
			line += " (replacement: " + string(rc.Replacement) + ")"
		}
		lines = append(lines, line)
	}
	return lines
}

func countResourceChanges(changes []types.Change) int {
	n := 0
	for _, c := range changes {
		if c.ResourceChange != nil {
			n++
		}
	}
	return n
}

// countChanges says how many resources a change set adds, changes, removes
// and imports: "3 to add, 1 to change".
func countChanges(changes []types.Change) string {
	var add, change, remove, imp int
	for _, c := range changes {
		if c.ResourceChange == nil {
			continue
		}
		switch c.ResourceChange.Action {
		case types.ChangeActionAdd:
			add++
		case types.ChangeActionRemove:
			remove++
		case types.ChangeActionImport:
			imp++
		default:
			change++
		}
	}
	var parts []string
	for _, p := range []struct {
		n    int
		verb string
	}{{add, "add"}, {change, "change"}, {remove, "remove"}, {imp, "import"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d to %s", p.n, p.verb))
		}
	}
	if len(parts) == 0 {
		return "no resource changes"
	}
	return strings.Join(parts, ", ")
}

func (s *Service) executeChangeSet(ctx context.Context, cfn cfnAPI, in pipeline.DeployInput) (pipeline.Deployment, error) {
	d := in.Deployment
	d.Stack, d.Done = in.Environment.Stack, false
	if d.NoChanges {
		d.Done = true
		d.Summary = d.Stack + ": no changes to execute"
		return d, nil
	}
	if d.ChangeSetID == "" {
		return pipeline.Deployment{}, fmt.Errorf("execute change set of %s: no change set ID in the deployment", d.Stack)
	}
	if err := s.verifyZips(ctx, in); err != nil {
		return pipeline.Deployment{}, err
	}
	// Taken before the call, so that none of the operation's events are
	// older than StartedAt.
	started := s.now().UTC()
	if _, err := cfn.ExecuteChangeSet(ctx, &cloudformation.ExecuteChangeSetInput{
		ChangeSetName:      aws.String(d.ChangeSetID),
		ClientRequestToken: aws.String(changeSetName(in.Run, in.Execution)),
	}); err != nil {
		return pipeline.Deployment{}, awsError("execute change set of "+d.Stack, err)
	}
	d.StartedAt = started.Format(timeFormat)
	d.Done = true
	d.Status = string(types.ExecutionStatusExecuteInProgress)
	d.Summary = fmt.Sprintf("%s: executing %s change set", d.Stack, d.ChangeSetType)
	return d, nil
}
