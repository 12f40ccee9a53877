package lambda

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// FirstPoll runs the executable bootstrap with exactly the environment env
// plus AWS_LAMBDA_RUNTIME_API, pointed at a stand-in Runtime API, and
// returns how long it took from starting the process to its first request
// for an invocation: a function's start-up time, what Lambda spends on its
// init phase. It then kills the process. ctx bounds the wait.
func FirstPoll(ctx context.Context, bootstrap string, env []string) (time.Duration, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("first poll of %s: %w", bootstrap, err)
	}
	var (
		once   sync.Once
		polled = make(chan time.Time, 1)
	)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/runtime/invocation/next") {
			http.NotFound(w, r)
			return
		}
		at := time.Now()
		once.Do(func() { polled <- at })
		<-r.Context().Done() // no invocation: the process is killed waiting
	}), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	defer srv.Close()

	cmd := exec.Command(bootstrap)
	cmd.Env = append(append([]string(nil), env...), "AWS_LAMBDA_RUNTIME_API="+ln.Addr().String())
	var stderr tailWriter
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	started := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("first poll of %s: %w", bootstrap, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
		<-exited
	}()
	select {
	case at := <-polled:
		return at.Sub(started), nil
	case err := <-exited:
		exited <- err // for the deferred wait
		return 0, fmt.Errorf("first poll of %s: it exited before it polled (%v): %s", bootstrap, err, strings.TrimSpace(stderr.String()))
	case <-ctx.Done():
		return 0, fmt.Errorf("first poll of %s: %w", bootstrap, ctx.Err())
	}
}

// tailWriter keeps the last 2 KiB written to it.
type tailWriter struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2048 {
		t.buf = t.buf[len(t.buf)-2048:]
	}
	return len(p), nil
}

func (t *tailWriter) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
