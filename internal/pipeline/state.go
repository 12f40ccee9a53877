package pipeline

import "fmt"

// The documents below travel in the state machine's state. Each stays small
// (a few KiB at most): logs, templates and archives are stored in the
// artifact bucket and referred to by key.

// Source is the output of the source step: where the commit's archive is
// stored and the plan read from its stackflow.yml.
type Source struct {
	// ArchiveKey is the artifact-bucket key of the commit's tar.gz archive.
	ArchiveKey string `json:"archiveKey"`
	Plan       Plan   `json:"plan"`
}

// Plan is what the run will do with this commit on this branch.
type Plan struct {
	// Checks are shell commands run in order at the repository root.
	Checks []string `json:"checks"`
	// Template is the path of the app's SAM template in the repository.
	Template string `json:"template"`
	// Environments are the stacks this branch is promoted to, in order. An
	// empty list means the branch runs the checks only.
	Environments []Environment `json:"environments"`
	// Deploy tells the state machine whether to package and deploy: it is
	// false when no environment wants this branch.
	Deploy bool `json:"deploy"`
	// Summary says in one line what the plan is, for the console and the
	// commit status.
	Summary string `json:"summary"`
	// DefaultBranch is the branch whose stackflow.yml and samconfig.toml
	// decided where the commit deploys (see Ignored), and its commit they
	// were read at. Nil for a plan made from one file alone (stackflow
	// plan, a rollback).
	DefaultBranch *DefaultBranch `json:"defaultBranch,omitempty"`
	// Ignored are the deploy settings of the commit's own stackflow.yml
	// and samconfig.toml that differ from the default branch's and were
	// not used: they take effect once they are on the default branch.
	Ignored []IgnoredSetting `json:"ignored,omitempty"`
	// Dir is the app's folder in the repository, for an app of a
	// repository with several; empty for the root. The checks run there
	// and Template is in it.
	Dir string `json:"dir,omitempty"`
	// Skipped are the environments the ref deploys to that this push
	// leaves out, with why (their paths matched none of its changes).
	Skipped []Skipped `json:"skipped,omitempty"`
	// Apps is set for a push of a repository with several apps: what
	// becomes of each. The run starts the runs of those delivered, says
	// on the commit why the others are not, and ends.
	Apps []AppDelivery `json:"apps,omitempty"`
	// Ready is set when a push stops before an environment with
	// promotion: manual: Environments end before it, and it is reached
	// only by stackflow promote.
	Ready *ReadyToPromote `json:"ready,omitempty"`
}

// Skipped is an environment or an app a push leaves out, and why.
type Skipped struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// AppDelivery is what a push does with one app of its repository.
type AppDelivery struct {
	Name string `json:"name"`
	// Deliver is true when the app gets a run of its own.
	Deliver bool `json:"deliver"`
	// Reason says why, for people: "changed services/api/main.go", or
	// "skipped: no change under services/api/**".
	Reason string `json:"reason"`
	// Run is the app's run; Execution its execution's name and Input
	// its input, as StartExecution takes them.
	Run       Run    `json:"run"`
	Execution string `json:"execution"`
	Input     string `json:"input"`
}

// ReadyToPromote is the environment that a push's run stops before,
// since it takes promotions only, and the environment it would be
// promoted from.
type ReadyToPromote struct {
	Environment string `json:"environment"`
	// From is the environment before it in the plan; empty when the
	// branch reaches no environment before it.
	From string `json:"from,omitempty"`
	// Command is the command that promotes it.
	Command string `json:"command"`
}

// DefaultBranch is a repository's default branch (Bitbucket's mainbranch)
// at the commit its files were read at.
type DefaultBranch struct {
	Name   string `json:"name"`
	Commit string `json:"commit"`
}

// IgnoredSetting is a deploy setting that the commit being delivered sets
// otherwise than its repository's default branch does: who may deploy
// where (an environment's branches, stack, region, roles, approval,
// protection, approvers, and the previews) is decided by the default
// branch alone, never by the commit.
type IgnoredSetting struct {
	// Setting names it as stackflow.yml does: "prod.branches",
	// "staging.stack", "previews.pull_requests", or "environments" for
	// which environments there are and in which order.
	Setting string `json:"setting"`
	// Commit is its value in the commit, Default on the default branch,
	// written for people ("[main, feature/x]", "hello-prod", "none").
	Commit  string `json:"commit"`
	Default string `json:"default"`
}

