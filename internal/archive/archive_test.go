package archive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

type file struct {
	name, body, link string
	typ              byte
	mode             int64
}

func tarball(t *testing.T, files ...file) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, f := range files {
		typ := f.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		mode := f.mode
		if mode == 0 {
			mode = 0o644
		}
		hdr := &tar.Header{Name: f.name, Typeflag: typ, Mode: mode, Size: int64(len(f.body)), Linkname: f.link}
		if typ != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			if _, err := tw.Write([]byte(f.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestExtract(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files []file
		want  map[string]string // path -> content ("->x" for a link to x)
	}{
		{
			name: "bitbucket top directory is stripped",
			files: []file{
				{name: "acme-hello-0123456789ab/", typ: tar.TypeDir},
				{name: "acme-hello-0123456789ab/go.mod", body: "module hello\n"},
				{name: "acme-hello-0123456789ab/cmd/main.go", body: "package main\n"},
				{name: "acme-hello-0123456789ab/run.sh", body: "#!/bin/sh\n", mode: 0o755},
				{name: "acme-hello-0123456789ab/link", typ: tar.TypeSymlink, link: "cmd/main.go"},
			},
			want: map[string]string{"go.mod": "module hello\n", "cmd/main.go": "package main\n", "run.sh": "#!/bin/sh\n", "link": "->cmd/main.go"},
		},
		{
			name: "no top directory when files sit at the root",
			files: []file{
				{name: "api/", typ: tar.TypeDir},
				{name: "api/x.go", body: "x"},
				{name: "README.md", body: "r"},
			},
			want: map[string]string{"api/x.go": "x", "README.md": "r"},
		},
		{
			name: "top directory whose child has its name",
			files: []file{
				{name: "p/", typ: tar.TypeDir},
				{name: "p/p/a", body: "a"},
			},
			want: map[string]string{"p/a": "a"},
		},
		{
			name: "hard link inside the tree",
			files: []file{
				{name: "t/a", body: "a"},
				{name: "t/b", typ: tar.TypeLink, link: "t/a"},
			},
			want: map[string]string{"a": "a", "b": "a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := Extract(bytes.NewReader(tarball(t, tt.files...)), dir, DefaultLimits); err != nil {
				t.Fatalf("Extract: %v", err)
			}
			for p, want := range tt.want {
				full := filepath.Join(dir, p)
				if len(want) > 2 && want[:2] == "->" {
					got, err := os.Readlink(full)
					if err != nil || got != want[2:] {
						t.Errorf("link %s = %q, %v; want %q", p, got, err, want[2:])
					}
					continue
				}
				got, err := os.ReadFile(full)
				if err != nil || string(got) != want {
					t.Errorf("%s = %q, %v; want %q", p, got, err, want)
				}
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if _, ok := tt.want[e.Name()]; !ok && !hasPrefixKey(tt.want, e.Name()+"/") {
					t.Errorf("unexpected entry %q in the extracted tree", e.Name())
				}
			}
		})
	}
}

func hasPrefixKey(m map[string]string, prefix string) bool {
	for k := range m {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			return true
		}
	}
	return false
}

func TestExtractKeepsExecutableBit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := tarball(t, file{name: "r/run.sh", body: "x", mode: 0o755}, file{name: "r/a.txt", body: "y"})
	if err := Extract(bytes.NewReader(data), dir, DefaultLimits); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "run.sh"))
	if err != nil || fi.Mode().Perm()&0o100 == 0 {
		t.Fatalf("run.sh mode = %v, %v; want executable", fi.Mode(), err)
	}
}

