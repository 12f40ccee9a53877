package cfn

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/stackflow/stackflow/internal/local/events"
	"github.com/stackflow/stackflow/internal/local/lambda"
	"github.com/stackflow/stackflow/internal/local/samtransform"
)

// DefaultAccountID is the account kumo puts in the ARNs it makes.
const DefaultAccountID = "000000000000"

// Options configure an Engine.
type Options struct {
	// AWS reaches the local AWS (kumo): its BaseEndpoint is kumo's URL and
	// its Region and Credentials are used for every call. Required.
	AWS aws.Config
	// StepFunctionsEndpoint is the Step Functions API that state machines
	// are created at; empty means AWS.BaseEndpoint (kumo's own, which only
	// records them).
	StepFunctionsEndpoint string
	// Region is the stacks' region; empty means AWS.Region, or us-east-1.
	Region string
	// AccountID is the stacks' account; empty means DefaultAccountID,
	// kumo's.
	AccountID string
	// WorkDir is where function code is unpacked; empty means a temporary
	// directory that Close removes.
	WorkDir string
	// FunctionEnv is the environment every function gets (the local AWS's
	// AWS_ENDPOINT_URL* and the like); a function's own
	// Environment.Variables win over it.
	FunctionEnv map[string]string
	// FunctionLog returns where a function's output goes, given its name;
	// nil (or a nil writer) discards it.
	FunctionLog func(function string) io.Writer
	// Runtimes configure how functions of the Python and Node.js runtimes
	// run: where their runtime clients are installed, which interpreters
	// run them.
	Runtimes lambda.Options
	// FunctionConcurrency is how many processes serve each function, as
	// Lambda runs an environment per concurrent invocation; a function's
	// ReservedConcurrentExecutions, when lower, wins. 0 means 1.
	FunctionConcurrency int
	// StackFunctionConcurrency, when set, gives FunctionConcurrency for
	// the functions of one stack, by its name; 0 means FunctionConcurrency.
	// stackflow local's own pipeline serves several runs at once, an app's
	// stack little more than its smoke tests.
	StackFunctionConcurrency func(stack string) int
	// IAM, when set, is told of every resource the engine makes, updates
	// and deletes, and gives each function the credentials of its
	// execution role; nil means functions run with the local AWS's
	// credentials and nothing is enforced.
	IAM IAM
	// FunctionURLs decides the requests to the stacks' function URLs;
	// nil means IAM (when set). stackflow local gives its IAM here even
	// with --iam off, which evaluates no policy but still authenticates
	// the callers of AWS_IAM URLs. With neither, an AWS_IAM URL refuses
	// every request (no one can verify its signature) and a NONE URL lets
	// every request through.
	FunctionURLs FunctionURLAuthority
	// SAM runs the AWS::Serverless-2016-10-31 transform; nil means a
	// samtransform.Translator with its defaults (installed on first use
	// under the user cache directory), which Close stops.
	SAM Transformer
	// EventLog receives a JSON line per event delivered to a function (and
	// per failure) by the event sources of the stacks (queues, topics,
	// rules, schedules, bucket notifications, streams); nil discards them.
	EventLog io.Writer
	// EventClock keeps the time of schedules, batching windows and retry
	// delays; nil means the machine's clock. Tests give an
	// events.FakeClock.
	EventClock events.Clock
	// Log receives what a stack operation does locally that AWS does
	// otherwise, as it happens (a CodeDeploy deployment of an alias run
	// all at once, its hooks); nil discards it. Stack events say it too.
	Log io.Writer
}

// Engine applies CloudFormation templates onto a local AWS. Its Handler
// speaks CloudFormation's query API.
type Engine struct {
	opts    Options
	region  string
	account string
	workDir string
	ownDir  bool

	s3        *s3.Client
	dynamodb  *dynamodb.Client
	secrets   *secretsmanager.Client
	sfn       *sfn.Client
	ssm       *ssmClient
	lambda    *awslambda.Client
	functions *lambda.Supervisor
	sam       Transformer
	ownSAM    *samtransform.Translator // the default SAM, when the engine made it
	ev        *eventSources            // runs the stacks' event sources (events.go)

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu         sync.Mutex
	closed     bool
	stacks     map[string]*stack      // by stack ID
	live       map[string]string      // stack name -> ID of the stack that is not deleted
	changeSets map[string]*changeSet  // by change set ID
	apis       map[string]localServer // by API ID: its execute-api URL maps to URL()
	httpAPIs   map[string]*httpAPI    // the HTTP APIs among apis, by ID
	restAPIs   map[string]*restAPI    // the REST APIs among apis, by ID
	urlAuth    map[string]string      // function URLs' AuthType, by URL ID, while served
	// qualified are the ARNs of the functions' versions and aliases this
	// engine published, each to the name of its function.
	qualified map[string]string
	// versions are the last version published of each function, by name.
	versions map[string]int
	// layers are the layer versions published (ARN -> where the zip is),
	// of every stack; layerVersions the last version of each layer name.
	layers        map[string]s3Location
	layerVersions map[string]int
	// hooks are the CodeDeploy lifecycle event hooks that deployments
	// wait to hear from, by LifecycleEventHookExecutionId (codedeploy.go).
	hooks map[string]*hookRun
}

