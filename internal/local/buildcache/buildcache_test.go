package buildcache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stackflow/stackflow/internal/packager"
)

// clock is the fixed time the tests' caches read, so that no test depends
// on the date.
var clock = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func open(t *testing.T, maxBytes int64) *Dir {
	t.Helper()
	d, err := Open(filepath.Join(t.TempDir(), "builds"), maxBytes)
	if err != nil {
		t.Fatal(err)
	}
	d.now = func() time.Time { return clock }
	return d
}

// zipFile writes body to a file and returns its path and SHA-256.
func zipFile(t *testing.T, body string) (string, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bootstrap.zip")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(body))
	return path, hex.EncodeToString(sum[:])
}

func key(n int) string { return fmt.Sprintf("%064x", n) }

func TestLoadAndSave(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := open(t, 0)
	out := filepath.Join(t.TempDir(), "got.zip")
	if _, found, err := d.Load(ctx, key(1), out); found || err != nil {
		t.Fatalf("Load of an empty cache: got found %v, %v; want a miss", found, err)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a miss wrote %s: %v", out, err)
	}
	path, sum := zipFile(t, "the zip of build 1")
	if err := d.Save(ctx, key(1), path, packager.CachedZip{SHA256: sum, Handler: "index.handler", Tool: "node v22"}); err != nil {
		t.Fatal(err)
	}
	z, found, err := d.Load(ctx, key(1), out)
	if !found || err != nil {
		t.Fatalf("Load after Save: got found %v, %v; want a hit", found, err)
	}
	want := packager.CachedZip{SHA256: sum, Size: int64(len("the zip of build 1")), Handler: "index.handler", Tool: "node v22"}
	if z != want {
		t.Errorf("got %+v, want %+v", z, want)
	}
	if b, _ := os.ReadFile(out); string(b) != "the zip of build 1" {
		t.Errorf("got %q copied, want the saved zip", b)
	}
	if _, found, _ := d.Load(ctx, key(2), filepath.Join(t.TempDir(), "x")); found {
		t.Errorf("another key was found")
	}
	assertNoTemp(t, d)
}

func TestBadKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := open(t, 0)
	path, sum := zipFile(t, "z")
	for _, k := range []string{"", "../escape", "a/b", strings.Repeat("a", 129)} {
		if err := d.Save(ctx, k, path, packager.CachedZip{SHA256: sum}); err == nil {
			t.Errorf("Save(%q): got no error, want one", k)
		}
		if _, _, err := d.Load(ctx, k, filepath.Join(t.TempDir(), "x")); err == nil {
			t.Errorf("Load(%q): got no error, want one", k)
		}
	}
}

// A zip that does not match what Save was told is not kept.
func TestSaveChecksTheSum(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := open(t, 0)
	path, _ := zipFile(t, "z")
	_, other := zipFile(t, "another")
	if err := d.Save(ctx, key(1), path, packager.CachedZip{SHA256: other}); err == nil {
		t.Fatal("Save with a wrong sha256: got no error, want one")
	}
	if _, found, err := d.Load(ctx, key(1), filepath.Join(t.TempDir(), "x")); found || err != nil {
		t.Errorf("after a refused Save: got found %v, %v; want a miss", found, err)
	}
	assertNoTemp(t, d)
}

// A damaged or partial entry is an error wrapping ErrCorrupt, is not
// copied, and is gone afterwards, so the build runs and saves it again.
func TestCorruptEntries(t *testing.T) {
	t.Parallel()
	const body = "PK the zip of a build, whole"
	tests := []struct {
		name   string
		damage func(zip, rec string) error
	}{
		{"zip cut short", func(zip, _ string) error { return os.Truncate(zip, 5) }},
		{"zip altered", func(zip, _ string) error { return os.WriteFile(zip, []byte(strings.ToUpper(body)), 0o644) }},
		{"zip longer", func(zip, _ string) error { return os.WriteFile(zip, []byte(body+"!"), 0o644) }},
		{"zip missing", func(zip, _ string) error { return os.Remove(zip) }},
		{"record garbled", func(_, rec string) error { return os.WriteFile(rec, []byte("{\"sha256\": 12"), 0o644) }},
		{"record empty", func(_, rec string) error { return os.WriteFile(rec, nil, 0o644) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			d := open(t, 0)
			path, sum := zipFile(t, body)
			if err := d.Save(ctx, key(7), path, packager.CachedZip{SHA256: sum}); err != nil {
				t.Fatal(err)
			}
			zip, rec := d.paths(key(7))
			if err := tt.damage(zip, rec); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "got.zip")
			_, found, err := d.Load(ctx, key(7), out)
			if found || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("got found %v, %v; want an error wrapping ErrCorrupt", found, err)
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a damaged entry was copied to %s", out)
			}
			for _, p := range []string{zip, rec} {
				if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s is still there: %v", filepath.Base(p), err)
				}
			}
			// Built again, it is saved and found again.
			if err := d.Save(ctx, key(7), path, packager.CachedZip{SHA256: sum}); err != nil {
				t.Fatal(err)
			}
			if _, found, err := d.Load(ctx, key(7), filepath.Join(t.TempDir(), "again.zip")); !found || err != nil {
				t.Errorf("after saving it again: got found %v, %v; want a hit", found, err)
			}
		})
	}
}

