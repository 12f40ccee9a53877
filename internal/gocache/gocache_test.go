package gocache_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackflow/stackflow/internal/artifacts"
	"github.com/stackflow/stackflow/internal/gocache"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/testaws"
)

var repo = pipeline.Repository{Workspace: "acme", Slug: "app"}

const key = "checks-0123456789abcdef0123456789abcdef"

// main is the scope of a run of the default branch.
var main = pipeline.CacheScope{Branch: "main", Default: "main"}

// stored is the key of the object name of main's caches.
func stored(name string) string { return pipeline.CacheKey(repo, main.Writes(), "checks", name, "") }

func newStore(t *testing.T) *artifacts.Store {
	t.Helper()
	cfg := testaws.Start(t)
	return artifacts.New(testaws.S3(cfg), testaws.Bucket(t, cfg, "gocache"), cfg.Region)
}

// tree is a cache directory's files: slash-separated path -> content.
type tree map[string]string

// write lays t out under dir; directories named "ro@v1" are made
// read-only afterwards, as the module cache makes module directories.
func (tr tree) write(t *testing.T, dir string) {
	t.Helper()
	for name, body := range tr {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() && d.Name() == "ro@v1" {
			os.Chmod(p, 0o555)
		}
		return nil
	})
	t.Cleanup(func() { writable(dir) })
}

func writable(dir string) {
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
}

