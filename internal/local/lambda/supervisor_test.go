//go:build unix

package lambda

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/stackflow/stackflow/internal/testaws"
)

// codeDir holds the echo handler's bootstrap, built once for the host.
var codeDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "stackflow-lambda-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := 1
	if err := buildEcho(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		codeDir = dir
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func buildEcho(dir string) error {
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", filepath.Join(dir, "bootstrap"), "./testdata/echo")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build the echo handler: %v\n%s", err, out)
	}
	return nil
}

type echo struct {
	Greeting string `json:"greeting"`
	PID      int    `json:"pid"`
	Region   string `json:"region"`
	Function string `json:"function"`
	Secret   string `json:"secret"`
	HostAWS  string `json:"hostAws"`
	Trace    string `json:"trace"`
	Tag      string `json:"tag"`
	Stolen   string `json:"stolen"`
	TmpDir   string `json:"tmpDir"`
}

// setup starts kumo and a supervisor that is closed before kumo.
func setup(t *testing.T) (*Supervisor, *awslambda.Client) {
	t.Helper()
	cfg := testaws.Start(t)
	s, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, awslambda.NewFromConfig(cfg)
}

func invoke(t *testing.T, c *awslambda.Client, name string, payload string) echo {
	t.Helper()
	out, err := c.Invoke(context.Background(), &awslambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(payload)})
	if err != nil {
		t.Fatalf("invoke %s: %v", name, err)
	}
	if out.FunctionError != nil {
		t.Fatalf("invoke %s: function error %s: %s", name, *out.FunctionError, out.Payload)
	}
	var e echo
	if err := json.Unmarshal(out.Payload, &e); err != nil {
		t.Fatalf("invoke %s: %v in %s", name, err, out.Payload)
	}
	return e
}

func alive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}

// syncBuffer is a log writer tests can read while processes write to it.
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

