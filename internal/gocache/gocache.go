package gocache

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stackflow/stackflow/internal/archive"
	"github.com/stackflow/stackflow/internal/artifacts"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/toolchain"
)

// Store is the artifact bucket as the caches use it; *artifacts.Store is
// one. Open reports a missing key with artifacts.ErrNotFound.
type Store interface {
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	Put(ctx context.Context, key string, body []byte, contentType string) error
	PutFile(ctx context.Context, key, path, contentType string) error
}

var _ Store = (*artifacts.Store)(nil)

// Part is one of the caches: the two Go caches, or the download cache of
// pip, npm or uv.
type Part string

// The caches, named as they are stored.
const (
	// Modules is GOMODCACHE, kept in Config.Dir/mod.
	Modules Part = "gomodcache"
	// Builds is GOCACHE, kept in Config.Dir/build.
	Builds Part = "gocache"
	// Pip is pip's cache (PIP_CACHE_DIR), kept in Config.Dir/pip.
	Pip Part = "pipcache"
	// Npm is npm's cache (npm_config_cache), kept in Config.Dir/npm.
	Npm Part = "npmcache"
	// Uv is uv's cache (UV_CACHE_DIR), kept in Config.Dir/uv.
	Uv Part = "uvcache"
)

// parts is the order in which Save handles them, with each one's
// directory under Config.Dir (as toolchain.Options' GoCacheDir lays out
// the Go caches) and its name in reports.
var parts = []struct {
	part      Part
	sub, name string
}{
	{Modules, "mod", "GOMODCACHE"},
	{Builds, "build", "GOCACHE"},
	{Pip, "pip", "pip's cache"},
	{Npm, "npm", "npm's cache"},
	{Uv, "uv", "uv's cache"},
}

func (p Part) sub() string {
	for _, q := range parts {
		if q.part == p {
			return q.sub
		}
	}
	return string(p)
}

func (p Part) name() string {
	for _, q := range parts {
		if q.part == p {
			return q.name
		}
	}
	return string(p)
}

// Bounds and defaults.
const (
	// DefaultDir is where a handler keeps its Go caches: /tmp survives warm
	// starts of a Lambda function.
	DefaultDir = "/tmp/stackflow/go"
	// DefaultMaxBytes bounds a cache, uncompressed: a larger one is
	// neither saved nor restored.
	DefaultMaxBytes = 2 << 30
	// maxFiles bounds the entries of a restored cache.
	maxFiles = 2_000_000
)

// Config says where the caches live: the bucket and the local directory.
type Config struct {
	Store Store
	// Dir holds GOMODCACHE as Dir/mod and GOCACHE as Dir/build; it must be
	// toolchain.Options.GoCacheDir for the commands to use them.
	Dir string
	// MaxBytes bounds each cache; 0 means DefaultMaxBytes.
	MaxBytes int64
}

func (c *Config) maxBytes() int64 {
	if c.MaxBytes > 0 {
		return c.MaxBytes
	}
	return DefaultMaxBytes
}

// FromEnv returns the configuration a handler reads from its environment,
// over store, or nil when the caches are turned off:
//
//	GO_CACHE_S3   on (the default) or off; off where the functions share
//	              the host's caches, as in stackflow local
//	GO_CACHE_DIR  the local directory of the caches; default DefaultDir
func FromEnv(store Store) (*Config, error) {
	switch v := strings.ToLower(strings.TrimSpace(os.Getenv("GO_CACHE_S3"))); v {
	case "", "on", "true", "1", "yes":
	case "off", "false", "0", "no":
		return nil, nil
	default:
		return nil, fmt.Errorf("GO_CACHE_S3 %q: want on or off", v)
	}
	dir := os.Getenv("GO_CACHE_DIR")
	if dir == "" {
		dir = DefaultDir
	}
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("GO_CACHE_DIR %q: want an absolute path", dir)
	}
	return &Config{Store: store, Dir: dir}, nil
}

