package packager

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// fixedTime is the modification time of every zip entry, so that the same
// files always give the same zip. It is the earliest time a zip can hold.
var fixedTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// goBuildArgs are the arguments of go build that build a function as sam
// build does for BuildMethod go1.x on a provided runtime, made reproducible:
// no file system paths, no VCS stamp, no symbol table.
func goBuildArgs(out string) []string {
	return []string{"build", "-tags", "lambda.norpc", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", out, "."}
}

// artifact is a local file about to be stored under its content hash.
type artifact struct {
	path string
	sha  string // hex SHA-256 of the file
	size int64
	ext  string // ".zip", ".json", ...
}

// zipEntry is one file to zip: its name in the zip and where it is.
type zipEntry struct {
	name string
	path string
	mode fs.FileMode
}

// writeZip zips entries, in the order given, into a new file in dir: every
// entry with a fixed time and its mode, compressed with Deflate, so the same
// files give the same bytes.
func writeZip(dir string, entries []zipEntry) (*artifact, error) {
	f, err := os.CreateTemp(dir, "*.zip")
	if err != nil {
		return nil, fmt.Errorf("zip: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	zw := zip.NewWriter(io.MultiWriter(f, h))
	for _, e := range entries {
		if err := addToZip(zw, e); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("zip: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("zip: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("zip: %w", err)
	}
	return &artifact{path: f.Name(), sha: hex.EncodeToString(h.Sum(nil)), size: fi.Size(), ext: ".zip"}, nil
}

func addToZip(zw *zip.Writer, e zipEntry) error {
	hdr := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: fixedTime}
	hdr.SetMode(e.mode)
	w, err := zw.CreateHeader(hdr)
	if err != nil {
		return fmt.Errorf("zip %s: %w", e.name, err)
	}
	src, err := os.Open(e.path)
	if err != nil {
		return fmt.Errorf("zip %s: %w", e.name, err)
	}
	defer src.Close()
	if _, err := io.Copy(w, src); err != nil {
		return fmt.Errorf("zip %s: %w", e.name, err)
	}
	return nil
}

// hashFile describes the file at path as an artifact with extension ext.
func hashFile(path, ext string) (*artifact, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return &artifact{path: path, sha: hex.EncodeToString(h.Sum(nil)), size: n, ext: ext}, nil
}
