// Package archive unpacks commit archives (gzip-compressed tar, as Bitbucket
// serves them from /get/<sha>.tar.gz) safely, writes them, and saves
// downloads of archives and toolchains within a size limit (SaveLimited).
//
// Extraction refuses absolute paths, paths that climb out with "..", links
// that point out of the tree, special files, and archives over a size or
// file-count limit, so an archive can never write outside its directory or
// fill the disk.
package archive

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Limits bounds what Extract unpacks.
type Limits struct {
	// MaxBytes is the most file content, uncompressed, in bytes.
	MaxBytes int64
	// MaxFiles is the most entries.
	MaxFiles int
}

// DefaultLimits suit a source repository: 1 GiB and 100,000 entries.
var DefaultLimits = Limits{MaxBytes: 1 << 30, MaxFiles: 100_000}

// ErrUnsafe is wrapped by every refusal of an entry or an archive.
var ErrUnsafe = errors.New("unsafe archive")

// Extract unpacks the gzip-compressed tar r into dir, which must exist and be
// empty. When
// every entry lies under one top-level directory (Bitbucket names it
// <workspace>-<slug>-<sha12>), that directory is stripped so the repository's
// root lands in dir.
func Extract(r io.Reader, dir string, lim Limits) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("extract: not a gzip archive: %w", err)
	}
	defer zr.Close()
	return extractTar(zr, dir, lim)
}

type entry struct {
	hdr  *tar.Header
	name string
}

func extractTar(r io.Reader, dir string, lim Limits) error {
	root, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	// Entries are written where the archive puts them; the common top-level
	// directory is known only at the end, when it is stripped by moving its
	// children up. Links are made last, once that is known, so that no file
	// is written through a link and no link can point out of what remains.
	tr := tar.NewReader(r)
	var (
		top   string
		mixed bool
		total int64
		count int
		links []entry
	)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("extract: read archive: %w", err)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		count++
		if lim.MaxFiles > 0 && count > lim.MaxFiles {
			return fmt.Errorf("extract: more than %d entries: %w", lim.MaxFiles, ErrUnsafe)
		}
		name, err := cleanName(hdr.Name)
		if err != nil {
			return err
		}
		first, rest, _ := strings.Cut(name, "/")
		switch {
		case top == "" && !mixed:
			top = first
		case first != top:
			mixed = true
		}
		if rest == "" && hdr.Typeflag != tar.TypeDir {
			mixed = true // a file at the top level: nothing to strip
		}
		target := filepath.Join(root, filepath.FromSlash(name))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return fmt.Errorf("extract: %w", err)
			}
		case tar.TypeReg:
			total += hdr.Size
			if lim.MaxBytes > 0 && total > lim.MaxBytes {
				return fmt.Errorf("extract: more than %d bytes: %w", lim.MaxBytes, ErrUnsafe)
			}
			if err := writeFile(target, tr, hdr); err != nil {
				return err
			}
		case tar.TypeSymlink, tar.TypeLink:
			links = append(links, entry{hdr: hdr, name: name})
		default:
			return fmt.Errorf("extract: %q is a special file (type %q): %w", hdr.Name, hdr.Typeflag, ErrUnsafe)
		}
	}
	within := ""
	if !mixed && top != "" {
		within = top + "/"
	}
	for _, l := range links {
		if err := makeLink(root, within, l); err != nil {
			return err
		}
	}
	if within == "" {
		return nil
	}
	return stripTop(root, top)
}

// stripTop moves the children of root/top up into root and removes top.
func stripTop(root, top string) error {
	staged := filepath.Join(root, ".extract-"+top)
	if err := os.Rename(filepath.Join(root, top), staged); err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	children, err := os.ReadDir(staged)
	if err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	for _, c := range children {
		if err := os.Rename(filepath.Join(staged, c.Name()), filepath.Join(root, c.Name())); err != nil {
			return fmt.Errorf("extract: %w", err)
		}
	}
	if err := os.Remove(staged); err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	return nil
}

func cleanName(name string) (string, error) {
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "\\") || filepath.IsAbs(name) {
		return "", fmt.Errorf("extract: absolute or odd path %q: %w", name, ErrUnsafe)
	}
	clean := path.Clean(name)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("extract: path %q climbs out of the tree: %w", name, ErrUnsafe)
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", fmt.Errorf("extract: path %q climbs out of the tree: %w", name, ErrUnsafe)
		}
	}
	return clean, nil
}