// ForBuilds returns what the checks and package handlers build with, as
// their environment says: the caches over store (nil when turned off) and
// the toolchain options (GOPROXY, TOOLCHAIN_CACHE), with the Go caches in
// the caches' directory. hc downloads toolchains.
func ForBuilds(store Store, hc *http.Client) (*Config, toolchain.Options, error) {
	caches, err := FromEnv(store)
	if err != nil {
		return nil, toolchain.Options{}, err
	}
	opts := toolchain.OptionsFromEnv(hc)
	if caches != nil {
		opts.GoCacheDir = caches.Dir
	}
	return caches, opts, nil
}

// Key names the caches of step ("checks", "package") for a module whose
// go.sum (and go.work.sum) contents are sums, run with the toolchain (such
// as "go1.22.3") on goos/goarch: a cache is reused only by runs with the
// same inputs, and a new go.sum or toolchain starts a new one.
func Key(step, toolchain, goos, goarch string, sums ...[]byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "stackflow go caches v1\nstep %s\ntoolchain %s\nplatform %s/%s\n", step, toolchain, goos, goarch)
	for _, s := range sums {
		fmt.Fprintf(h, "sum %d\n", len(s))
		h.Write(s)
	}
	return step + "-" + hex.EncodeToString(h.Sum(nil))[:32]
}

// DownloadsKey names the download caches of pip, npm and uv (Pip, Npm,
// Uv) of step ("checks", "package") run on goos/goarch. Scoped per branch
// as every cache is (see Session), and unlike the Go caches not started
// over with each new lock file: pip's and npm's caches are addressed by
// what they hold, and what grew is saved again (see MinGrowth).
func DownloadsKey(step, goos, goarch string) string {
	h := sha256.New()
	fmt.Fprintf(h, "stackflow download caches v1\nstep %s\nplatform %s/%s\n", step, goos, goarch)
	return step + "-downloads-" + hex.EncodeToString(h.Sum(nil))[:32]
}

// Sums reads the go.sum and go.work.sum of the module or workspace in
// dir, for Key; a missing file reads as empty.
func Sums(dir string) ([]byte, error) {
	var out []byte
	for _, name := range []string{"go.sum", "go.work.sum"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("go caches: %w", err)
		}
		out = fmt.Appendf(out, "%s %d\n", name, len(b))
		out = append(out, b...)
	}
	return out, nil
}

// meta is a stored cache's manifest object.
type meta struct {
	// Key names the inputs the cache is good for (the Session's key): a
	// stored copy for other inputs is not restored.
	Key string `json:"key"`
	// Hash is the hash of the manifest (every file's path and size) of
	// what the archive holds.
	Hash         string `json:"hash"`
	Files        int    `json:"files"`
	Bytes        int64  `json:"bytes"`
	ArchiveBytes int64  `json:"archiveBytes"`
	SavedAt      string `json:"savedAt"`
}

// Session restores and saves the caches of one step's run.
//
// Caches are scoped as CI caches are (pipeline.CacheScope): a run restores
// its own branch's stored copy, else its default branch's, and saves only
// to its own branch's. The local directory, which outlives a run in a warm
// Lambda, is emptied before a run of another repository or branch uses
// it: what one branch's code left there never reaches another's run.
type Session struct {
	cfg    *Config
	repo   pipeline.Repository
	scope  pipeline.CacheScope
	step   string
	key    string
	states map[Part]*state
	// claimed is true once the local directory is this session's.
	claimed bool
}

// state is what a Session knows of one part.
type state struct {
	restore Report
	remote  *meta     // nil when nothing is stored
	from    string    // the scope remote was read from
	synced  *manifest // what the local directory held of the store's copy
}

