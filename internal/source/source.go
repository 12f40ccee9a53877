// Package source is the pipeline's source step: it fetches the archive of
// the commit being delivered once, keeps it in the artifact bucket for every
// later step, and makes the run's plan: the branch's environments for a
// push, the preview stack for a pull request.
//
// Who may deploy where is not the commit's to say: the environments, their
// branches, stacks, regions, roles, approvals and protection, and the
// previews, come from stackflow.yml and samconfig.toml on the repository's
// default branch, read from Bitbucket (see config.Trusted). The commit's
// own files give its checks, template, parameters and smoke checks; the
// plan lists what else they set otherwise, as ignored.
package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"regexp"

	"github.com/stackflow/stackflow/internal/archive"
	"github.com/stackflow/stackflow/internal/bitbucket"
	"github.com/stackflow/stackflow/internal/config"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/runlog"
)

// Archiver downloads the tar.gz archive of a commit; internal/bitbucket's
// Client is one. It returns *pipeline.SourceUnavailable or
// *pipeline.BitbucketUnavailable for what the state machine tells apart.
type Archiver interface {
	Archive(ctx context.Context, repo pipeline.Repository, commit string) (io.ReadCloser, error)
}

// ArchiverFunc adapts a function to an Archiver.
type ArchiverFunc func(ctx context.Context, repo pipeline.Repository, commit string) (io.ReadCloser, error)

// Archive calls f.
func (f ArchiverFunc) Archive(ctx context.Context, repo pipeline.Repository, commit string) (io.ReadCloser, error) {
	return f(ctx, repo, commit)
}

// DefaultBranch reads a repository's default branch and its files from
// Bitbucket; internal/bitbucket's Client is one. File reports a missing
// file with an error wrapping fs.ErrNotExist.
type DefaultBranch interface {
	MainBranch(ctx context.Context, repo pipeline.Repository) (pipeline.DefaultBranch, error)
	File(ctx context.Context, repo pipeline.Repository, commit, path string) ([]byte, error)
}

// ChangeReader lists the files one commit changed since another, from the
// repository root; internal/bitbucket's Client is one (its diffstat). It
// returns an error wrapping bitbucket.ErrTooManyChanges for a change too
// large to list.
type ChangeReader interface {
	ChangedFiles(ctx context.Context, repo pipeline.Repository, from, to string) ([]string, error)
}

// Store is the part of the artifact bucket the step uses; internal/artifacts'
// Store is one.
type Store interface {
	Exists(ctx context.Context, key string) (bool, error)
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	PutFile(ctx context.Context, key, path, contentType string) error
}

// Limits of what the step reads.
const (
	// MaxArchiveBytes is the largest commit archive accepted: 512 MiB.
	MaxArchiveBytes = 512 << 20
)

// Service is the source step.
type Service struct {
	archives Archiver
	defaults DefaultBranch
	store    Store

	// TempDir is where archives are downloaded and unpacked; empty means
	// os.TempDir(). Everything the step writes there is removed before
	// Handle returns.
	TempDir string
	// MaxArchive is the largest archive accepted, in bytes.
	MaxArchive int64
	// Log receives one line per run; nil means slog.Default().
	Log *slog.Logger
	// Changes reads the files a push changed, for path filters (paths,
	// paths_ignore); nil counts every file as changed.
	Changes ChangeReader
}

// New returns the source step, downloading through archives, reading who
// may deploy where from the default branch through defaults, and keeping
// archives in store.
func New(archives Archiver, defaults DefaultBranch, store Store) *Service {
	return &Service{archives: archives, defaults: defaults, store: store, MaxArchive: MaxArchiveBytes}
}

// Handle fetches the source of run and makes its plan. The commit's archive
// is downloaded unless the artifact bucket already holds it at
// pipeline.SourceKey, and stored there. A missing or invalid stackflow.yml
// or samconfig.toml is a *pipeline.ConfigInvalid.
//
// Its error is one of pipeline's error types, as the state machine matches
// them.
func (s *Service) Handle(ctx context.Context, in pipeline.SourceInput) (pipeline.Source, error) {
	log := s.Log
	if log == nil {
		log = slog.Default()
	}
	ctx = runlog.WithRun(ctx, in.Run, in.Execution)
	src, reused, err := s.fetch(ctx, in.Run, in.Execution)
	if err != nil {
		err = pipeline.ForStateMachine(err)
		log.ErrorContext(ctx, "source failed", "error", err.Error(), "errorType", fmt.Sprintf("%T", err))
		return pipeline.Source{}, err
	}
	log.InfoContext(ctx, "source ready", "archiveKey", src.ArchiveKey, "reused", reused, "plan", src.Plan.Summary)
	return src, nil
}

