package local

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestStartCleansUpAfterAFailure: a Start that fails part-way returns an
// error, not a half-made pipeline, and does not panic stopping what it had
// started.
func TestStartCleansUpAfterAFailure(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Start(context.Background(), Options{WorkDir: filepath.Join(file, "work")})
	if err == nil || p != nil {
		t.Fatalf("got %v, %v; want no pipeline and an error", p, err)
	}
}

// TestSecondStartBuildsNothing: the pipeline's seven functions are built
// by the first Start with an empty build cache, and reused by the next
// one, whose kumo and bucket are new; each function's progress is shown.
func TestSecondStartBuildsNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cache := t.TempDir()
	start := func() (*Pipeline, string) {
		t.Helper()
		var log syncBuffer
		p, err := Start(ctx, Options{BuildCacheDir: cache, Log: &log})
		if err != nil {
			t.Fatal(err)
		}
		return p, log.String()
	}
	functions := []string{"WebhookFunction", "StatusFunction", "SourceFunction", "ChecksFunction",
		"PackageFunction", "DeployFunction", "SmokeTestFunction"}

	first, log := start()
	first.Close()
	if !strings.Contains(log, "packaged 7 functions") || !strings.Contains(log, ": 7 built, 0 reused in ") {
		t.Errorf("first Start: the log does not say 7 built, 0 reused:\n%s", log)
	}
	for _, fn := range functions {
		if !regexp.MustCompile(`(?m)^  `+fn+` +building functions/`).MatchString(log) ||
			!regexp.MustCompile(`(?m)^  `+fn+` +built in \d+\.\ds \(\d+\.\d MiB zip\)$`).MatchString(log) {
			t.Errorf("first Start: the log does not show %s building, then built with its time:\n%s", fn, log)
		}
	}

	second, log := start()
	if !strings.Contains(log, ": 0 built, 7 reused in ") || strings.Contains(log, " building ") {
		t.Errorf("second Start: the log does not say 0 built, 7 reused:\n%s", log)
	}
	for _, fn := range functions {
		if !regexp.MustCompile(`(?m)^  ` + fn + ` +reused from the build cache in \d+\.\ds`).MatchString(log) {
			t.Errorf("second Start: the log does not show %s reused from the build cache:\n%s", fn, log)
		}
	}

	second.Close()
}

// TestKeepLogsKeepsTheWorkDirectory: the logs named after a failed run are
// still there when the command has ended.
func TestKeepLogsKeepsTheWorkDirectory(t *testing.T) {
	dir := t.TempDir()
	p := &Pipeline{workDir: filepath.Join(dir, "work"), ownDir: true}
	if err := os.MkdirAll(p.LogDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	p.KeepLogs()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p.LogDir()); err != nil {
		t.Errorf("the logs are gone after KeepLogs and Close: %v", err)
	}
}