// read returns the files under dir.
func read(t *testing.T, dir string) tree {
	t.Helper()
	out := tree{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	t.Cleanup(func() { writable(dir) })
	return out
}

func equal(a, b tree) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

var modules = tree{
	"cache/download/example.com/m/@v/v1.0.0.mod":     "module example.com/m\n",
	"cache/download/example.com/m/@v/v1.0.0.ziphash": "h1:abc=\n",
	"example.com/m/ro@v1/m.go":                       "package m\n",
	"example.com/m/ro@v1/sub/s.go":                   "package sub\n",
}

var builds = tree{
	"README":    "This directory holds cached build artifacts from the Go build system.\n",
	"trim.txt":  "1700000000\n",
	"0a/0a12-a": "action entry\n",
	"0a/0a34-d": "output\n",
}

type reports map[gocache.Part]gocache.Report

func restoreAll(t *testing.T, s *gocache.Session) reports {
	t.Helper()
	out := reports{}
	for _, p := range []gocache.Part{gocache.Modules, gocache.Builds} {
		r, err := s.Restore(context.Background(), p)
		if err != nil {
			t.Fatalf("restore %s: %v", p, err)
		}
		out[p] = r
	}
	return out
}

func save(t *testing.T, s *gocache.Session) reports {
	t.Helper()
	rs, err := s.Save(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := reports{}
	for _, r := range rs {
		out[r.Part] = r
	}
	return out
}

func wantActions(t *testing.T, what string, got reports, mod, build string) {
	t.Helper()
	if got[gocache.Modules].Action != mod || got[gocache.Builds].Action != build {
		t.Errorf("%s: got %q and %q, want %q and %q (%v)", what, got[gocache.Modules].Action, got[gocache.Builds].Action, mod, build, got)
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := newStore(t)
	first := &gocache.Config{Store: store, Dir: t.TempDir()}
	s := first.Session(repo, main, "checks", key)
	wantActions(t, "first restore", restoreAll(t, s), "none", "none")
	modules.write(t, filepath.Join(first.Dir, "mod"))
	builds.write(t, filepath.Join(first.Dir, "build"))
	saved := save(t, s)
	wantActions(t, "first save", saved, "saved", "saved")
	if r := saved[gocache.Modules]; r.Files != len(modules) || r.Archive == 0 || !strings.HasPrefix(r.String(), "GOMODCACHE saved: 4 files") {
		t.Errorf("got report %+v (%s), want 4 files and an archive", r, r)
	}
	for _, obj := range []string{"gomodcache.tar.gz", "gomodcache.json", "gocache.tar.gz", "gocache.json"} {
		k := stored(obj)
		if ok, err := store.Exists(ctx, k); err != nil || !ok {
			t.Errorf("%s stored: %v, %v; want it there", k, ok, err)
		}
	}

	// A new Lambda: an empty directory.
	fresh := &gocache.Config{Store: store, Dir: t.TempDir()}
	s = fresh.Session(repo, main, "checks", key)
	got := restoreAll(t, s)
	wantActions(t, "restore into an empty directory", got, "restored", "restored")
	if r := got[gocache.Builds]; r.Files != len(builds) || !strings.HasPrefix(r.String(), "GOCACHE restored: 4 files") {
		t.Errorf("got report %+v (%s), want 4 files", r, r)
	}
	if m := read(t, s.Dir(gocache.Modules)); !equal(m, modules) {
		t.Errorf("restored GOMODCACHE %v, want %v", m, modules)
	}
	if b := read(t, s.Dir(gocache.Builds)); !equal(b, builds) {
		t.Errorf("restored GOCACHE %v, want %v", b, builds)
	}

	// Unchanged: not uploaded again. Mark the stored archives: an upload
	// would replace the marks.
	for _, obj := range []string{"gomodcache.tar.gz", "gocache.tar.gz"} {
		if err := store.Put(ctx, stored(obj), []byte("mark"), ""); err != nil {
			t.Fatal(err)
		}
	}
	wantActions(t, "save unchanged", save(t, s), "unchanged", "unchanged")

	// The same warm directory in a later run: current, nothing downloaded
	// (the marked archives are not archives).
	s = fresh.Session(repo, main, "checks", key)
	wantActions(t, "restore a current directory", restoreAll(t, s), "current", "current")
	wantActions(t, "save unchanged again", save(t, s), "unchanged", "unchanged")
	b, err := store.Get(ctx, stored("gocache.tar.gz"))
	if err != nil || string(b) != "mark" {
		t.Errorf("stored GOCACHE archive is %q, %v: want it not uploaded again", b, err)
	}
}

// pip's, npm's and uv's caches are kept the same way, in their own folders
// of Config.Dir and scoped per branch; a session restores only the parts
// asked for.
func TestDownloadCachesRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := newStore(t)
	key := gocache.DownloadsKey("checks", "linux", "arm64")
	caches := map[gocache.Part]tree{
		gocache.Pip: {"http-v2/a/b/c": "response\n", "wheels/x/markupsafe-3.0.2-py3-none-any.whl": "wheel\n"},
		gocache.Npm: {"_cacache/index-v5/aa/bb": "index\n", "_cacache/content-v2/sha512/cc": "tarball\n"},
		gocache.Uv:  {"archive-v0/x/RECORD": "record\n"},
	}
	first := &gocache.Config{Store: store, Dir: t.TempDir()}
	s := first.Session(repo, main, "checks", key)
	for part, files := range caches {
		if _, err := s.Restore(ctx, part); err != nil {
			t.Fatal(err)
		}
		files.write(t, s.Dir(part))
	}
	got := save(t, s)
	for part, want := range map[gocache.Part]string{gocache.Pip: "pip's cache saved: 2 files", gocache.Npm: "npm's cache saved: 2 files", gocache.Uv: "uv's cache saved: 1 files"} {
		if r := got[part]; !strings.HasPrefix(r.String(), want) {
			t.Errorf("%s: got %q, want %q", part, r, want)
		}
	}
	if filepath.Base(s.Dir(gocache.Pip)) != "pip" || filepath.Base(s.Dir(gocache.Npm)) != "npm" || filepath.Base(s.Dir(gocache.Uv)) != "uv" {
		t.Errorf("got folders %s, %s, %s; want pip, npm and uv", s.Dir(gocache.Pip), s.Dir(gocache.Npm), s.Dir(gocache.Uv))
	}

	fresh := &gocache.Config{Store: store, Dir: t.TempDir()}
	s = fresh.Session(repo, main, "checks", key)
	r, err := s.Restore(ctx, gocache.Npm)
	if err != nil || r.Action != "restored" {
		t.Fatalf("restore npm: got %+v, %v", r, err)
	}
	if got := read(t, s.Dir(gocache.Npm)); !equal(got, caches[gocache.Npm]) {
		t.Errorf("restored npm cache %v, want %v", got, caches[gocache.Npm])
	}
	if _, err := os.Stat(s.Dir(gocache.Pip)); err == nil {
		t.Error("pip's cache was restored without being asked for")
	}

	// A feature branch starts from main's; what it adds is its own, and
	// another run of main, even on the same warm directory, never sees it.
	feature := pipeline.CacheScope{Branch: "feature/x", Default: "main"}
	s = fresh.Session(repo, feature, "checks", key)
	if r, err := s.Restore(ctx, gocache.Npm); err != nil || r.Action != "restored" {
		t.Fatalf("feature branch: got %+v, %v; want main's restored", r, err)
	}
	tree{"_cacache/content-v2/sha512/planted": strings.Repeat("x", 2<<20)}.write(t, s.Dir(gocache.Npm))
	if got := save(t, s)[gocache.Npm]; got.Action != "saved" {
		t.Fatalf("feature branch: got %+v, want its own copy saved", got)
	}
	s = fresh.Session(repo, main, "checks", key)
	if _, err := s.Restore(ctx, gocache.Npm); err != nil {
		t.Fatal(err)
	}
	if got := read(t, s.Dir(gocache.Npm)); !equal(got, caches[gocache.Npm]) {
		t.Errorf("main after the feature branch's run: got %d files, want main's own %d", len(got), len(caches[gocache.Npm]))
	}
}

func TestSaveOnlyWhenGrownMaterially(t *testing.T) {
	t.Parallel()
	store := newStore(t)
	cfg := &gocache.Config{Store: store, Dir: t.TempDir()}
	s := cfg.Session(repo, main, "checks", key)
	restoreAll(t, s)
	builds.write(t, filepath.Join(cfg.Dir, "build"))
	save(t, s)

	s = cfg.Session(repo, main, "checks", key)
	restoreAll(t, s)
	tree{"1b/1b00-d": "a few new bytes"}.write(t, s.Dir(gocache.Builds))
	got := save(t, s)
	wantActions(t, "a few bytes more", got, "empty", "kept")
	if r := got[gocache.Builds]; r.Growth != int64(len("a few new bytes")) || !strings.Contains(r.String(), "grew by only 15 B") {
		t.Errorf("got %+v (%s), want a growth of 15 bytes", r, r)
	}

	big := make([]byte, gocache.MinGrowth(0)+1)
	rand.Read(big)
	tree{"2c/2c00-d": string(big)}.write(t, s.Dir(gocache.Builds))
	got = save(t, s)
	if r := got[gocache.Builds]; r.Action != "saved" || r.Growth != int64(len(big))+15 {
		t.Errorf("got %+v, want saved with a growth of %d", r, len(big)+15)
	}

	other := &gocache.Config{Store: store, Dir: t.TempDir()}
	s = other.Session(repo, main, "checks", key)
	restoreAll(t, s)
	if b := read(t, s.Dir(gocache.Builds)); !bytes.Equal([]byte(b["2c/2c00-d"]), big) || len(b) != len(builds)+2 {
		t.Errorf("restored %d files, want the %d saved with the big one", len(b), len(builds)+2)
	}
}

// A warm directory holding an older copy gets what it lacks; what it has
// stays.
func TestRestoreMergesIntoOlderCopy(t *testing.T) {
	t.Parallel()
	store := newStore(t)
	cfg := &gocache.Config{Store: store, Dir: t.TempDir()}
	s := cfg.Session(repo, main, "checks", key)
	restoreAll(t, s)
	modules.write(t, filepath.Join(cfg.Dir, "mod"))
	save(t, s)

	// A warm directory that an earlier run of main, of other inputs, left.
	warm := &gocache.Config{Store: store, Dir: t.TempDir()}
	if _, err := warm.Session(repo, main, "checks", "checks-other").Restore(context.Background(), gocache.Modules); err != nil {
		t.Fatal(err)
	}
	older := tree{
		"cache/download/example.com/m/@v/v1.0.0.mod": "kept as it was\n",
		"example.com/old/ro@v1/old.go":               "package old\n",
	}
	older.write(t, filepath.Join(warm.Dir, "mod"))
	s = warm.Session(repo, main, "checks", key)
	if r, err := s.Restore(context.Background(), gocache.Modules); err != nil || r.Action != "restored" {
		t.Fatalf("got %+v, %v; want restored", r, err)
	}
	want := tree{}
	for k, v := range modules {
		want[k] = v
	}
	for k, v := range older {
		want[k] = v
	}
	if got := read(t, s.Dir(gocache.Modules)); !equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestBounds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := newStore(t)
	cfg := &gocache.Config{Store: store, Dir: t.TempDir(), MaxBytes: 64}
	s := cfg.Session(repo, main, "checks", key)
	restoreAll(t, s)
	tree{"big": strings.Repeat("x", 65)}.write(t, filepath.Join(cfg.Dir, "build"))
	got := save(t, s)
	wantActions(t, "over the bound", got, "empty", "too big")
	if ok, _ := store.Exists(ctx, stored("gocache.tar.gz")); ok {
		t.Errorf("a cache over the bound was stored")
	}

	// One stored by a pipeline with a larger bound is not restored.
	larger := &gocache.Config{Store: store, Dir: cfg.Dir}
	s = larger.Session(repo, main, "checks", key)
	restoreAll(t, s)
	save(t, s)
	small := &gocache.Config{Store: store, Dir: t.TempDir(), MaxBytes: 64}
	s = small.Session(repo, main, "checks", key)
	if r, err := s.Restore(ctx, gocache.Builds); err != nil || r.Action != "too big" {
		t.Errorf("got %+v, %v; want too big", r, err)
	}
}

// A broken archive leaves the directory empty, not half restored, and the
// next save replaces it.
func TestBrokenArchive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := newStore(t)
	cfg := &gocache.Config{Store: store, Dir: t.TempDir()}
	s := cfg.Session(repo, main, "checks", key)
	restoreAll(t, s)
	modules.write(t, filepath.Join(cfg.Dir, "mod"))
	save(t, s)
	if err := store.Put(ctx, stored("gomodcache.tar.gz"), []byte("not gzip"), ""); err != nil {
		t.Fatal(err)
	}

	fresh := &gocache.Config{Store: store, Dir: t.TempDir()}
	s = fresh.Session(repo, main, "checks", key)
	if _, err := s.Restore(ctx, gocache.Modules); err == nil {
		t.Fatal("restored a broken archive")
	}
	if got := read(t, s.Dir(gocache.Modules)); len(got) != 0 {
		t.Errorf("a failed restore left %v", got)
	}
	modules.write(t, s.Dir(gocache.Modules))
	if r := save(t, s)[gocache.Modules]; r.Action != "saved" {
		t.Errorf("got %+v, want the broken archive replaced", r)
	}
}

func TestKey(t *testing.T) {
	t.Parallel()
	sum := []byte("example.com/m v1.0.0 h1:abc=\n")
	base := gocache.Key("checks", "go1.22.3", "linux", "arm64", sum)
	if !strings.HasPrefix(base, "checks-") || len(base) != len("checks-")+32 {
		t.Errorf("got key %q, want checks-<32 hex digits>", base)
	}
	if again := gocache.Key("checks", "go1.22.3", "linux", "arm64", sum); again != base {
		t.Errorf("got %q, then %q for the same inputs", base, again)
	}
	tests := []struct {
		name string
		key  string
	}{
		{"step", gocache.Key("package", "go1.22.3", "linux", "arm64", sum)},
		{"toolchain", gocache.Key("checks", "go1.22.4", "linux", "arm64", sum)},
		{"os", gocache.Key("checks", "go1.22.3", "darwin", "arm64", sum)},
		{"arch", gocache.Key("checks", "go1.22.3", "linux", "amd64", sum)},
		{"go.sum", gocache.Key("checks", "go1.22.3", "linux", "arm64", []byte("example.com/m v1.0.1 h1:def=\n"))},
		{"no go.sum", gocache.Key("checks", "go1.22.3", "linux", "arm64")},
	}
	seen := map[string]string{base: "base"}
	for _, tt := range tests {
		if other, ok := seen[tt.key]; ok {
			t.Errorf("another %s: got key %q, the same as for %s", tt.name, tt.key, other)
		}
		seen[tt.key] = tt.name
	}
}

// Download caches are one per step and platform (and per branch, as
// every cache is scoped).
func TestDownloadsKey(t *testing.T) {
	t.Parallel()
	base := gocache.DownloadsKey("checks", "linux", "arm64")
	if !strings.HasPrefix(base, "checks-downloads-") || len(base) != len("checks-downloads-")+32 {
		t.Errorf("got key %q, want checks-downloads-<32 hex digits>", base)
	}
	if again := gocache.DownloadsKey("checks", "linux", "arm64"); again != base {
		t.Errorf("got %q, then %q for the same inputs", base, again)
	}
	seen := map[string]string{base: "base"}
	for name, key := range map[string]string{
		"step": gocache.DownloadsKey("package", "linux", "arm64"),
		"arch": gocache.DownloadsKey("checks", "linux", "amd64"),
		"os":   gocache.DownloadsKey("checks", "darwin", "arm64"),
	} {
		if other, ok := seen[key]; ok {
			t.Errorf("another %s: got key %q, the same as for %s", name, key, other)
		}
		seen[key] = name
	}
}

func TestSums(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	none, err := gocache.Sums(dir)
	if err != nil {
		t.Fatal(err)
	}
	tree{"go.sum": "a\n"}.write(t, dir)
	one, err := gocache.Sums(dir)
	if err != nil {
		t.Fatal(err)
	}
	tree{"go.work.sum": "b\n"}.write(t, dir)
	both, err := gocache.Sums(dir)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(none, one) || bytes.Equal(one, both) || !bytes.Contains(both, []byte("a\n")) || !bytes.Contains(both, []byte("b\n")) {
		t.Errorf("got %q, %q, %q: want each to differ and the last to hold both files", none, one, both)
	}
}

// Not parallel: it sets the process environment.
func TestFromEnv(t *testing.T) {
	store := &artifacts.Store{}
	tests := []struct {
		s3, dir string
		wantOff bool
		wantDir string
		wantErr string
	}{
		{s3: "", dir: "", wantDir: gocache.DefaultDir},
		{s3: "on", dir: "/var/go", wantDir: "/var/go"},
		{s3: "off", wantOff: true},
		{s3: "OFF", wantOff: true},
		{s3: "false", wantOff: true},
		{s3: "maybe", wantErr: "GO_CACHE_S3"},
		{s3: "on", dir: "relative", wantErr: "GO_CACHE_DIR"},
	}
	for _, tt := range tests {
		t.Setenv("GO_CACHE_S3", tt.s3)
		t.Setenv("GO_CACHE_DIR", tt.dir)
		cfg, err := gocache.FromEnv(store)
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("GO_CACHE_S3=%q GO_CACHE_DIR=%q: got %v, want an error naming %s", tt.s3, tt.dir, err, tt.wantErr)
			}
		case err != nil:
			t.Errorf("GO_CACHE_S3=%q: %v", tt.s3, err)
		case tt.wantOff && cfg != nil:
			t.Errorf("GO_CACHE_S3=%q: got %+v, want the caches off", tt.s3, cfg)
		case !tt.wantOff && (cfg == nil || cfg.Dir != tt.wantDir || cfg.Store != store):
			t.Errorf("GO_CACHE_S3=%q GO_CACHE_DIR=%q: got %+v, want the caches on in %s", tt.s3, tt.dir, cfg, tt.wantDir)
		}
	}
}

