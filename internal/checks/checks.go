// Package checks is the checks step of a run: it fetches the commit's
// source, provides the toolchains the app is built with (the Go toolchain
// its go.mod asks for; the Python and Node.js of its template's runtimes,
// see package runtimes, each Python in a virtual environment of the run's
// own), runs the app's check commands (go vet, go test, pytest, npm test,
// linters) in order at the repository root, stores their whole output in
// the artifact bucket and stops at the first failing check with a
// ChecksFailed that carries the end of its output. With
// Service.Caches, the Go module and build caches of earlier runs are
// restored from the bucket first and saved again after the checks passed
// (see package gocache).
//
// Checks run with an environment built from an allow-list (see
// toolchain.Toolchain.Env): they never see the handler's AWS credentials or
// the Bitbucket token in theirs. Since in Lambda every process runs as one
// user, a check can still read the handler's environment through /proc:
// so the function's role allows nothing in S3, DynamoDB or Secrets
// Manager, and the step reaches the bucket through the presigned URLs of
// its input's Grants alone (its archive, its branch's and the default
// branch's caches; its log, and its caches staged for the publish step to
// keep; see package staging). They do get the package indexes' credentials
// (see package indexes), which pip and npm need, staged for the step by
// the grant step; the log, the function's log stream and the error hide
// them.
package checks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/stackflow/stackflow/internal/artifacts"
	"github.com/stackflow/stackflow/internal/gocache"
	"github.com/stackflow/stackflow/internal/indexes"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/runlog"
	"github.com/stackflow/stackflow/internal/runtimes"
	"github.com/stackflow/stackflow/internal/toolchain"
	"github.com/stackflow/stackflow/internal/workspace"
)

// Store is the artifact bucket as the checks step uses it; *artifacts.Store
// and *artifacts.URLStore are.
type Store interface {
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	Get(ctx context.Context, key string) ([]byte, error)
	Put(ctx context.Context, key string, body []byte, contentType string) error
	PutFile(ctx context.Context, key, path, contentType string) error
}

var (
	_ Store = (*artifacts.Store)(nil)
	_ Store = (*artifacts.URLStore)(nil)
)