// String says what was ignored in one line: "prod.branches: [main,
// feature/x] in this commit, [main] on the default branch".
func (s IgnoredSetting) String() string {
	return fmt.Sprintf("%s: %s in this commit, %s on the default branch", s.Setting, s.Commit, s.Default)
}

// Environment is one stage of promotion, deployed as its own stack.
type Environment struct {
	Name  string `json:"name"`
	Stack string `json:"stack"`
	// Region is the stack's region; empty means the pipeline's own region.
	Region string `json:"region,omitempty"`
	// Parameters are the stack's parameter values.
	Parameters map[string]string `json:"parameters,omitempty"`
	// Capabilities are passed to CreateChangeSet.
	Capabilities []string `json:"capabilities"`
	// Tags are put on the stack.
	Tags map[string]string `json:"tags,omitempty"`
	// Smoke are the HTTP checks run after each deploy of this stack.
	Smoke []SmokeCheck `json:"smoke,omitempty"`
	// SmokeTimeoutSeconds is how long the smoke checks may keep retrying
	// before the environment fails.
	SmokeTimeoutSeconds int `json:"smokeTimeoutSeconds"`
	// ApprovalRequired is true when a person must approve each deploy of
	// this stack that changes it, after seeing its change set.
	ApprovalRequired bool `json:"approvalRequired"`
	// ApprovalTimeoutSeconds is how long a deploy waits for its approval
	// before the run stops. Always set: the state machine reads it.
	ApprovalTimeoutSeconds int `json:"approvalTimeoutSeconds"`
	// Approvers are who may answer the approval: IAM principal ARNs or
	// patterns (see MatchARN); empty means whoever may call stackflow
	// approve.
	Approvers []string `json:"approvers,omitempty"`
	// RoleARN is the role the deploy and smoke steps assume for this
	// environment (another account's, say); empty means the pipeline's own.
	RoleARN string `json:"roleArn,omitempty"`
	// CloudFormationRoleARN is the service role CloudFormation deploys
	// this stack with; empty means the pipeline's own service role.
	CloudFormationRoleARN string `json:"cloudFormationRoleArn,omitempty"`
	// Protected turns on the stack's termination protection.
	Protected bool `json:"protected,omitempty"`
	// PullRequest is set when the stack is a pull request's preview.
	PullRequest int `json:"pullRequest,omitempty"`
	// App is the app whose environment this is, in a repository with
	// several; its releases are the app's own.
	App string `json:"app,omitempty"`
	// ManualPromotion is true when pushes stop before this environment:
	// only stackflow promote deploys to it.
	ManualPromotion bool `json:"manualPromotion,omitempty"`
	// Freeze are the windows in which no run deploys to the environment,
	// and FreezeAction what a run that reaches it in one does: "wait"
	// (the default, also when empty) until the window ends, or "stop".
	Freeze       []FreezeWindow `json:"freeze,omitempty"`
	FreezeAction string         `json:"freezeAction,omitempty"`
}

// The freeze actions.
const (
	FreezeWait = "wait"
	FreezeStop = "stop"
)

// FreezeWindow is one window of an environment's freeze: either from
// Start to End, or from each time Cron fires for DurationSeconds. Times
// and cron fields are read in TimeZone, an IANA time zone name ("UTC"
// when empty).
type FreezeWindow struct {
	// Name says what the window is for, in messages ("holidays").
	Name string `json:"name,omitempty"`
	// Start and End are RFC 3339 times.
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
	// Cron is a five-field cron expression of the window's starts.
	Cron            string `json:"cron,omitempty"`
	DurationSeconds int    `json:"durationSeconds,omitempty"`
	TimeZone        string `json:"timeZone,omitempty"`
}

// SmokeCheck is one check of a deployed stack and what its answer must
// be: an HTTP request (URL) or an invocation of one of the stack's
// functions (Function). URL may refer to the stack's outputs as
// ${OutputName}.
type SmokeCheck struct {
	Name     string            `json:"name"`
	URL      string            `json:"url,omitempty"`
	Method   string            `json:"method,omitempty"`
	Headers  map[string]string `json:"headers,omitempty"`
	Status   int               `json:"status,omitempty"`
	Contains string            `json:"contains,omitempty"`
	// Function names the function an invoke check invokes: a stack
	// output (${OutputName}) whose value is the function's name or ARN,
	// or the logical ID of a function of the stack. Empty for an HTTP
	// check.
	Function string `json:"function,omitempty"`
	// Payload is the JSON event an invoke check sends; empty means {}.
	Payload string `json:"payload,omitempty"`
	// TimeoutSeconds bounds one try of the check (a request, an
	// invocation); 0 means the default of its kind.
	TimeoutSeconds int `json:"timeoutSeconds,omitempty"`
}

