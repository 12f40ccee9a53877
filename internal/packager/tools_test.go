package packager_test

import (
	"archive/zip"
	"bytes"
	"debug/elf"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
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