// Session starts the caches' work for step ("checks", "package") of repo's
// run in scope; key is the step's Key (or DownloadsKey). A branch keeps one
// copy of each part per step (pipeline.CacheKey), which records the key
// it is good for: a copy for another key is not restored, and the next
// save replaces it.
func (c *Config) Session(repo pipeline.Repository, scope pipeline.CacheScope, step, key string) *Session {
	return &Session{cfg: c, repo: repo, scope: scope, step: step, key: key, states: map[Part]*state{}}
}

// Dir is where part lives locally.
func (s *Session) Dir(part Part) string { return s.cfg.PartDir(part) }

// PartDir is where part lives locally: the folder of Dir that the tool
// using it must be told of (GOMODCACHE, PIP_CACHE_DIR, ...).
func (c *Config) PartDir(part Part) string { return filepath.Join(c.Dir, part.sub()) }

// object is the key of part's object ext in the run's own scope, the one
// it writes.
func (s *Session) object(part Part, ext string) string {
	return s.objectIn(s.scope.Writes(), part, ext)
}

func (s *Session) objectIn(scope string, part Part, ext string) string {
	return pipeline.CacheKey(s.repo, scope, s.step, string(part), ext)
}

// ownerFile names, in the local directory, whose caches it holds.
const ownerFile = "owner"

// claim makes the local directory this session's: when another repository
// or branch (or nobody known) used it last, what it holds is removed.
func (s *Session) claim() error {
	if s.claimed {
		return nil
	}
	owner := s.repo.FullName() + " " + s.scope.Writes() + "\n"
	p := filepath.Join(s.cfg.Dir, ownerFile)
	if got, err := os.ReadFile(p); err != nil || string(got) != owner {
		for _, p := range parts {
			removeAll(filepath.Join(s.cfg.Dir, p.sub))
		}
		removeAll(filepath.Join(s.cfg.Dir, "sync"))
		if err := os.MkdirAll(s.cfg.Dir, 0o755); err != nil {
			return fmt.Errorf("go caches: %w", err)
		}
		if err := os.WriteFile(p, []byte(owner), 0o644); err != nil {
			return fmt.Errorf("go caches: %w", err)
		}
	}
	s.claimed = true
	return nil
}

// Report says what Restore or Save did with one cache.
type Report struct {
	Part Part
	// Action is one of:
	//	restore: "restored", "current" (the local copy holds the stored
	//	one), "none" (nothing stored yet)
	//	save: "saved", "unchanged", "kept" (grew too little to upload),
	//	"too big", "empty"
	Action string
	Files  int
	Bytes  int64
	// Archive is the size of the archive moved, when one was.
	Archive int64
	// Growth is how many bytes were added since the stored copy, for Save.
	Growth int64
	Took   time.Duration
}

// String is the report as a line of a step's log.
func (r Report) String() string {
	name := r.Part.name()
	took := r.Took.Round(10 * time.Millisecond)
	switch r.Action {
	case "restored":
		return fmt.Sprintf("%s restored: %d files, %s (%s archive) in %s", name, r.Files, size(r.Bytes), size(r.Archive), took)
	case "current":
		return fmt.Sprintf("%s current: the local copy holds the stored one (%d files, %s)", name, r.Files, size(r.Bytes))
	case "none":
		return fmt.Sprintf("%s: none stored yet", name)
	case "saved":
		return fmt.Sprintf("%s saved: %d files, %s (%s archive, %s new) in %s", name, r.Files, size(r.Bytes), size(r.Archive), size(r.Growth), took)
	case "unchanged":
		return fmt.Sprintf("%s unchanged: not uploaded", name)
	case "kept":
		return fmt.Sprintf("%s grew by only %s: not uploaded", name, size(r.Growth))
	case "too big":
		return fmt.Sprintf("%s is %s, over the bound: not uploaded", name, size(r.Bytes))
	case "empty":
		return fmt.Sprintf("%s is empty: not uploaded", name)
	}
	return fmt.Sprintf("%s %s", name, r.Action)
}