// New returns an engine for the local AWS that opts.AWS reaches.
func New(opts Options) (*Engine, error) {
	if opts.AWS.BaseEndpoint == nil || *opts.AWS.BaseEndpoint == "" {
		return nil, errors.New("new CloudFormation engine: the AWS configuration has no BaseEndpoint (the local AWS's URL)")
	}
	region := opts.Region
	if region == "" {
		region = opts.AWS.Region
	}
	if region == "" {
		region = "us-east-1"
	}
	account := opts.AccountID
	if account == "" {
		account = DefaultAccountID
	}
	cfg := opts.AWS.Copy()
	cfg.Region = region
	dir, own := opts.WorkDir, false
	if dir == "" {
		d, err := os.MkdirTemp("", "stackflow-cfn-")
		if err != nil {
			return nil, fmt.Errorf("new CloudFormation engine: %w", err)
		}
		dir, own = d, true
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("new CloudFormation engine: %w", err)
	}
	sup, err := lambda.New(cfg, opts.Runtimes)
	if err != nil {
		if own {
			os.RemoveAll(dir)
		}
		return nil, fmt.Errorf("new CloudFormation engine: %w", err)
	}
	var e *Engine // set below, before any event is delivered
	ev, err := newEventSources(cfg, account, opts, func(arn string) []string { return e.deliveryTargets(arn) })
	if err != nil {
		_ = sup.Close()
		if own {
			os.RemoveAll(dir)
		}
		return nil, fmt.Errorf("new CloudFormation engine: %w", err)
	}
	sfnEndpoint := opts.StepFunctionsEndpoint
	ctx, cancel := context.WithCancel(context.Background())
	e = &Engine{
		opts:     opts,
		region:   region,
		account:  account,
		workDir:  dir,
		ownDir:   own,
		s3:       s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }),
		dynamodb: dynamodb.NewFromConfig(cfg),
		secrets:  secretsmanager.NewFromConfig(cfg),
		sfn: sfn.NewFromConfig(cfg, func(o *sfn.Options) {
			if sfnEndpoint != "" {
				o.BaseEndpoint = aws.String(sfnEndpoint)
			}
		}),
		ssm:        newSSMClient(cfg),
		lambda:     awslambda.NewFromConfig(cfg),
		functions:  sup,
		ev:         ev,
		ctx:        ctx,
		cancel:     cancel,
		stacks:     map[string]*stack{},
		live:       map[string]string{},
		changeSets: map[string]*changeSet{},
		apis:       map[string]localServer{},
		httpAPIs:   map[string]*httpAPI{},
		restAPIs:   map[string]*restAPI{},
		urlAuth:    map[string]string{},
		qualified:  map[string]string{},
		versions:   map[string]int{},

		layers:        map[string]s3Location{},
		layerVersions: map[string]int{},
		hooks:         map[string]*hookRun{},
	}
	e.sam = opts.SAM
	if e.sam == nil {
		e.ownSAM = samtransform.New(samtransform.Options{})
		e.sam = e.ownSAM
	}
	return e, nil
}

// transformer is what runs the SAM transform.
func (e *Engine) transformer() Transformer {
	return e.sam
}

// Handler serves CloudFormation's query API (form-encoded POSTs with an
// Action, XML answers), as aws-sdk-go-v2's cloudformation client speaks it,
// and CodeDeploy's JSON protocol for PutLifecycleEventHookExecutionStatus
// (X-Amz-Target CodeDeploy_20141006.*), which the hooks of an alias's
// deployment call: give functions AWS_ENDPOINT_URL_CODEDEPLOY at it.
func (e *Engine) Handler() http.Handler {
	return http.HandlerFunc(e.serveHTTP)
}

