// Package cachedir installs what `stackflow local` fetches once (the local
// Step Functions engine's npm packages, the Lambda runtimes' clients, SAM's
// translator) into a cache directory that several processes share: an
// installation is there whole or not at all, and Lock lets them take turns
// installing it. Digest names an installation by its content; FindPython
// and FindNode find the host's interpreters that one is made for, and
// VersionLess and MinorVersion read their versions.
package cachedir

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// abandonedAfter is when an installation under way is taken as abandoned
// (its process was killed): installations take seconds.
const abandonedAfter = time.Hour

// Install makes dir, a directory under parent, unless marker (a file in
// dir) shows that it is there: fill writes into a fresh directory under
// parent, named with prefix, which is then renamed into place. When two
// processes install at once, the first rename wins and the other's copy is
// dropped. Installations under prefix abandoned long ago are removed.
func Install(parent, dir, marker, prefix string, fill func(tmp string) error) error {
	if _, err := os.Stat(marker); err == nil {
		return nil
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	RemoveAbandoned(parent, prefix)
	tmp, err := os.MkdirTemp(parent, prefix)
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := fill(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(marker); serr == nil {
			return nil // another process installed it first
		}
		return err
	}
	return nil
}

// RemoveAbandoned removes the directories under parent whose names start
// with prefix and that a process began more than an hour ago and never
// finished.
func RemoveAbandoned(parent, prefix string) {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > abandonedAfter {
			_ = os.RemoveAll(filepath.Join(parent, e.Name()))
		}
	}
}

// WriteAtomic writes data to path through a temporary file beside it and
// a rename, so that readers never see it half written.
func WriteAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// LastLines returns the last n lines of s, for the tail of a tool's output
// in an error.
func LastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// WriteOnce writes data to path, making its directory, unless a file is
// there already: for files whose names carry the Digest of their content.
func WriteOnce(path string, data []byte) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := WriteAtomic(path, data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Digest is a short hex digest (16 digits) of parts, for the names of
// installations and installed files: a new content, a new name.
func Digest(parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d\x00", len(p))
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// MinorVersion returns "3.11" for "3.11.7": the part of an interpreter's
// version that its installed packages are built for.
func MinorVersion(version string) string {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return version
	}
	return parts[0] + "." + parts[1]
}

// VersionLess reports whether the dotted version a is older than b,
// comparing the numbers b has ("3.11.7" is not older than "3.11").
func VersionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i, bp := range bs {
		bn, _ := strconv.Atoi(bp)
		an := 0
		if i < len(as) {
			an, _ = strconv.Atoi(as[i])
		}
		if an != bn {
			return an < bn
		}
	}
	return false
}
