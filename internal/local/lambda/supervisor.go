package lambda

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// Defaults Lambda applies to a function that does not say.
const (
	DefaultTimeout    = 3 * time.Second
	DefaultMemorySize = 128
	DefaultRuntime    = "provided.al2023"
	DefaultHandler    = "bootstrap"
)

// Dummy credentials every function gets: kumo does not check them, and they
// can never reach a real AWS account.
const (
	dummyAccessKeyID     = "AKIASTACKFLOWLOCAL00"
	dummySecretAccessKey = "stackflow-local-dummy-secret-access-key"
)

// How long a process has between SIGTERM and SIGKILL.
const stopGrace = 2 * time.Second

// Restart pauses: the first is short, each next one doubles up to the
// longest, and a process that ran at least healthyRun starts the series
// again.
const (
	firstRestartPause = 100 * time.Millisecond
	longestPause      = 5 * time.Second
	healthyRun        = 10 * time.Second
)

// Function is a Lambda function to run from a directory that holds its
// code.
type Function struct {
	// Name is the function's name in Lambda.
	Name string
	// Dir holds the unpacked code, LAMBDA_TASK_ROOT: its processes run in
	// it, and a provided.* function runs Dir/bootstrap.
	Dir string
	// Opt is the directory that stands in for /opt: the function's layers,
	// unpacked in order. Empty means no layers.
	Opt string
	// Env is the function's environment; it wins over the defaults (see the
	// package documentation).
	Env map[string]string
	// Timeout is how long an invocation may run; 0 means DefaultTimeout.
	Timeout time.Duration
	// MemorySize in MiB is recorded, not enforced; 0 means DefaultMemorySize.
	MemorySize int
	// Runtime says how the function runs (see Runtimes) and Handler what
	// it runs (_HANDLER); empty means DefaultRuntime and DefaultHandler.
	Runtime string
	Handler string
	// Role is the execution role's ARN, recorded; empty means a role named
	// after the function.
	Role string
	// Description is recorded.
	Description string
	// CodeBucket and CodeKey say where the code came from, recorded in
	// Lambda; both may be empty.
	CodeBucket string
	CodeKey    string
	// Log receives the process's standard output and error and the
	// supervisor's notes about it; nil discards them.
	Log io.Writer
	// Concurrency is how many processes serve the function at once, as
	// Lambda runs one execution environment per concurrent invocation;
	// 0 means 1. Invocations beyond it wait for a free process.
	Concurrency int
}

// lambdaAPI is the part of Lambda's API the supervisor uses.
type lambdaAPI interface {
	CreateFunction(ctx context.Context, in *awslambda.CreateFunctionInput, optFns ...func(*awslambda.Options)) (*awslambda.CreateFunctionOutput, error)
	UpdateFunctionConfiguration(ctx context.Context, in *awslambda.UpdateFunctionConfigurationInput, optFns ...func(*awslambda.Options)) (*awslambda.UpdateFunctionConfigurationOutput, error)
	UpdateFunctionCode(ctx context.Context, in *awslambda.UpdateFunctionCodeInput, optFns ...func(*awslambda.Options)) (*awslambda.UpdateFunctionCodeOutput, error)
	DeleteFunction(ctx context.Context, in *awslambda.DeleteFunctionInput, optFns ...func(*awslambda.Options)) (*awslambda.DeleteFunctionOutput, error)
}

var _ lambdaAPI = (*awslambda.Client)(nil)

// Options configure how a supervisor runs the functions of the Python and
// Node.js runtimes.
type Options struct {
	// CacheDir is where runtime clients are installed once (AWS's
	// awslambdaric for each host Python, stackflow's client for Node.js),
	// shared by every supervisor and process that names it; empty means
	// <os.UserCacheDir()>/stackflow/lambda.
	CacheDir string
	// Python and Node are the host's interpreters, looked up on PATH; empty
	// means python3 and node.
	Python string
	Node   string
}

