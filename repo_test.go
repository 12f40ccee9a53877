package stackflow_test

// Checks of what the repository tracks: source, never build outputs.

import (
	"bytes"
	"os"
	"os/exec"
	"path"
	"strings"
	"testing"
)

// maxTracked is the largest file the repository may track; lock files,
// which list every dependency, are the exception.
const maxTracked = 1 << 20

// lockFiles may be larger than maxTracked.
var lockFiles = map[string]bool{"package-lock.json": true, "go.sum": true, "uv.lock": true, "yarn.lock": true}

// binaryMagic are the first bytes of executables and object files of the
// platforms Go and the toolchains here build for.
var binaryMagic = []struct {
	name  string
	magic []byte
}{
	{"an ELF executable", []byte("\x7fELF")},
	{"a Mach-O executable", []byte{0xcf, 0xfa, 0xed, 0xfe}},
	{"a Mach-O executable", []byte{0xce, 0xfa, 0xed, 0xfe}},
	{"a Mach-O universal binary", []byte{0xca, 0xfe, 0xba, 0xbe}},
	{"a Windows executable", []byte("MZ")},
	{"a WebAssembly module", []byte("\x00asm")},
}

// trackedProblem says why a tracked file does not belong in the
// repository, or "" when it does.
func trackedProblem(name, mode string, head []byte, size int64) string {
	for _, b := range binaryMagic {
		if bytes.HasPrefix(head, b.magic) {
			return "is " + b.name + ": build outputs are never committed (add it to .gitignore)"
		}
	}
	if mode == "100755" && !bytes.HasPrefix(head, []byte("#!")) {
		return "is executable but not a script (no #! line)"
	}
	if size > maxTracked && !lockFiles[path.Base(name)] {
		return "is larger than 1 MiB: keep large data out of the repository"
	}
	return ""
}

func TestTrackedFilesAreSourceNotBuildOutputs(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("git", "ls-files", "--stage", "-z").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v (the test reads what the repository tracks: run it in a clone)", err)
	}
	files := 0
	for _, rec := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		// "<mode> <object> <stage>\t<path>"
		meta, name, ok := strings.Cut(rec, "\t")
		if !ok {
			t.Fatalf("git ls-files: unexpected record %q", rec)
		}
		mode, _, _ := strings.Cut(meta, " ")
		if mode == "120000" || mode == "160000" {
			continue // a symbolic link or a submodule: no content here
		}
		f, err := os.Open(name)
		if os.IsNotExist(err) {
			continue // deleted in the work tree, not yet committed
		}
		if err != nil {
			t.Fatal(err)
		}
		head := make([]byte, 8)
		n, _ := f.Read(head)
		fi, err := f.Stat()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		files++
		if p := trackedProblem(name, mode, head[:n], fi.Size()); p != "" {
			t.Errorf("%s %s", name, p)
		}
	}
	if files == 0 {
		t.Fatal("git ls-files listed no files")
	}
}

func TestTrackedProblem(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, file, mode string
		head             string
		size             int64
		want             string // a part of the problem; "" for none
	}{
		{"Go source", "main.go", "100644", "package ", 900, ""},
		{"a script", ".ci/run", "100755", "#!/usr/bin/env bash", 300, ""},
		{"a Linux binary", "webhook", "100755", "\x7fELF\x02\x01\x01\x00", 20 << 20, "ELF"},
		{"a Linux binary without the x bit", "bin/tool", "100644", "\x7fELF\x02\x01\x01\x00", 9000, "ELF"},
		{"a macOS binary", "stackflow", "100755", "\xcf\xfa\xed\xfe\x07\x00\x00\x01", 9000, "Mach-O"},
		{"a Windows binary", "stackflow.exe", "100644", "MZ\x90\x00", 9000, "Windows"},
		{"an executable that is no script", "tool", "100755", "data", 10, "not a script"},
		{"a large file", "testdata/big.json", "100644", "{\"a\":", 2 << 20, "larger than 1 MiB"},
		{"a large lock file", "internal/x/package-lock.json", "100644", "{\"a\":", 2 << 20, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := trackedProblem(tc.file, tc.mode, []byte(tc.head), tc.size)
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Errorf("got %q, want a problem containing %q", got, tc.want)
			}
		})
	}
}

// TestCIRunsTheREADMEsTestCommand: .ci/run runs exactly the test command
// the README gives a newcomer, so what CI passes is what they run.
func TestCIRunsTheREADMEsTestCommand(t *testing.T) {
	t.Parallel()
	want := readmeTestCommand(t)
	run, err := os.ReadFile(".ci/run")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(run)), "\n")
	if got := lines[len(lines)-1]; got != want {
		t.Errorf(".ci/run ends with %q, want the README's test command %q", got, want)
	}
}

// readmeTestCommand is the test command the README gives a newcomer: the
// line that ends in "# the whole test suite (what CI runs)".
func readmeTestCommand(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(readme), "\n") {
		if cmd, ok := strings.CutSuffix(line, "# the whole test suite (what CI runs)"); ok {
			return strings.TrimSpace(cmd)
		}
	}
	t.Fatal("README.md: no line ending in \"# the whole test suite (what CI runs)\" among its two commands")
	return ""
}

// TestTheTestCommandInstallsTheToolsAsPinned: the test command's pip
// installs only uv, at the version requirements-test.txt pins, and uv
// installs requirements-test.txt: every Python tool the tests run is the
// version that file pins.
func TestTheTestCommandInstallsTheToolsAsPinned(t *testing.T) {
	t.Parallel()
	cmd := readmeTestCommand(t)
	reqs, err := os.ReadFile("requirements-test.txt")
	if err != nil {
		t.Fatal(err)
	}
	var pinned string
	for _, line := range strings.Split(string(reqs), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "uv=="); ok {
			pinned = v
		}
	}
	if pinned == "" {
		t.Fatal("requirements-test.txt pins no uv (uv==VERSION): the test command installs the tools with it")
	}
	for _, want := range []string{
		".venv/bin/pip install -q uv==" + pinned + " &&",
		".venv/bin/uv pip install -q --python .venv/bin/python -r requirements-test.txt &&",
	} {
		if !strings.Contains(cmd, want) {
			t.Errorf("the README's test command %q does not run %q: pip installs uv as requirements-test.txt pins it (uv==%s), and uv the rest of that file", cmd, want, pinned)
		}
	}
}
