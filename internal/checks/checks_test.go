package checks_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stackflow/stackflow/internal/archive"
	"github.com/stackflow/stackflow/internal/artifacts"
	"github.com/stackflow/stackflow/internal/checks"
	"github.com/stackflow/stackflow/internal/gocache"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/runtimes"
	"github.com/stackflow/stackflow/internal/staging"
	"github.com/stackflow/stackflow/internal/testaws"
	"github.com/stackflow/stackflow/internal/toolchain"
)

const execution = "arn:aws:states:us-east-1:123456789012:execution:stackflow:app-main-0123456"

var run = pipeline.Run{
	Repository: pipeline.Repository{Workspace: "acme", Slug: "app"},
	Branch:     "main",
	Commit:     "0123456789abcdef0123456789abcdef01234567",
}

// app is a module with no dependencies, so checks need no network.
var app = map[string]string{
	"go.mod":      "module example.com/app\n\ngo 1.22\n",
	"add.go":      "package app\n\n// Add adds.\nfunc Add(a, b int) int { return a + b }\n",
	"add_test.go": "package app\n\nimport \"testing\"\n\nfunc TestAdd(t *testing.T) {\n\tif Add(2, 2) != 4 {\n\t\tt.Fatal(\"bad\")\n\t}\n}\n",
}

func with(files map[string]string, name, body string) map[string]string {
	out := map[string]string{name: body}
	for k, v := range files {
		if k != name {
			out[k] = v
		}
	}
	return out
}

type fixture struct {
	svc   *checks.Service
	store *artifacts.Store
}

func setup(t *testing.T) fixture {
	t.Helper()
	cfg := testaws.Start(t)
	// kumo's servers share their buckets: one per test.
	bucket := strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-"))
	store := artifacts.New(testaws.S3(cfg), testaws.Bucket(t, cfg, bucket), cfg.Region)
	// The host's go and its build cache; no downloads.
	opts := toolchain.Options{Proxy: "off", CacheDir: t.TempDir()}
	svc := &checks.Service{Store: store, Toolchain: opts, Runtimes: runtimes.Options{Host: true}, Logger: slog.New(slog.DiscardHandler)}
	return fixture{svc: svc, store: store}
}

// source stores files as the commit's archive and returns the step input.
func (f fixture) source(t *testing.T, files map[string]string, commands ...string) pipeline.ChecksInput {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := archive.Create(&buf, dir, "acme-app-0123456789ab", nil); err != nil {
		t.Fatal(err)
	}
	key := pipeline.SourceKey(run.Repository, run.Commit)
	if err := f.store.Put(context.Background(), key, buf.Bytes(), ""); err != nil {
		t.Fatal(err)
	}
	return pipeline.ChecksInput{Run: run, Execution: execution, Source: pipeline.Source{
		ArchiveKey: key, Plan: pipeline.Plan{Checks: commands},
	}}
}

func (f fixture) log(t *testing.T) string {
	t.Helper()
	b, err := f.store.Get(context.Background(), "logs/acme/app/app-main-0123456/checks.log")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Not parallel: it puts secrets in the process environment, as Lambda does.
func TestChecksPass(t *testing.T) {
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret-key-do-not-leak")
	t.Setenv("AWS_SESSION_TOKEN", "session-do-not-leak")
	t.Setenv("BITBUCKET_TOKEN", "token-do-not-leak")
	f := setup(t)
	in := f.source(t, app, "env", "go vet ./...", "go test ./...")

	res, err := f.svc.Handle(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.Summary, "3 checks passed in ") {
		t.Errorf("got summary %q, want 3 checks passed", res.Summary)
	}
	if res.LogKey != "logs/acme/app/app-main-0123456/checks.log" {
		t.Errorf("got log key %q", res.LogKey)
	}
	if len(res.Checks) != 3 || res.Checks[2].Command != "go test ./..." || !res.Checks[2].Passed {
		t.Errorf("got checks %+v, want 3 passed", res.Checks)
	}
	log := f.log(t)
	for _, want := range []string{"$ env\n", "GOTOOLCHAIN=local", "$ go vet ./...\n", "$ go test ./...\n", "ok  \texample.com/app", "[passed in "} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "do-not-leak") || strings.Contains(log, "AWS_") {
		t.Errorf("log leaks the handler's secrets:\n%s", log)
	}
}

