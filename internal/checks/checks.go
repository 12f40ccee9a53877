// Package checks is the checks step of a run: it fetches the commit's
// source, finds the Go toolchain its go.mod asks for, runs the app's check
// commands (go vet, go test, linters) in order at the repository root, stores
// their whole output in the artifact bucket and stops at the first failing
// check with a ChecksFailed that carries the end of its output. With
// Service.Caches, the Go module and build caches of earlier runs are
// restored from the bucket first and saved again after the checks passed
// (see package gocache).
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
	"runtime"
	"strings"
	"time"

	"github.com/stackflow/stackflow/internal/gocache"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/runlog"
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
	// Caches, when set, keeps the Go module and build caches between runs
	// in the artifact bucket: restored before the checks and saved after
	// they passed. The commands then use Caches.Dir as
	// Toolchain.GoCacheDir. Nil leaves the caches to the environment.
	Caches *gocache.Config
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
	ctx = runlog.WithRun(ctx, in.Run, in.Execution)
	log = runlog.Logger(ctx, log)
	plan := in.Source.Plan
	if len(plan.Checks) == 0 {
		return pipeline.ChecksResult{Checks: []pipeline.CheckResult{}, Summary: "no checks to run"}, nil
	}
	root, cleanup, err := workspace.Fetch(ctx, s.Store, in.Source.ArchiveKey)
	if err != nil {
		return pipeline.ChecksResult{}, err
	}
	defer cleanup()
	opts := s.Toolchain
	if s.Caches != nil {
		opts.GoCacheDir = s.Caches.Dir
	}
	tc, err := toolchain.Resolve(ctx, root, opts)
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
	note := func(format string, args ...any) {
		line := fmt.Sprintf(format, args...)
		full.WriteString(line)
		if s.Echo != nil {
			io.WriteString(s.Echo, line)
		}
	}
	caches := s.restoreCaches(ctx, in.Run.Repository, pipeline.ScopeOf(in.Run, in.Source.Plan), root, tc, note, log)
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
	if failed == nil && ctx.Err() == nil {
		saveCaches(ctx, caches, note, log)
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

// restoreCaches restores the Go caches of the checks of the module at
// root, when they are kept, as scope allows (its branch's, else the
// default branch's); it returns their session, nil when they are not. A
// failure only costs time.
func (s *Service) restoreCaches(ctx context.Context, repo pipeline.Repository, scope pipeline.CacheScope, root string, tc toolchain.Toolchain,
	note func(string, ...any), log *slog.Logger) *gocache.Session {
	if s.Caches == nil {
		return nil
	}
	sums, err := gocache.Sums(root)
	if err != nil {
		note("[go caches: %v; not used]\n", err)
		return nil
	}
	session := s.Caches.Session(repo, scope, gocache.Key("checks", tc.Version, runtime.GOOS, runtime.GOARCH, sums))
	for _, part := range []gocache.Part{gocache.Modules, gocache.Builds} {
		r, err := session.Restore(ctx, part)
		if err != nil {
			note("[go caches: %v; going on without]\n", err)
			log.Warn("restore go cache", "cache", string(part), "error", err)
			continue
		}
		note("%s\n", r)
		log.Info("go cache", "cache", string(part), "action", r.Action, "bytes", r.Bytes, "seconds", r.Took.Seconds())
	}
	note("\n")
	return session
}

// saveCaches saves the Go caches that grew; a failure only costs time next
// run.
func saveCaches(ctx context.Context, session *gocache.Session, note func(string, ...any), log *slog.Logger) {
	if session == nil {
		return
	}
	reports, err := session.Save(ctx)
	for _, r := range reports {
		note("%s\n", r)
		log.Info("go cache", "cache", string(r.Part), "action", r.Action, "bytes", r.Bytes, "archive", r.Archive, "seconds", r.Took.Seconds())
	}
	if err != nil {
		note("[go caches: %v]\n", err)
		log.Warn("save go caches", "error", err)
	}
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
