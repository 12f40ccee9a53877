package source_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stackflow/stackflow/internal/archive"
	"github.com/stackflow/stackflow/internal/artifacts"
	"github.com/stackflow/stackflow/internal/bitbucket"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/source"
	"github.com/stackflow/stackflow/internal/testaws"
)

var (
	_ source.Store         = (*artifacts.Store)(nil)
	_ source.Archiver      = (*bitbucket.Client)(nil)
	_ source.DefaultBranch = (*bitbucket.Client)(nil)
)

const (
	token   = "test-access-token"
	good    = "0123456789abcdef0123456789abcdef01234567"
	noYML   = "1111111111111111111111111111111111111111"
	badYML  = "2222222222222222222222222222222222222222"
	badSAM  = "3333333333333333333333333333333333333333"
	unknown = "9999999999999999999999999999999999999999"
	preview = "4444444444444444444444444444444444444444"
	badSmk  = "5555555555555555555555555555555555555555"
	joins   = "6666666666666666666666666666666666666666"
	bare    = "7777777777777777777777777777777777777777"
	merged  = "8888888888888888888888888888888888888888"
)

var repo = pipeline.Repository{Workspace: "acme", Slug: "hello"}

var buckets atomic.Int32

// newService returns a source step over a fresh bucket of a local S3 (kumo
// keeps one set of buckets per process, so each test has its own), with
// its temp dir and quiet logs.
//
// The tests of this package do not run in parallel: kumo.NewServer rewires
// process-wide services, which races with a server that is serving.
func newService(t *testing.T, archives source.Archiver) (*source.Service, *artifacts.Store) {
	t.Helper()
	return newServiceWith(t, archives, &defaultBranch{name: "main", commit: good})
}

// newServiceWith is newService with the default branch defaults.
func newServiceWith(t *testing.T, archives source.Archiver, defaults source.DefaultBranch) (*source.Service, *artifacts.Store) {
	t.Helper()
	cfg := testaws.Start(t)
	name := fmt.Sprintf("source-test-%d", buckets.Add(1))
	store := artifacts.New(testaws.S3(cfg), testaws.Bucket(t, cfg, name), cfg.Region)
	svc := source.New(archives, defaults, store)
	svc.TempDir = t.TempDir()
	svc.Log = slog.New(slog.DiscardHandler)
	return svc, store
}

const stackflowYML = `environments:
  - name: staging
    branches: [main]
    parameters: {Stage: staging}
  - name: prod
    branches: [main]
    stack: hello-live
`

const samconfigTOML = `version = 0.1
[staging.deploy.parameters]
stack_name = "hello-stg"
parameter_overrides = "Stage=dev LogLevel=debug"
`

// commits are the trees of the fake repository, by commit.
var commits = map[string]map[string]string{
	good: {
		"stackflow.yml":   stackflowYML,
		"samconfig.toml":  samconfigTOML,
		"template.yaml":   "Transform: AWS::Serverless-2016-10-31\n",
		"cmd/api/main.go": "package main\n",
	},
	noYML:  {"stackflow.yaml": stackflowYML, "go.mod": "module hello\n"},
	badYML: {"stackflow.yml": "environments:\n  - name: staging\n    branch: main\n"},
	badSAM: {"stackflow.yml": stackflowYML, "samconfig.toml": "[staging.deploy.parameters]\nstack_name = 7\n"},
	preview: {
		"stackflow.yml":  stackflowYML + "previews:\n  pull_requests: true\n",
		"samconfig.toml": samconfigTOML,
		"template.yaml":  "Transform: AWS::Serverless-2016-10-31\n",
	},
	// A feature branch's commit that adds itself to prod and moves staging
	// onto prod's stack.
	joins: {
		"stackflow.yml":  strings.Replace(stackflowYML, "    branches: [main]\n    stack: hello-live\n", "    branches: [main, feature/x]\n    stack: hello-live\n", 1),
		"samconfig.toml": strings.Replace(samconfigTOML, `stack_name = "hello-stg"`, `stack_name = "hello-live"`, 1),
		"template.yaml":  "Transform: AWS::Serverless-2016-10-31\n",
	},
	// joins' change to prod's branches, merged to main.
	merged: {
		"stackflow.yml":  strings.Replace(stackflowYML, "    branches: [main]\n    stack: hello-live\n", "    branches: [main, feature/x]\n    stack: hello-live\n", 1),
		"samconfig.toml": samconfigTOML,
		"template.yaml":  "Transform: AWS::Serverless-2016-10-31\n",
	},
	// A default branch without stackflow.yml.
	bare: {"go.mod": "module hello\n"},
	badSmk: {
		"stackflow.yml": "environments:\n  - name: staging\n    branches: [main]\n    smoke:\n      - name: greets\n        url: ${ApiUrl}hello\npreviews:\n  pull_requests: true\n",
		"template.yaml": "Transform: AWS::Serverless-2016-10-31\n",
	},
}

