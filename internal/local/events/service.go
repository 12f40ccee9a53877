package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Options configure a Service.
type Options struct {
	// AWS reaches kumo: its BaseEndpoint is kumo's URL (or a Lambda front's
	// before it; see internal/local/lambda), its Region the region of every
	// event and ARN.
	AWS aws.Config
	// AccountID is the account of the ARNs the service builds; empty means
	// kumo's, 000000000000.
	AccountID string
	// Clock keeps the time of schedules, batching windows and retry
	// delays; nil means the machine's clock.
	Clock Clock
	// Log receives a line per delivery and per failure (JSON, one object a
	// line); nil discards them.
	Log io.Writer
	// Authorize, when set, decides each delivery as IAM does (the
	// target's resource policy, or the schedule's role); an error drops
	// the event, as AWS drops an event it may not deliver, with a
	// warning line naming the denial. nil delivers everything.
	Authorize func(Delivery) error
}

// Delivery is one event a service delivers on its own behalf, for
// Options.Authorize.
type Delivery struct {
	// Service is the service principal that delivers
	// ("events.amazonaws.com", "sns.amazonaws.com", "s3.amazonaws.com",
	// "scheduler.amazonaws.com").
	Service string
	// Action is lambda:InvokeFunction, sqs:SendMessage or sns:Publish.
	Action string
	// Target is the function's, queue's or topic's ARN.
	Target string
	// SourceARN is the rule, schedule, topic or bucket the event comes
	// from.
	SourceARN string
	// Role is the role the service delivers as (a schedule's RoleArn);
	// empty when the target's resource policy decides.
	Role string
}

// Service runs event sources against kumo. Each source (a mapping, a
// subscription, a rule, a schedule, a bucket's notifications) is started
// by its Put method, replaced by the next Put of the same name and stopped
// by its Delete method; Close stops them all. Its methods are safe for
// concurrent use.
type Service struct {
	cfg       aws.Config
	authorize func(Delivery) error
	region    string
	account   string
	clock     Clock
	log       *slog.Logger

	lambda    *awslambda.Client
	sqs       *sqs.Client
	sns       *sns.Client
	events    *eventbridge.Client
	scheduler *scheduler.Client
	s3        *s3.Client
	streams   *dynamodbstreams.Client
	http      *http.Client

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the service started

	mu        sync.Mutex
	closed    bool
	runners   map[string]*runner // by source key
	schedules map[string]*scheduleState
	rules     map[string]*ruleState // by bus/name
	bridges   map[string]bridge     // SNS subscriptions and S3 notifications by key
	watching  bool                  // the EventBridge delivery watcher runs
}

// runner is one goroutine that serves one source.
type runner struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a service that reaches kumo through opts.AWS.
func New(opts Options) (*Service, error) {
	if opts.AWS.BaseEndpoint == nil || *opts.AWS.BaseEndpoint == "" {
		return nil, errors.New("new event sources: the AWS configuration has no BaseEndpoint (kumo's URL)")
	}
	region := opts.AWS.Region
	if region == "" {
		region = "us-east-1"
		opts.AWS.Region = region
	}
	account := opts.AccountID
	if account == "" {
		account = "000000000000"
	}
	clock := opts.Clock
	if clock == nil {
		clock = RealClock{}
	}
	w := opts.Log
	if w == nil {
		w = io.Discard
	}
	ctx, cancel := context.WithCancel(context.Background())
	cfg := opts.AWS
	return &Service{
		cfg:       cfg,
		authorize: opts.Authorize,
		region:    region,
		account:   account,
		clock:     clock,
		log:       slog.New(slog.NewJSONHandler(&lockedWriter{w: w}, nil)),
		lambda:    awslambda.NewFromConfig(cfg),
		sqs:       sqs.NewFromConfig(cfg),
		sns:       sns.NewFromConfig(cfg),
		events:    eventbridge.NewFromConfig(cfg),
		scheduler: scheduler.NewFromConfig(cfg),
		s3:        s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }),
		streams:   dynamodbstreams.NewFromConfig(cfg),
		http:      &http.Client{Timeout: 10 * time.Second},
		ctx:       ctx,
		cancel:    cancel,
		runners:   map[string]*runner{},
		schedules: map[string]*scheduleState{},
		rules:     map[string]*ruleState{},
		bridges:   map[string]bridge{},
	}, nil
}

// Close stops every source and waits for their goroutines, and for the
// invocations they have under way, to end. What was recorded in kumo
// (mappings, rules, schedules, subscriptions) stays there.
func (s *Service) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return nil
}

// start runs fn on a goroutine of its own as the source key, stopping the
// source of that key that ran before. fn must return when ctx ends.
func (s *Service) start(key string, fn func(ctx context.Context)) error {
	s.stop(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("start %s: the event sources are closed", key)
	}
	ctx, cancel := context.WithCancel(s.ctx)
	r := &runner{cancel: cancel, done: make(chan struct{})}
	s.runners[key] = r
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(r.done)
		fn(ctx)
	}()
	return nil
}

