package gocache

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// manifest is what a cache directory holds: every regular file's path and
// size. Both caches name their files by content or by module version, so
// a file of the same name and size is the same file, and times do not
// matter.
type manifest struct {
	files map[string]int64 // slash-separated path -> size
	bytes int64
	hash  string // of the sorted "size path" lines
}

// scan walks dir; a missing dir is an empty manifest.
func scan(dir string) (*manifest, error) {
	m := &manifest{files: map[string]int64{}}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir && errors.Is(err, fs.ErrNotExist) {
				return filepath.SkipDir
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		m.files[filepath.ToSlash(rel)] = fi.Size()
		m.bytes += fi.Size()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", dir, err)
	}
	m.hash = m.sum()
	return m, nil
}

func (m *manifest) lines() []string {
	out := make([]string, 0, len(m.files))
	for p, n := range m.files {
		out = append(out, strconv.FormatInt(n, 10)+" "+p)
	}
	slices.SortFunc(out, func(a, b string) int {
		_, pa, _ := strings.Cut(a, " ")
		_, pb, _ := strings.Cut(b, " ")
		return strings.Compare(pa, pb)
	})
	return out
}

func (m *manifest) sum() string {
	h := sha256.New()
	for _, l := range m.lines() {
		h.Write([]byte(l))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// growth is how many bytes m holds that old does not (new files, or files
// whose size changed); all of m when old is nil.
func (m *manifest) growth(old *manifest) int64 {
	if old == nil {
		return m.bytes
	}
	var n int64
	for p, size := range m.files {
		if was, ok := old.files[p]; !ok || was != size {
			n += size
		}
	}
	return n
}

// The synced manifest of a part is what its local directory held of the
// stored copy when it was last restored or saved; it lives beside the
// caches, in Dir/sync, one file per stored cache.

func (s *Session) syncedPath(part Part) string {
	sum := sha256.Sum256([]byte(s.object(part, "")))
	return filepath.Join(s.cfg.Dir, "sync", hex.EncodeToString(sum[:8])+"-"+string(part)+".txt")
}

// readSynced reads part's synced manifest; nil when there is none or it
// cannot be read.
func (s *Session) readSynced(part Part) *manifest {
	f, err := os.Open(s.syncedPath(part))
	if err != nil {
		return nil
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	if !sc.Scan() {
		return nil
	}
	hash, ok := strings.CutPrefix(sc.Text(), "hash ")
	if !ok {
		return nil
	}
	m := &manifest{files: map[string]int64{}, hash: hash}
	for sc.Scan() {
		n, p, ok := strings.Cut(sc.Text(), " ")
		size, err := strconv.ParseInt(n, 10, 64)
		if !ok || err != nil {
			return nil
		}
		m.files[p] = size
		m.bytes += size
	}
	if sc.Err() != nil {
		return nil
	}
	return m
}

func (s *Session) writeSynced(part Part, m *manifest) error {
	p := s.syncedPath(part)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("go caches: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".sync-*")
	if err != nil {
		return fmt.Errorf("go caches: %w", err)
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriter(tmp)
	fmt.Fprintf(w, "hash %s\n", m.hash)
	for _, l := range m.lines() {
		w.WriteString(l)
		w.WriteByte('\n')
	}
	err = w.Flush()
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		return fmt.Errorf("go caches: %w", err)
	}
	return nil
}

// merge moves into dst what src has and dst lacks: whole directories where
// dst has none (the module cache's module directories are read-only, and
// are only ever added whole), files otherwise.
func merge(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == src {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		fi, err := os.Lstat(target)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			if err := os.Rename(p, target); err != nil {
				return err
			}
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		case err != nil:
			return err
		case d.IsDir() && !fi.IsDir():
			return filepath.SkipDir // a file where the copy has a directory: keep ours
		}
		return nil
	})
}

// removeAll removes dir even where it holds read-only directories, as the
// module cache does.
func removeAll(dir string) {
	if os.RemoveAll(dir) == nil {
		return
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
	os.RemoveAll(dir)
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// CheckStored reads a stored cache's manifest object (as Save writes it
// beside the archive) and checks it as the trusted publish step must
// before it keeps a cache a step staged: a key, a hash, sizes within
// maxBytes (0 for DefaultMaxBytes). It returns the archive's size, which
// the staged archive must have.
func CheckStored(body []byte, maxBytes int64) (archiveBytes int64, err error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	var m meta
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return 0, fmt.Errorf("the cache's manifest is not one: %w", err)
	}
	switch {
	case m.Key == "" || m.Hash == "":
		return 0, errors.New("the cache's manifest names no key or hash")
	case m.Bytes < 0 || m.Bytes > maxBytes || m.ArchiveBytes <= 0 || m.ArchiveBytes > maxBytes:
		return 0, fmt.Errorf("the cache's sizes (%d bytes, %d archived) are out of bounds", m.Bytes, m.ArchiveBytes)
	}
	return m.ArchiveBytes, nil
}
