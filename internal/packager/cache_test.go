package packager_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stackflow/stackflow/internal/local/buildcache"
	"github.com/stackflow/stackflow/internal/packager"
)

// events records the BuildEvents a package step tells, without times.
type events struct {
	mu  sync.Mutex
	got []string
}

func (e *events) add(ev packager.BuildEvent) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := ev.Function + " " + string(ev.State)
	if ev.From != "" {
		s += " from " + ev.From
	}
	if ev.State != packager.Building && ev.Size <= 0 {
		s += " with no size"
	}
	e.got = append(e.got, s)
}

func (e *events) take() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	got := e.got
	e.got = nil
	return got
}

// A new bucket with the same build cache, as each stackflow local run has,
// builds nothing: the zips come from the cache and are stored and recorded
// in the bucket. A damaged entry is built again.
func TestPackageBuildCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cache, err := buildcache.Open(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	wrapper, calls := countingGo(t)
	var ev events
	pack := func(t *testing.T) (fixture, []string) {
		t.Helper()
		f := setup(t) // a bucket of its own
		f.svc.Toolchain.LocalGo = wrapper
		f.svc.Cache = cache
		f.svc.Progress = ev.add
		pkg, err := f.svc.Handle(ctx, f.source(t, reuseApp))
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, fn := range pkg.Functions {
			keys = append(keys, fn.Name+" "+fn.Key)
			if _, err := f.store.Get(ctx, fn.Key); err != nil {
				t.Errorf("%s: the zip is not in the bucket: %v", fn.Name, err)
			}
		}
		return f, append(keys, pkg.Summary)
	}

	_, first := pack(t)
	if got := calls()["build"]; got != 2 {
		t.Errorf("first package ran go build %d times, want 2", got)
	}
	want := []string{"HelloFunction building", "HelloFunction built", "WorldFunction building", "WorldFunction built"}
	if got := ev.take(); !slices.Equal(got, want) {
		t.Errorf("first package told %q, want %q", got, want)
	}

	f, second := pack(t)
	if got := calls()["build"]; got != 0 {
		t.Errorf("second package, new bucket, same cache: ran go build %d times, want 0", got)
	}
	if !strings.HasSuffix(second[len(second)-1], "0 built, 3 reused") {
		t.Errorf("got summary %q, want 0 built, 3 reused", second[len(second)-1])
	}
	if !slices.Equal(first[:3], second[:3]) {
		t.Errorf("got zips %q, want the first package's %q", second[:3], first[:3])
	}
	want = []string{"HelloFunction reused from the build cache", "WorldFunction reused from the build cache"}
	if got := ev.take(); !slices.Equal(got, want) {
		t.Errorf("second package told %q, want %q", got, want)
	}
	// The bucket now holds build records: a package of the next commit in
	// it reuses from the bucket, without the cache.
	f.svc.Cache = nil
	if _, err := f.svc.Handle(ctx, f.sourceAt(t, reuseApp, commit2)); err != nil {
		t.Fatal(err)
	}
	want = []string{"HelloFunction reused from the artifact bucket", "WorldFunction reused from the artifact bucket"}
	if got := ev.take(); !slices.Equal(got, want) {
		t.Errorf("package in the same bucket told %q, want %q", got, want)
	}

	// Damage every zip in the cache: the next package builds both, says
	// why, and saves good copies.
	zips, _ := filepath.Glob(filepath.Join(cache.Path(), "*.zip"))
	if len(zips) != 2 {
		t.Fatalf("the cache holds %d zips, want 2", len(zips))
	}
	for _, z := range zips {
		if err := os.Truncate(z, 10); err != nil {
			t.Fatal(err)
		}
	}
	f, third := pack(t)
	if got := calls()["build"]; got != 2 {
		t.Errorf("with damaged entries: ran go build %d times, want 2", got)
	}
	if !strings.HasSuffix(third[len(third)-1], "3 built, 0 reused") || !slices.Equal(first[:3], third[:3]) {
		t.Errorf("with damaged entries: got %q, want the same zips, 3 built, 0 reused", third)
	}
	log := string(f.get(t, "logs/acme/app/app-main-0123456/package.log"))
	if !strings.Contains(log, "damaged") {
		t.Errorf("the log does not say the cache's copy was damaged:\n%s", log)
	}
	ev.take()
	if _, fourth := pack(t); calls()["build"] != 0 || !slices.Equal(first[:3], fourth[:3]) {
		t.Errorf("after the rebuild: got %q and go build run again, want the zips from the cache", fourth)
	}
}
