// Package checks is the checks step of a run: it fetches the commit's
// source, finds the Go toolchain its go.mod asks for, runs the app's check
// commands (go vet, go test, linters) in order at the repository root, stores
// their whole output in the artifact bucket and stops at the first failing
// check with a ChecksFailed that carries the end of its output.
//
// Checks run with an environment built from an allow-list (see
// toolchain.Toolchain.Env): they never see the handler's AWS credentials or
// the Bitbucket token.
package checks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/toolchain"
	"github.com/stackflow/stackflow/internal/workspace"
)

// Store is the artifact bucket as the checks step uses it; *artifacts.Store
// is one.
type Store interface {
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	Put(ctx context.Context, key string, body []byte, contentType string) error
}

// Service runs the checks of one commit per call.
type Service struct {
	Store     Store
	Toolchain toolchain.Options
	// Echo, when set, receives a copy of the checks' output (in Lambda, the
	// function's log stream).
	Echo io.Writer
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// reserve is the time kept back from the invocation's deadline to store
// the log and answer after a check was stopped for running out of time.
const reserve = 20 * time.Second

// Handle runs in.Source.Plan.Checks; the error, if any, is in the form the
// state machine matches (a *pipeline.ChecksFailed when a check failed).
func (s *Service) Handle(ctx context.Context, in pipeline.ChecksInput) (pipeline.ChecksResult, error) {
	res, err := s.run(ctx, in)
	return res, pipeline.ForStateMachine(err)
}

func (s *Service) run(ctx context.Context, in pipeline.ChecksInput) (pipeline.ChecksResult, error) {
	log := s.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("repository", in.Run.Repository.FullName(), "branch", in.Run.Branch, "commit", in.Run.Commit)
	plan := in.Source.Plan
	if len(plan.Checks) == 0 {
		return pipeline.ChecksResult{Checks: []pipeline.CheckResult{}, Summary: "no checks to run"}, nil
	}
	root, cleanup, err := workspace.Fetch(ctx, s.Store, in.Source.ArchiveKey)
	if err != nil {
		return pipeline.ChecksResult{}, err
	}
	defer cleanup()
	tc, err := toolchain.Resolve(ctx, root, s.Toolchain)
	if errors.Is(err, toolchain.ErrNoRequirement) {
		return pipeline.ChecksResult{}, &pipeline.ConfigInvalid{File: "go.mod",
			Problem: "the repository root has no go.mod (or go.work) naming a go version",
			Fix:     "add one with a go line, such as go 1.23.0"}
	}
	if err != nil {
		return pipeline.ChecksResult{}, fmt.Errorf("checks: %w", err)
	}
	log.Info("toolchain", "version", tc.Version, "local", tc.Local, "downloaded", tc.Downloaded)

	logKey := pipeline.LogKey(in.Run.Repository, workspace.ExecutionName(in.Execution, in.Run), "checks")
	var full strings.Builder
	fmt.Fprintf(&full, "# checks of %s at %s with %s\n\n", in.Run.Repository.FullName(), in.Run.Commit, tc.Version)
	checkCtx, cancel := workspace.WithReserve(ctx, reserve)
	defer cancel()

	res := pipeline.ChecksResult{LogKey: logKey, Checks: []pipeline.CheckResult{}}
	start := time.Now()
	var failed *pipeline.ChecksFailed
	for _, command := range plan.Checks {
		out := &workspace.Output{Echo: s.Echo}
		fmt.Fprintf(out, "$ %s\n", command)
		began := time.Now()
		cmd := tc.Command(checkCtx, root, "sh", "-c", command)
		cmd.Stdout, cmd.Stderr = out, out
		runErr := cmd.Run()
		took := time.Since(began)
		switch {
		case runErr == nil:
			fmt.Fprintf(out, "[passed in %s]\n\n", round(took))
		case checkCtx.Err() != nil && ctx.Err() == nil:
			fmt.Fprintf(out, "[stopped after %s: the step ran out of time]\n\n", round(took))
		default:
			fmt.Fprintf(out, "[failed after %s: %v]\n\n", round(took), runErr)
		}
		full.WriteString(out.String())
		res.Checks = append(res.Checks, pipeline.CheckResult{Command: command, Passed: runErr == nil, Seconds: took.Seconds()})
		log.Info("check", "command", command, "passed", runErr == nil, "seconds", took.Seconds())
		if runErr != nil {
			failed = &pipeline.ChecksFailed{Check: command, Tail: out.Tail(), LogKey: logKey}
			break
		}
	}
	if err := s.storeLog(ctx, logKey, full.String()); err != nil {
		log.Error("store checks log", "key", logKey, "error", err)
		res.LogKey = ""
		if failed != nil {
			failed.LogKey = ""
		}
	}
	if failed != nil {
		return pipeline.ChecksResult{}, failed
	}
	if err := ctx.Err(); err != nil {
		return pipeline.ChecksResult{}, fmt.Errorf("checks: %w", err)
	}
	res.Summary = fmt.Sprintf("%d %s passed in %s", len(res.Checks), plural(len(res.Checks), "check"), round(time.Since(start)))
	return res, nil
}

// storeLog stores the log even when ctx is done: the log is most wanted
// when a check ran out of time.
func (s *Service) storeLog(ctx context.Context, key, body string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reserve/2)
	defer cancel()
	return s.Store.Put(ctx, key, []byte(body), "text/plain; charset=utf-8")
}

func round(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Millisecond)
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