// Supervisor runs functions' processes against kumo's Lambda service and
// keeps them running. Its methods are safe for concurrent use.
type Supervisor struct {
	api      lambdaAPI
	endpoint *url.URL // kumo's base URL
	region   string
	http     *http.Client
	opts     Options
	host     hostRuntimes

	mu     sync.Mutex
	procs  map[string][]*process // each function's processes
	closed bool
}

// New returns a supervisor for the kumo server that cfg reaches: cfg's
// BaseEndpoint is kumo's URL ("http://127.0.0.1:port") and cfg.Region is
// the functions' region.
func New(cfg aws.Config, opts Options) (*Supervisor, error) {
	if cfg.BaseEndpoint == nil || *cfg.BaseEndpoint == "" {
		return nil, errors.New("new lambda supervisor: the AWS configuration has no BaseEndpoint (kumo's URL)")
	}
	u, err := url.Parse(*cfg.BaseEndpoint)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("new lambda supervisor: kumo's endpoint %q is not a URL", *cfg.BaseEndpoint)
	}
	region := cfg.Region
	if region == "" {
		region = "us-east-1"
	}
	if opts.CacheDir == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("new lambda supervisor: find a cache directory for runtime clients (set Options.CacheDir): %w", err)
		}
		opts.CacheDir = filepath.Join(dir, "stackflow", "lambda")
	}
	return &Supervisor{
		api:      awslambda.NewFromConfig(cfg),
		endpoint: u,
		region:   region,
		http:     &http.Client{Timeout: 10 * time.Second},
		opts:     opts,
		procs:    map[string][]*process{},
	}, nil
}

// Start registers fn in Lambda and runs its processes as its runtime says
// (see Runtimes), replacing the processes of a function of the same name
// that already runs (a new version of its code or configuration). It fails
// when the runtime cannot run here (its interpreter is missing, say). It
// returns the function's ARN once the processes have started; an
// invocation made before a process polls for work waits for it.
func (s *Supervisor) Start(ctx context.Context, fn Function) (string, error) {
	if fn.Name == "" {
		return "", errors.New("start function: no name")
	}
	l, ok := runtimes[or(fn.Runtime, DefaultRuntime)]
	if !ok {
		return "", fmt.Errorf("start function %s: %w", fn.Name, CheckRuntime(fn.Runtime))
	}
	log := &lockedWriter{w: orDiscard(fn.Log)}
	ln, err := l.prepare(ctx, s, fn, log)
	if err != nil {
		return "", fmt.Errorf("start function %s: %w", fn.Name, err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return "", fmt.Errorf("start function %s: the supervisor is closed", fn.Name)
	}
	old := s.procs[fn.Name]
	delete(s.procs, fn.Name)
	s.mu.Unlock()
	stopAll(old)

	arn, err := s.register(ctx, fn)
	if err != nil {
		return "", err
	}
	if err := s.announce(ctx, fn.Name); err != nil {
		return "", err
	}
	n := max(fn.Concurrency, 1)
	procs := make([]*process, 0, n)
	env := s.environ(fn, ln)
	for range n {
		rl, err := newRelay(fn.Name, arn, s.endpoint)
		if err != nil {
			stopAll(procs)
			return "", fmt.Errorf("start function %s: %w", fn.Name, err)
		}
		own := append(slices.Clone(env), "AWS_LAMBDA_RUNTIME_API="+rl.addr())
		tmp := ""
		if _, set := fn.Env["TMPDIR"]; !set {
			// Each execution environment has a /tmp of its own.
			if tmp, err = os.MkdirTemp("", "stackflow-lambda-tmp-"); err != nil {
				rl.close()
				stopAll(procs)
				return "", fmt.Errorf("start function %s: its /tmp: %w", fn.Name, err)
			}
			own = append(slices.DeleteFunc(own, func(kv string) bool { return strings.HasPrefix(kv, "TMPDIR=") }), "TMPDIR="+tmp)
		}
		p := &process{
			fn:     fn,
			launch: ln,
			env:    own,
			tmp:    tmp,
			log:    log,
			relay:  rl,
			quit:   make(chan struct{}),
			done:   make(chan struct{}),
			first:  make(chan error, 1),
		}
		go p.run()
		if err := <-p.first; err != nil {
			<-p.done
			stopAll(procs)
			return "", fmt.Errorf("start function %s: %w", fn.Name, err)
		}
		procs = append(procs, p)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		stopAll(procs)
		return "", fmt.Errorf("start function %s: the supervisor is closed", fn.Name)
	}
	if prev := s.procs[fn.Name]; prev != nil {
		// Another Start of the same name raced this one: the later wins.
		defer stopAll(prev)
	}
	s.procs[fn.Name] = procs
	s.mu.Unlock()
	return arn, nil
}

// stopAll stops every process of procs, together.
func stopAll(procs []*process) {
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Go(p.stop)
	}
	wg.Wait()
}

