package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/stackflow/stackflow/internal/bitbucket"
	"github.com/stackflow/stackflow/internal/pipeline"
)

// The benchmarks measure what the webhook function does per delivery on its
// own: verify the signature, parse the event, plan one execution per pushed
// branch, build the StartExecution call, log one line and answer. The call
// itself goes to an in-memory starter, so the figure is the function's
// cost without the network; run them on one core:
//
//	go test -run '^$' -bench . -benchmem -cpu 1 ./internal/webhook

const benchMachine = "arn:aws:states:us-east-1:000000000000:stateMachine:PipelineStateMachine"

// memSecrets is a SecretSource holding one secret.
type memSecrets struct{ arn, value string }

func (m memSecrets) Get(_ context.Context, arn string) (string, error) {
	if arn != m.arn {
		return "", errors.New("secret not found")
	}
	return m.value, nil
}

// memStarter is a Starter that keeps executions in memory and follows
// StartExecution's contract for Standard workflows: names are 1-80 of
// [0-9A-Za-z_-]; starting a name again with the same input while it runs
// returns the same execution; any other reuse of a name is
// ExecutionAlreadyExists. Its executions never end.
type memStarter struct {
	machine string

	mu    sync.Mutex
	execs map[string]memExecution
}

type memExecution struct {
	input   string
	started time.Time
}

var validName = regexp.MustCompile(`^[0-9A-Za-z_-]{1,80}$`)

func newMemStarter(machine string) *memStarter {
	return &memStarter{machine: machine, execs: map[string]memExecution{}}
}

func (m *memStarter) StartExecution(_ context.Context, in *sfn.StartExecutionInput, _ ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	if aws.ToString(in.StateMachineArn) != m.machine {
		return nil, &types.StateMachineDoesNotExist{Message: aws.String("State Machine Does Not Exist")}
	}
	name := aws.ToString(in.Name)
	if !validName.MatchString(name) {
		return nil, &types.InvalidName{Message: aws.String("Invalid Name: " + name)}
	}
	input := aws.ToString(in.Input)
	if input == "" {
		input = "{}"
	}
	if !json.Valid([]byte(input)) {
		return nil, &types.InvalidExecutionInput{Message: aws.String("Invalid execution input")}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.execs[name]
	switch {
	case !ok:
		e = memExecution{input: input, started: time.Now()}
		m.execs[name] = e
	case e.input != input:
		return nil, &types.ExecutionAlreadyExists{Message: aws.String("Execution Already Exists: " + name)}
	}
	return &sfn.StartExecutionOutput{
		ExecutionArn: aws.String(executionARN(m.machine, name)),
		StartDate:    aws.Time(e.started),
	}, nil
}

var _ Starter = (*memStarter)(nil)

// pushData reads a delivery body from internal/bitbucket's testdata.
func pushData(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", "bitbucket", "testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// onePush is a typical repo:push: one branch moved to one new commit. It is
// the first change of testdata's push of two branches, a deletion and a tag.
func onePush(tb testing.TB) []byte {
	tb.Helper()
	var payload map[string]any
	if err := json.Unmarshal(pushData(tb, "repo-push.json"), &payload); err != nil {
		tb.Fatal(err)
	}
	push := payload["push"].(map[string]any)
	push["changes"] = push["changes"].([]any)[:1]
	body, err := json.Marshal(payload)
	if err != nil {
		tb.Fatal(err)
	}
	return body
}

// benchService is the service as the function builds it, logging JSON
// lines to nowhere, over in-memory secrets and starter.
func benchService() *Service {
	const arn = "arn:aws:secretsmanager:us-east-1:000000000000:secret:stackflow/webhook"
	return New(Config{
		StateMachineARN: benchMachine,
		SecretARN:       arn,
		Settings:        pipeline.Settings{PollSeconds: 10},
		Logger:          slog.New(slog.NewJSONHandler(io.Discard, nil)),
	}, memSecrets{arn: arn, value: testSecret}, newMemStarter(benchMachine))
}

func TestBenchmarkDeliveriesAreAccepted(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		body        []byte
		wantStarted int
		wantIgnored int
	}{
		{name: "one branch", body: onePush(t), wantStarted: 1},
		{name: "two branches, a deletion and a tag", body: pushData(t, "repo-push.json"), wantStarted: 2, wantIgnored: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc := benchService()
			req := delivery("repo:push", tt.body, sign(tt.body))
			// The second delivery is Bitbucket's redelivery of the first:
			// the same executions, started once.
			for attempt := 1; attempt <= 2; attempt++ {
				out, err := svc.Handle(context.Background(), req)
				if err != nil {
					t.Fatal(err)
				}
				var resp Response
				if err := json.Unmarshal([]byte(out.Body), &resp); err != nil {
					t.Fatalf("attempt %d: answer %q: %v", attempt, out.Body, err)
				}
				if out.StatusCode != 202 || len(resp.Started) != tt.wantStarted || len(resp.Ignored) != tt.wantIgnored || len(resp.Duplicates) != 0 {
					t.Errorf("attempt %d: got %d %s, want 202 with %d started, %d ignored", attempt, out.StatusCode, out.Body, tt.wantStarted, tt.wantIgnored)
				}
			}
			if got := len(svc.starter.(*memStarter).execs); got != tt.wantStarted {
				t.Errorf("got %d executions, want %d", got, tt.wantStarted)
			}
		})
	}
}

