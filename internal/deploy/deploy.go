package deploy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/smithy-go"

	"github.com/stackflow/stackflow/internal/approvals"
	"github.com/stackflow/stackflow/internal/locks"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/releases"
	"github.com/stackflow/stackflow/internal/runlog"
)

// cfnAPI is the part of the CloudFormation API the deploy handler uses.
type cfnAPI interface {
	DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
	CreateChangeSet(ctx context.Context, in *cloudformation.CreateChangeSetInput, optFns ...func(*cloudformation.Options)) (*cloudformation.CreateChangeSetOutput, error)
	DescribeChangeSet(ctx context.Context, in *cloudformation.DescribeChangeSetInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeChangeSetOutput, error)
	ExecuteChangeSet(ctx context.Context, in *cloudformation.ExecuteChangeSetInput, optFns ...func(*cloudformation.Options)) (*cloudformation.ExecuteChangeSetOutput, error)
	DeleteChangeSet(ctx context.Context, in *cloudformation.DeleteChangeSetInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DeleteChangeSetOutput, error)
	DescribeStackEvents(ctx context.Context, in *cloudformation.DescribeStackEventsInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeStackEventsOutput, error)
	DeleteStack(ctx context.Context, in *cloudformation.DeleteStackInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DeleteStackOutput, error)
	ContinueUpdateRollback(ctx context.Context, in *cloudformation.ContinueUpdateRollbackInput, optFns ...func(*cloudformation.Options)) (*cloudformation.ContinueUpdateRollbackOutput, error)
	UpdateTerminationProtection(ctx context.Context, in *cloudformation.UpdateTerminationProtectionInput, optFns ...func(*cloudformation.Options)) (*cloudformation.UpdateTerminationProtectionOutput, error)
}

var _ cfnAPI = (*cloudformation.Client)(nil)

// Service deploys environment stacks. Its Handle is the deploy handler.
type Service struct {
	// region is the pipeline's own region, used when an environment names
	// none.
	region string
	// newClient builds a CloudFormation client for a region, with the
	// credentials of role when it is not empty.
	newClient func(region, role string) cfnAPI
	now       func() time.Time
	// roleARN is the service role CloudFormation deploys stacks with, so
	// that the handler itself needs no rights over the app's resources.
	roleARN string

	// Logger receives a line per action; nil means slog.Default().
	Logger *slog.Logger
	// Releases records the environments' releases and finds the one to
	// roll back to; nil refuses ActionRecordRelease and rollbacks.
	Releases *releases.Store
	// Locks keeps the environments' locks; nil runs without them (and
	// refuses ActionLock).
	Locks *locks.Store
	// Approvals keeps the deploys waiting for approval; nil refuses
	// ActionRequestApproval.
	Approvals *approvals.Store
	// Tasks fails the approval wait of a run that a newer commit of its
	// branch superseded; nil leaves that run waiting until it times out.
	Tasks TaskSender
	// AllowedRoles are the patterns of the roles environments may name
	// (the pipeline's EnvironmentRoleArns); empty checks none. See
	// checkRoles.
	AllowedRoles []string
	// Artifacts reads the artifact bucket, to check that the template and
	// zips deployed are those packaged (see integrity.go); nil checks
	// nothing, which only the local installer of the pipeline's own
	// template does.
	Artifacts ArtifactReader

	mu      sync.Mutex
	clients map[string]cfnAPI
}

// New returns a Service whose CloudFormation clients are built from cfg, in
// cfg's region unless an environment names another, and with the
// credentials of the environment's RoleARN when it names one (see
// AssumeRole). roleARN, when not empty, is the service role passed to
// CloudFormation for an environment that names no CloudFormationRoleARN
// (and no RoleARN: the pipeline's own role cannot serve another account).
func New(cfg aws.Config, roleARN string) *Service {
	s := newService(cfg.Region, roleClients(cfg), time.Now)
	s.roleARN = roleARN
	return s
}

func newService(region string, newClient func(region, role string) cfnAPI, now func() time.Time) *Service {
	return &Service{region: region, newClient: newClient, now: now, clients: map[string]cfnAPI{}}
}

// client returns the CloudFormation client for env: in its region (the
// pipeline's own when it names none), as its role when it names one. Clients
// are kept, one per region and role.
func (s *Service) client(env pipeline.Environment) cfnAPI {
	region := env.Region
	if region == "" {
		region = s.region
	}
	key := region + " " + env.RoleARN
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[key]
	if !ok {
		c = s.newClient(region, env.RoleARN)
		s.clients[key] = c
	}
	return c
}

// Handle does in.Action for in.Environment's stack and returns how far the
// deploy has got. Its errors are in the form the state machine matches: a
// *pipeline.StackDeployFailed when the stack cannot be deployed, a
// *pipeline.Throttled when AWS kept throttling, else a
// *pipeline.UnexpectedError.
func (s *Service) Handle(ctx context.Context, in pipeline.DeployInput) (pipeline.Deployment, error) {
	log := s.logger().With("action", string(in.Action), "stack", in.Environment.Stack)
	ctx = runlog.WithRun(ctx, in.Run, in.Execution)
	d, err := s.handle(ctx, in)
	if err != nil {
		log.ErrorContext(ctx, "deploy step failed", "error", err.Error())
		return pipeline.Deployment{}, pipeline.ForStateMachine(err)
	}
	log.InfoContext(ctx, "deploy step", "status", d.Status, "done", d.Done, "summary", d.Summary)
	return d, nil
}