// defaultBranch is the fake repository's default branch, name at commit,
// whose files are commits[commit]; err, when set, is every answer.
type defaultBranch struct {
	name, commit string
	err          error
	reads        []string
}

func (d *defaultBranch) MainBranch(_ context.Context, r pipeline.Repository) (pipeline.DefaultBranch, error) {
	if r != repo {
		return pipeline.DefaultBranch{}, fmt.Errorf("main branch of %s: want %s", r.FullName(), repo.FullName())
	}
	return pipeline.DefaultBranch{Name: d.name, Commit: d.commit}, d.err
}

func (d *defaultBranch) File(_ context.Context, _ pipeline.Repository, commit, path string) ([]byte, error) {
	d.reads = append(d.reads, commit+":"+path)
	body, ok := commits[commit][path]
	if !ok {
		return nil, fmt.Errorf("read %s: %w", path, fs.ErrNotExist)
	}
	return []byte(body), nil
}

type fixture struct {
	svc       *source.Service
	defaults  *defaultBranch
	store     *artifacts.Store
	downloads *atomic.Int32
	tmp       string
	// archive returns what Bitbucket serves for commit.
	archive func(commit string) []byte
}

// setup starts kumo's S3 and a Bitbucket that serves the archives of
// commits at GET /{workspace}/{slug}/get/{sha}.tar.gz, as bitbucket.org does.
func setup(t *testing.T) fixture {
	t.Helper()
	archiveOf := func(commit string) []byte {
		files, ok := commits[commit]
		if !ok {
			return nil
		}
		dir := t.TempDir()
		for name, body := range files {
			p := filepath.Join(dir, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Error(err)
			}
			if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
				t.Error(err)
			}
		}
		var buf bytes.Buffer
		if err := archive.Create(&buf, dir, "acme-hello-"+commit[:12], nil); err != nil {
			t.Error(err)
		}
		return buf.Bytes()
	}

	var downloads atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{workspace}/{slug}/get/{file}", func(w http.ResponseWriter, r *http.Request) {
		downloads.Add(1)
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		sha, ok := strings.CutSuffix(r.PathValue("file"), ".tar.gz")
		body := archiveOf(sha)
		if !ok || r.PathValue("workspace") != repo.Workspace || r.PathValue("slug") != repo.Slug || body == nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/x-gzip")
		_, _ = w.Write(body)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	creds, err := bitbucket.ParseCredentials(token)
	if err != nil {
		t.Fatal(err)
	}
	defaults := &defaultBranch{name: "main", commit: good}
	svc, store := newServiceWith(t, bitbucket.NewClient(srv.URL, srv.URL, creds, srv.Client()), defaults)
	return fixture{svc: svc, defaults: defaults, store: store, downloads: &downloads, tmp: svc.TempDir, archive: archiveOf}
}

func run(branch, commit string) pipeline.Run {
	return pipeline.Run{Repository: repo, Branch: branch, Commit: commit}
}

