package local

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/stackflow/stackflow/internal/packager"
)

// buildHeartbeat is how often a build that is still running is shown: a
// first build compiles the AWS SDK, which takes minutes on a small machine.
const buildHeartbeat = 10 * time.Second

// buildProgress shows on w how the pipeline's functions are packaged: a
// line when a function's build starts, one every heartbeat while it runs,
// and one when its zip is ready, built or reused, with the time it took.
type buildProgress struct {
	w io.Writer
	// ticker returns the heartbeat's ticks and a function that stops them;
	// tests give their own.
	ticker func() (<-chan time.Time, func())

	mu   sync.Mutex
	stop func() // stops the heartbeat of the build under way
}

func newBuildProgress(w io.Writer) *buildProgress {
	return &buildProgress{w: w, ticker: func() (<-chan time.Time, func()) {
		t := time.NewTicker(buildHeartbeat)
		return t.C, t.Stop
	}}
}

// show is a packager.Service's Progress.
func (b *buildProgress) show(e packager.BuildEvent) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stopLocked()
	switch e.State {
	case packager.Building:
		fmt.Fprintf(b.w, "  %-18s building %s\n", e.Function, e.Code)
		b.beatLocked(e.Function)
	case packager.Built:
		fmt.Fprintf(b.w, "  %-18s built in %s (%s zip)\n", e.Function, seconds(e.Took), mib(e.Size))
	case packager.Reused:
		fmt.Fprintf(b.w, "  %-18s reused from %s in %s (%s unchanged)\n", e.Function, e.From, seconds(e.Took), e.Code)
	}
}

// beatLocked shows, at every tick until stopped, that fn is still building.
func (b *buildProgress) beatLocked(fn string) {
	ticks, stopTicks := b.ticker()
	began := time.Now()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			case <-ticks:
				fmt.Fprintf(b.w, "  %-18s still building, %s so far\n", fn, seconds(time.Since(began)))
			}
		}
	})
	b.stop = func() {
		close(done)
		wg.Wait()
		stopTicks()
	}
}

// close stops the heartbeat of a build that ended without an event (the
// package step failed).
func (b *buildProgress) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stopLocked()
}

func (b *buildProgress) stopLocked() {
	if b.stop != nil {
		b.stop()
		b.stop = nil
	}
}

// mib spells n bytes in MiB.
func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