// Invokes reports whether c invokes a function rather than sending an
// HTTP request.
func (c SmokeCheck) Invokes() bool { return c.Function != "" }

// SourceInput is the source handler's input.
type SourceInput struct {
	Run Run `json:"run"`
	// Execution is the execution's ARN, for the logs.
	Execution string `json:"execution"`
}

// ChecksInput is the checks handler's input.
type ChecksInput struct {
	Run Run `json:"run"`
	// Execution is the execution's ARN; its last segment names the log.
	Execution string `json:"execution"`
	Source    Source `json:"source"`
	// Grants are the presigned URLs the step reads and writes the artifact
	// bucket with (its function holds no S3 rights); nil when it is run
	// with a store of its own, as in tests.
	Grants *Grants `json:"grants,omitempty"`
}

// PackageInput is the package handler's input.
type PackageInput struct {
	Run Run `json:"run"`
	// Execution is the execution's ARN; its last segment names the log.
	Execution string `json:"execution"`
	Source    Source `json:"source"`
	// Grants are as for ChecksInput.
	Grants *Grants `json:"grants,omitempty"`
}

// The steps that run the commit's code, as Grants and the staging area
// name them.
const (
	StepChecks  = "checks"
	StepPackage = "package"
)

// Grants are what a step that runs the commit's code (the checks, the
// package step) may do in the artifact bucket: presigned URLs for its own
// run's objects, made by the trusted grant step just before it runs and
// good for a little longer than the step may take. The function that runs
// the commit's code holds no S3, DynamoDB or Secrets Manager rights of its
// own, so what a check finds in its environment, in /proc or from the
// Runtime API writes nothing the pipeline trusts.
type Grants struct {
	// Step is the step they are for: StepChecks or StepPackage.
	Step string `json:"step"`
	// Bucket is the artifact bucket, for the s3:// URIs the package step
	// writes into the packaged template.
	Bucket string `json:"bucket"`
	// Region is the bucket's region, for its HTTPS URLs.
	Region string `json:"region"`
	// Expires is when the URLs stop working (RFC 3339).
	Expires string `json:"expires"`
	// Get maps each key the step may read to a presigned GET URL: its
	// commit's archive, its branch's and the default branch's caches and
	// build index.
	Get map[string]string `json:"get"`
	// Put maps each key the step may write to a presigned PUT URL. Its log
	// is its own (logs/.../<execution>/); every other key (a cache of its
	// branch, the packaged template) maps to a URL of the run's staging
	// area (StagingPrefix), which the publish step checks and copies to
	// the key.
	Put map[string]string `json:"put"`
	// Bundle, for the package step, is a presigned PUT URL of one tar
	// archive in the staging area that holds what the step writes under
	// BundlePrefixes, whose keys are not known before it runs: its zips
	// (named by their SHA-256) and its build records (its own branch's).
	Bundle string `json:"bundle,omitempty"`
	// BundlePrefixes are the key prefixes whose objects go into Bundle.
	BundlePrefixes []string `json:"bundlePrefixes,omitempty"`
	// Credentials, when set, is the key (in Get) of a copy of the package
	// indexes' credentials, staged for this step alone and deleted by the
	// publish step after it.
	Credentials string `json:"credentials,omitempty"`
}

// PublishInput is the publish handler's input: after the checks, it keeps
// their caches; after the package step, it checks the package and copies
// it to where the deploy step and later runs trust it. It answers a
// Package: the package as published, or for the checks only a Summary.
type PublishInput struct {
	// Step is the step whose staged objects are published: StepChecks or
	// StepPackage.
	Step string `json:"step"`
	Run  Run    `json:"run"`
	// Execution is the execution's ARN; its last segment names the staging
	// area.
	Execution string `json:"execution"`
	Source    Source `json:"source"`
	// Package is what the package step said it made (its output), for
	// StepPackage: the SHA-256 and size of every zip and of the packaged
	// template, checked against what it staged.
	Package *Package `json:"package,omitempty"`
}

// GrantInput is the grant handler's input.
type GrantInput struct {
	// Step is the step to grant: StepChecks or StepPackage.
	Step      string `json:"step"`
	Run       Run    `json:"run"`
	Execution string `json:"execution"`
	Source    Source `json:"source"`
}