// Service runs the checks of one commit per call.
type Service struct {
	// Store, when set, is the bucket the step reaches with its own
	// credentials (tests). In Lambda it is nil: the function holds no S3
	// rights, and each call reaches the bucket through the presigned URLs
	// of its input's Grants alone.
	Store Store
	// HTTPClient fetches the Grants' URLs; nil for http.DefaultClient.
	HTTPClient *http.Client
	Toolchain  toolchain.Options
	// Runtimes says where the Python and Node.js of the app's runtimes
	// come from: fetched (in Lambda) or the host's (stackflow local).
	Runtimes runtimes.Options
	// Indexes, when set, gives pip, uv and npm the package indexes and
	// their credentials; nil leaves them to the app's own configuration.
	Indexes *indexes.Source
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
	store, caches, err := s.stores(in.Grants)
	if err != nil {
		return pipeline.ChecksResult{}, err
	}
	root, cleanup, err := workspace.Fetch(ctx, store, in.Source.ArchiveKey)
	if err != nil {
		return pipeline.ChecksResult{}, err
	}
	defer cleanup()
	work, err := os.MkdirTemp("", "stackflow-checks-")
	if err != nil {
		return pipeline.ChecksResult{}, fmt.Errorf("checks: %w", err)
	}
	defer os.RemoveAll(work)

	idx, err := s.Indexes.Settings(ctx)
	if err != nil {
		return pipeline.ChecksResult{}, fmt.Errorf("checks: %w", err)
	}
	if in.Grants != nil && in.Grants.Credentials != "" {
		secret, err := store.Get(ctx, in.Grants.Credentials)
		if err != nil {
			return pipeline.ChecksResult{}, fmt.Errorf("checks: package index credentials: %w", err)
		}
		if idx, err = idx.WithCredentials(string(secret)); err != nil {
			return pipeline.ChecksResult{}, fmt.Errorf("checks: %w", err)
		}
	}
	// The indexes' credentials are the checks' to use, never to show: the
	// log, the function's log stream and the error hide them.
	redact := workspace.NewRedactor(idx.Secrets()...)
	var echo io.Writer
	if s.Echo != nil {
		w := redact.Writer(s.Echo)
		defer w.Flush()
		echo = w
	}

	logKey := pipeline.LogKey(in.Run.Repository, workspace.ExecutionName(in.Execution, in.Run), "checks")
	var full strings.Builder
	note := func(format string, args ...any) {
		line := fmt.Sprintf(format, args...)
		full.WriteString(line)
		if echo != nil {
			io.WriteString(echo, line)
		}
	}
	needs, needsErr := readNeeds(root, plan.Template)
	tc, modDir, err := s.goToolchain(ctx, root, needs)
	if err != nil {
		return pipeline.ChecksResult{}, err
	}
	header := fmt.Sprintf("# checks of %s at %s", in.Run.Repository.FullName(), in.Run.Commit)
	if tc.Version != "" {
		header += " with " + tc.Version
		log.Info("toolchain", "version", tc.Version, "local", tc.Local, "downloaded", tc.Downloaded)
	}
	note("%s\n\n", header)
	if needsErr != nil {
		note("[%v: no Python or Node.js set up for the checks]\n", needsErr)
	}
	langs := runtimes.Needs(needs.Runtimes)
	env, err := s.environment(ctx, tc, langs, work, note, log)
	if err != nil {
		return pipeline.ChecksResult{}, err
	}
	idxEnv, err := idx.Env(work, root)
	if err != nil {
		return pipeline.ChecksResult{}, fmt.Errorf("checks: %w", err)
	}
	env = append(env, idxEnv...)
	sessions := s.restoreCaches(ctx, caches, in.Run.Repository, pipeline.ScopeOf(in.Run, in.Source.Plan), modDir, tc, langs, note, log)
	checkCtx, cancel := workspace.WithReserve(ctx, reserve)
	defer cancel()

	res := pipeline.ChecksResult{LogKey: logKey, Checks: []pipeline.CheckResult{}}
	start := time.Now()
	var failed *pipeline.ChecksFailed
	for _, command := range plan.Checks {
		// The log so far is stored before each check, so that a reader
		// (stackflow dashboard) follows the checks while they run; the
		// whole log replaces it at the end.
		if err := storeLog(ctx, store, logKey, redact.String(full.String()+"$ "+command+"\n[running]\n")); err != nil {
			log.Warn("store the checks log so far", "key", logKey, "error", err)
		}
		out := &workspace.Output{Echo: echo}
		fmt.Fprintf(out, "$ %s\n", command)
		began := time.Now()
		cmd := tc.Command(checkCtx, filepath.Join(root, filepath.FromSlash(plan.Dir)), "sh", "-c", command)
		cmd.Env = env
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
			failed = &pipeline.ChecksFailed{Check: command, Tail: redact.String(out.Tail()), LogKey: logKey}
			break
		}
	}
	if failed == nil && ctx.Err() == nil {
		saveCaches(ctx, sessions, note, log)
	}
	if err := storeLog(ctx, store, logKey, redact.String(full.String())); err != nil {
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

// restoreCaches restores the caches the checks keep, when they are kept,
// as scope allows (its branch's, else the default branch's): the Go caches
// of the module at modDir when the app has one (keyed by go.sum and
// toolchain), and pip's and npm's download caches when it has Python or
// Node.js. It returns their sessions. A failure only costs time.
func (s *Service) restoreCaches(ctx context.Context, caches *gocache.Config, repo pipeline.Repository, scope pipeline.CacheScope, modDir string,
	tc toolchain.Toolchain, langs []runtimes.Need, note func(string, ...any), log *slog.Logger) []*gocache.Session {
	if caches == nil {
		return nil
	}
	var sessions []*gocache.Session
	restore := func(session *gocache.Session, parts ...gocache.Part) {
		sessions = append(sessions, session)
		for _, part := range parts {
			r, err := session.Restore(ctx, part)
			if err != nil {
				note("[caches: %v; going on without]\n", err)
				log.Warn("restore cache", "cache", string(part), "error", err)
				continue
			}
			note("%s\n", r)
			log.Info("cache", "cache", string(part), "action", r.Action, "bytes", r.Bytes, "seconds", r.Took.Seconds())
		}
	}
	if tc.Version != "" {
		if sums, err := gocache.Sums(modDir); err != nil {
			note("[go caches: %v; not used]\n", err)
		} else {
			restore(caches.Session(repo, scope, pipeline.StepChecks, gocache.Key("checks", tc.Version, runtime.GOOS, runtime.GOARCH, sums)),
				gocache.Modules, gocache.Builds)
		}
	}
	if parts := downloadParts(langs); len(parts) > 0 {
		restore(caches.Session(repo, scope, pipeline.StepChecks, gocache.DownloadsKey("checks", runtime.GOOS, runtime.GOARCH)), parts...)
	}
	if len(sessions) > 0 {
		note("\n")
	}
	return sessions
}

// downloadParts are the download caches of the tools of langs: pip's for
// Python, npm's for Node.js.
func downloadParts(langs []runtimes.Need) []gocache.Part {
	var parts []gocache.Part
	for _, n := range langs {
		part := map[runtimes.Language]gocache.Part{runtimes.Python: gocache.Pip, runtimes.Node: gocache.Npm}[n.Language]
		if !slices.Contains(parts, part) {
			parts = append(parts, part)
		}
	}
	return parts
}

// saveCaches saves the caches that grew; a failure only costs time next
// run.
func saveCaches(ctx context.Context, sessions []*gocache.Session, note func(string, ...any), log *slog.Logger) {
	for _, session := range sessions {
		reports, err := session.Save(ctx)
		for _, r := range reports {
			note("%s\n", r)
			log.Info("cache", "cache", string(r.Part), "action", r.Action, "bytes", r.Bytes, "archive", r.Archive, "seconds", r.Took.Seconds())
		}
		if err != nil {
			note("[caches: %v]\n", err)
			log.Warn("save caches", "error", err)
		}
	}
}

// stores returns the bucket as this call reaches it, and the caches over
// it: through grants' URLs when the call has them, else Service.Store.
func (s *Service) stores(grants *pipeline.Grants) (Store, *gocache.Config, error) {
	var store Store = s.Store
	if grants != nil {
		store = artifacts.NewURLStore(grants, s.HTTPClient, "")
	}
	if store == nil {
		return nil, nil, errors.New("checks: the step was handed no grants (presigned URLs) and has no bucket of its own: " +
			"run it from the state machine, whose grant step hands them")
	}
	if s.Caches == nil {
		return store, nil, nil
	}
	caches := *s.Caches
	caches.Store = store
	return store, &caches, nil
}

// storeLog stores the log even when ctx is done: the log is most wanted
// when a check ran out of time.
func storeLog(ctx context.Context, store Store, key, body string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reserve/2)
	defer cancel()
	return store.Put(ctx, key, []byte(body), "text/plain; charset=utf-8")
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