// Close stops the operations in progress, every event source, every
// function's process and every HTTP API. Resources in the local AWS stay. Call it before the local
// AWS's server closes.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.mu.Unlock()
	e.cancel()
	e.wg.Wait()
	_ = e.ev.svc.Close() // before the functions it invokes stop
	err := e.functions.Close()
	e.mu.Lock()
	apis := e.apis
	e.apis = map[string]localServer{}
	e.httpAPIs = map[string]*httpAPI{}
	e.restAPIs = map[string]*restAPI{}
	e.urlAuth = map[string]string{} // the function URLs among apis
	e.mu.Unlock()
	for _, s := range apis {
		_ = s.Close()
	}
	if e.ownSAM != nil {
		_ = e.ownSAM.Close()
	}
	if e.ownDir {
		if rerr := os.RemoveAll(e.workDir); rerr != nil && err == nil {
			err = rerr
		}
	}
	return err
}

// Stack and resource statuses.
const (
	statusReview                 = "REVIEW_IN_PROGRESS"
	statusCreateInProgress       = "CREATE_IN_PROGRESS"
	statusCreateComplete         = "CREATE_COMPLETE"
	statusCreateFailed           = "CREATE_FAILED"
	statusRollbackInProgress     = "ROLLBACK_IN_PROGRESS"
	statusRollbackComplete       = "ROLLBACK_COMPLETE"
	statusRollbackFailed         = "ROLLBACK_FAILED"
	statusUpdateInProgress       = "UPDATE_IN_PROGRESS"
	statusUpdateCleanup          = "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"
	statusUpdateComplete         = "UPDATE_COMPLETE"
	statusUpdateFailed           = "UPDATE_FAILED"
	statusUpdateRollback         = "UPDATE_ROLLBACK_IN_PROGRESS"
	statusUpdateRollbackCleanup  = "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"
	statusUpdateRollbackComplete = "UPDATE_ROLLBACK_COMPLETE"
	statusUpdateRollbackFailed   = "UPDATE_ROLLBACK_FAILED"
	statusDeleteInProgress       = "DELETE_IN_PROGRESS"
	statusDeleteComplete         = "DELETE_COMPLETE"
	statusDeleteFailed           = "DELETE_FAILED"
	statusDeleteSkipped          = "DELETE_SKIPPED"
)

// stack is a stack and its history.
type stack struct {
	ID, Name        string
	Status, Reason  string
	Created         time.Time
	Updated         time.Time
	Deleted         time.Time
	Description     string
	tmpl            *template // the applied template, as submitted
	plan            *plan     // the applied template, processed
	params          []paramValue
	tags            []tag
	caps            []string
	roleARN         string
	disableRollback bool
	// protected is the stack's termination protection: DeleteStack
	// refuses the stack while it is on.
	protected bool
	outputs   []output
	resources map[string]*resource
	events    []event
	// busy is set while an operation (an executed change set, a delete,
	// a ContinueUpdateRollback) runs on the stack; setStatus clears it with
	// the status that ends the operation.
	busy bool
	// rollback is what an update's rollback left undone when it ended in
	// UPDATE_ROLLBACK_FAILED, for ContinueUpdateRollback.
	rollback *updateRollback
	// continueToken is the ClientRequestToken of the last
	// ContinueUpdateRollback, so that the same request again is harmless.
	continueToken string
}

// resource is a resource of a stack.
type resource struct {
	Logical        string
	Type           string // the template's type
	Physical       string
	Attrs          map[string]any
	Props          map[string]any // the evaluated properties last applied
	Status         string
	Reason         string
	Updated        time.Time
	DeletionPolicy string
	// UpdatePolicy is the resource's UpdatePolicy, evaluated, while an
	// update applies it (not kept).
	UpdatePolicy map[string]any
	// suffix is the random part of the name the engine makes for the
	// resource (physicalName), chosen once per create.
	suffix string
}

func (r *resource) clone() *resource {
	c := *r
	return &c
}

type output struct {
	Key, Value, Description, ExportName string
}

type tag struct {
	Key, Value string
}

// event is a stack event.
type event struct {
	ID                      string
	Logical, Physical, Type string
	Status, Reason          string
	Time                    time.Time
	Token                   string
}

// changeSet is a change set.
type changeSet struct {
	ID, Name           string
	StackID, StackName string
	Type               string // CREATE or UPDATE
	Status, Reason     string
	ExecStatus         string
	Created            time.Time
	Description        string
	tmpl               *template // as submitted
	plan               *plan     // its processed template, once worked out
	params             []paramValue
	tags               []tag
	caps               []string
	roleARN            string
	onFailure          string
	changes            []change
	token              string
}