func TestChecksFail(t *testing.T) {
	t.Parallel()
	failing := with(app, "add_test.go", "package app\n\nimport \"testing\"\n\nfunc TestAddsWrong(t *testing.T) {\n\tt.Errorf(\"got %d, want 5\", Add(2, 2))\n}\n")
	tests := []struct {
		name      string
		files     map[string]string
		commands  []string
		wantCheck string
		wantTail  []string
	}{
		{
			name:      "failing test",
			files:     failing,
			commands:  []string{"go vet ./...", "go test ./...", "echo never runs"},
			wantCheck: "go test ./...",
			wantTail:  []string{"--- FAIL: TestAddsWrong", "got 4, want 5", "[failed after"},
		},
		{
			name:      "command that does not exist",
			files:     app,
			commands:  []string{"no-such-linter ./...", "echo never runs"},
			wantCheck: "no-such-linter ./...",
			wantTail:  []string{"not found", "exit status 127"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			_, err := f.svc.Handle(context.Background(), f.source(t, tt.files, tt.commands...))
			var cf *pipeline.ChecksFailed
			if !errors.As(err, &cf) {
				t.Fatalf("got error %v, want ChecksFailed", err)
			}
			if cf.Check != tt.wantCheck || cf.LogKey != "logs/acme/app/app-main-0123456/checks.log" {
				t.Errorf("got %q with log %q, want %q", cf.Check, cf.LogKey, tt.wantCheck)
			}
			for _, want := range tt.wantTail {
				if !strings.Contains(cf.Tail, want) {
					t.Errorf("tail lacks %q:\n%s", want, cf.Tail)
				}
			}
			if n := strings.Count(cf.Tail, "\n"); n >= 30 {
				t.Errorf("tail has %d lines, want fewer than 30", n+1)
			}
			log := f.log(t)
			if !strings.Contains(log, "$ "+tt.wantCheck) || strings.Contains(log, "never runs") {
				t.Errorf("log should end at the failed check:\n%s", log)
			}
		})
	}
}

func TestCheckStoppedAtDeadline(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	// The subshell keeps a child running: the whole group must be killed.
	_, err := f.svc.Handle(ctx, f.source(t, app, "echo started; (sleep 60; echo late); echo finished"))
	var cf *pipeline.ChecksFailed
	if !errors.As(err, &cf) {
		t.Fatalf("got error %v, want ChecksFailed", err)
	}
	if !strings.Contains(cf.Tail, "started") || !strings.Contains(cf.Tail, "ran out of time") || strings.Contains(cf.Tail, "\nfinished") {
		t.Errorf("got tail %q, want the check stopped for time", cf.Tail)
	}
	if log := f.log(t); !strings.Contains(log, "ran out of time") {
		t.Errorf("log lacks the reason:\n%s", log)
	}
}

func TestChecksWithoutWork(t *testing.T) {
	t.Parallel()
	t.Run("no checks", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		res, err := f.svc.Handle(context.Background(), pipeline.ChecksInput{Run: run, Execution: execution})
		if err != nil || res.Summary != "no checks to run" {
			t.Fatalf("got %+v, %v; want no checks to run", res, err)
		}
	})
	t.Run("no go.mod and no local go", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		f.svc.Toolchain.LocalGo = "/nonexistent/go"
		_, err := f.svc.Handle(context.Background(), f.source(t, map[string]string{"README": "hi\n"}, "true"))
		var ci *pipeline.ConfigInvalid
		if !errors.As(err, &ci) || ci.File != "go.mod" {
			t.Fatalf("got error %v, want ConfigInvalid naming go.mod", err)
		}
	})
}

// With Caches, what the checks leave in GOCACHE and GOMODCACHE is saved
// after they passed and restored into a fresh directory for the next run;
// a failed run saves nothing.
func TestChecksKeepGoCaches(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	write := `mkdir -p "$GOCACHE" "$GOMODCACHE" && echo built > "$GOCACHE/marker" && echo fetched > "$GOMODCACHE/marker"`
	read := `test "$(cat "$GOCACHE/marker")" = built && test "$(cat "$GOMODCACHE/marker")" = fetched`

	first := &gocache.Config{Store: f.store, Dir: t.TempDir()}
	f.svc.Caches = first
	if _, err := f.svc.Handle(ctx, f.source(t, app, write)); err != nil {
		t.Fatal(err)
	}
	log := f.log(t)
	for _, want := range []string{"GOMODCACHE: none stored yet", "GOMODCACHE saved: 1 files", "GOCACHE saved: 1 files"} {
		if !strings.Contains(log, want) {
			t.Errorf("first log lacks %q:\n%s", want, log)
		}
	}
	if _, err := os.Stat(filepath.Join(first.Dir, "build", "marker")); err != nil {
		t.Errorf("the checks did not use Caches.Dir as GOCACHE: %v", err)
	}

	// A new Lambda: an empty directory, restored from the bucket.
	f.svc.Caches = &gocache.Config{Store: f.store, Dir: t.TempDir()}
	if _, err := f.svc.Handle(ctx, f.source(t, app, read)); err != nil {
		t.Fatalf("the second run did not find the first one's caches: %v", err)
	}
	log = f.log(t)
	for _, want := range []string{"GOMODCACHE restored: 1 files", "GOCACHE restored: 1 files", "GOCACHE unchanged: not uploaded"} {
		if !strings.Contains(log, want) {
			t.Errorf("second log lacks %q:\n%s", want, log)
		}
	}

	f.svc.Caches = &gocache.Config{Store: f.store, Dir: t.TempDir()}
	if _, err := f.svc.Handle(ctx, f.source(t, app, `echo more > "$GOCACHE/new"`, "false")); err == nil {
		t.Fatal("a failing check passed")
	}
	if log := f.log(t); !strings.Contains(log, "GOCACHE restored") || strings.Contains(log, "saved") || strings.Contains(log, "not uploaded") {
		t.Errorf("a failed run should restore and not save:\n%s", log)
	}
}