func TestHandle(t *testing.T) {
	f := setup(t)
	ctx := context.Background()

	got, err := f.svc.Handle(ctx, pipeline.SourceInput{Run: run("main", good)})
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if want := pipeline.SourceKey(repo, good); got.ArchiveKey != want {
		t.Errorf("ArchiveKey = %q, want %q", got.ArchiveKey, want)
	}
	p := got.Plan
	if !p.Deploy || p.Summary != "main: checks, then staging -> prod" {
		t.Errorf("plan Deploy, Summary = %v, %q; want true, %q", p.Deploy, p.Summary, "main: checks, then staging -> prod")
	}
	if len(p.Environments) != 2 {
		t.Fatalf("got %d environments, want 2", len(p.Environments))
	}
	staging, prod := p.Environments[0], p.Environments[1]
	if staging.Stack != "hello-stg" || prod.Stack != "hello-live" {
		t.Errorf("stacks = %q, %q; want hello-stg (samconfig.toml), hello-live (stackflow.yml)", staging.Stack, prod.Stack)
	}
	if staging.Parameters["Stage"] != "staging" || staging.Parameters["LogLevel"] != "debug" {
		t.Errorf("staging parameters = %v, want Stage=staging over samconfig's, LogLevel=debug from samconfig", staging.Parameters)
	}

	stored, err := f.store.Get(ctx, got.ArchiveKey)
	if err != nil {
		t.Fatalf("stored archive: %v", err)
	}
	if !bytes.Equal(stored, f.archive(good)) {
		t.Error("stored archive differs from the one Bitbucket served")
	}
	if n := f.downloads.Load(); n != 1 {
		t.Errorf("downloads = %d, want 1", n)
	}
	assertCleanedUp(t, f.tmp)
}

func TestHandlePullRequest(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	prRun := func(commit string, closed bool) pipeline.Run {
		r := run("feature/greeting", commit)
		r.PullRequest = &pipeline.PullRequest{ID: 7, Title: "Friendlier greeting", Destination: "main", Closed: closed}
		return r
	}
	tests := []struct {
		name        string
		run         pipeline.Run
		main        string // the default branch's commit
		wantSummary string
		wantDeploy  bool
		wantStack   string // the one environment's; "" for none
	}{
		{name: "previews on", run: prRun(preview, false), main: preview, wantDeploy: true, wantStack: "hello-pr-7",
			wantSummary: "pull request #7: checks, then preview stack hello-pr-7"},
		{name: "previews on, closed", run: prRun(preview, true), main: preview, wantStack: "hello-pr-7",
			wantSummary: "pull request #7 closed: delete preview stack hello-pr-7"},
		{name: "previews off", run: prRun(good, false), main: good,
			wantSummary: "pull request #7: checks only (previews are off: set previews.pull_requests: true in stackflow.yml for a preview stack)"},
		{name: "previews on in the pull request only", run: prRun(preview, false), main: good,
			wantSummary: "pull request #7: checks only (previews are off: set previews.pull_requests: true in stackflow.yml for a preview stack); " +
				"ignored this commit's previews.pull_requests: main's stackflow.yml decides where commits deploy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.defaults.commit = tt.main
			got, err := f.svc.Handle(ctx, pipeline.SourceInput{Run: tt.run})
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			p := got.Plan
			if p.Summary != tt.wantSummary || p.Deploy != tt.wantDeploy {
				t.Errorf("got plan %q (deploy %v), want %q (deploy %v)", p.Summary, p.Deploy, tt.wantSummary, tt.wantDeploy)
			}
			switch {
			case tt.wantStack == "" && len(p.Environments) != 0:
				t.Errorf("got environments %+v, want none", p.Environments)
			case tt.wantStack == "":
			case len(p.Environments) != 1:
				t.Errorf("got environments %+v, want the preview", p.Environments)
			default:
				e := p.Environments[0]
				// staging's settings: its parameters over samconfig's.
				if e.Name != "pr-7" || e.Stack != tt.wantStack || e.PullRequest != 7 || e.Parameters["Stage"] != "staging" || e.Parameters["LogLevel"] != "debug" {
					t.Errorf("got environment %+v, want pr-7 in %s with staging's parameters", e, tt.wantStack)
				}
			}
		})
	}

	// The preview's smoke checks are checked against the template, as the
	// environment's would be.
	f.defaults.commit = badSmk
	_, err := f.svc.Handle(ctx, pipeline.SourceInput{Run: prRun(badSmk, false)})
	if ci := asConfigInvalid(t, err); !strings.Contains(ci.Problem, "refers to ${ApiUrl}, but template.yaml has no output ApiUrl") {
		t.Errorf("got %v, want the missing output named", ci)
	}
	assertCleanedUp(t, f.tmp)
}