// Processes that share the directory save and load the same keys at once:
// every load finds the whole zip or nothing, never a damaged one, and no
// temporary file is left. Here the writers are goroutines of one process,
// which meet the same files the same way.
func TestConcurrentWriters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base := open(t, 0)
	bodies := map[string]string{}
	for k := range 3 {
		bodies[key(k)] = strings.Repeat(fmt.Sprintf("zip %d ", k), 50000)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for w := range 8 {
		wg.Go(func() {
			d, err := Open(base.Path(), 0) // as another process would
			if err != nil {
				errs <- err
				return
			}
			for i := range 6 {
				k := key((w + i) % 3)
				path, sum := zipFile(t, bodies[k])
				out := filepath.Join(t.TempDir(), "got.zip")
				z, found, err := d.Load(ctx, k, out)
				switch {
				case err != nil:
					errs <- fmt.Errorf("writer %d: Load: %w", w, err)
				case found && z.SHA256 != sum:
					errs <- fmt.Errorf("writer %d: loaded sha256 %s, want %s", w, z.SHA256, sum)
				case found:
					if b, _ := os.ReadFile(out); !bytes.Equal(b, []byte(bodies[k])) {
						errs <- fmt.Errorf("writer %d: loaded other bytes", w)
					}
				}
				if err := d.Save(ctx, k, path, packager.CachedZip{SHA256: sum}); err != nil {
					errs <- fmt.Errorf("writer %d: Save: %w", w, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for k, body := range bodies {
		out := filepath.Join(t.TempDir(), "got.zip")
		if _, found, err := base.Load(ctx, k, out); !found || err != nil {
			t.Errorf("%s: got found %v, %v; want a hit", k[len(k)-1:], found, err)
		} else if b, _ := os.ReadFile(out); string(b) != body {
			t.Errorf("%s: got other bytes", k[len(k)-1:])
		}
	}
	assertNoTemp(t, base)
}

// The cache keeps to its bound by dropping the least recently used
// entries, never the one just saved; temporary files left by a process
// that died go once they are an hour old.
func TestPrune(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	body := strings.Repeat("x", 1000)
	d := open(t, 3500) // room for three zips and their records
	for k := range 3 {
		path, sum := zipFile(t, body)
		if err := d.Save(ctx, key(k), path, packager.CachedZip{SHA256: sum}); err != nil {
			t.Fatal(err)
		}
		// Saved an hour apart, oldest first.
		zip, rec := d.paths(key(k))
		at := clock.Add(time.Duration(k-10) * time.Hour)
		for _, p := range []string{zip, rec} {
			if err := os.Chtimes(p, at, at); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Using the oldest makes it the newest.
	if _, found, err := d.Load(ctx, key(0), filepath.Join(t.TempDir(), "z")); !found || err != nil {
		t.Fatalf("Load: got found %v, %v", found, err)
	}
	stale := filepath.Join(d.Path(), tempPrefix+"stale")
	fresh := filepath.Join(d.Path(), tempPrefix+"fresh")
	for p, age := range map[string]time.Duration{stale: 2 * time.Hour, fresh: time.Minute} {
		if err := os.WriteFile(p, []byte("half"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, clock.Add(-age), clock.Add(-age)); err != nil {
			t.Fatal(err)
		}
	}
	path, sum := zipFile(t, body)
	if err := d.Save(ctx, key(3), path, packager.CachedZip{SHA256: sum}); err != nil {
		t.Fatal(err)
	}
	want := map[int]bool{0: true, 1: false, 2: true, 3: true}
	for k, kept := range want {
		_, found, err := d.Load(ctx, key(k), filepath.Join(t.TempDir(), "z"))
		if err != nil || found != kept {
			t.Errorf("entry %d: got found %v, %v; want %v", k, found, err, kept)
		}
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a temporary file two hours old is still there")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("a temporary file a minute old was removed: %v", err)
	}

	// An entry larger than the whole bound is kept while it is the newest.
	big, bigSum := zipFile(t, strings.Repeat("y", 5000))
	if err := d.Save(ctx, key(4), big, packager.CachedZip{SHA256: bigSum}); err != nil {
		t.Fatal(err)
	}
	if _, found, err := d.Load(ctx, key(4), filepath.Join(t.TempDir(), "z")); !found || err != nil {
		t.Errorf("the newest entry: got found %v, %v; want a hit", found, err)
	}
}

func assertNoTemp(t *testing.T, d *Dir) {
	t.Helper()
	files, err := os.ReadDir(d.Path())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasPrefix(f.Name(), tempPrefix) {
			t.Errorf("temporary file %s left in the cache", f.Name())
		}
	}
}