func (s *Service) handle(ctx context.Context, in pipeline.DeployInput) (pipeline.Deployment, error) {
	if in.Environment.Stack == "" {
		return pipeline.Deployment{}, fmt.Errorf("deploy environment %q: no stack name", in.Environment.Name)
	}
	if in.Action == pipeline.ActionRecordRelease {
		return s.recordRelease(ctx, in)
	}
	if err := s.checkRoles(in.Environment); err != nil {
		return pipeline.Deployment{}, err
	}
	cfn := s.client(in.Environment)
	switch in.Action {
	case pipeline.ActionCreateChangeSet:
		return s.createChangeSet(ctx, cfn, in)
	case pipeline.ActionDescribeChangeSet:
		return s.describeChangeSet(ctx, cfn, in)
	case pipeline.ActionExecuteChangeSet:
		return s.executeChangeSet(ctx, cfn, in)
	case pipeline.ActionDescribeStack:
		return s.describeStack(ctx, cfn, in)
	case pipeline.ActionDeleteStack, pipeline.ActionDescribeDeletion:
		return s.deleteStack(ctx, cfn, in)
	default:
		return pipeline.Deployment{}, fmt.Errorf("deploy %s: unknown action %q", in.Environment.Stack, in.Action)
	}
}

// recordRelease records in's deploy as its environment's newest release,
// and releases the environment's lock.
func (s *Service) recordRelease(ctx context.Context, in pipeline.DeployInput) (pipeline.Deployment, error) {
	if s.Releases == nil {
		return pipeline.Deployment{}, errors.New("record release: no releases table (RELEASES_TABLE)")
	}
	if in.Rollback.Active() {
		return pipeline.Deployment{}, s.recordRollback(ctx, in)
	}
	env, pkg := in.Environment, in.Package
	r := releases.Release{
		Repository:  in.Run.Repository.FullName(),
		App:         in.Environment.App,
		Environment: in.Environment.Name,
		Stack:       in.Environment.Stack,
		Commit:      in.Run.Commit,
		Branch:      in.Run.Ref(),
		Execution:   in.Execution,
		TemplateURL: in.Package.TemplateURL,
		DeployedAt:  s.now(),
		Outputs:     in.Deployment.Outputs,
		Deployed:    &env,
		Package:     &pkg,
	}
	if in.Run.Rollback != nil {
		r.By = in.Run.Rollback.By
	}
	if p := in.Run.Promote; p != nil {
		r.PromotedFrom, r.By = p.From, p.By
	}
	if rt := in.Run.Retry; rt != nil {
		r.RetryOf = rt.Of
		if r.By == "" {
			r.By = rt.By
		}
	}
	r.DuringFreeze = in.Lock.DuringFreeze
	if err := s.Releases.Record(ctx, r); err != nil {
		return pipeline.Deployment{}, err
	}
	if err := s.unlock(ctx, in); err != nil {
		return pipeline.Deployment{}, err
	}
	d := in.Deployment
	d.Summary = fmt.Sprintf("%s: released %s", in.Environment.Name, in.Run.Short())
	return d, nil
}

var notNameChar = regexp.MustCompile(`[^0-9A-Za-z]+`)

// changeSetName is the name of the change set that execution makes for
// run's commit: "stackflow-<sha7>-<8 hex digits of the execution's hash>".
// It starts with a letter, holds only letters, digits and hyphens, and is
// far shorter than CloudFormation's 128 characters, so it also serves as the
// ClientToken and ClientRequestToken that make a retried call harmless.
func changeSetName(run pipeline.Run, execution string) string {
	sha := notNameChar.ReplaceAllString(run.Short(), "")
	if sha == "" {
		sha = "commit"
	}
	sum := sha256.Sum256([]byte(execution))
	return "stackflow-" + sha + "-" + hex.EncodeToString(sum[:4])
}

// Error codes that mean AWS is still throttling after the SDK's retries.
var throttleCodes = map[string]bool{
	"Throttling":               true,
	"ThrottlingException":      true,
	"TooManyRequestsException": true,
}

// awsError wraps err, the error of a CloudFormation call doing op, or
// replaces it with a *pipeline.Throttled when AWS throttled the call. When
// the call failed because the environment's role could not be assumed, the
// error says so and what to check.
func awsError(op string, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) && throttleCodes[ae.ErrorCode()] {
		return &pipeline.Throttled{Operation: "cloudformation " + op}
	}
	if oe := assumeRoleFailure(err); oe != nil {
		return roleError(op, oe)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// apiError returns the code and message of err when it is an AWS API error.
func apiError(err error) (code, message string) {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode(), ae.ErrorMessage()
	}
	return "", ""
}

// truncate shortens s to at most n bytes, on a rune boundary, marking the
// cut with "...".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - 3
	for cut > 0 && !validStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// validStart reports whether b can start a UTF-8 encoded rune.
func validStart(b byte) bool { return b&0xC0 != 0x80 }
