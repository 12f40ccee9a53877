package runtimes

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stackflow/stackflow/internal/archive"
	"github.com/stackflow/stackflow/internal/pipeline"
	rt "github.com/stackflow/stackflow/internal/runtimes/runtimestest"
)

func TestParseRuntime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rt   string
		want Need
		ok   bool
	}{
		{"python3.12", Need{Python, "3.12"}, true},
		{"python3.9", Need{Python, "3.9"}, true},
		{"nodejs22.x", Need{Node, "22"}, true},
		{"nodejs24.x", Need{Node, "24"}, true},
		{"provided.al2023", Need{}, false},
		{"python3.", Need{}, false},
		{"python3.x", Need{}, false},
		{"nodejs22", Need{}, false},
		{"java21", Need{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseRuntime(tt.rt)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseRuntime(%q): got %+v, %v; want %+v, %v", tt.rt, got, ok, tt.want, tt.ok)
		}
		if ok && got.Runtime() != tt.rt {
			t.Errorf("%+v.Runtime(): got %q, want %q", got, got.Runtime(), tt.rt)
		}
	}
}

func TestNeeds(t *testing.T) {
	t.Parallel()
	got := Needs([]string{"nodejs20.x", "python3.9", "provided.al2023", "python3.12", "nodejs22.x", "python3.12", "go1.x"})
	want := []Need{{Python, "3.12"}, {Python, "3.9"}, {Node, "22"}, {Node, "20"}}
	if !slices.Equal(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

const (
	release = "20251031"
	triple  = "aarch64-unknown-linux-gnu"
)

var (
	pyFile   = rt.PythonFile(release, "3.12.12", triple)
	pyPath   = rt.PythonPath(release, pyFile)
	nodeFile = rt.NodeFile("22.12.0", "arm64")
)

// setup starts a mirror holding CPython 3.12.12 and Node.js 22.12.0 for
// arm64 and a few other releases: another build of CPython, Node.js 24,
// a newer 22 with no arm64 build, older ones.
func setup(t *testing.T) *rt.Server {
	t.Helper()
	m := rt.NewServer(t)
	m.AddPython(t, release, "3.12.12", "x86_64-unknown-linux-gnu", "")
	m.AddPython(t, release, "3.12.12", triple, "")
	m.AddNode(t, "20.18.1", "arm64", "")
	m.AddNode(t, "22.11.0", "arm64", "")
	m.AddNode(t, "22.12.0", "arm64", "")
	m.AddNode(t, "22.13.0", "x64", "") // no arm64 build
	m.AddNode(t, "24.1.0", "arm64", "")
	return m
}

func options(t *testing.T, m *rt.Server, store Store) Options {
	return Options{
		CacheDir:   t.TempDir(),
		Store:      store,
		Mirrors:    map[Language]string{Python: m.PythonMirror, Node: m.NodeMirror},
		HTTPClient: m.Client(),
		Arch:       "arm64",
	}
}

// memStore is the artifact bucket in memory.
type memStore struct {
	mu      sync.Mutex
	objects map[string][]byte
}

func newStore() *memStore { return &memStore{objects: map[string][]byte{}} }

func (s *memStore) Open(_ context.Context, key string) (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.objects[key]
	if !ok {
		return nil, errors.New("no such key")
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (s *memStore) PutFile(_ context.Context, key, path, _ string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects[key] = b
	return nil
}

var both = []Need{{Python, "3.12"}, {Node, "22"}}

// run runs exe --version and returns its output.
func run(t *testing.T, exe string) string {
	t.Helper()
	out, err := exec.Command(exe, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("run %s: %v: %s", exe, err, out)
	}
	return strings.TrimSpace(string(out))
}

// A cold start downloads and verifies each tool, unpacks it, and keeps the
// archive in the bucket; a warm start finds it unpacked; another cold
// start takes it from the bucket, not the mirror.
func TestFetchDownloadsVerifiesAndKeeps(t *testing.T) {
	t.Parallel()
	m := setup(t)
	store := newStore()
	opts := options(t, m, store)
	ctx := context.Background()

	tools, err := Resolve(ctx, both, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(tools) != 2 {
		t.Fatalf("got %d tools, want 2", len(tools))
	}
	py, node := tools[0], tools[1]
	if py.Version != "3.12.12" || !strings.HasPrefix(py.Origin, "downloaded and verified against SHA256SUMS") || py.Host {
		t.Errorf("python: got %+v, want 3.12.12 downloaded and verified", py)
	}
	if got := run(t, filepath.Join(py.Bin, "python3")); got != "Python 3.12.12" {
		t.Errorf("bin/python3 says %q", got)
	}
	if py.Exe != filepath.Join(py.Bin, "python3.12") {
		t.Errorf("python: got exe %s, want bin/python3.12", py.Exe)
	}
	// The newest 22.x with an arm64 build: not 22.13.0 (x64 only), not 24.
	if node.Version != "22.12.0" || !strings.HasPrefix(node.Origin, "downloaded and verified against SHASUMS256.txt") {
		t.Errorf("node: got %+v, want 22.12.0 downloaded and verified", node)
	}
	if got := run(t, node.Exe); got != "v22.12.0" {
		t.Errorf("node says %q", got)
	}
	if target, err := os.Readlink(filepath.Join(node.Bin, "npm")); err != nil || target != "../lib/node_modules/npm/bin/npm-cli.js" {
		t.Errorf("bin/npm: got link %q, %v; want it kept", target, err)
	}
	for _, line := range []string{py.String(), node.String()} {
		if !strings.Contains(line, "downloaded and verified") {
			t.Errorf("log line %q: want it to say so", line)
		}
	}
	for _, file := range []string{pyFile, nodeFile} {
		if _, ok := store.objects[pipeline.ToolchainKey(file)]; !ok {
			t.Errorf("%s not kept in the bucket", file)
		}
	}

	// A warm start: nothing fetched but the index.
	again, err := Resolve(ctx, both, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range again {
		if tool.Origin != "cached" {
			t.Errorf("%s: got origin %q, want cached", tool.Need.Runtime(), tool.Origin)
		}
	}
	if n := m.Count(pyPath); n != 1 {
		t.Errorf("CPython downloaded %d times, want 1", n)
	}

	// A cold start elsewhere: from the bucket, checked again.
	cold := options(t, m, store)
	tools, err = Resolve(ctx, both, cold)
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range tools {
		if tool.Origin != "from the artifact bucket and verified against "+sources[tool.Need.Language].sums {
			t.Errorf("%s: got origin %q, want from the bucket", tool.Need.Runtime(), tool.Origin)
		}
	}
	if n := m.Count(rt.NodePath("22.12.0", nodeFile)); n != 1 {
		t.Errorf("Node.js downloaded %d times, want 1", n)
	}
}

// A bucket copy that is not what was published is not used: the mirror's
// is, and the step says why.
func TestFetchRefusesABadBucketCopy(t *testing.T) {
	t.Parallel()
	m := setup(t)
	store := newStore()
	other := rt.NewServer(t)
	store.objects[pipeline.ToolchainKey(pyFile)] = other.AddPython(t, release, "3.12.11", triple, "")
	tools, err := Resolve(context.Background(), []Need{{Python, "3.12"}}, options(t, m, store))
	if err != nil {
		t.Fatal(err)
	}
	if got := tools[0]; !strings.HasPrefix(got.Origin, "downloaded") || !strings.Contains(got.Note, "not the published") {
		t.Errorf("got origin %q, note %q; want downloaded, the bucket's copy refused", got.Origin, got.Note)
	}
	if got := store.objects[pipeline.ToolchainKey(pyFile)]; rt.Sum(got) != rt.Sum(m.Get(pyPath)) {
		t.Error("the bad copy in the bucket was not replaced by the verified one")
	}
}

func TestFetchRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// archive replaces the published CPython archive; sums, when
		// set, replaces its checksum file.
		archive []rt.Entry
		sums    string
		need    Need
		wantErr error
		want    string
	}{
		{
			name:    "archive that is not the published one",
			archive: []rt.Entry{{Name: "python/bin/python3.12", Body: rt.Script("Python 3.12.12", ""), Mode: 0o755}},
			sums:    "0000000000000000000000000000000000000000000000000000000000000000  " + pyFile + "\n",
			wantErr: ErrChecksum,
			want:    "refused",
		},
		{
			name:    "entry climbing out with ..",
			archive: []rt.Entry{{Name: "python/../../evil", Body: "x"}},
			wantErr: archive.ErrUnsafe,
			want:    "climbs out",
		},
		{
			name:    "absolute entry",
			archive: []rt.Entry{{Name: "/etc/evil", Body: "x"}},
			wantErr: archive.ErrUnsafe,
			want:    "absolute",
		},
		{
			name: "link out of the tree",
			archive: []rt.Entry{
				{Name: "python/bin/python3.12", Body: rt.Script("Python 3.12.12", ""), Mode: 0o755},
				{Name: "python/bin/evil", Type: tar.TypeSymlink, Link: "../../../../etc/passwd"},
			},
			wantErr: archive.ErrUnsafe,
			want:    "out of the tree",
		},
		{
			name:    "interpreter of another version",
			archive: []rt.Entry{{Name: "python/bin/python3.12", Body: rt.Script("Python 3.12.1", ""), Mode: 0o755}},
			want:    "want version 3.12.12",
		},
		{
			name: "archive not in the checksum file",
			sums: rt.Sum([]byte("x")) + "  cpython-3.12.12+20251031-x86_64-unknown-linux-gnu-install_only.tar.gz\n",
			want: "SHA256SUMS of python-build-standalone 20251031 lists no " + pyFile,
		},
		{
			name: "runtime with no build",
			need: Need{Python, "3.9"},
			want: "python3.9: no CPython build for it",
		},
		{
			name: "Node.js major with no release",
			need: Need{Node, "18"},
			want: "index.json lists no Node.js 18 release for linux-arm64",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := setup(t)
			if tt.archive != nil {
				body := rt.Archive(t, tt.archive)
				m.Put(pyPath, body)
				m.Put(rt.PythonPath(release, "SHA256SUMS"), []byte(rt.Sum(body)+"  "+pyFile+"\n"))
			}
			if tt.sums != "" {
				m.Put(rt.PythonPath(release, "SHA256SUMS"), []byte(tt.sums))
			}
			need := tt.need
			if need == (Need{}) {
				need = Need{Python, "3.12"}
			}
			store := newStore()
			opts := options(t, m, store)
			_, err := Resolve(context.Background(), []Need{need}, opts)
			if err == nil {
				t.Fatal("got no error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("got %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want it to say %q", err, tt.want)
			}
			// Nothing refused is left to use or kept.
			entries, _ := os.ReadDir(opts.CacheDir)
			for _, e := range entries {
				t.Errorf("cache directory holds %s after a refusal", e.Name())
			}
			if len(store.objects) != 0 {
				t.Errorf("bucket holds %d objects after a refusal", len(store.objects))
			}
			if _, err := os.Stat("/etc/evil"); err == nil {
				t.Error("an absolute entry was written")
			}
		})
	}
}

func TestFetchReportsAMissingMirror(t *testing.T) {
	t.Parallel()
	m := setup(t)
	opts := options(t, m, nil)
	opts.Mirrors[Node] = m.URL + "/nowhere"
	_, err := Resolve(context.Background(), []Need{{Node, "22"}}, opts)
	if err == nil || !strings.Contains(err.Error(), "/nowhere/index.json: 404") {
		t.Errorf("got %v, want the index's 404", err)
	}
}

// The real sources' URLs, as their sites publish them.
func TestAssets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		lang                  Language
		version, arch         string
		file, archive, sumURL string
	}{
		{
			Python, "3.12.12", "arm64",
			"cpython-3.12.12+20251031-aarch64-unknown-linux-gnu-install_only.tar.gz",
			"https://github.com/astral-sh/python-build-standalone/releases/download/20251031/cpython-3.12.12%2B20251031-aarch64-unknown-linux-gnu-install_only.tar.gz",
			"https://github.com/astral-sh/python-build-standalone/releases/download/20251031/SHA256SUMS",
		},
		{
			Python, "3.14.0", "amd64",
			"cpython-3.14.0+20251031-x86_64-unknown-linux-gnu-install_only.tar.gz",
			"https://github.com/astral-sh/python-build-standalone/releases/download/20251031/cpython-3.14.0%2B20251031-x86_64-unknown-linux-gnu-install_only.tar.gz",
			"https://github.com/astral-sh/python-build-standalone/releases/download/20251031/SHA256SUMS",
		},
		{
			Node, "22.12.0", "arm64",
			"node-v22.12.0-linux-arm64.tar.gz",
			"https://nodejs.org/dist/v22.12.0/node-v22.12.0-linux-arm64.tar.gz",
			"https://nodejs.org/dist/v22.12.0/SHASUMS256.txt",
		},
		{
			Node, "24.1.0", "amd64",
			"node-v24.1.0-linux-x64.tar.gz",
			"https://nodejs.org/dist/v24.1.0/node-v24.1.0-linux-x64.tar.gz",
			"https://nodejs.org/dist/v24.1.0/SHASUMS256.txt",
		},
	}
	for _, tt := range tests {
		src := sources[tt.lang]
		file, archive, sums, err := src.asset(src.mirror, tt.version, tt.arch)
		if err != nil || file != tt.file || archive != tt.archive || sums != tt.sumURL {
			t.Errorf("%s %s %s: got %s %s %s %v\nwant %s %s %s", tt.lang, tt.version, tt.arch, file, archive, sums, err, tt.file, tt.archive, tt.sumURL)
		}
	}
	for _, minor := range []string{"3.11", "3.12", "3.13", "3.14"} {
		if v, err := pythonVersion(context.Background(), nil, "", Need{Python, minor}); err != nil || !strings.HasPrefix(v, minor+".") {
			t.Errorf("python%s: got %q, %v; want a CPython %s.x build", minor, v, err, minor)
		}
	}
}

func TestParseSums(t *testing.T) {
	t.Parallel()
	body := []byte("aaaa  short\n" + strings.Repeat("a", 64) + "  one.tar.gz\n" + strings.Repeat("B", 64) + " *two.tar.gz\n")
	tests := []struct {
		file, want string
		ok         bool
	}{
		{"one.tar.gz", strings.Repeat("a", 64), true},
		{"two.tar.gz", strings.Repeat("b", 64), true},
		{"short", "", false},
		{"three.tar.gz", "", false},
	}
	for _, tt := range tests {
		if got, ok := parseSums(body, tt.file); got != tt.want || ok != tt.ok {
			t.Errorf("%s: got %q, %v; want %q, %v", tt.file, got, ok, tt.want, tt.ok)
		}
	}
}

// Locally the host's tools are used, whatever their version, with a
// warning when it is not the runtime's; a missing one is a warning too.
func TestHost(t *testing.T) {
	t.Parallel()
	bin := t.TempDir()
	write := func(name, out string) {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\nprintf '"+out+"'\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write("python3", "/opt/python/bin/python3.11\\n3.11.7\\n")
	write("python3.12", "/opt/python312/bin/python3.12\\n3.12.3\\n")
	write("node", "/opt/node/bin/node\\n20.20.2\\n")
	tests := []struct {
		need                 Need
		exe, version, bin    string
		warning              string
		wantWarning, missing bool
	}{
		{need: Need{Python, "3.12"}, exe: "/opt/python312/bin/python3.12", version: "3.12.3", bin: "/opt/python312/bin"},
		{need: Need{Python, "3.11"}, exe: "/opt/python/bin/python3.11", version: "3.11.7", bin: "/opt/python/bin"},
		{need: Need{Python, "3.13"}, exe: "/opt/python/bin/python3.11", version: "3.11.7", bin: "/opt/python/bin",
			warning: "python3.13 functions run on Python 3.13 on Lambda; the checks run on this machine's Python 3.11.7"},
		{need: Need{Node, "22"}, exe: "/opt/node/bin/node", version: "20.20.2", bin: bin,
			warning: "nodejs22.x functions run on Node.js 22 on Lambda; the checks run on this machine's Node.js 20.20.2"},
		{need: Need{Node, "20"}, exe: "/opt/node/bin/node", version: "20.20.2", bin: bin},
	}
	for _, tt := range tests {
		tools, err := Resolve(context.Background(), []Need{tt.need}, Options{Host: true, Path: bin})
		if err != nil {
			t.Fatal(err)
		}
		got := tools[0]
		if got.Exe != tt.exe || got.Version != tt.version || got.Bin != tt.bin || got.Warning != tt.warning || !got.Host {
			t.Errorf("%s: got %+v\nwant exe %s, version %s, bin %s, warning %q", tt.need.Runtime(), got, tt.exe, tt.version, tt.bin, tt.warning)
		}
		if want := "this machine's"; !strings.Contains(got.String(), want) || !strings.Contains(got.String(), tt.version) {
			t.Errorf("%s: log line %q, want it to say %q and the version", tt.need.Runtime(), got.String(), want)
		}
	}

	tools, err := Resolve(context.Background(), []Need{{Node, "22"}}, Options{Host: true, Path: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if got := tools[0]; got.Exe != "" || !strings.Contains(got.Warning, "no node on this machine's PATH") {
		t.Errorf("no node: got %+v, want a warning and no exe", got)
	}
}

// A venv of the host's Python has pip, and pip installs into it.
func TestVenv(t *testing.T) {
	t.Parallel()
	tools, err := Resolve(context.Background(), []Need{{Python, "3.11"}}, Options{Host: true})
	if err != nil {
		t.Fatal(err)
	}
	if tools[0].Exe == "" {
		t.Fatalf("no python3 on PATH: the tests need Python 3.11 or later (%s)", tools[0].Warning)
	}
	dir := filepath.Join(t.TempDir(), "venv")
	bin, err := tools[0].Venv(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"python", "python3", "pip", "pip3"} {
		if _, err := os.Stat(filepath.Join(bin, name)); err != nil {
			t.Errorf("venv lacks bin/%s: %v", name, err)
		}
	}
	out, err := exec.Command(filepath.Join(bin, "pip"), "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), filepath.Join(dir, "lib")) {
		t.Errorf("pip --version: got %s, %v; want pip from the venv", out, err)
	}
	out, err = exec.Command(filepath.Join(bin, "python"), "-c", "import sys; print(sys.prefix)").Output()
	if err != nil || strings.TrimSpace(string(out)) != dir {
		t.Errorf("sys.prefix: got %s, %v; want %s", out, err, dir)
	}
	if _, err := (Tool{Need: Need{Node, "22"}}).Venv(context.Background(), dir); err == nil {
		t.Error("a venv of Node.js: got no error")
	}
}
