package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stackflow/stackflow/internal/local"
)

// The load runs share one local pipeline, started once for the package.
var shared *local.Pipeline

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p, err := local.Start(ctx, local.Options{})
	if err != nil {
		fmt.Fprintf(os.Stderr, "start the local pipeline: %v\n", err)
		return 1
	}
	shared = p
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "logs of the local pipeline: %s\n", p.LogDir())
	}
	if err := p.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "close: %v\n", err)
	}
	return code
}

// checksOnlyApp is a git repository holding examples/hello with
// ChecksOnlyConfig.
func checksOnlyApp(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "app")
	if err := App(context.Background(), filepath.Join("..", "..", "examples", "hello"), dir, ChecksOnlyConfig); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLoadStartsEachPushExactlyOnce(t *testing.T) {
	t.Parallel()
	dir := checksOnlyApp(t)
	tests := []struct {
		name           string
		opts           LoadOptions
		wantDeliveries int
	}{
		{name: "40 pushes from 8 senders", opts: LoadOptions{Pushes: 40, Senders: 8}, wantDeliveries: 40},
		{name: "10 pushes delivered twice", opts: LoadOptions{Pushes: 10, Senders: 4, Twice: true}, wantDeliveries: 20},
		{name: "10 pushes at a rate", opts: LoadOptions{Pushes: 10, Senders: 4, Rate: 200}, wantDeliveries: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
			defer cancel()
			opts := tt.opts
			opts.Repo, opts.Dir, opts.Drain = NewRepo(), dir, 3*time.Minute
			res, err := Load(ctx, shared, opts)
			if err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			res.Print(&out)
			if !res.ExactlyOnce() {
				t.Errorf("got a run that was not exactly once:\n%s", out.String())
			}
			if res.Deliveries != tt.wantDeliveries || res.Latency.N != tt.wantDeliveries || res.Executions != opts.Pushes {
				t.Errorf("got %d deliveries (%d timed), %d executions; want %d, %d, %d",
					res.Deliveries, res.Latency.N, res.Executions, tt.wantDeliveries, tt.wantDeliveries, opts.Pushes)
			}
			// The first delivery of each push starts it; a redelivery finds it.
			if res.Statuses[202] < opts.Pushes || res.Started < opts.Pushes {
				t.Errorf("got %d answers 202 and %d started, want at least %d", res.Statuses[202], res.Started, opts.Pushes)
			}
			// Whatever the timing, the run leaves nothing running, and no
			// checks-only execution fails.
			if got := res.Ended["SUCCEEDED"] + res.Stopped; got != opts.Pushes || res.Ended["FAILED"] != 0 {
				t.Errorf("got executions afterwards %v with %d stopped, want all %d ended and none FAILED", res.Ended, res.Stopped, opts.Pushes)
			}
			running, err := runningOf(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			if running != 0 {
				t.Errorf("got %d executions still running after the run, want 0", running)
			}
			if !strings.Contains(out.String(), "exactly once: yes") {
				t.Errorf("printed %q: want it to say exactly once: yes", out.String())
			}
		})
	}
}

func runningOf(ctx context.Context, opts LoadOptions) (int, error) {
	mine, err := executions(ctx, shared, opts.Repo)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range mine {
		if e.Status == "RUNNING" {
			n++
		}
	}
	return n, nil
}

// A run whose executions are still running when the drain ends stops them.
func TestLoadStopsWhatIsStillRunning(t *testing.T) {
	t.Parallel()
	// Checks that take a while: the executions are still at them when
	// the run stops waiting.
	dir := filepath.Join(t.TempDir(), "app")
	slow := "version: 1\nchecks:\n  - sleep 30\n"
	if err := App(context.Background(), filepath.Join("..", "..", "examples", "hello"), dir, slow); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opts := LoadOptions{Repo: NewRepo(), Dir: dir, Pushes: 2, Senders: 2}
	res, err := Load(ctx, shared, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !res.ExactlyOnce() {
		t.Errorf("got executions %d, started %d, want 2 each", res.Executions, res.Started)
	}
	if res.Stopped != 2 || res.Ended["ABORTED"] != 2 {
		t.Errorf("got %d stopped, ended %v; want both stopped and ABORTED", res.Stopped, res.Ended)
	}
	if running, err := runningOf(ctx, opts); err != nil || running != 0 {
		t.Errorf("got %d still running (%v), want 0", running, err)
	}
}

func TestLoadRefusesAnEmptyRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts LoadOptions
	}{
		{name: "no pushes", opts: LoadOptions{Senders: 1}},
		{name: "no senders", opts: LoadOptions{Pushes: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := Load(context.Background(), shared, tt.opts); err == nil || !strings.Contains(err.Error(), "at least one") {
				t.Errorf("got %v, want an error asking for at least one push and sender", err)
			}
		})
	}
}