// TestCachesAreScopedByBranch: a feature branch's run restores main's
// caches when it has none of its own and saves to its own; main's runs
// never restore what the feature branch saved; and a warm directory a
// feature branch's run left is emptied before main's run uses it.
func TestCachesAreScopedByBranch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := newStore(t)
	feature := pipeline.CacheScope{Branch: "feature/x", Default: "main"}

	// main saves its caches.
	cfg := &gocache.Config{Store: store, Dir: t.TempDir()}
	s := cfg.Session(repo, main, "checks", key)
	restoreAll(t, s)
	modules.write(t, s.Dir(gocache.Modules))
	wantActions(t, "main saves", save(t, s), "saved", "empty")

	// The feature branch, in another Lambda, starts from main's, and
	// saves what its code added (poison) to its own scope only.
	lambda := &gocache.Config{Store: store, Dir: t.TempDir()}
	s = lambda.Session(repo, feature, "checks", key)
	wantActions(t, "feature/x restores main's", restoreAll(t, s), "restored", "none")
	poison := make([]byte, gocache.MinGrowth(0)+1)
	rand.Read(poison)
	tree{"example.com/m@v1.0.0/m.go": string(poison)}.write(t, s.Dir(gocache.Modules))
	wantActions(t, "feature/x saves", save(t, s), "saved", "empty")
	mine := pipeline.CacheKey(repo, feature.Writes(), "checks", "gomodcache", ".tar.gz")
	if ok, err := store.Exists(ctx, mine); err != nil || !ok {
		t.Errorf("%s: got %v, %v; want feature/x's own copy stored", mine, ok, err)
	}
	b, err := store.Get(ctx, stored("gomodcache.json"))
	if err != nil || strings.Contains(string(b), `"files":5`) {
		t.Errorf("main's manifest %s, %v: want main's copy untouched by feature/x", b, err)
	}

	// main's next run in the same warm Lambda: the directory feature/x
	// left is emptied, and main's own copy restored.
	s = lambda.Session(repo, main, "checks", key)
	wantActions(t, "main after feature/x in a warm Lambda", restoreAll(t, s), "restored", "none")
	if got := read(t, s.Dir(gocache.Modules)); !equal(got, modules) {
		t.Errorf("main got GOMODCACHE %v, want main's own %v, without feature/x's file", keys(got), keys(modules))
	}

	// And in a fresh Lambda, main still finds only its own.
	s = (&gocache.Config{Store: store, Dir: t.TempDir()}).Session(repo, main, "checks", key)
	restoreAll(t, s)
	if got := read(t, s.Dir(gocache.Modules)); !equal(got, modules) {
		t.Errorf("main got GOMODCACHE %v, want main's own", keys(got))
	}

	// Another repository in the same warm Lambda does not see main's.
	s = lambda.Session(pipeline.Repository{Workspace: "acme", Slug: "other"}, main, "checks", key)
	wantActions(t, "another repository", restoreAll(t, s), "none", "none")
	if got := read(t, s.Dir(gocache.Modules)); len(got) != 0 {
		t.Errorf("another repository's run found %v in the warm directory", keys(got))
	}
}

func keys(tr tree) []string {
	var out []string
	for k := range tr {
		out = append(out, k)
	}
	return out
}

// TestACopyForOtherInputsIsNotRestored: a branch keeps one copy per step
// and part; a run whose inputs (go.sum, toolchain) differ does not restore
// it, and its save replaces it.
func TestACopyForOtherInputsIsNotRestored(t *testing.T) {
	t.Parallel()
	store := newStore(t)
	s := (&gocache.Config{Store: store, Dir: t.TempDir()}).Session(repo, main, "checks", key)
	restoreAll(t, s)
	modules.write(t, s.Dir(gocache.Modules))
	wantActions(t, "first inputs save", save(t, s), "saved", "empty")

	s = (&gocache.Config{Store: store, Dir: t.TempDir()}).Session(repo, main, "checks", "checks-newgosum")
	wantActions(t, "other inputs", restoreAll(t, s), "none", "none")
	modules.write(t, s.Dir(gocache.Modules))
	wantActions(t, "other inputs save", save(t, s), "saved", "empty")

	s = (&gocache.Config{Store: store, Dir: t.TempDir()}).Session(repo, main, "checks", key)
	wantActions(t, "first inputs after the replacement", restoreAll(t, s), "none", "none")
}