func writeFile(target string, r io.Reader, hdr *tar.Header) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	mode := fs.FileMode(0o644)
	if hdr.Mode&0o111 != 0 {
		mode = 0o755
	}
	f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("extract %s: %w", hdr.Name, err)
	}
	if _, err := io.CopyN(f, r, hdr.Size); err != nil {
		f.Close()
		return fmt.Errorf("extract %s: %w", hdr.Name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("extract %s: %w", hdr.Name, err)
	}
	return nil
}

// makeLink makes the link l under root, refusing one whose target is not
// inside within (the top-level directory being stripped, or "" for all of
// root).
func makeLink(root, within string, l entry) error {
	target := filepath.Join(root, filepath.FromSlash(l.name))
	linkname := l.hdr.Linkname
	var resolved string
	if l.hdr.Typeflag == tar.TypeSymlink {
		if path.IsAbs(linkname) {
			return fmt.Errorf("extract: link %q points to absolute %q: %w", l.hdr.Name, linkname, ErrUnsafe)
		}
		resolved = path.Join(path.Dir(l.name), linkname)
	} else {
		resolved = path.Clean(linkname)
	}
	if resolved == ".." || strings.HasPrefix(resolved, "../") || path.IsAbs(resolved) ||
		(within != "" && !strings.HasPrefix(resolved+"/", within)) || resolved+"/" == within {
		return fmt.Errorf("extract: link %q points out of the tree (%q): %w", l.hdr.Name, linkname, ErrUnsafe)
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	if l.hdr.Typeflag == tar.TypeSymlink {
		if err := os.Symlink(linkname, target); err != nil {
			return fmt.Errorf("extract %s: %w", l.hdr.Name, err)
		}
		return nil
	}
	// A hard link's name is relative to the archive, prefix included.
	src := filepath.Join(root, filepath.FromSlash(resolved))
	if err := os.Link(src, target); err != nil {
		return fmt.Errorf("extract %s: %w", l.hdr.Name, err)
	}
	return nil
}

// Create writes dir as a gzip-compressed tar to w, every entry under the
// top-level directory prefix, in a reproducible order with fixed times. Only
// regular files, directories and symbolic links are written; skip, when not
// nil, leaves out the files and directories (relative, slash-separated
// paths) it reports true for.
func Create(w io.Writer, dir, prefix string, skip func(rel string) bool) error {
	return CreateLevel(w, dir, prefix, skip, gzip.DefaultCompression)
}

// CreateLevel is Create with the gzip compression level given, such as
// gzip.BestSpeed for large archives that are written often.
func CreateLevel(w io.Writer, dir, prefix string, skip func(rel string) bool, level int) error {
	zw, err := gzip.NewWriterLevel(w, level)
	if err != nil {
		return fmt.Errorf("archive %s: %w", dir, err)
	}
	tw := tar.NewWriter(zw)
	var paths []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel != "." && skip != nil && skip(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		paths = append(paths, rel)
		return nil
	})
	if err != nil {
		return fmt.Errorf("archive %s: %w", dir, err)
	}
	sort.Strings(paths)
	for _, rel := range paths {
		if err := addEntry(tw, dir, prefix, rel); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("archive %s: %w", dir, err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("archive %s: %w", dir, err)
	}
	return nil
}

func addEntry(tw *tar.Writer, dir, prefix, rel string) error {
	p := filepath.Join(dir, filepath.FromSlash(rel))
	fi, err := os.Lstat(p)
	if err != nil {
		return fmt.Errorf("archive %s: %w", rel, err)
	}
	name := path.Join(prefix, rel)
	hdr := &tar.Header{Name: name, ModTime: fixedTime, Format: tar.FormatPAX}
	switch {
	case fi.IsDir():
		hdr.Typeflag, hdr.Name, hdr.Mode = tar.TypeDir, name+"/", 0o755
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			return fmt.Errorf("archive %s: %w", rel, err)
		}
		hdr.Typeflag, hdr.Linkname, hdr.Mode = tar.TypeSymlink, target, 0o777
	case fi.Mode().IsRegular():
		hdr.Typeflag, hdr.Size, hdr.Mode = tar.TypeReg, fi.Size(), 0o644
		if fi.Mode()&0o111 != 0 {
			hdr.Mode = 0o755
		}
	default:
		return nil
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("archive %s: %w", rel, err)
	}
	if hdr.Typeflag != tar.TypeReg {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("archive %s: %w", rel, err)
	}
	defer f.Close()
	if _, err := io.Copy(tw, f); err != nil {
		return fmt.Errorf("archive %s: %w", rel, err)
	}
	return nil
}