// ChecksResult is the output of the checks step.
type ChecksResult struct {
	// LogKey is the artifact-bucket key of the full output of every check.
	LogKey string `json:"logKey"`
	// Checks lists each command with how it ended and how long it took.
	Checks  []CheckResult `json:"checks"`
	Summary string        `json:"summary"`
}

// CheckResult is how one check command ended.
type CheckResult struct {
	Command string  `json:"command"`
	Passed  bool    `json:"passed"`
	Seconds float64 `json:"seconds"`
}

// Package is the output of the package step: one packaged template and the
// function zips it refers to, promoted unchanged to every environment.
type Package struct {
	// Bucket and TemplateKey locate the packaged template.
	Bucket      string `json:"bucket"`
	TemplateKey string `json:"templateKey"`
	// TemplateURL is the packaged template's S3 URL, as CloudFormation's
	// TemplateURL wants it.
	TemplateURL string `json:"templateURL"`
	// TemplateSHA256 is the packaged template's hex SHA-256, which the
	// deploy step checks before it hands the template to CloudFormation.
	// Empty in packages recorded before it was kept.
	TemplateSHA256 string `json:"templateSha256,omitempty"`
	// Functions lists each built function and the key of its zip.
	Functions []BuiltFunction `json:"functions"`
	// LogKey is the artifact-bucket key of the build output.
	LogKey  string `json:"logKey"`
	Summary string `json:"summary"`
}

// BuiltFunction is one function of the app's template, built and zipped.
type BuiltFunction struct {
	// Name is the function's logical ID in the template.
	Name string `json:"name"`
	// Key is the artifact-bucket key of its zip, named by content hash.
	Key string `json:"key"`
	// SHA256 is the zip's hex SHA-256 and Size its length in bytes, as
	// the package step made it; the deploy step refuses a zip that no
	// longer has them.
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	// Reused is true when the zip of an earlier run was reused because
	// nothing the function's build reads had changed.
	Reused bool `json:"reused,omitempty"`
}

// DeployAction names one step of deploying an environment's stack. The state
// machine calls the deploy handler once per action and waits between them.
type DeployAction string

// The deploy actions in the order the state machine calls them.
const (
	// ActionCreateChangeSet creates a CREATE or UPDATE change set.
	ActionCreateChangeSet DeployAction = "createChangeSet"
	// ActionDescribeChangeSet reports whether the change set is ready.
	ActionDescribeChangeSet DeployAction = "describeChangeSet"
	// ActionExecuteChangeSet starts the stack operation.
	ActionExecuteChangeSet DeployAction = "executeChangeSet"
	// ActionDescribeStack reports whether the stack operation ended, and
	// its outputs when it succeeded.
	ActionDescribeStack DeployAction = "describeStack"
	// ActionRecordRelease records the deploy, once its smoke test passed,
	// as the environment's newest release.
	ActionRecordRelease DeployAction = "recordRelease"
)

// DeployInput is the deploy handler's input.
type DeployInput struct {
	Action      DeployAction `json:"action"`
	Run         Run          `json:"run"`
	Execution   string       `json:"execution"`
	Package     Package      `json:"package"`
	Environment Environment  `json:"environment"`
	// Deployment is the previous action's output; empty for the first.
	Deployment Deployment `json:"deployment"`
	// StartedAt is when the execution started ($$.Execution.StartTime):
	// of two runs of one branch, the later one is the newer.
	StartedAt string `json:"startedAt,omitempty"`
	// Lock is the last ActionLock's output; empty before the first.
	Lock Lock `json:"lock"`
	// Rollback is set while the environment is being put back to its last
	// good release; empty otherwise.
	Rollback Rollback `json:"rollback"`
	// Failure is the caught error that led here: the smoke test's, for
	// ActionPrepareRollback; any, for ActionGiveUp.
	Failure *StateError `json:"failure,omitempty"`
	// Smoke is the smoke test's result, for ActionRecordRelease, whose
	// output (a DeliveredEnvironment) carries its summary.
	Smoke *SmokeResult `json:"smoke,omitempty"`
	// Source is the run's source step output, for ActionFindPackage.
	Source *Source `json:"source,omitempty"`
	// TaskToken is the approval's task token, for ActionRequestApproval
	// only. It is a secret: never logged, never returned.
	TaskToken string `json:"taskToken,omitempty"`
}