// Restore brings part's stored copy into its local directory, unless
// there is none or the local copy already holds it. Later calls for the
// same part return the first one's report. Only restored parts are saved.
func (s *Session) Restore(ctx context.Context, part Part) (Report, error) {
	if st, ok := s.states[part]; ok {
		return st.restore, nil
	}
	began := time.Now()
	st := &state{restore: Report{Part: part, Action: "none"}}
	s.states[part] = st
	if err := s.claim(); err != nil {
		return st.restore, err
	}
	st.synced = s.readSynced(part)

	var remote *meta
	for _, scope := range s.scope.Reads() {
		m, err := s.readMeta(ctx, scope, part)
		if err != nil {
			return st.restore, err
		}
		if m != nil && m.Key == s.key {
			remote, st.from = m, scope
			break
		}
	}
	st.remote = remote
	if remote == nil {
		return st.restore, nil
	}
	dir := s.Dir(part)
	if st.synced != nil && st.synced.hash == remote.Hash && !isEmpty(dir) {
		st.restore = Report{Part: part, Action: "current", Files: remote.Files, Bytes: remote.Bytes}
		return st.restore, nil
	}
	if remote.Bytes > s.cfg.maxBytes() {
		st.restore = Report{Part: part, Action: "too big", Bytes: remote.Bytes}
		return st.restore, nil
	}
	got, err := s.download(ctx, st.from, part, dir)
	if err != nil {
		// Saving replaces what cannot be restored.
		st.remote = nil
		return st.restore, err
	}
	st.synced = got
	if err := s.writeSynced(part, got); err != nil {
		return st.restore, err
	}
	st.restore = Report{Part: part, Action: "restored", Files: len(got.files), Bytes: got.bytes,
		Archive: remote.ArchiveBytes, Took: time.Since(began)}
	return st.restore, nil
}

// download unpacks the stored archive of part into a staging directory
// beside dir and moves it into dir: whole, when dir is empty, or what dir
// lacks, when it holds an older copy. It returns the manifest of what was
// stored.
func (s *Session) download(ctx context.Context, scope string, part Part, dir string) (*manifest, error) {
	if err := os.MkdirAll(s.cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("restore %s: %w", part, err)
	}
	staging, err := os.MkdirTemp(s.cfg.Dir, ".restore-"+string(part)+"-")
	if err != nil {
		return nil, fmt.Errorf("restore %s: %w", part, err)
	}
	defer removeAll(staging)
	body, err := s.cfg.Store.Open(ctx, s.objectIn(scope, part, ".tar.gz"))
	if err != nil {
		return nil, fmt.Errorf("restore %s: %w", part, err)
	}
	defer body.Close()
	lim := archive.Limits{MaxBytes: s.cfg.maxBytes(), MaxFiles: maxFiles}
	if err := archive.Extract(body, staging, lim); err != nil {
		return nil, fmt.Errorf("restore %s: %w", part, err)
	}
	got, err := scan(staging)
	if err != nil {
		return nil, fmt.Errorf("restore %s: %w", part, err)
	}
	if isEmpty(dir) {
		if err := os.RemoveAll(dir); err != nil {
			return nil, fmt.Errorf("restore %s: %w", part, err)
		}
		if err := os.Rename(staging, dir); err != nil {
			return nil, fmt.Errorf("restore %s: %w", part, err)
		}
		return got, nil
	}
	if err := merge(staging, dir); err != nil {
		return nil, fmt.Errorf("restore %s: %w", part, err)
	}
	return got, nil
}

// Save uploads every restored part that grew materially since the stored
// copy (see MinGrowth), and reports on each. A part whose upload fails is
// reported in the error; the others are still saved.
func (s *Session) Save(ctx context.Context) ([]Report, error) {
	var reports []Report
	var errs []error
	for _, p := range parts {
		part := p.part
		st, ok := s.states[part]
		if !ok {
			continue
		}
		r, err := s.save(ctx, part, st)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		reports = append(reports, r)
	}
	return reports, errors.Join(errs...)
}