func TestStartServesInvocationsByNameAndARN(t *testing.T) {
	t.Setenv("AWS_PROFILE", "a-real-account")
	s, c := setup(t)
	arn, err := s.Start(context.Background(), Function{
		Name:    "hello",
		Dir:     codeDir,
		Env:     map[string]string{"GREETING": "hi", "AWS_REGION": "eu-west-3"},
		Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := ":function:hello"; !strings.HasPrefix(arn, "arn:aws:lambda:") || !strings.HasSuffix(arn, want) {
		t.Errorf("got ARN %q, want arn:aws:lambda:...%s", arn, want)
	}
	tests := []struct {
		name string
		fn   string
	}{
		{"by name", "hello"},
		{"by ARN", arn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := invoke(t, c, tt.fn, `{}`)
			if got.TmpDir == "" || got.TmpDir == os.TempDir() {
				t.Errorf("got TMPDIR %q, want one of the process's own", got.TmpDir)
			}
			got.TmpDir = ""
			want := echo{Greeting: "hi", PID: s.PID("hello"), Region: "eu-west-3", Function: "hello", Secret: dummySecretAccessKey}
			if got != want {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
}

func TestRestartsAProcessThatDied(t *testing.T) {
	s, c := setup(t)
	log := &syncBuffer{}
	if _, err := s.Start(context.Background(), Function{Name: "phoenix", Dir: codeDir, Log: log}); err != nil {
		t.Fatal(err)
	}
	first := s.PID("phoenix")
	if first == 0 {
		t.Fatal("got no process, want one")
	}
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// The next invocation waits for the new process to poll.
	got := invoke(t, c, "phoenix", `{}`)
	if got.PID == first || got.PID == 0 {
		t.Errorf("got an answer from process %d, want a new process (the first was %d)", got.PID, first)
	}
	if !strings.Contains(log.String(), "function phoenix exited") {
		t.Errorf("got log %q, want a note that the function exited", log.String())
	}
}

func TestStartAgainReplacesTheProcess(t *testing.T) {
	s, c := setup(t)
	ctx := context.Background()
	if _, err := s.Start(ctx, Function{Name: "app", Dir: codeDir, Env: map[string]string{"GREETING": "v1"}}); err != nil {
		t.Fatal(err)
	}
	old := s.PID("app")
	if _, err := s.Start(ctx, Function{Name: "app", Dir: codeDir, Env: map[string]string{"GREETING": "v2"}}); err != nil {
		t.Fatal(err)
	}
	if alive(old) {
		t.Errorf("got process %d alive, want it stopped", old)
	}
	if got := invoke(t, c, "app", `{}`).Greeting; got != "v2" {
		t.Errorf("got greeting %q, want %q", got, "v2")
	}
	cfg, err := c.GetFunctionConfiguration(ctx, &awslambda.GetFunctionConfigurationInput{FunctionName: aws.String("app")})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Environment.Variables["GREETING"]; got != "v2" {
		t.Errorf("got registered GREETING %q, want %q", got, "v2")
	}
}

func TestStopEndsTheProcessAndDeletesTheFunction(t *testing.T) {
	s, c := setup(t)
	ctx := context.Background()
	if _, err := s.Start(ctx, Function{Name: "gone", Dir: codeDir}); err != nil {
		t.Fatal(err)
	}
	pid := s.PID("gone")
	if err := s.Stop(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	if alive(pid) {
		t.Errorf("got process %d alive, want it stopped", pid)
	}
	if got := s.PID("gone"); got != 0 {
		t.Errorf("got PID %d, want 0", got)
	}
	_, err := c.GetFunction(ctx, &awslambda.GetFunctionInput{FunctionName: aws.String("gone")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("got %v, want ResourceNotFoundException", err)
	}
	if err := s.Stop(ctx, "gone"); err != nil {
		t.Errorf("stop again: got %v, want nil", err)
	}
}

func TestStartRefusesCodeWithoutBootstrap(t *testing.T) {
	s, _ := setup(t)
	tests := []struct {
		name string
		dir  string
		want string
	}{
		{"no bootstrap", t.TempDir(), "no bootstrap"},
		{"not executable", notExecutable(t), "permission denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Start(context.Background(), Function{Name: "broken", Dir: tt.dir})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func notExecutable(t *testing.T) string {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bootstrap"), []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestCloseStopsEveryProcess(t *testing.T) {
	s, _ := setup(t)
	ctx := context.Background()
	var pids []int
	for _, name := range []string{"a", "b"} {
		if _, err := s.Start(ctx, Function{Name: name, Dir: codeDir}); err != nil {
			t.Fatal(err)
		}
		pids = append(pids, s.PID(name))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("got process %d alive, want it stopped", pid)
		}
	}
	if _, err := s.Start(ctx, Function{Name: "late", Dir: codeDir}); err == nil {
		t.Error("start after close: got nil, want an error")
	}
}

// TestConcurrencyRunsOneProcessPerConcurrentInvocation: as Lambda runs an
// execution environment per concurrent invocation, overlapping invocations
// are served by different processes, none waiting for another.
func TestConcurrencyRunsOneProcessPerConcurrentInvocation(t *testing.T) {
	s, c := setup(t)
	if _, err := s.Start(context.Background(), Function{Name: "busy", Dir: codeDir, Timeout: 5 * time.Second, Concurrency: 3}); err != nil {
		t.Fatal(err)
	}
	pids := make(chan int, 3)
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { pids <- invoke(t, c, "busy", `{"sleepMs": 400}`).PID })
	}
	wg.Wait()
	close(pids)
	seen := map[int]bool{}
	for pid := range pids {
		seen[pid] = true
	}
	if len(seen) != 3 {
		t.Errorf("3 overlapping invocations were served by %d processes, want 3", len(seen))
	}
	if err := s.Stop(context.Background(), "busy"); err != nil {
		t.Fatal(err)
	}
	for pid := range seen {
		if alive(pid) {
			t.Errorf("process %d still runs after Stop", pid)
		}
	}
}

// TestStartWaitsOutATextFileBusy: while the code of one function is being
// written, a process forked meanwhile may hold its write descriptor for an
// instant, and starting it fails with ETXTBSY. Start tries again.
func TestStartWaitsOutATextFileBusy(t *testing.T) {
	s, c := setup(t)
	dir := t.TempDir()
	code, err := os.ReadFile(filepath.Join(codeDir, "bootstrap"))
	if err != nil {
		t.Fatal(err)
	}
	bootstrap := filepath.Join(dir, "bootstrap")
	f, err := os.OpenFile(bootstrap, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(code); err != nil {
		t.Fatal(err)
	}
	// The file is still open for writing: executing it now is ETXTBSY.
	if err := exec.Command(bootstrap).Start(); !errors.Is(err, syscall.ETXTBSY) {
		t.Fatalf("got %v starting a file open for writing, want ETXTBSY (the test's premise)", err)
	}
	time.AfterFunc(150*time.Millisecond, func() { f.Close() })
	if _, err := s.Start(context.Background(), Function{Name: "busyfile", Dir: dir, Timeout: 5 * time.Second}); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if got := invoke(t, c, "busyfile", `{}`); got.Function != "busyfile" {
		t.Errorf("got %+v, want an answer from busyfile", got)
	}
}

// TestABusyProcessGetsNoSecondInvocation: a handler's code that asks the
// Runtime API for the next invocation itself, while its process holds one,
// gets nothing, as in Lambda, where an execution environment serves one
// invocation at a time: the invocation queued meanwhile goes to the
// handler once it has answered. Each process has a /tmp of its own,
// removed when it stops.
func TestABusyProcessGetsNoSecondInvocation(t *testing.T) {
	s, c := setup(t)
	if _, err := s.Start(context.Background(), Function{Name: "victim", Dir: codeDir, Timeout: 20 * time.Second}); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(t.TempDir(), "stealing")
	stealer := make(chan echo, 1)
	go func() {
		// invoke may fail the test (t.Fatalf ends this goroutine): the
		// deferred send still lets the test go on to report it.
		var a echo
		defer func() { stealer <- a }()
		a = invoke(t, c, "victim", `{"tag": "a", "steal": "`+marker+`", "stealMs": 3000}`)
	}()
	for {
		if _, err := os.Stat(marker); err == nil {
			break
		}
		if len(stealer) > 0 {
			t.Fatal("the handler answered without asking for the next invocation")
		}
		time.Sleep(20 * time.Millisecond)
	}
	b := invoke(t, c, "victim", `{"tag": "b"}`)
	a := <-stealer
	if a.Stolen != "nothing" {
		t.Errorf("the handler's own request for the next invocation got %q, want nothing", a.Stolen)
	}
	if a.Tag != "a" || b.Tag != "b" {
		t.Errorf("got answers tagged %q and %q, want a and b", a.Tag, b.Tag)
	}
	if a.TmpDir == os.TempDir() || a.TmpDir != b.TmpDir {
		t.Errorf("got TMPDIR %q then %q, want one of the process's own, not the host's %s", a.TmpDir, b.TmpDir, os.TempDir())
	}
	if _, err := os.Stat(a.TmpDir); err != nil {
		t.Errorf("the process's TMPDIR: %v", err)
	}
	if err := s.Stop(context.Background(), "victim"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(a.TmpDir); !os.IsNotExist(err) {
		t.Errorf("the process's TMPDIR %s after Stop: got %v, want it removed", a.TmpDir, err)
	}
}
