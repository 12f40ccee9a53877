package packager

import (
	"archive/zip"
	"cmp"
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// excluded reports whether the file or folder called name is left out by
// one of patterns: shell patterns matched against each name at every
// depth, as Python's shutil.ignore_patterns, which aws-lambda-builders'
// CopySourceAction uses.
func excluded(name string, patterns []string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// treeEntries lists the files under dir for a zip, named prefix followed
// by their path under dir, with modes 0755 or 0644, leaving out the files
// and folders that excludes names. Links to files are followed; other
// links, and special files, are left out.
func treeEntries(dir, prefix string, excludes []string) ([]zipEntry, error) {
	var out []zipEntry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir && excluded(d.Name(), excludes) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			return nil // a dangling link or a special file: left out
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		mode := fs.FileMode(0o644)
		if fi.Mode()&0o111 != 0 {
			mode = 0o755
		}
		out = append(out, zipEntry{name: prefix + filepath.ToSlash(rel), path: p, mode: mode})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	slices.SortFunc(out, func(a, b zipEntry) int { return cmp.Compare(a.name, b.name) })
	return out, nil
}

// overlay merges lists of entries: a later list's entry replaces an
// earlier one of the same name, as copying the later files over the
// earlier ones would. The result is sorted by name.
func overlay(lists ...[]zipEntry) []zipEntry {
	byName := map[string]zipEntry{}
	for _, l := range lists {
		for _, e := range l {
			byName[e.name] = e
		}
	}
	out := make([]zipEntry, 0, len(byName))
	for _, e := range byName {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b zipEntry) int { return cmp.Compare(a.name, b.name) })
	return out
}

// copyTree copies the files under src into dst, leaving out what excludes
// names, as CopySourceAction does. Modes keep their executable bit.
func copyTree(src, dst string, excludes []string) error {
	entries, err := treeEntries(src, "", excludes)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := copyFile(e.path, filepath.Join(dst, filepath.FromSlash(e.name)), e.mode); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string, mode fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	return nil
}

// hashTree writes one line per file under dir that excludes leaves in:
// its path, whether it is executable and its content's SHA-256, in path
// order. It is the part of a build key that names a code directory.
func hashTree(w io.Writer, dir string, excludes []string) error {
	entries, err := treeEntries(dir, "", excludes)
	if err != nil {
		return err
	}
	files := fileHasher{}
	for _, e := range entries {
		sum, err := files.hash(e.path)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "file %q %o %s\n", e.name, e.mode, sum)
	}
	return nil
}

// unzipTo unpacks the zip at src into dst, keeping executable bits and
// refusing entries that would land outside dst.
func unzipTo(src, dst string) error {
	zr, err := zip.OpenReader(src)
	if err != nil {
		return fmt.Errorf("unzip %s: %w", filepath.Base(src), err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		name := path.Clean(f.Name)
		if f.Name == "" || strings.HasPrefix(f.Name, "/") || strings.Contains(f.Name, "\\") || name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("unzip %s: entry %q leaves the folder", filepath.Base(src), f.Name)
		}
		if f.FileInfo().IsDir() {
			continue
		}
		if !f.Mode().IsRegular() {
			continue // a link or a special file: wheels hold none
		}
		mode := fs.FileMode(0o644)
		if f.Mode()&0o111 != 0 {
			mode = 0o755
		}
		if err := unzipFile(f, filepath.Join(dst, filepath.FromSlash(name)), mode); err != nil {
			return fmt.Errorf("unzip %s: %w", filepath.Base(src), err)
		}
	}
	return nil
}

func unzipFile(f *zip.File, dst string, mode fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	r, err := f.Open()
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// machines are the ELF machines of the architectures Lambda runs.
var machines = map[string]elf.Machine{"x86_64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

// otherArchs are the words that name a folder of native code for other
// architectures than the key, as packages that ship prebuilt binaries for
// every platform name them (prebuilds/linux-x64, crc32-linux-arm64-gnu).
var otherArchs = map[string][]string{
	"arm64":  {"x64", "x86_64", "amd64", "ia32", "x86"},
	"x86_64": {"arm64", "aarch64", "arm", "armv7", "armhf"},
}

// foreignBinary returns the name of the first entry that is a shared
// object or Node.js addon built for another machine than arch (a C
// extension compiled on the build machine), "" when there is none. Files
// in a folder named for another architecture are a package's prebuilt
// binaries for other platforms, which it chooses among when it runs: they
// are let be.
func foreignBinary(entries []zipEntry, arch string) string {
	want := machines[arch]
	for _, e := range entries {
		base := path.Base(e.name)
		if !strings.HasSuffix(base, ".so") && !strings.HasSuffix(base, ".node") && !strings.Contains(base, ".so.") {
			continue
		}
		if forOtherArch(path.Dir(e.name), arch) {
			continue
		}
		f, err := elf.Open(e.path)
		if err != nil {
			continue // not ELF: not ours to judge
		}
		m := f.Machine
		f.Close()
		if m != want {
			return e.name
		}
	}
	return ""
}

// forOtherArch reports whether a folder of dir is named for another
// architecture than arch.
func forOtherArch(dir, arch string) bool {
	for _, part := range strings.Split(dir, "/") {
		for _, word := range strings.FieldsFunc(part, func(r rune) bool { return r == '-' || r == '_' || r == '.' }) {
			if slices.Contains(otherArchs[arch], strings.ToLower(word)) {
				return true
			}
		}
	}
	return false
}