// MinGrowth is how much a cache must have grown since its stored copy of
// stored bytes to be uploaded again: 5% of it, at least 1 MiB. A run adds
// its own packages' few objects to the build cache; uploading the whole
// cache again for them costs more than compiling them next time.
func MinGrowth(stored int64) int64 { return max(1<<20, stored/20) }

func (s *Session) save(ctx context.Context, part Part, st *state) (Report, error) {
	began := time.Now()
	dir := s.Dir(part)
	local, err := scan(dir)
	if err != nil {
		return Report{}, fmt.Errorf("save %s: %w", part, err)
	}
	r := Report{Part: part, Files: len(local.files), Bytes: local.bytes, Growth: local.growth(st.synced)}
	switch {
	case len(local.files) == 0:
		r.Action = "empty"
		return r, nil
	case local.bytes > s.cfg.maxBytes():
		r.Action = "too big"
		return r, nil
	case st.remote != nil && (local.hash == st.remote.Hash || r.Growth == 0):
		r.Action = "unchanged"
		return r, nil
	case st.remote != nil && r.Growth < MinGrowth(st.remote.Bytes):
		r.Action = "kept"
		return r, nil
	}

	tmp, err := os.CreateTemp(s.cfg.Dir, ".save-"+string(part)+"-*.tar.gz")
	if err != nil {
		return Report{}, fmt.Errorf("save %s: %w", part, err)
	}
	defer os.Remove(tmp.Name())
	// Fast compression: the build cache is large and saved often.
	err = archive.CreateLevel(tmp, dir, string(part), nil, gzip.BestSpeed)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Report{}, fmt.Errorf("save %s: %w", part, err)
	}
	fi, err := os.Stat(tmp.Name())
	if err != nil {
		return Report{}, fmt.Errorf("save %s: %w", part, err)
	}
	// The archive first, its manifest second: a restore that reads the
	// new manifest finds the new archive. One that reads an old manifest
	// and a new archive is no worse: every copy is good for this key.
	if err := s.cfg.Store.PutFile(ctx, s.object(part, ".tar.gz"), tmp.Name(), "application/gzip"); err != nil {
		return Report{}, fmt.Errorf("save %s: %w", part, err)
	}
	m := meta{Key: s.key, Hash: local.hash, Files: len(local.files), Bytes: local.bytes, ArchiveBytes: fi.Size(),
		SavedAt: time.Now().UTC().Format(time.RFC3339)}
	body, err := json.Marshal(m)
	if err != nil {
		return Report{}, fmt.Errorf("save %s: %w", part, err)
	}
	if err := s.cfg.Store.Put(ctx, s.object(part, ".json"), body, "application/json"); err != nil {
		return Report{}, fmt.Errorf("save %s: %w", part, err)
	}
	st.remote, st.synced, st.from = &m, local, s.scope.Writes()
	if err := s.writeSynced(part, local); err != nil {
		return Report{}, err
	}
	r.Action, r.Archive, r.Took = "saved", fi.Size(), time.Since(began)
	return r, nil
}

// readMeta reads part's stored manifest in scope; nil when there is none.
func (s *Session) readMeta(ctx context.Context, scope string, part Part) (*meta, error) {
	body, err := s.cfg.Store.Open(ctx, s.objectIn(scope, part, ".json"))
	if errors.Is(err, artifacts.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("restore %s: %w", part, err)
	}
	defer body.Close()
	var m meta
	if err := json.NewDecoder(io.LimitReader(body, 1<<20)).Decode(&m); err != nil || m.Hash == "" {
		// A broken manifest is as good as none: the next save replaces it.
		return nil, nil
	}
	return &m, nil
}

func isEmpty(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return true
	}
	defer f.Close()
	names, _ := f.Readdirnames(1)
	return len(names) == 0
}
