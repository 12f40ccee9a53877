// Command stackflow-bench measures stackflow's own overhead on a local
// pipeline (stackflow local) and prints the figures:
//
//   - the state transitions of a two-environment run of examples/hello, as
//     Step Functions bills them, with and without the polling loops;
//   - a load run: signed repo:push webhooks of distinct branches through
//     the local HTTP API, many at once, with the answers' latency
//     percentiles and throughput, and a check that every push started
//     exactly one execution.
//
// bench/run runs it with the rest of the figures. With -count FILE it only
// counts the transitions of a saved history (GetExecutionHistory's JSON, as
// `aws stepfunctions get-execution-history` prints it), so a run on AWS
// can be counted too; no local pipeline is started.
//
// Usage:
//
//	go run ./cmd/stackflow-bench [-pushes 1000] [-senders 50] [-rate N [-rate-pushes N]]
//	    [-twice N] [-drain 60s] [-transitions=true] [-load=true] [-save-history FILE] [-json]
//	go run ./cmd/stackflow-bench -count FILE
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/stackflow/stackflow/internal/bench"
	"github.com/stackflow/stackflow/internal/local"
	"github.com/stackflow/stackflow/internal/pipeline"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// figures is the -json output.
type figures struct {
	Transitions *transitionsFigures `json:"transitions,omitempty"`
	Load        []*bench.LoadResult `json:"load,omitempty"`
}