// Change set statuses.
const (
	csCreatePending    = "CREATE_PENDING"
	csCreateInProgress = "CREATE_IN_PROGRESS"
	csCreateComplete   = "CREATE_COMPLETE"
	csFailed           = "FAILED"
	csDeleteComplete   = "DELETE_COMPLETE"

	execUnavailable = "UNAVAILABLE"
	execAvailable   = "AVAILABLE"
	execInProgress  = "EXECUTE_IN_PROGRESS"
	execComplete    = "EXECUTE_COMPLETE"
	execFailed      = "EXECUTE_FAILED"
	execObsolete    = "OBSOLETE"
)

// emptyChangeSet is CloudFormation's reason for a change set without
// changes.
const emptyChangeSet = "The submitted information didn't contain changes. Submit different information to create a change set."

// stackType is the resource type of a stack in its own events.
const stackType = "AWS::CloudFormation::Stack"

// addEvent records an event of st; the caller holds e.mu.
func (st *stack) addEvent(logical, physical, typ, status, reason, token string) {
	st.events = append(st.events, event{
		ID:       newUUID(),
		Logical:  logical,
		Physical: physical,
		Type:     typ,
		Status:   status,
		Reason:   reason,
		Time:     time.Now().UTC(),
		Token:    token,
	})
}

// setStatus sets st's status and records it as an event; the caller holds
// e.mu. A status that ends an operation (not *_IN_PROGRESS) makes the
// stack free in the same step, as AWS takes the next update of a stack as
// soon as it reports the last one complete: a caller that saw the status
// is never refused as busy.
func (st *stack) setStatus(status, reason, token string) {
	st.Status, st.Reason = status, reason
	if !strings.HasSuffix(status, "_IN_PROGRESS") {
		st.busy = false
	}
	st.addEvent(st.Name, st.ID, stackType, status, reason, token)
}

// findStack returns the stack a StackName names: a stack ID (deleted
// stacks too) or the name of a stack that is not deleted. The caller holds
// e.mu.
func (e *Engine) findStack(name string) *stack {
	if strings.HasPrefix(name, "arn:") {
		return e.stacks[name]
	}
	if id, ok := e.live[name]; ok {
		return e.stacks[id]
	}
	return nil
}

func stackMissing(name string) error {
	return validationError(fmt.Sprintf("Stack with id %s does not exist", name))
}

// stackARN returns a new stack ID.
func (e *Engine) stackARN(name string) string {
	return fmt.Sprintf("arn:aws:cloudformation:%s:%s:stack/%s/%s", e.region, e.account, name, newUUID())
}

// changeSetARN returns a new change set ID.
func (e *Engine) changeSetARN(name string) string {
	return fmt.Sprintf("arn:aws:cloudformation:%s:%s:changeSet/%s/%s", e.region, e.account, name, newUUID())
}

// newUUID returns a random version 4 UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

const (
	upperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"
)

// randomString returns n characters drawn from alphabet.
func randomString(alphabet string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// physicalName returns a name as CloudFormation makes them for resources
// whose template gives none: <stack>-<logical>-<random>, the stack's and
// the resource's parts shortened to fit max.
func physicalName(stackName, logical string, max int, lower bool) string {
	return physicalNameWith(stackName, logical, randomString(upperAlnum, 12), max, lower)
}

// physicalName is the name CloudFormation makes for r (physicalName), with
// the random part r keeps for its create: what the service role is asked
// for before the create (servicerole.go) is the name the create then uses.
func (r *resource) physicalName(stackName string, max int, lower bool) string {
	if r.suffix == "" {
		r.suffix = randomString(upperAlnum, 12)
	}
	return physicalNameWith(stackName, r.Logical, r.suffix, max, lower)
}

// physicalNameWith is physicalName with its random part given.
func physicalNameWith(stackName, logical, suffix string, max int, lower bool) string {
	budget := max - len(suffix) - 2
	s, l := stackName, logical
	for len(s)+len(l) > budget {
		if len(s) >= len(l) {
			s = s[:len(s)-1]
		} else {
			l = l[:len(l)-1]
		}
	}
	name := s + "-" + l + "-" + suffix
	if lower {
		name = strings.ToLower(name)
	}
	return name
}

// sortedStacks returns the stacks that are not deleted, newest first; the
// caller holds e.mu.
func (e *Engine) sortedStacks(all bool) []*stack {
	var out []*stack
	for _, st := range e.stacks {
		if all || st.Status != statusDeleteComplete {
			out = append(out, st)
		}
	}
	slices.SortFunc(out, func(a, b *stack) int { return b.Created.Compare(a.Created) })
	return out
}
