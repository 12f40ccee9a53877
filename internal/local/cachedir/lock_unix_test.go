//go:build unix

package cachedir

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
)

func TestLockIsHeldUntilReleased(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), ".lock")
	unlock, err := Lock(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	// While it is held, another taker waits, here until its context ends.
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Lock(done, path); !errors.Is(err, context.Canceled) {
		t.Fatalf("lock taken twice: got %v, want context.Canceled", err)
	}
	unlock()
	again, err := Lock(done, path)
	if err != nil {
		t.Fatalf("lock after release: got %v, want it taken", err)
	}
	again()
}