func (s *Service) fetch(ctx context.Context, run pipeline.Run, execution string) (pipeline.Source, bool, error) {
	if err := validate(run); err != nil {
		return pipeline.Source{}, false, err
	}
	// Who may deploy where, first: it is a few small reads, and a broken
	// configuration on the default branch fails every run until it is fixed.
	head, err := s.defaults.MainBranch(ctx, run.Repository)
	if err != nil {
		return pipeline.Source{}, false, fmt.Errorf("read the default branch: %w", err)
	}
	trusted, err := readTrustedAt(ctx, s.defaults, run.Repository, head, "")
	if err != nil {
		return pipeline.Source{}, false, err
	}
	var app *config.App
	switch {
	case run.App != nil:
		a, ok := trusted.Config.App(run.App.Name)
		if !ok {
			return pipeline.Source{}, false, &pipeline.ConfigInvalid{File: fmt.Sprintf("%s on %s", config.File, head.Name),
				Problem: fmt.Sprintf("lists no app %s any more", run.App.Name),
				Fix:     "push again: the default branch's stackflow.yml decides which apps there are"}
		}
		app = &a
		if trusted, err = readTrustedAt(ctx, s.defaults, run.Repository, head, a.Path); err != nil {
			return pipeline.Source{}, false, err
		}
	case trusted.Config != nil && len(trusted.Config.Apps) > 0:
		if run.PullRequest != nil {
			return pipeline.Source{}, false, &pipeline.ConfigInvalid{File: fmt.Sprintf("%s on %s", config.File, head.Name),
				Problem: "lists apps, and preview stacks of pull requests are made for repositories of one app only",
				Fix:     "turn previews off in the apps' stackflow.yml files; a later version delivers pull requests app by app"}
		}
		plan, err := s.dispatch(ctx, run, execution, trusted)
		if err != nil {
			return pipeline.Source{}, false, err
		}
		return pipeline.Source{Plan: plan}, false, nil
	}
	ch, err := s.change(ctx, run, trusted, filtered(trusted.Config))
	if err != nil {
		return pipeline.Source{}, false, err
	}

	work, err := os.MkdirTemp(s.TempDir, "source-")
	if err != nil {
		return pipeline.Source{}, false, fmt.Errorf("source: %w", err)
	}
	defer os.RemoveAll(work)
	key := pipeline.SourceKey(run.Repository, run.Commit)
	tarball := filepath.Join(work, "source.tar.gz")
	reused, err := s.obtain(ctx, run, key, tarball)
	if err != nil {
		return pipeline.Source{}, false, err
	}
	tree := filepath.Join(work, "tree")
	if err := unpack(tarball, tree); err != nil {
		return pipeline.Source{}, false, &pipeline.SourceUnavailable{
			Repository: run.Repository.FullName(), Commit: run.Commit, Reason: "the archive cannot be unpacked: " + err.Error(),
		}
	}
	plan, err := readPlan(tree, run, trusted, ch, app)
	if err != nil {
		return pipeline.Source{}, false, err
	}
	return pipeline.Source{ArchiveKey: key, Plan: plan}, reused, nil
}

// filtered reports whether an environment of c has path filters: only
// then does a run read what its push changed.
func filtered(c *config.Config) bool {
	if c == nil {
		return false
	}
	for _, e := range c.Environments {
		if len(e.Paths)+len(e.PathsIgnore) > 0 {
			return true
		}
	}
	return false
}

// change is what run's push changed, as path filters read it. The files
// are read (through Bitbucket's diffstat) only when need is true; a push
// that created the branch is compared with the default branch's head, and
// a forced or truncated push, a run no push started, and a change too
// large to list count every file.
func (s *Service) change(ctx context.Context, run pipeline.Run, trusted config.Trusted, need bool) (config.Change, error) {
	ch := config.Change{Branch: run.Branch, Tag: run.Tag}
	p := run.Push
	switch {
	case run.Tag != "" || !need:
		return ch, nil
	case p == nil:
		ch.Everything = "no push to compare with (every file counts)"
	case p.Forced:
		ch.Everything = "a forced push (every file counts)"
	case p.Truncated:
		ch.Everything = "Bitbucket truncated the push (every file counts)"
	case p.Old == "" && (run.Branch == trusted.Branch || trusted.Commit == ""):
		ch.Everything = "a new branch with no default branch to compare with (every file counts)"
	case s.Changes == nil:
		ch.Everything = "no diffstat to read (every file counts)"
	}
	if ch.Everything != "" {
		return ch, nil
	}
	from := p.Old
	if from == "" {
		from = trusted.Commit // a new branch: what it adds to the default branch
	}
	files, err := s.Changes.ChangedFiles(ctx, run.Repository, from, run.Commit)
	switch {
	case errors.Is(err, bitbucket.ErrTooManyChanges):
		ch.Everything = "the push changed more files than stackflow reads (every file counts)"
	case err != nil:
		return ch, fmt.Errorf("read what the push changed: %w", err)
	default:
		ch.Files = files
	}
	return ch, nil
}

