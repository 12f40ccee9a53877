package cachedir

import (
	"context"
	"fmt"
	"os"
	"time"
)

// lockPoll is how often Lock tries again while another process holds the
// lock: installations take seconds.
const lockPoll = 50 * time.Millisecond

// Lock takes the lock file path (made when missing) for this process, so
// that processes sharing a cache directory install one thing one at a
// time, waiting while another holds it, until ctx ends. The lock is
// released by the function it returns, or when the process ends.
func Lock(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	for {
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if ok {
			return func() {
				_ = unlockFile(f)
				f.Close()
			}, nil
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s: another process holds it: %w", path, ctx.Err())
		case <-time.After(lockPoll):
		}
	}
}
