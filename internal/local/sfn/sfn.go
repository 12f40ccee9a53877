package sfn

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configures Start. The zero value is usable.
type Options struct {
	// CacheDir is where the engine's npm packages are installed, shared by
	// every process that starts the service. Empty means
	// <os.UserCacheDir()>/stackflow/node.
	CacheDir string
	// LambdaEndpoint is the Lambda API that Task states invoke (kumo's
	// URL). Empty leaves AWS_ENDPOINT_URL_LAMBDA (or AWS_ENDPOINT_URL) of
	// the environment; with neither, a Task state that calls Lambda fails
	// with Lambda.SdkClientException. Invokes are signed (Signature
	// Version 4) with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY of the
	// environment, or "local" when they are not set; when Env sets
	// AWS_ENDPOINT_URL_STS, an execution invokes as its state machine's
	// role instead, which the service assumes there (sts:AssumeRole) with
	// those credentials, as Step Functions does.
	LambdaEndpoint string
	// Region and AccountID go into every ARN; they default to us-east-1 and
	// 000000000000, kumo's, so that Task states can name functions by ARN.
	Region    string
	AccountID string
	// Port is the loopback port to listen on; 0 picks a free one.
	Port int
	// RetryWait, when positive, replaces the interval of every Retry (so
	// that tests need not wait IntervalSeconds with backoff). It is rounded
	// up to whole milliseconds.
	RetryWait time.Duration
	// PollWaits, when set, makes every Wait state whose SecondsPath is a
	// key wait the key's duration instead of the seconds that the path
	// names (rounded up to whole milliseconds): Step Functions waits whole
	// seconds, and stackflow local polls its CloudFormation, which is done
	// in a fraction of one, more often than that. Other Wait states wait
	// as they say.
	PollWaits map[string]time.Duration
	// Env is added to the node process's environment ("KEY=value").
	Env []string
	// Node and NPM are the programs to run; empty means "node" and "npm"
	// on PATH.
	Node string
	NPM  string
	// Stdout receives the service's log (an execution started or ended);
	// Stderr its errors, the one-time installation notice and a notice if
	// it dies. Nil discards.
	Stdout io.Writer
	Stderr io.Writer
}

// startTimeout bounds how long Start waits for node to listen when ctx has
// no deadline.
const startTimeout = time.Minute

// Service is a running local Step Functions service.
type Service struct {
	url    string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr io.Writer
	done   chan struct{}

	mu      sync.Mutex
	serving bool
	closing bool
	err     error

	closeOnce sync.Once
}

// Start installs the engine on first use, starts it and returns once it
// serves the Step Functions API at URL(). Close stops it. ctx bounds the
// start only.
func Start(ctx context.Context, opts Options) (*Service, error) {
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.AccountID == "" {
		opts.AccountID = "000000000000"
	}
	if opts.Stdout == nil {
		opts.Stdout = io.Discard
	}
	if opts.Stderr == nil {
		opts.Stderr = io.Discard
	}
	if opts.CacheDir == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("local step functions: find a cache directory (set Options.CacheDir): %w", err)
		}
		opts.CacheDir = filepath.Join(dir, "stackflow", "node")
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, startTimeout)
		defer cancel()
	}

	node, err := findNode(ctx, opts.Node)
	if err != nil {
		return nil, err
	}
	script, err := install(ctx, opts.CacheDir, opts.NPM, opts.Stderr)
	if err != nil {
		return nil, err
	}
	return launch(ctx, node, script, opts)
}

// URL returns the service's endpoint, http://127.0.0.1:<port>, for
// AWS_ENDPOINT_URL_SFN or an sfn client's BaseEndpoint.
func (s *Service) URL() string { return s.url }

// Done is closed when the node process has exited, after Close or because
// it died.
func (s *Service) Done() <-chan struct{} { return s.done }

// Err reports why the service stopped when it died by itself; it is nil
// while it runs and after Close.
func (s *Service) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close stops the node process; every state machine and execution is lost.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closing = true
		s.mu.Unlock()
		_ = s.stdin.Close()
		_ = s.cmd.Process.Kill()
	})
	<-s.done
	return nil
}

