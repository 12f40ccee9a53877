package buildcache

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/stackflow/stackflow/internal/local/cachedir"
	"github.com/stackflow/stackflow/internal/packager"
)

// DefaultMaxBytes bounds a cache's zips when Open is given no bound: the
// pipeline's seven functions take about 28 MiB a version.
const DefaultMaxBytes = 256 << 20

// staleTemp is the age past which a temporary file is taken for the
// leftover of a process that died writing it.
const staleTemp = time.Hour

// tempPrefix starts the names of files being written (as
// cachedir.WriteAtomic names them).
const tempPrefix = ".tmp-"

// keyPattern is what a build key looks like; anything else could name a
// file outside the directory.
var keyPattern = regexp.MustCompile(`^[0-9A-Za-z_-]{1,128}$`)

// Dir is a build cache in a directory.
type Dir struct {
	dir      string
	maxBytes int64
	now      func() time.Time
}

var _ packager.BuildCache = (*Dir)(nil)

// Open returns the cache in dir, making the directory if need be; maxBytes
// bounds its zips (0 means DefaultMaxBytes).
func Open(dir string, maxBytes int64) (*Dir, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open build cache: %w", err)
	}
	return &Dir{dir: dir, maxBytes: maxBytes, now: time.Now}, nil
}

// Path is the cache's directory.
func (d *Dir) Path() string { return d.dir }

// record is what KEY.json holds.
type record struct {
	SHA256  string `json:"sha256"`
	Size    int64  `json:"size"`
	Handler string `json:"handler,omitempty"`
	Tool    string `json:"tool,omitempty"`
}

// ErrCorrupt marks an entry whose zip is not the one recorded; Load removes
// it.
var ErrCorrupt = errors.New("damaged")

func (d *Dir) paths(key string) (zip, rec string) {
	return filepath.Join(d.dir, key+".zip"), filepath.Join(d.dir, key+".json")
}

// Load copies the zip kept for key to path and describes it, after
// checking its SHA-256 and size against the entry's record. A missing
// entry is not found; a damaged or partial one is removed, and is an error
// that wraps ErrCorrupt.
func (d *Dir) Load(ctx context.Context, key, path string) (packager.CachedZip, bool, error) {
	var none packager.CachedZip
	if !keyPattern.MatchString(key) {
		return none, false, fmt.Errorf("build cache: %q is not a build key", key)
	}
	zipPath, recPath := d.paths(key)
	body, err := os.ReadFile(recPath)
	if errors.Is(err, fs.ErrNotExist) {
		return none, false, nil
	}
	if err != nil {
		return none, false, fmt.Errorf("build cache: read %s: %w", recPath, err)
	}
	var rec record
	if err := json.Unmarshal(body, &rec); err != nil || len(rec.SHA256) != 2*sha256.Size || rec.Size < 0 {
		d.remove(key)
		return none, false, fmt.Errorf("build cache: entry %s: %w record; removed", short(key), ErrCorrupt)
	}
	src, err := os.Open(zipPath)
	if errors.Is(err, fs.ErrNotExist) {
		d.remove(key)
		return none, false, fmt.Errorf("build cache: entry %s: %w: its zip is missing; removed", short(key), ErrCorrupt)
	}
	if err != nil {
		return none, false, fmt.Errorf("build cache: open %s: %w", zipPath, err)
	}
	defer src.Close()
	sha, size, err := copyHashed(path, src)
	if err != nil {
		return none, false, fmt.Errorf("build cache: copy entry %s: %w", short(key), err)
	}
	if sha != rec.SHA256 || size != rec.Size {
		os.Remove(path)
		d.remove(key)
		return none, false, fmt.Errorf("build cache: entry %s: %w: sha256 %s, %d bytes, want %s, %d bytes; removed",
			short(key), ErrCorrupt, short(sha), size, short(rec.SHA256), rec.Size)
	}
	// The record's time is when the entry was last used, for Prune.
	now := d.now()
	_ = os.Chtimes(recPath, now, now)
	return packager.CachedZip{SHA256: sha, Size: size, Handler: rec.Handler, Tool: rec.Tool}, true, nil
}

// Save keeps a copy of the zip at path, described by z, under key, then
// prunes the cache to its bound, keeping key.
func (d *Dir) Save(ctx context.Context, key, path string, z packager.CachedZip) error {
	if !keyPattern.MatchString(key) {
		return fmt.Errorf("build cache: %q is not a build key", key)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("build cache: save %s: %w", short(key), err)
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != z.SHA256 {
		return fmt.Errorf("build cache: save %s: the zip's sha256 is %s, want %s", short(key), short(got), short(z.SHA256))
	}
	body, err := json.Marshal(record{SHA256: z.SHA256, Size: int64(len(data)), Handler: z.Handler, Tool: z.Tool})
	if err != nil {
		return fmt.Errorf("build cache: save %s: %w", short(key), err)
	}
	// The zip first: a record is only ever beside a whole zip.
	zipPath, recPath := d.paths(key)
	for _, f := range []struct {
		path string
		data []byte
	}{{zipPath, data}, {recPath, body}} {
		if err := cachedir.WriteAtomic(f.path, f.data); err != nil {
			return fmt.Errorf("build cache: save %s: %w", short(key), err)
		}
	}
	if err := d.Prune(key); err != nil {
		return fmt.Errorf("build cache: save %s: %w", short(key), err)
	}
	return nil
}

// Prune removes the least recently used entries until the cache's zips
// fit its bound, never the entry keep (the one just saved), and removes
// temporary files that a process left when it died.
func (d *Dir) Prune(keep string) error {
	files, err := os.ReadDir(d.dir)
	if err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	type entry struct {
		key  string
		used time.Time
		size int64
	}
	byKey := map[string]*entry{}
	var total int64
	for _, f := range files {
		info, err := f.Info()
		if err != nil {
			continue // removed meanwhile
		}
		name := f.Name()
		if strings.HasPrefix(name, tempPrefix) {
			if d.now().Sub(info.ModTime()) > staleTemp {
				os.Remove(filepath.Join(d.dir, name))
			}
			continue
		}
		key, ext := strings.TrimSuffix(name, filepath.Ext(name)), filepath.Ext(name)
		if (ext != ".zip" && ext != ".json") || !keyPattern.MatchString(key) {
			continue
		}
		e := byKey[key]
		if e == nil {
			e = &entry{key: key}
			byKey[key] = e
		}
		if info.ModTime().After(e.used) {
			e.used = info.ModTime()
		}
		e.size += info.Size()
		total += info.Size()
	}
	if total <= d.maxBytes {
		return nil
	}
	var entries []*entry
	for _, e := range byKey {
		if e.key != keep {
			entries = append(entries, e)
		}
	}
	slices.SortFunc(entries, func(a, b *entry) int {
		return cmp.Or(a.used.Compare(b.used), strings.Compare(a.key, b.key))
	})
	for _, e := range entries {
		if total <= d.maxBytes {
			break
		}
		d.remove(e.key)
		total -= e.size
	}
	return nil
}

// remove removes key's entry, the record first so that no reader finds a
// record without its zip for long.
func (d *Dir) remove(key string) {
	zipPath, recPath := d.paths(key)
	os.Remove(recPath)
	os.Remove(zipPath)
}

// copyHashed copies r to the new file path and returns the SHA-256 and size
// of what it copied.
func copyHashed(path string, r io.Reader) (string, int64, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", 0, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
