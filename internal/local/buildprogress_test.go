package local

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stackflow/stackflow/internal/packager"
)

// TestBuildProgress: a build is shown when it starts, at each heartbeat
// while it runs, and when it is built; a reused zip in one line; a build
// that ends without an event stops its heartbeat.
func TestBuildProgress(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	ticks := make(chan time.Time)
	stopped := 0
	b := newBuildProgress(&out)
	b.ticker = func() (<-chan time.Time, func()) { return ticks, func() { stopped++ } }

	b.show(packager.BuildEvent{Function: "WebhookFunction", Code: "functions/webhook", State: packager.Reused, From: packager.FromCache, Took: 20 * time.Millisecond, Size: 3 << 20})
	b.show(packager.BuildEvent{Function: "StatusFunction", Code: "functions/status", State: packager.Building})
	ticks <- time.Time{}
	ticks <- time.Time{}
	b.show(packager.BuildEvent{Function: "StatusFunction", Code: "functions/status", State: packager.Built, Took: 21 * time.Second, Size: 3 << 20})
	b.show(packager.BuildEvent{Function: "ChecksFunction", Code: "functions/checks", State: packager.Building})
	ticks <- time.Time{}
	b.close()

	want := []string{
		`^  WebhookFunction    reused from the build cache in 0\.0s \(functions/webhook unchanged\)$`,
		`^  StatusFunction     building functions/status$`,
		`^  StatusFunction     still building, \d+\.\ds so far$`,
		`^  StatusFunction     still building, \d+\.\ds so far$`,
		`^  StatusFunction     built in 21\.0s \(3\.0 MiB zip\)$`,
		`^  ChecksFunction     building functions/checks$`,
		`^  ChecksFunction     still building, \d+\.\ds so far$`,
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), out.String())
	}
	for i, w := range want {
		if !regexp.MustCompile(w).MatchString(lines[i]) {
			t.Errorf("line %d: got %q, want it to match %s", i+1, lines[i], w)
		}
	}
	if stopped != 2 {
		t.Errorf("got %d heartbeats stopped, want 2", stopped)
	}
}