// Stop stops the process of the function name and deletes the function
// from Lambda. Stopping a function that does not run is not an error.
func (s *Supervisor) Stop(ctx context.Context, name string) error {
	s.mu.Lock()
	procs := s.procs[name]
	delete(s.procs, name)
	s.mu.Unlock()
	stopAll(procs)
	_, err := s.api.DeleteFunction(ctx, &awslambda.DeleteFunctionInput{FunctionName: aws.String(name)})
	var nf *types.ResourceNotFoundException
	if err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("delete function %s: %w", name, err)
	}
	return nil
}

// PID returns the process ID of the function's first process, or 0 when
// none runs.
func (s *Supervisor) PID(name string) int {
	s.mu.Lock()
	procs := s.procs[name]
	s.mu.Unlock()
	if len(procs) == 0 {
		return 0
	}
	return procs[0].pid()
}

// Close stops every process. Functions stay registered in Lambda. Call it
// before kumo's server closes.
func (s *Supervisor) Close() error {
	s.mu.Lock()
	s.closed = true
	procs := s.procs
	s.procs = map[string][]*process{}
	s.mu.Unlock()
	var all []*process
	for _, ps := range procs {
		all = append(all, ps...)
	}
	stopAll(all)
	return nil
}

// register creates the function in Lambda, or updates it when it exists,
// and returns its ARN.
func (s *Supervisor) register(ctx context.Context, fn Function) (string, error) {
	timeout := int32(fn.Timeout / time.Second)
	if fn.Timeout <= 0 {
		timeout = int32(DefaultTimeout / time.Second)
	} else if fn.Timeout%time.Second != 0 {
		timeout++
	}
	memory := int32(fn.MemorySize)
	if memory <= 0 {
		memory = DefaultMemorySize
	}
	role := fn.Role
	if role == "" {
		role = "arn:aws:iam::000000000000:role/" + truncate(fn.Name+"-role", 64)
	}
	env := &types.Environment{Variables: maps.Clone(fn.Env)}
	if env.Variables == nil {
		env.Variables = map[string]string{}
	}
	code := &types.FunctionCode{}
	if fn.CodeBucket != "" && fn.CodeKey != "" {
		code.S3Bucket, code.S3Key = aws.String(fn.CodeBucket), aws.String(fn.CodeKey)
	}
	out, err := s.api.CreateFunction(ctx, &awslambda.CreateFunctionInput{
		FunctionName: aws.String(fn.Name),
		Role:         aws.String(role),
		Runtime:      types.Runtime(or(fn.Runtime, DefaultRuntime)),
		Handler:      aws.String(or(fn.Handler, DefaultHandler)),
		Description:  optional(fn.Description),
		Timeout:      aws.Int32(timeout),
		MemorySize:   aws.Int32(memory),
		Environment:  env,
		Code:         code,
	})
	if err == nil {
		return aws.ToString(out.FunctionArn), nil
	}
	var conflict *types.ResourceConflictException
	if !errors.As(err, &conflict) {
		return "", fmt.Errorf("create function %s: %w", fn.Name, err)
	}
	up, err := s.api.UpdateFunctionConfiguration(ctx, &awslambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String(fn.Name),
		Role:         aws.String(role),
		Runtime:      types.Runtime(or(fn.Runtime, DefaultRuntime)),
		Handler:      aws.String(or(fn.Handler, DefaultHandler)),
		Description:  optional(fn.Description),
		Timeout:      aws.Int32(timeout),
		MemorySize:   aws.Int32(memory),
		Environment:  env,
	})
	if err != nil {
		return "", fmt.Errorf("update function %s: %w", fn.Name, err)
	}
	if code.S3Bucket != nil {
		if _, err := s.api.UpdateFunctionCode(ctx, &awslambda.UpdateFunctionCodeInput{
			FunctionName: aws.String(fn.Name),
			S3Bucket:     code.S3Bucket,
			S3Key:        code.S3Key,
		}); err != nil {
			return "", fmt.Errorf("update code of function %s: %w", fn.Name, err)
		}
	}
	return aws.ToString(up.FunctionArn), nil
}

