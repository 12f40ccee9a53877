package sfn

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeNPM writes a stand-in for npm that notes each run in a file beside
// it and then runs body (sh).
func fakeNPM(t *testing.T, body string) (npm, runs string) {
	t.Helper()
	dir := t.TempDir()
	runs = filepath.Join(dir, "runs")
	npm = filepath.Join(dir, "npm")
	script := "#!/bin/sh\necho \"$@\" >> " + runs + "\n" + body + "\n"
	if err := os.WriteFile(npm, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return npm, runs
}

const installsPackages = `mkdir -p node_modules/aws-local-stepfunctions && echo '{}' > node_modules/aws-local-stepfunctions/package.json`

func countLines(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return strings.Count(string(data), "\n")
}

func TestInstallRunsNpmCiOnce(t *testing.T) {
	t.Parallel()
	npm, runs := fakeNPM(t, installsPackages)
	cache := t.TempDir()
	var log strings.Builder
	first, err := install(context.Background(), cache, npm, &log)
	if err != nil {
		t.Fatalf("install: %v", err)
	}
	second, err := install(context.Background(), cache, npm, &log)
	if err != nil {
		t.Fatalf("install again: %v", err)
	}
	if first != second {
		t.Errorf("got %s, then %s; want the same script", first, second)
	}
	if n := countLines(t, runs); n != 1 {
		t.Errorf("got %d npm runs, want 1", n)
	}
	if args, _ := os.ReadFile(runs); !strings.HasPrefix(string(args), "ci ") {
		t.Errorf("got npm %s, want npm ci", args)
	}
	if n := strings.Count(log.String(), "installing the local Step Functions engine"); n != 1 {
		t.Errorf("got %d installation notices in %q, want 1", n, log.String())
	}
	want, err := engine.ReadFile("node/server.mjs")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(first); err != nil || string(got) != string(want) {
		t.Errorf("got script %s (%v), want the embedded server.mjs", first, err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(first), "package-lock.json")); err != nil {
		t.Errorf("package-lock.json beside the script: %v", err)
	}
}

func TestInstallSharedByConcurrentStarts(t *testing.T) {
	t.Parallel()
	npm, _ := fakeNPM(t, installsPackages)
	cache := t.TempDir()
	const n = 4
	scripts := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			scripts[i], errs[i] = install(context.Background(), cache, npm, &strings.Builder{})
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("install %d: %v", i, errs[i])
		}
		if scripts[i] != scripts[0] {
			t.Errorf("got script %s, want %s", scripts[i], scripts[0])
		}
	}
	entries, err := os.ReadDir(cache)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("got %v in the cache, want one installation and no leftovers", names)
	}
}

func TestInstallRemovesAbandonedInstallations(t *testing.T) {
	t.Parallel()
	npm, _ := fakeNPM(t, installsPackages)
	cache := t.TempDir()
	abandoned := filepath.Join(cache, installPrefix+"killed")
	running := filepath.Join(cache, installPrefix+"running")
	for _, dir := range []string{abandoned, running} {
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(abandoned, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := install(context.Background(), cache, npm, &strings.Builder{}); err != nil {
		t.Fatalf("install: %v", err)
	}
	if _, err := os.Stat(abandoned); !os.IsNotExist(err) {
		t.Errorf("got %v for the abandoned installation, want it removed", err)
	}
	if _, err := os.Stat(running); err != nil {
		t.Errorf("got %v for a recent installation, want it kept", err)
	}
}

func TestInstallReportsNpmFailure(t *testing.T) {
	t.Parallel()
	npm, _ := fakeNPM(t, "echo 'npm error code E404' >&2\necho 'npm error 404 Not Found - aws-local-stepfunctions' >&2\nexit 1")
	cache := t.TempDir()
	_, err := install(context.Background(), cache, npm, &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), "404 Not Found") {
		t.Fatalf("got %v, want npm's output in the error", err)
	}
	if entries, _ := os.ReadDir(cache); len(entries) != 0 {
		t.Errorf("got %d entries left in the cache, want none", len(entries))
	}
}

func TestStartNeedsNode(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	old := filepath.Join(dir, "node18")
	if err := os.WriteFile(old, []byte("#!/bin/sh\necho v18.19.0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"node missing", Options{Node: filepath.Join(dir, "no-node"), CacheDir: dir}, "install Node.js 20 or later"},
		{"node too old", Options{Node: old, CacheDir: dir}, `"v18.19.0"`},
		{"npm missing", Options{NPM: filepath.Join(dir, "no-npm"), CacheDir: dir}, "needs npm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Start(context.Background(), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error saying %s", err, tt.want)
			}
		})
	}
}

func TestServiceReportsUnexpectedExit(t *testing.T) {
	t.Parallel()
	var stderr syncBuilder
	svc, err := Start(context.Background(), Options{Stderr: &stderr})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := svc.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill node: %v", err)
	}
	<-svc.Done()
	if svc.Err() == nil {
		t.Error("got no Err after node died, want one")
	}
	if !strings.Contains(stderr.String(), "stopped unexpectedly") {
		t.Errorf("got log %q, want a notice that the service stopped", stderr.String())
	}
	if err := svc.Close(); err != nil {
		t.Errorf("Close after death: %v", err)
	}
}

func TestCloseIsQuiet(t *testing.T) {
	t.Parallel()
	var stderr syncBuilder
	svc, err := Start(context.Background(), Options{Stderr: &stderr})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := svc.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := svc.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if svc.Err() != nil || strings.Contains(stderr.String(), "stopped unexpectedly") {
		t.Errorf("got Err %v and log %q after Close, want neither", svc.Err(), stderr.String())
	}
}

// syncBuilder is a strings.Builder for concurrent writers.
type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