// TestHandleTrustsTheDefaultBranch: where a commit deploys is decided by
// the default branch's files, whatever the commit's own say, and the plan
// says what it ignored.
func TestHandleTrustsTheDefaultBranch(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	got, err := f.svc.Handle(ctx, pipeline.SourceInput{Run: run("feature/x", joins)})
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	p := got.Plan
	if p.Deploy || len(p.Environments) != 0 {
		t.Errorf("got environments %+v, want none: main's stackflow.yml gives feature/x none", p.Environments)
	}
	var ignored []string
	for _, s := range p.Ignored {
		ignored = append(ignored, s.String())
	}
	want := []string{
		"staging.stack: hello-live in this commit, hello-stg on the default branch",
		"prod.branches: [main, feature/x] in this commit, [main] on the default branch",
	}
	if strings.Join(ignored, "\n") != strings.Join(want, "\n") {
		t.Errorf("got ignored\n%s\nwant\n%s", strings.Join(ignored, "\n"), strings.Join(want, "\n"))
	}
	if want := "main's stackflow.yml decides where commits deploy"; !strings.Contains(p.Summary, want) {
		t.Errorf("summary %q: want it to say %q", p.Summary, want)
	}
	if p.DefaultBranch == nil || p.DefaultBranch.Name != "main" || p.DefaultBranch.Commit != good {
		t.Errorf("got default branch %+v, want main at %s", p.DefaultBranch, good)
	}
	if want := []string{good + ":stackflow.yml", good + ":samconfig.toml"}; strings.Join(f.defaults.reads, " ") != strings.Join(want, " ") {
		t.Errorf("read %v from the default branch, want %v", f.defaults.reads, want)
	}

	// Once the change is on the default branch, it takes effect.
	f.defaults.commit = merged
	got, err = f.svc.Handle(ctx, pipeline.SourceInput{Run: run("feature/x", merged)})
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if len(got.Plan.Environments) != 1 || got.Plan.Environments[0].Name != "prod" || len(got.Plan.Ignored) != 0 {
		t.Errorf("got environments %+v, ignored %+v; want prod, nothing ignored", got.Plan.Environments, got.Plan.Ignored)
	}

	// A default branch without stackflow.yml deploys nothing.
	f.defaults.commit = bare
	got, err = f.svc.Handle(ctx, pipeline.SourceInput{Run: run("main", good)})
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if got.Plan.Deploy || !strings.Contains(got.Plan.Summary, "main: checks only") {
		t.Errorf("got plan %q (deploy %v), want checks only", got.Plan.Summary, got.Plan.Deploy)
	}
	assertCleanedUp(t, f.tmp)
}

