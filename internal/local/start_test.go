package local

import (
	"context"
	"os"
	"path/filepath"
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