// Deployment is how far the deploy of one environment's stack has got.
type Deployment struct {
	Stack         string `json:"stack"`
	StackID       string `json:"stackId,omitempty"`
	ChangeSetID   string `json:"changeSetId,omitempty"`
	ChangeSetType string `json:"changeSetType,omitempty"`
	// Status is the change set's or the stack's last seen status.
	Status string `json:"status,omitempty"`
	// Done is true when the current action's wait is over.
	Done bool `json:"done"`
	// NoChanges is true when the change set was empty: nothing to execute.
	NoChanges bool `json:"noChanges"`
	// Changes summarises the change set, one line per resource.
	Changes []string `json:"changes"`
	// StartedAt is when the stack operation was started (RFC 3339), so that
	// only its own stack events are read.
	StartedAt string `json:"startedAt,omitempty"`
	// Outputs are the stack's outputs once it is deployed.
	Outputs map[string]string `json:"outputs"`
	Summary string            `json:"summary,omitempty"`
	// Recovering is set while the stack is being put right before its
	// change set can be made, and says how: "deleteFailedCreate" (a stack
	// that a failed first create left in ROLLBACK_COMPLETE is being
	// deleted, to be created again), "continueRollback" (the rollback of
	// an update that stopped in UPDATE_ROLLBACK_FAILED is being continued)
	// or "waitForStack" (an operation started outside this run is still in
	// progress). Empty otherwise.
	Recovering string `json:"recovering,omitempty"`
	// Recovered says what was done to put the stack right, once it was.
	Recovered string `json:"recovered,omitempty"`
}

// SmokeInput is the smoke-test handler's input.
type SmokeInput struct {
	Run Run `json:"run"`
	// Execution is the execution's ARN, for the logs.
	Execution   string      `json:"execution"`
	Environment Environment `json:"environment"`
	Deployment  Deployment  `json:"deployment"`
}

// SmokeResult is the smoke-test handler's output.
type SmokeResult struct {
	Environment string         `json:"environment"`
	Checks      []SmokeOutcome `json:"checks"`
	Summary     string         `json:"summary"`
}

// SmokeOutcome is how one smoke check ended.
type SmokeOutcome struct {
	Name string `json:"name"`
	URL  string `json:"url,omitempty"`
	// Function is the function an invoke check invoked, as it was
	// invoked (a name or an ARN).
	Function string `json:"function,omitempty"`
	Status   int    `json:"status"`
	Attempts int    `json:"attempts"`
	Passed   bool   `json:"passed"`
}

// Build states reported on a commit, as Bitbucket names them.
const (
	StateInProgress = "INPROGRESS"
	StateSuccessful = "SUCCESSFUL"
	StateFailed     = "FAILED"
	StateStopped    = "STOPPED"
)

// StatusInput is the status handler's input: what to say on the commit.
type StatusInput struct {
	Run Run `json:"run"`
	// Execution is the execution's ARN; the status links to it.
	Execution string `json:"execution"`
	// State is one of INPROGRESS, SUCCESSFUL, FAILED, STOPPED.
	State string `json:"state"`
	// Description is a short line for people; when empty it is derived
	// from Error or State.
	Description string `json:"description,omitempty"`
	// Error is the caught error of a failed run, as Step Functions puts it
	// in the state: its name and its cause.
	Error *StateError `json:"error,omitempty"`
	// Notify asks for a notification to the pipeline's topic although
	// the state is not a final one (a run that waits for an approval).
	// Final states always notify when a topic is configured.
	Notify bool `json:"notify,omitempty"`
	// Awaiting is set when the run waits for a person to approve a
	// deploy: the status and the notification say what it will change.
	Awaiting *AwaitingApproval `json:"awaiting,omitempty"`
	// Environments are the environments the run delivered, as the
	// promote step ends each ($.environments); a pull request's
	// successful status links to its preview's URL among their outputs.
	Environments []DeliveredEnvironment `json:"environments,omitempty"`
}

// AwaitingApproval is a deploy waiting for approval, as the commit status
// describes it.
type AwaitingApproval struct {
	Environment string `json:"environment"`
	// Changes are the change set's lines (Deployment.Changes).
	Changes []string `json:"changes"`
}

// StateError is an error as a Catch puts it in the state.
type StateError struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// StatusResult is the status handler's output.
type StatusResult struct {
	Key         string `json:"key"`
	State       string `json:"state"`
	Description string `json:"description"`
	URL         string `json:"url"`
}