func TestHandleDefaultBranchErrors(t *testing.T) {
	tests := []struct {
		name     string
		defaults *defaultBranch
		check    func(t *testing.T, err error)
	}{
		{
			name:     "bitbucket busy",
			defaults: &defaultBranch{err: &pipeline.BitbucketUnavailable{Operation: "read the main branch", Reason: "rate limited"}},
			check: func(t *testing.T, err error) {
				if _, ok := err.(*pipeline.BitbucketUnavailable); !ok {
					t.Errorf("error = %v (%T), want *pipeline.BitbucketUnavailable unwrapped, to be retried", err, err)
				}
			},
		},
		{
			name:     "invalid stackflow.yml on main",
			defaults: &defaultBranch{name: "main", commit: badYML},
			check: func(t *testing.T, err error) {
				ci := asConfigInvalid(t, err)
				if ci.File != "stackflow.yml on main (2222222)" || !strings.Contains(ci.Fix, "fix it on main") {
					t.Errorf("got %v, want the file on main named", ci)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, _ := newServiceWith(t, source.ArchiverFunc(func(context.Context, pipeline.Repository, string) (io.ReadCloser, error) {
				t.Error("the archive was downloaded, want the default branch read first")
				return nil, errors.New("no")
			}), tt.defaults)
			_, err := svc.Handle(context.Background(), pipeline.SourceInput{Run: run("main", good)})
			tt.check(t, err)
		})
	}
}

func TestHandleReusesStoredArchive(t *testing.T) {
	f := setup(t)
	ctx := context.Background()

	if _, err := f.svc.Handle(ctx, pipeline.SourceInput{Run: run("main", good)}); err != nil {
		t.Fatalf("first Handle: %v", err)
	}
	got, err := f.svc.Handle(ctx, pipeline.SourceInput{Run: run("feature/x", good)})
	if err != nil {
		t.Fatalf("second Handle: %v", err)
	}
	if n := f.downloads.Load(); n != 1 {
		t.Errorf("downloads = %d after two runs of one commit, want 1", n)
	}
	if want := "feature/x: checks only (no environment deploys this branch)"; got.Plan.Summary != want || got.Plan.Deploy {
		t.Errorf("second plan = %q (deploy %v), want %q (deploy false)", got.Plan.Summary, got.Plan.Deploy, want)
	}
	assertCleanedUp(t, f.tmp)
}

func TestHandleErrors(t *testing.T) {
	tests := []struct {
		name string
		run  pipeline.Run
		// check inspects the error Handle returned.
		check func(t *testing.T, err error)
		// wantDownloads is how many archive requests Bitbucket should see.
		wantDownloads int32
	}{
		{
			name: "invalid stackflow.yml", run: run("main", badYML), wantDownloads: 1,
			check: func(t *testing.T, err error) {
				ci := asConfigInvalid(t, err)
				if ci.File != "stackflow.yml" || ci.Line != 3 || !strings.Contains(ci.Problem, `unknown key "branch"`) {
					t.Errorf("got %s:%d %q, want stackflow.yml:3 about the unknown key", ci.File, ci.Line, ci.Problem)
				}
			},
		},
		{
			name: "missing stackflow.yml", run: run("main", noYML), wantDownloads: 1,
			check: func(t *testing.T, err error) {
				ci := asConfigInvalid(t, err)
				if ci.File != "stackflow.yml" || !strings.Contains(ci.Problem, "no stackflow.yml at its root") {
					t.Errorf("got %s %q, want stackflow.yml missing", ci.File, ci.Problem)
				}
				if !strings.Contains(ci.Fix, "rename stackflow.yaml") {
					t.Errorf("Fix = %q, want it to suggest renaming stackflow.yaml", ci.Fix)
				}
			},
		},
		{
			name: "invalid samconfig.toml", run: run("main", badSAM), wantDownloads: 1,
			check: func(t *testing.T, err error) {
				ci := asConfigInvalid(t, err)
				if ci.File != "samconfig.toml" || ci.Line != 2 {
					t.Errorf("got %s:%d, want samconfig.toml:2", ci.File, ci.Line)
				}
			},
		},
		{
			name: "unknown commit", run: run("main", unknown), wantDownloads: 1,
			check: func(t *testing.T, err error) {
				var su *pipeline.SourceUnavailable
				if !errors.As(err, &su) {
					t.Fatalf("error = %v (%T), want *pipeline.SourceUnavailable", err, err)
				}
				if su.Commit != unknown || !strings.Contains(su.Reason, "404") {
					t.Errorf("got commit %s reason %q, want %s and a 404", su.Commit, su.Reason, unknown)
				}
			},
		},
		{name: "abbreviated commit", run: run("main", good[:12]), check: wantUnexpected},
		{name: "uppercase commit", run: run("main", strings.ToUpper(good)), check: wantUnexpected},
		{name: "no branch", run: run("", good), check: wantUnexpected},
		{name: "no repository", run: pipeline.Run{Branch: "main", Commit: good}, check: wantUnexpected},
		{
			name: "repository that climbs out of its prefix", check: wantUnexpected,
			run: pipeline.Run{Repository: pipeline.Repository{Workspace: "..", Slug: "x"}, Branch: "main", Commit: good},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t)
			_, err := f.svc.Handle(context.Background(), pipeline.SourceInput{Run: tt.run})
			if err == nil {
				t.Fatal("Handle succeeded, want an error")
			}
			tt.check(t, err)
			if n := f.downloads.Load(); n != tt.wantDownloads {
				t.Errorf("downloads = %d, want %d", n, tt.wantDownloads)
			}
			assertCleanedUp(t, f.tmp)
		})
	}
}

