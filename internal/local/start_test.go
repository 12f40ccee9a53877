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