// stop ends the source key's goroutine and waits for it.
func (s *Service) stop(key string) {
	s.mu.Lock()
	r := s.runners[key]
	delete(s.runners, key)
	s.mu.Unlock()
	if r != nil {
		r.cancel()
		<-r.done
	}
}

// goBackground runs fn on a goroutine the service waits for on Close.
func (s *Service) goBackground(fn func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
	return true
}

// Running lists the keys of the sources whose goroutines run, for tests
// and diagnostics: "sqs:<uuid>", "streams:<uuid>", "sns:<subscription>",
// "s3:<bucket>", "rule:<bus>/<name>", "schedule:<group>/<name>".
func (s *Service) Running() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.runners))
	for k := range s.runners {
		keys = append(keys, k)
	}
	return keys
}

// FunctionError is a function's failure as Lambda reports it: the
// errorType and errorMessage of its response.
type FunctionError struct {
	Function string
	Type     string
	Message  string
}

func (e *FunctionError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("function %s failed with %s", e.Function, e.Type)
	}
	return fmt.Sprintf("function %s failed with %s: %s", e.Function, e.Type, e.Message)
}

// invoke calls fn synchronously with payload and returns its response, or
// a *FunctionError when the function failed.
func (s *Service) invoke(ctx context.Context, fn string, payload []byte) ([]byte, error) {
	out, err := s.lambda.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String(fn), Payload: payload})
	if err != nil {
		return nil, fmt.Errorf("invoke %s: %w", functionName(fn), err)
	}
	if out.FunctionError != nil {
		var body struct {
			ErrorType    string `json:"errorType"`
			ErrorMessage string `json:"errorMessage"`
		}
		_ = json.Unmarshal(out.Payload, &body)
		if body.ErrorType == "" {
			body.ErrorType = *out.FunctionError
		}
		return nil, &FunctionError{Function: functionName(fn), Type: body.ErrorType, Message: body.ErrorMessage}
	}
	return out.Payload, nil
}

// authorized asks Options.Authorize whether d may be delivered; a
// delivery it denies is logged as dropped, with the denial.
func (s *Service) authorized(d Delivery, source []any) bool {
	if s.authorize == nil {
		return true
	}
	if err := s.authorize(d); err != nil {
		s.log.Warn("delivery dropped: not authorized", append([]any{"target", d.Target, "action", d.Action, "denial", err.Error()}, source...)...)
		return false
	}
	return true
}

// Lambda's retries of a failed asynchronous invocation: two more attempts,
// a minute and then two minutes later.
var asyncRetryDelays = []time.Duration{time.Minute, 2 * time.Minute}

// invokeAsync delivers payload to fn as Lambda's asynchronous invocation
// does (SNS, S3, EventBridge and Scheduler invoke so): on its own
// goroutine, a failure retried twice, a minute and then two minutes
// later on the service's clock, every attempt logged with what source
// says the event is.
func (s *Service) invokeAsync(fn string, payload []byte, source ...any) {
	s.goBackground(func() {
		for attempt := 0; ; attempt++ {
			_, err := s.invoke(s.ctx, fn, payload)
			if err == nil {
				s.log.Info("delivered", append([]any{"function", functionName(fn), "attempt", attempt + 1}, source...)...)
				return
			}
			if s.ctx.Err() != nil {
				return
			}
			if attempt >= len(asyncRetryDelays) {
				s.log.Error("delivery failed, no retries left", append([]any{"function", functionName(fn), "attempt", attempt + 1, "error", err.Error()}, source...)...)
				return
			}
			delay := asyncRetryDelays[attempt]
			s.log.Warn("delivery failed, will retry", append([]any{"function", functionName(fn), "attempt", attempt + 1, "error", err.Error(), "retryIn", delay.String()}, source...)...)
			ch, stop := s.clock.At(s.clock.Now().Add(delay))
			select {
			case <-s.ctx.Done():
				stop()
				return
			case <-ch:
			}
		}
	})
}

// functionName returns the name in a function ARN
// (arn:aws:lambda:region:account:function:name[:qualifier]), or fn itself.
func functionName(fn string) string {
	parts := strings.Split(fn, ":")
	if len(parts) >= 7 && parts[5] == "function" {
		return parts[6]
	}
	return fn
}

// arnName returns the last colon-separated part of an ARN: a queue's or a
// topic's name.
func arnName(arn string) string {
	return arn[strings.LastIndexByte(arn, ':')+1:]
}

// sleep waits d of real time, or until ctx ends; it reports whether ctx is
// still live. Polls of kumo wait on real time: kumo's own timeouts
// (visibility, long polls) are real time.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// lockedWriter serialises writes to the log.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