// obtain writes the archive of run's commit to path: from the artifact
// bucket when it is there (reused), else from Bitbucket, and then stores it
// at key.
func (s *Service) obtain(ctx context.Context, run pipeline.Run, key, path string) (reused bool, err error) {
	exists, err := s.store.Exists(ctx, key)
	if err != nil {
		return false, fmt.Errorf("look for the stored archive: %w", err)
	}
	if exists {
		body, err := s.store.Open(ctx, key)
		if err != nil {
			return false, fmt.Errorf("open the stored archive: %w", err)
		}
		defer body.Close()
		if err := s.save(body, path, run); err != nil {
			return false, fmt.Errorf("read the stored archive: %w", err)
		}
		return true, nil
	}

	body, err := s.archives.Archive(ctx, run.Repository, run.Commit)
	if err != nil {
		return false, fmt.Errorf("download the archive: %w", err)
	}
	defer body.Close()
	if err := s.save(body, path, run); err != nil {
		var tooLarge *pipeline.SourceUnavailable
		if errors.As(err, &tooLarge) {
			return false, err
		}
		return false, &pipeline.BitbucketUnavailable{Operation: "download archive", Reason: "the download broke off: " + err.Error()}
	}
	if err := s.store.PutFile(ctx, key, path, "application/gzip"); err != nil {
		return false, fmt.Errorf("store the archive: %w", err)
	}
	return false, nil
}

// save copies r to a new file at path, refusing more than s.MaxArchive
// bytes.
func (s *Service) save(r io.Reader, path string, run pipeline.Run) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	limit := s.MaxArchive
	if limit <= 0 {
		limit = MaxArchiveBytes
	}
	n, err := io.Copy(f, io.LimitReader(r, limit+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if n > limit {
		return &pipeline.SourceUnavailable{
			Repository: run.Repository.FullName(), Commit: run.Commit,
			Reason: fmt.Sprintf("the archive is larger than %d MiB; keep build outputs and large files out of the repository", limit>>20),
		}
	}
	return nil
}

func unpack(tarball, dir string) error {
	f, err := os.Open(tarball)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	return archive.Extract(f, dir, archive.DefaultLimits)
}

// ReadTrusted reads who may deploy where in repo: stackflow.yml and
// samconfig.toml on its default branch, at the branch's head.
func ReadTrusted(ctx context.Context, defaults DefaultBranch, repo pipeline.Repository) (config.Trusted, error) {
	head, err := defaults.MainBranch(ctx, repo)
	if err != nil {
		return config.Trusted{}, fmt.Errorf("read the default branch: %w", err)
	}
	return readTrustedAt(ctx, defaults, repo, head, "")
}

// readTrustedAt reads stackflow.yml and samconfig.toml in the folder dir
// ("" for the root; an app's folder) of the default branch at head.
func readTrustedAt(ctx context.Context, defaults DefaultBranch, repo pipeline.Repository, head pipeline.DefaultBranch, dir string) (config.Trusted, error) {
	var files [2][]byte
	for i, name := range []string{config.File, config.SAMFile} {
		name = path.Join(dir, name)
		data, err := defaults.File(ctx, repo, head.Commit, name)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return config.Trusted{}, fmt.Errorf("read %s on %s: %w", name, head.Name, err)
		default:
			files[i] = data
		}
	}
	t, err := config.ParseTrusted(head.Name, head.Commit, files[0], files[1])
	return t, inFolder(err, dir)
}

// inFolder names the folder dir in a ConfigInvalid about one of its
// files.
func inFolder(err error, dir string) error {
	var ci *pipeline.ConfigInvalid
	if dir == "" || !errors.As(err, &ci) {
		return err
	}
	c := *ci
	c.File = dir + "/" + c.File
	return &c
}