func launch(ctx context.Context, node, script string, opts Options) (*Service, error) {
	args := []string{filepath.Base(script),
		"--port", strconv.Itoa(opts.Port),
		"--region", opts.Region,
		"--account", opts.AccountID,
	}
	if opts.RetryWait > 0 {
		ms := (opts.RetryWait + time.Millisecond - 1) / time.Millisecond
		args = append(args, "--retry-wait-ms", strconv.FormatInt(int64(ms), 10))
	}
	if len(opts.PollWaits) > 0 {
		ms := map[string]int64{}
		for path, d := range opts.PollWaits {
			ms[path] = int64((max(d, time.Millisecond) + time.Millisecond - 1) / time.Millisecond)
		}
		b, err := json.Marshal(ms)
		if err != nil {
			return nil, fmt.Errorf("local step functions: poll waits: %w", err)
		}
		args = append(args, "--poll-waits-ms", string(b))
	}
	cmd := exec.Command(node, args...)
	cmd.Dir = filepath.Dir(script)
	cmd.Env = append(os.Environ(), opts.Env...)
	if opts.LambdaEndpoint != "" {
		cmd.Env = append(cmd.Env, "AWS_ENDPOINT_URL_LAMBDA="+opts.LambdaEndpoint)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("local step functions: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("local step functions: %w", err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("local step functions: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("local step functions: start %s: %w", node, err)
	}

	s := &Service{cmd: cmd, stdin: stdin, stderr: opts.Stderr, done: make(chan struct{})}
	tail := &tailWriter{max: 4096}
	port := make(chan int, 1)
	var readers sync.WaitGroup
	readers.Add(2)
	go func() {
		defer readers.Done()
		readStdout(stdout, port, opts.Stdout)
	}()
	go func() {
		defer readers.Done()
		_, _ = io.Copy(io.MultiWriter(opts.Stderr, tail), stderr)
	}()
	go func() {
		readers.Wait()
		err := cmd.Wait()
		s.mu.Lock()
		if !s.closing {
			if err == nil {
				err = errors.New("exited")
			}
			s.err = fmt.Errorf("local step functions: node %s: %w", filepath.Base(script), err)
			if s.serving {
				fmt.Fprintf(s.stderr, "stackflow: the local Step Functions service stopped unexpectedly (%v); its state machines and executions are gone\n", err)
			}
		}
		s.mu.Unlock()
		close(s.done)
	}()

	select {
	case p := <-port:
		s.mu.Lock()
		s.serving = true
		s.mu.Unlock()
		s.url = "http://127.0.0.1:" + strconv.Itoa(p)
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("local step functions: node %s exited before listening: %v\n%s", script, s.Err(), tail.String())
	case <-ctx.Done():
		_ = s.Close()
		return nil, fmt.Errorf("local step functions: wait for node to listen: %w\n%s", ctx.Err(), tail.String())
	}
}

// readStdout hands the port of the server's first line {"port":N} to port
// and copies every other line to log.
func readStdout(r io.Reader, port chan<- int, log io.Writer) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	found := false
	for sc.Scan() {
		line := sc.Bytes()
		if !found {
			var hello struct {
				Port *int `json:"port"`
			}
			if json.Unmarshal(line, &hello) == nil && hello.Port != nil {
				found = true
				port <- *hello.Port
				continue
			}
		}
		_, _ = log.Write(append(bytes.Clone(line), '\n'))
	}
	_, _ = io.Copy(io.Discard, r)
}

// tailWriter keeps the last max bytes written to it, for error messages.
type tailWriter struct {
	mu  sync.Mutex
	max int
	buf []byte
}

var _ io.Writer = (*tailWriter)(nil)

func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if over := len(w.buf) - w.max; over > 0 {
		w.buf = append(w.buf[:0], w.buf[over:]...)
	}
	return len(p), nil
}

func (w *tailWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.TrimSpace(string(w.buf))
}
