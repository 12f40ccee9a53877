//go:build unix

package events

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/stackflow/stackflow/internal/local/lambda"
	"github.com/stackflow/stackflow/internal/testaws"
)

// codeDir holds the recorder function's bootstrap, built once.
var codeDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "stackflow-events-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := 1
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", filepath.Join(dir, "bootstrap"), "./testdata/recorder")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build the recorder function: %v\n%s", err, out)
	} else {
		codeDir = dir
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer is a log tests read while the service writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is one test's local AWS: kumo, a Lambda supervisor and an event
// service, closed in order when the test ends.
type env struct {
	t       *testing.T
	cfg     aws.Config
	lambdas *lambda.Supervisor
	svc     *Service
	log     *syncBuffer
	sqs     *sqs.Client
}

func setup(t *testing.T, clock Clock) *env {
	t.Helper()
	return setupAuthorized(t, clock, nil)
}

// setupAuthorized is setup with Options.Authorize.
func setupAuthorized(t *testing.T, clock Clock, authorize func(Delivery) error) *env {
	t.Helper()
	cfg := testaws.Start(t)
	sup, err := lambda.New(cfg, lambda.Options{})
	if err != nil {
		t.Fatal(err)
	}
	log := &syncBuffer{}
	svc, err := New(Options{AWS: cfg, Clock: clock, Log: log, Authorize: authorize})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = svc.Close()
		_ = sup.Close()
		if t.Failed() {
			t.Logf("event log:\n%s", log.String())
		}
	})
	return &env{t: t, cfg: cfg, lambdas: sup, svc: svc, log: log, sqs: sqs.NewFromConfig(cfg)}
}

// function starts a recorder function and returns its ARN and the file its
// events are recorded in.
func (e *env) function(prefix string, extra map[string]string) (string, string) {
	e.t.Helper()
	name := testaws.Name(prefix)
	record := filepath.Join(e.t.TempDir(), "events.jsonl")
	vars := map[string]string{"RECORD_FILE": record}
	for k, v := range extra {
		vars[k] = v
	}
	arn, err := e.lambdas.Start(context.Background(), lambda.Function{Name: name, Dir: codeDir, Env: vars, Timeout: time.Second})
	if err != nil {
		e.t.Fatal(err)
	}
	return arn, record
}

// queue creates a queue with attrs and returns its URL and ARN.
func (e *env) queue(prefix string, attrs map[string]string) (string, string) {
	e.t.Helper()
	ctx := context.Background()
	out, err := e.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(testaws.Name(prefix)), Attributes: attrs})
	if err != nil {
		e.t.Fatal(err)
	}
	a, err := e.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: out.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		e.t.Fatal(err)
	}
	return aws.ToString(out.QueueUrl), a.Attributes["QueueArn"]
}

// waitFor polls cond until it holds or 30 seconds have passed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// records reads the events a recorder function recorded.
func records(t *testing.T, file string) []json.RawMessage {
	t.Helper()
	f, err := os.Open(file)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []json.RawMessage
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			out = append(out, append(json.RawMessage(nil), line...))
		}
	}
	return out
}

// waitRecords waits for at least n events in file and returns them.
func waitRecords(t *testing.T, file string, n int) []json.RawMessage {
	t.Helper()
	var got []json.RawMessage
	waitFor(t, fmt.Sprintf("%d events in %s", n, filepath.Base(filepath.Dir(file))), func() bool {
		got = records(t, file)
		return len(got) >= n
	})
	return got
}

func decode[T any](t *testing.T, raw []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return v
}

// serviceGoroutines lists the stacks of goroutines running the service's
// code, for checks that Close left none behind.
func serviceGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var found []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "internal/local/events.(*Service)") && !strings.Contains(g, "events.setup") {
			found = append(found, g)
		}
	}
	return found
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