type transitionsFigures struct {
	Execution string `json:"execution,omitempty"`
	Status    string `json:"status,omitempty"`
	// Seconds is the run's wall time, push to end.
	Seconds float64 `json:"seconds,omitempty"`
	bench.Transitions
	WithoutPolling int `json:"withoutPolling"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("stackflow-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pushes := fs.Int("pushes", 1000, "pushes in the load run, each of its own branch and delivered once")
	senders := fs.Int("senders", 50, "deliveries in flight at once")
	processes := fs.Int("processes", 16, "processes per function: Lambda scales a function out to one environment per concurrent invocation")
	rate := fs.Float64("rate", 0, "also run a paced load run: this many deliveries per second (at most -senders at once)")
	ratePushes := fs.Int("rate-pushes", 0, "pushes in the paced run (default: 10 seconds' worth)")
	twice := fs.Int("twice", 0, "also run a load run of this many pushes, each delivered twice as Bitbucket redelivers")
	drain := fs.Duration("drain", time.Minute, "how long the load run waits for its executions to end before stopping them")
	doTransitions := fs.Bool("transitions", true, "count the state transitions of a two-environment run of examples/hello")
	doLoad := fs.Bool("load", true, "run the webhook load run")
	saveHistory := fs.String("save-history", "", "write the two-environment run's history (GetExecutionHistory's JSON, without data) to this file")
	count := fs.String("count", "", "only count the transitions of this saved history (GetExecutionHistory's JSON) and exit")
	asJSON := fs.Bool("json", false, "print the figures as one JSON object")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "stackflow-bench: unexpected %q\n", fs.Arg(0))
		return 2
	}
	if *count != "" {
		if err := countFile(*count, stdout, *asJSON); err != nil {
			fmt.Fprintf(stderr, "stackflow-bench: %v\n", err)
			return 1
		}
		return 0
	}
	if err := measure(ctx, options{
		pushes: *pushes, senders: *senders, processes: *processes, rate: *rate, ratePushes: *ratePushes, twice: *twice, drain: *drain,
		transitions: *doTransitions, load: *doLoad, saveHistory: *saveHistory, json: *asJSON,
	}, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "stackflow-bench: %v\n", err)
		return 1
	}
	return 0
}

type options struct {
	pushes, senders   int
	processes         int
	rate              float64
	ratePushes, twice int
	drain             time.Duration
	transitions, load bool
	saveHistory       string
	json              bool
}

func countFile(path string, stdout io.Writer, asJSON bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	events, err := bench.ParseHistory(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	t := bench.Count(events)
	if asJSON {
		return writeJSON(stdout, transitionsFigures{Transitions: t, WithoutPolling: t.WithoutPolling()})
	}
	t.Print(stdout)
	return nil
}

func measure(ctx context.Context, opts options, stdout, stderr io.Writer) error {
	src, err := local.SourceDir(".")
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "stackflow-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	started := time.Now()
	// Polls wait a whole second, as Step Functions' shortest wait does, so
	// that each finds the change set or stack ready and the transitions
	// counted are those of a run on AWS.
	p, err := local.Start(ctx, local.Options{SourceDir: src, Log: stderr, FunctionConcurrency: opts.processes, PollWait: time.Second})
	if err != nil {
		return err
	}
	defer p.Close()
	fmt.Fprintf(stderr, "local pipeline ready in %.1fs\n", time.Since(started).Seconds())

	var out figures
	if opts.transitions {
		t, err := transitions(ctx, p, src, filepath.Join(tmp, "hello"), opts.saveHistory)
		if err != nil {
			return fmt.Errorf("two-environment run: %w (logs: %s)", err, p.LogDir())
		}
		out.Transitions = t
		if !opts.json {
			fmt.Fprintf(stdout, "== state transitions: a two-environment run of examples/hello (%s in %.1fs)\n", t.Status, t.Seconds)
			t.Print(stdout)
			fmt.Fprintln(stdout)
		}
	}
	if opts.load {
		dir := filepath.Join(tmp, "load")
		if err := bench.App(ctx, filepath.Join(src, "examples", "hello"), dir, bench.ChecksOnlyConfig); err != nil {
			return err
		}
		runs := []bench.LoadOptions{{Pushes: opts.pushes, Senders: opts.senders}}
		if opts.rate > 0 {
			n := opts.ratePushes
			if n <= 0 {
				n = int(10 * opts.rate)
			}
			runs = append(runs, bench.LoadOptions{Pushes: n, Senders: opts.senders, Rate: opts.rate})
		}
		if opts.twice > 0 {
			runs = append(runs, bench.LoadOptions{Pushes: opts.twice, Senders: opts.senders, Twice: true})
		}
		var failed []string
		for i, lo := range runs {
			lo.Repo, lo.Dir, lo.Drain = bench.NewRepo(), dir, opts.drain
			fmt.Fprintf(stderr, "load run %d of %d: %d pushes, %d senders\n", i+1, len(runs), lo.Pushes, lo.Senders)
			res, err := bench.Load(ctx, p, lo)
			if err != nil {
				return fmt.Errorf("%w (logs: %s)", err, p.LogDir())
			}
			out.Load = append(out.Load, res)
			if !opts.json {
				fmt.Fprintln(stdout, "== webhook load run through the local HTTP API")
				res.Print(stdout)
				fmt.Fprintln(stdout)
			}
			if !res.ExactlyOnce() {
				failed = append(failed, fmt.Sprintf("load run %d", i+1))
			}
		}
		if len(failed) > 0 {
			if opts.json {
				writeJSON(stdout, out) //nolint:errcheck // the error below says what matters
			}
			return fmt.Errorf("%s lost or duplicated executions, or got a 5xx", strings.Join(failed, ", "))
		}
	}
	if opts.json {
		return writeJSON(stdout, out)
	}
	return nil
}

// transitions delivers examples/hello's main branch to its two
// environments and counts the run's transitions.
func transitions(ctx context.Context, p *local.Pipeline, src, dir, saveHistory string) (*transitionsFigures, error) {
	if err := bench.App(ctx, filepath.Join(src, "examples", "hello"), dir, ""); err != nil {
		return nil, err
	}
	repo := pipeline.Repository{Workspace: "local", Slug: "hello"}
	res, err := p.Run(ctx, local.Push{Repo: repo, Dir: dir, Branch: "main"}, nil)
	if err != nil {
		return nil, err
	}
	if !res.Succeeded() || len(res.Environments) != 2 {
		return nil, fmt.Errorf("the run ended %s with %d environments, want SUCCEEDED with 2: %s %s", res.Status, len(res.Environments), res.Error, res.Cause)
	}
	history, err := p.History(ctx, res.Execution)
	if err != nil {
		return nil, err
	}
	if saveHistory != "" {
		if err := writeHistory(ctx, p.Endpoints()["AWS_ENDPOINT_URL_SFN"], res.Execution, saveHistory); err != nil {
			return nil, err
		}
	}
	t := bench.Count(bench.EventsOf(history))
	return &transitionsFigures{
		Execution: res.Execution, Status: res.Status, Seconds: res.Seconds,
		Transitions: t, WithoutPolling: t.WithoutPolling(),
	}, nil
}

// writeHistory saves the execution's history as the Step Functions API
// answers GetExecutionHistory (AWS JSON 1.0), without the states' inputs
// and outputs, so it can be read back like a history from AWS.
func writeHistory(ctx context.Context, endpoint, arn, path string) error {
	body, _ := json.Marshal(map[string]any{"executionArn": arn, "maxResults": 1000, "includeExecutionData": false})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "AWSStepFunctions.GetExecutionHistory")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("save the history: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("save the history: %d %s %v", resp.StatusCode, data, err)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, data, "", "  "); err != nil {
		return fmt.Errorf("save the history: %w", err)
	}
	pretty.WriteByte('\n')
	return os.WriteFile(path, pretty.Bytes(), 0o644)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