// readPlan reads the commit's configuration at the root of tree (in the
// app's folder, for an app's run) and makes the plan of run's change ch,
// or of its pull request's preview, under trusted, the default branch's.
func readPlan(tree string, run pipeline.Run, trusted config.Trusted, ch config.Change, app *config.App) (pipeline.Plan, error) {
	dir := tree
	if app != nil {
		dir = filepath.Join(tree, filepath.FromSlash(app.Path))
		// An app's stacks are <slug>-<app>-<environment> by default.
		ch.App = app.Name
	}
	where := fmt.Sprintf("%s at commit %s", run.Repository.FullName(), run.Short())
	if app != nil {
		where = fmt.Sprintf("app %s (%s) of %s", app.Name, app.Path, where)
	}
	cfg, sam, err := config.Load(dir, where)
	if err != nil {
		return pipeline.Plan{}, inFolder(err, appDir(app))
	}
	if app == nil && len(cfg.Apps) > 0 {
		return pipeline.Plan{}, &pipeline.ConfigInvalid{File: config.File,
			Problem: fmt.Sprintf("this commit lists apps, but %s's %s does not: its apps are delivered once it is merged there", trusted.Branch, config.File),
			Fix:     "merge the apps into " + trusted.Branch + " first"}
	}
	var plan pipeline.Plan
	switch {
	case run.Promote != nil:
		plan, err = cfg.PromoteRunPlanTrusted(trusted, run, sam)
	case run.PullRequest != nil:
		plan, err = cfg.PreviewPlanTrusted(trusted, run.Repository.ForApp(ch.App), *run.PullRequest, sam)
	default:
		plan, err = cfg.PlanTrustedChange(trusted, run.Repository, ch, sam)
	}
	if err != nil {
		return pipeline.Plan{}, inFolder(err, appDir(app))
	}
	if app != nil {
		plan.Dir = app.Path
		plan.Template = path.Join(app.Path, plan.Template)
		for i := range plan.Environments {
			plan.Environments[i].App = app.Name
		}
		plan.Summary = app.Name + " " + plan.Summary
	}
	if run.Retry != nil && run.Promote == nil {
		if plan, err = resume(plan, run); err != nil {
			return pipeline.Plan{}, err
		}
	}
	// Fail here, not after the first stack is deployed, on a smoke check
	// that names an output the template does not have.
	if err := cfg.CheckOutputs(tree, plan); err != nil {
		return pipeline.Plan{}, err
	}
	return plan, nil
}

func appDir(app *config.App) string {
	if app == nil {
		return ""
	}
	return app.Path
}

// resume is plan from the environment where the run that run retries
// stopped: the environments before it were delivered, and the rest come in
// the order the default branch gives them now.
func resume(plan pipeline.Plan, run pipeline.Run) (pipeline.Plan, error) {
	r := run.Retry
	resumed, ok := config.ResumeAt(plan, r.Environment)
	if !ok {
		reason := fmt.Sprintf("%s is not among the environments %s deploys to now (%s)", r.Environment, run.Branch, plan.Summary)
		if plan.Ready != nil && plan.Ready.Environment == r.Environment {
			reason = r.Environment + " takes promotions only now"
		}
		return plan, &pipeline.Refused{What: "retry " + pipeline.ExecutionNameOf(r.Of) + " at " + r.Environment, Reason: reason,
			Fix: config.File + " on the default branch decides where each branch deploys"}
	}
	resumed.Summary = fmt.Sprintf("%s: retried %s from %s on, with its package", run.Branch, pipeline.ExecutionNameOf(r.Of), r.Environment)
	if r.By != "" {
		resumed.Summary += " (asked by " + r.By + ")"
	}
	if ready := resumed.Ready; ready != nil && ready.From != "" {
		resumed.Summary += fmt.Sprintf("; ready to promote to %s (%s)", ready.Environment, ready.Command)
	}
	return resumed, nil
}

var (
	commitHash = regexp.MustCompile(`^[0-9a-f]{40}$`)
	repoPart   = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
)

// validate refuses a run that cannot name a commit archive, before
// anything is downloaded.
func validate(run pipeline.Run) error {
	for _, part := range []string{run.Repository.Workspace, run.Repository.Slug} {
		if !repoPart.MatchString(part) || part == "." || part == ".." {
			return fmt.Errorf("source: run's repository %q is not a Bitbucket workspace/slug", run.Repository.FullName())
		}
	}
	if (run.Branch == "") == (run.Tag == "") {
		return errors.New("source: run names no branch or tag, or both")
	}
	if !commitHash.MatchString(run.Commit) {
		return fmt.Errorf("source: run's commit %q is not a full 40-character lowercase hash", run.Commit)
	}
	return nil
}
