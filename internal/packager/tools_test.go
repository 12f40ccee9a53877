package packager_test

import (
	"archive/zip"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// venvBin is where .ci/run installs the Python tools the tests use
// (aws-sam-cli, uv) from requirements-test.txt, relative to this package.
const venvBin = "../../.venv/bin"

// downloadCache is where the tests' pip, npm and uv keep their downloads
// between runs: under the user's cache folder, shared by every test.
func downloadCache(t *testing.T) string {
	t.Helper()
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "stackflow-test")
}

// toolPath is the packager's ToolPath in tests: venvBin when it is there.
func toolPath(t testing.TB) []string {
	t.Helper()
	abs, err := filepath.Abs(venvBin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(abs); err != nil {
		return nil
	}
	return []string{abs}
}

// zipFiles returns a zip's files by name.
func zipFiles(t *testing.T, b []byte) map[string]*zip.File {
	t.Helper()
	out := map[string]*zip.File{}
	for _, f := range unzip(t, b) {
		out[f.Name] = f
	}
	return out
}

// names returns the sorted keys of files that start with prefix.
func names(files map[string]*zip.File, prefix string) []string {
	var out []string
	for n := range files {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// machine is the ELF machine of the zip's file f.
func machine(t *testing.T, f *zip.File) elf.Machine {
	t.Helper()
	e, err := elf.NewFile(bytes.NewReader(read(t, f)))
	if err != nil {
		t.Fatalf("%s: %v", f.Name, err)
	}
	return e.Machine
}

// setupTools is setup with the Python and Node.js tools of toolPath and
// the shared download cache.
func setupTools(t *testing.T) fixture {
	t.Helper()
	f := setup(t)
	f.svc.ToolPath, f.svc.DownloadCache = toolPath(t), downloadCache(t)
	return f
}

// packageAgain packages in a second time and checks that every zip of
// first is reused, unchanged, and the template is the same.
func packageAgain(t *testing.T, f fixture, in pipeline.PackageInput, first pipeline.Package) {
	t.Helper()
	again, err := f.svc.Handle(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf(": 0 built, %d reused", len(first.Functions)); !strings.HasSuffix(again.Summary, want) {
		t.Errorf("got summary %q, want ...%s", again.Summary, want)
	}
	for i, fn := range again.Functions {
		if fn.Key != first.Functions[i].Key {
			t.Errorf("%s: got zip %s, want the first run's %s", fn.Name, fn.Key, first.Functions[i].Key)
		}
	}
	if got, want := string(f.get(t, again.TemplateKey)), string(f.get(t, first.TemplateKey)); got != want {
		t.Errorf("second packaged template differs:\n%s\nwant\n%s", got, want)
	}
}

// packageFails packages files and returns the PackageFailed it must end
// with.
func packageFails(t *testing.T, files map[string]string) *pipeline.PackageFailed {
	t.Helper()
	f := setupTools(t)
	_, err := f.svc.Handle(context.Background(), f.source(t, files))
	var pf *pipeline.PackageFailed
	if !errors.As(err, &pf) {
		t.Fatalf("got error %v, want PackageFailed", err)
	}
	return pf
}

// writeFiles writes files (by slash path) under dir.
func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// dirFiles reads every file under dir, following links, into a map by
// slash path, each name prefixed with prefix. Dangling links are left out.
func dirFiles(t testing.TB, dir, prefix string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil // a dangling link
		}
		rel, _ := filepath.Rel(dir, p)
		out[prefix+filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