func TestMemStarterFollowsStartExecutionsContract(t *testing.T) {
	t.Parallel()
	start := func(s *memStarter, machine, name, input string) error {
		_, err := s.StartExecution(context.Background(), &sfn.StartExecutionInput{
			StateMachineArn: aws.String(machine), Name: aws.String(name), Input: aws.String(input),
		})
		return err
	}
	is := func(target any) func(error) bool {
		return func(err error) bool { return errors.As(err, target) }
	}
	tests := []struct {
		name    string
		machine string
		exec    string
		input   string
		want    string
		match   func(error) bool
	}{
		{name: "same name and input: the same execution", machine: benchMachine, exec: "hello-main-e10dae2", input: `{"a":1}`,
			want: "no error", match: func(err error) bool { return err == nil }},
		{name: "same name, other input", machine: benchMachine, exec: "hello-main-e10dae2", input: `{"a":2}`,
			want: "ExecutionAlreadyExists", match: is(new(*types.ExecutionAlreadyExists))},
		{name: "invalid name", machine: benchMachine, exec: "hello/main", input: `{}`,
			want: "InvalidName", match: is(new(*types.InvalidName))},
		{name: "name too long", machine: benchMachine, exec: strings.Repeat("x", 81), input: `{}`,
			want: "InvalidName", match: is(new(*types.InvalidName))},
		{name: "input not JSON", machine: benchMachine, exec: "x", input: `{`,
			want: "InvalidExecutionInput", match: is(new(*types.InvalidExecutionInput))},
		{name: "other machine", machine: benchMachine + "2", exec: "x", input: `{}`,
			want: "StateMachineDoesNotExist", match: is(new(*types.StateMachineDoesNotExist))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newMemStarter(benchMachine)
			if err := start(s, benchMachine, "hello-main-e10dae2", `{"a":1}`); err != nil {
				t.Fatal(err)
			}
			if err := start(s, tt.machine, tt.exec, tt.input); !tt.match(err) {
				t.Errorf("got %v, want %s", err, tt.want)
			}
		})
	}
}

// BenchmarkHandle is one delivery through Service.Handle: verify, parse,
// plan and start, log and answer. deliveries/s is per core at -cpu 1.
func BenchmarkHandle(b *testing.B) {
	for _, bb := range []struct {
		name string
		body []byte
	}{
		{name: "push of one branch", body: onePush(b)},
		{name: "push of two branches, a deletion and a tag", body: pushData(b, "repo-push.json")},
	} {
		b.Run(bb.name, func(b *testing.B) {
			svc := benchService()
			req := delivery("repo:push", bb.body, sign(bb.body))
			ctx := context.Background()
			b.SetBytes(int64(len(bb.body)))
			b.ReportAllocs()
			for b.Loop() {
				out, err := svc.Handle(ctx, req)
				if err != nil || out.StatusCode != 202 {
					b.Fatalf("got %d %s, %v; want 202", out.StatusCode, out.Body, err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}

// BenchmarkVerifySignature is the HMAC-SHA256 check of a typical push.
func BenchmarkVerifySignature(b *testing.B) {
	body := onePush(b)
	sig := sign(body)
	secret := []byte(testSecret)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := bitbucket.VerifySignature(secret, body, sig); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseEvent is the parse of a typical push into a typed event.
func BenchmarkParseEvent(b *testing.B) {
	body := onePush(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		ev, err := bitbucket.ParseEvent(bitbucket.EventRepoPush, body)
		if err != nil {
			b.Fatal(err)
		}
		if n := len(ev.(*bitbucket.PushEvent).Push.Changes); n != 1 {
			b.Fatalf("got %d changes, want 1", n)
		}
	}
}