func TestHandleRefusesLargeArchive(t *testing.T) {
	f := setup(t)
	f.svc.MaxArchive = 64
	_, err := f.svc.Handle(context.Background(), pipeline.SourceInput{Run: run("main", good)})
	var su *pipeline.SourceUnavailable
	if !errors.As(err, &su) || !strings.Contains(su.Reason, "larger than") {
		t.Fatalf("error = %v, want *pipeline.SourceUnavailable about the size", err)
	}
	if ok, err := f.store.Exists(context.Background(), pipeline.SourceKey(repo, good)); err != nil || ok {
		t.Errorf("Exists = %v, %v; want the refused archive not stored", ok, err)
	}
	assertCleanedUp(t, f.tmp)
}

func TestHandlePassesBitbucketUnavailable(t *testing.T) {
	busy := source.ArchiverFunc(func(context.Context, pipeline.Repository, string) (io.ReadCloser, error) {
		return nil, &pipeline.BitbucketUnavailable{Operation: "download archive", Reason: "rate limited (429 Too Many Requests)"}
	})
	svc, _ := newService(t, busy)
	_, err := svc.Handle(context.Background(), pipeline.SourceInput{Run: run("main", good)})
	if _, ok := err.(*pipeline.BitbucketUnavailable); !ok {
		t.Fatalf("error = %v (%T), want *pipeline.BitbucketUnavailable unwrapped", err, err)
	}
}

func TestHandleDownloadBrokenOff(t *testing.T) {
	broken := source.ArchiverFunc(func(context.Context, pipeline.Repository, string) (io.ReadCloser, error) {
		return io.NopCloser(io.MultiReader(strings.NewReader("partial"), errReader{})), nil
	})
	svc, store := newService(t, broken)
	_, err := svc.Handle(context.Background(), pipeline.SourceInput{Run: run("main", good)})
	if _, ok := err.(*pipeline.BitbucketUnavailable); !ok {
		t.Fatalf("error = %v (%T), want *pipeline.BitbucketUnavailable so that it is retried", err, err)
	}
	if ok, _ := store.Exists(context.Background(), pipeline.SourceKey(repo, good)); ok {
		t.Error("a partial archive was stored")
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset by peer") }

func asConfigInvalid(t *testing.T, err error) *pipeline.ConfigInvalid {
	t.Helper()
	ci, ok := err.(*pipeline.ConfigInvalid)
	if !ok {
		t.Fatalf("error = %v (%T), want *pipeline.ConfigInvalid unwrapped for the state machine", err, err)
	}
	if ci.Fix == "" {
		t.Errorf("ConfigInvalid %v has no Fix", ci)
	}
	return ci
}

func wantUnexpected(t *testing.T, err error) {
	t.Helper()
	if _, ok := err.(*pipeline.UnexpectedError); !ok {
		t.Errorf("error = %v (%T), want *pipeline.UnexpectedError", err, err)
	}
}

// assertCleanedUp fails when the step left anything in its temp dir.
func assertCleanedUp(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left behind in the temp dir: %s", e.Name())
	}
}