func TestExtractRefusesUnsafe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files []file
		lim   Limits
	}{
		{name: "absolute path", files: []file{{name: "/etc/passwd", body: "x"}}},
		{name: "dot dot", files: []file{{name: "top/../../evil", body: "x"}}},
		{name: "dot dot in the middle", files: []file{{name: "top/a/../../../evil", body: "x"}}},
		{name: "absolute symlink", files: []file{{name: "top/l", typ: tar.TypeSymlink, link: "/etc/passwd"}}},
		{name: "symlink out of the tree", files: []file{{name: "top/l", typ: tar.TypeSymlink, link: "../../x"}}},
		{name: "symlink out of the stripped top", files: []file{{name: "top/", typ: tar.TypeDir}, {name: "top/l", typ: tar.TypeSymlink, link: "../elsewhere"}}},
		{name: "hard link out of the tree", files: []file{{name: "top/l", typ: tar.TypeLink, link: "../x"}}},
		{name: "device", files: []file{{name: "top/dev", typ: tar.TypeChar}}},
		{name: "too large", files: []file{{name: "a", body: "0123456789"}}, lim: Limits{MaxBytes: 5, MaxFiles: 10}},
		{name: "too many files", files: []file{{name: "a", body: "1"}, {name: "b", body: "2"}, {name: "c", body: "3"}}, lim: Limits{MaxBytes: 100, MaxFiles: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lim := tt.lim
			if lim == (Limits{}) {
				lim = DefaultLimits
			}
			parent := t.TempDir()
			dir := filepath.Join(parent, "src")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			err := Extract(bytes.NewReader(tarball(t, tt.files...)), dir, lim)
			if !errors.Is(err, ErrUnsafe) {
				t.Fatalf("Extract error = %v, want ErrUnsafe", err)
			}
			for _, name := range []string{"evil", "x", "elsewhere"} {
				if _, err := os.Lstat(filepath.Join(parent, name)); err == nil {
					t.Errorf("%s was written outside the tree", name)
				}
			}
		})
	}
}

func TestExtractNotGzip(t *testing.T) {
	t.Parallel()
	if err := Extract(bytes.NewReader([]byte("not an archive")), t.TempDir(), DefaultLimits); err == nil {
		t.Fatal("Extract of plain text succeeded, want an error")
	}
}

func TestCreateIsReproducibleAndRoundTrips(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(src, "cmd"), 0o755))
	must(os.WriteFile(filepath.Join(src, "cmd", "main.go"), []byte("package main\n"), 0o644))
	must(os.WriteFile(filepath.Join(src, "go.mod"), []byte("module x\n"), 0o644))
	must(os.MkdirAll(filepath.Join(src, ".git"), 0o755))
	must(os.WriteFile(filepath.Join(src, ".git", "HEAD"), []byte("ref"), 0o644))
	skipGit := func(rel string) bool { return rel == ".git" }

	var a, b bytes.Buffer
	must(Create(&a, src, "acme-x-abc", skipGit))
	// Touch a file's time: the archive must not change.
	must(os.Chtimes(filepath.Join(src, "go.mod"), fixedTime.AddDate(5, 0, 0), fixedTime.AddDate(5, 0, 0)))
	must(Create(&b, src, "acme-x-abc", skipGit))
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two archives of the same tree differ")
	}
	out := t.TempDir()
	must(Extract(bytes.NewReader(a.Bytes()), out, DefaultLimits))
	if got, err := os.ReadFile(filepath.Join(out, "cmd", "main.go")); err != nil || string(got) != "package main\n" {
		t.Fatalf("cmd/main.go = %q, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(out, ".git")); err == nil {
		t.Fatal(".git was archived despite skip")
	}
}

func TestCreateLevel(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	body := bytes.Repeat([]byte("compressible "), 10_000)
	if err := os.WriteFile(filepath.Join(src, "data"), body, 0o644); err != nil {
		t.Fatal(err)
	}
	sizes := map[int]int{}
	for _, level := range []int{gzip.NoCompression, gzip.BestSpeed} {
		var buf bytes.Buffer
		if err := CreateLevel(&buf, src, "p", nil, level); err != nil {
			t.Fatal(err)
		}
		sizes[level] = buf.Len()
		out := t.TempDir()
		if err := Extract(&buf, out, DefaultLimits); err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(filepath.Join(out, "data")); err != nil || !bytes.Equal(got, body) {
			t.Errorf("level %d: round trip lost the file: %v", level, err)
		}
	}
	var buf bytes.Buffer
	if err := CreateLevel(&buf, src, "p", nil, 42); err == nil {
		t.Errorf("level 42: got no error")
	}
	if sizes[gzip.BestSpeed] >= sizes[gzip.NoCompression] {
		t.Errorf("got %d bytes at best speed, %d uncompressed: want fewer", sizes[gzip.BestSpeed], sizes[gzip.NoCompression])
	}
}