// TestChecksThroughGrants: with no bucket of its own, the step reads its
// archive and writes its log through its grants' URLs; the caches it saves
// are staged, not written to its branch's keys, until the trusted publish
// step keeps them, and the next run restores them. Its input names the
// only keys it reaches: without grants it refuses to run.
func TestChecksThroughGrants(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	granter := &staging.Granter{Store: f.store, Logger: quiet}
	publisher := &staging.Publisher{Store: f.store, Logger: quiet, TempDir: t.TempDir()}
	untrusted := &checks.Service{Toolchain: f.svc.Toolchain, Runtimes: f.svc.Runtimes, Logger: quiet}
	write := `mkdir -p "$GOCACHE" && echo built > "$GOCACHE/marker"`
	read := `test "$(cat "$GOCACHE/marker")" = built`
	runChecks := func(command string) {
		t.Helper()
		in := f.source(t, app, command)
		grants, err := granter.Handle(ctx, pipeline.GrantInput{Step: pipeline.StepChecks, Run: in.Run, Execution: in.Execution, Source: in.Source})
		if err != nil {
			t.Fatal(err)
		}
		in.Grants = &grants
		untrusted.Caches = &gocache.Config{Dir: t.TempDir()}
		if _, err := untrusted.Handle(ctx, in); err != nil {
			t.Fatalf("%s: %v\n%s", command, err, f.log(t))
		}
		gocacheKey := pipeline.CacheKey(run.Repository, pipeline.BranchScope(run.Branch), "checks", "gocache", ".tar.gz")
		if ok, _ := f.store.Exists(ctx, gocacheKey); ok && command == write {
			t.Errorf("the checks wrote %s themselves; want it staged", gocacheKey)
		}
		if _, err := publisher.Handle(ctx, pipeline.PublishInput{Step: pipeline.StepChecks, Run: in.Run, Execution: in.Execution, Source: in.Source}); err != nil {
			t.Fatal(err)
		}
	}
	runChecks(write)
	if log := f.log(t); !strings.Contains(log, "GOCACHE saved") {
		t.Errorf("first log:\n%s", log)
	}
	runChecks(read)
	if log := f.log(t); !strings.Contains(log, "GOCACHE restored: 1 files") {
		t.Errorf("second log lacks the restore of the published cache:\n%s", log)
	}

	in := f.source(t, app, "true")
	if _, err := untrusted.Handle(ctx, in); err == nil || !strings.Contains(err.Error(), "handed no grants") {
		t.Errorf("without grants: %v, want a refusal", err)
	}
}

// TestTheLogIsStoredAsTheChecksGo reads the stored log while the second
// check runs (it waits for a file the test makes once it has read it): the
// first check's output is there, and the second named as running.
func TestTheLogIsStoredAsTheChecksGo(t *testing.T) {
	t.Parallel()
	f := setup(t)
	gate := filepath.Join(t.TempDir(), "read")
	waiting := "while [ ! -e '" + gate + "' ]; do sleep 0.05; done"
	in := f.source(t, app, "echo first check", waiting)
	done := make(chan error, 1)
	go func() { _, err := f.svc.Handle(context.Background(), in); done <- err }()
	for {
		b, err := f.store.Get(context.Background(), "logs/acme/app/app-main-0123456/checks.log")
		if err == nil && strings.Contains(string(b), "$ "+waiting+"\n[running]\n") {
			if !strings.Contains(string(b), "first check\n[passed in ") {
				t.Errorf("the log so far lacks the first check's output:\n%s", b)
			}
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the checks ended (%v) before the log showed the second running", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if log := f.log(t); strings.Contains(log, "[running]") || !strings.Contains(log, "$ "+waiting+"\n[passed in ") {
		t.Errorf("the whole log: got\n%s\nwant the second check passed, nothing running", log)
	}
}