// announce tells kumo that the function is served through the Runtime API
// before its process polls for work. kumo hands an Invoke to the Runtime API
// only for a function it has seen there; without this, an invocation made
// between Start and the first poll would fail at once instead of waiting for
// the handler. A response to an invocation that does not exist is how kumo
// learns the name: it is otherwise ignored.
func (s *Supervisor) announce(ctx context.Context, name string) error {
	u := s.endpoint.JoinPath("_runtime", name, "2018-06-01", "runtime", "invocation", "stackflow-announce", "response")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader([]byte("{}")))
	if err != nil {
		return fmt.Errorf("announce function %s: %w", name, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.http.Do(req)
	if err != nil {
		return fmt.Errorf("announce function %s to kumo's runtime API: %w", name, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("announce function %s to kumo's runtime API: HTTP %d", name, resp.StatusCode)
	}
	return nil
}

// environ returns the process environment of fn, which the runtime's
// launch l adds to, but for AWS_LAMBDA_RUNTIME_API, each process's own.
func (s *Supervisor) environ(fn Function, l launch) []string {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || inheritedNot(k) {
			continue
		}
		env[k] = v
	}
	memory := fn.MemorySize
	if memory <= 0 {
		memory = DefaultMemorySize
	}
	maps.Copy(env, map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME":        fn.Name,
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(memory),
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + fn.Name,
		"AWS_LAMBDA_LOG_STREAM_NAME":      time.Now().UTC().Format("2006/01/02") + "/[$LATEST]local",
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"AWS_REGION":                      s.region,
		"AWS_DEFAULT_REGION":              s.region,
		"AWS_ACCESS_KEY_ID":               dummyAccessKeyID,
		"AWS_SECRET_ACCESS_KEY":           dummySecretAccessKey,
		"AWS_XRAY_CONTEXT_MISSING":        "IGNORE_ERROR",
		"AWS_ENDPOINT_URL":                s.endpoint.String(),
		"LAMBDA_TASK_ROOT":                fn.Dir,
		"_HANDLER":                        or(fn.Handler, DefaultHandler),
		"TZ":                              ":UTC",
	})
	if fn.Opt != "" {
		// Lambda's PATH ends in /opt/bin, its LD_LIBRARY_PATH in /opt/lib.
		env["PATH"] = joinPaths(env["PATH"], optPath(fn, "bin"))
		env["LD_LIBRARY_PATH"] = joinPaths(env["LD_LIBRARY_PATH"], optPath(fn, "lib"))
	}
	maps.Copy(env, l.env)
	maps.Copy(env, fn.Env)
	env["AWS_LAMBDA_FUNCTION_NAME"] = fn.Name
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// inheritedNot reports whether the host's variable k must not reach a local
// function: AWS settings (credentials, profiles, endpoints), Lambda's own,
// and the host's settings of the interpreters, which Lambda's runtimes set
// themselves.
func inheritedNot(k string) bool {
	u := strings.ToUpper(k)
	switch u {
	case "_HANDLER", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "VIRTUAL_ENV", "NODE_PATH", "NODE_OPTIONS":
		return true
	}
	return strings.HasPrefix(u, "AWS_") || strings.HasPrefix(u, "_X_AMZN") || strings.HasPrefix(u, "LAMBDA_")
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// lockedWriter serialises the writes of a process's output and the
// supervisor's notes.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
