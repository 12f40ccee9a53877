// Package runtimestest serves Python and Node.js releases for tests, laid
// out as python-build-standalone's GitHub releases and nodejs.org's /dist
// publish them: archives, their checksum files and nodejs.org's
// index.json, with small scripts standing in for the interpreters.
package runtimestest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Entry is one entry of a test archive; Type defaults to a regular file,
// Mode to 0644.
type Entry struct {
	Name, Body, Link string
	Mode             int64
	Type             byte
}

// Archive is entries as a gzip-compressed tar.
func Archive(t testing.TB, entries []Entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.Name, Mode: e.Mode, Size: int64(len(e.Body)), Typeflag: e.Type, Linkname: e.Link}
		if hdr.Typeflag == 0 {
			hdr.Typeflag = tar.TypeReg
		}
		if hdr.Mode == 0 {
			hdr.Mode = 0o644
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.Body)); err != nil {
			t.Fatal(err)
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

// Sum is b's hex SHA-256.
func Sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// Script is a shell script that prints out when asked for --version and
// otherwise runs exec with its arguments (nothing when exec is empty).
func Script(out, exec string) string {
	s := "#!/bin/sh\nif [ \"$1\" = --version ]; then echo '" + out + "'; exit 0; fi\n"
	if exec != "" {
		s += "exec '" + exec + "' \"$@\"\n"
	}
	return s
}

// Server serves files by path and counts the requests for each.
type Server struct {
	// URL is the server's; PythonMirror and NodeMirror are the base URLs
	// of its python-build-standalone releases and nodejs.org /dist.
	URL, PythonMirror, NodeMirror string

	srv    *httptest.Server
	mu     sync.Mutex
	files  map[string][]byte
	counts map[string]int
	node   []nodeRelease
}

type nodeRelease struct {
	Version string   `json:"version"`
	Files   []string `json:"files"`
}

// NewServer starts an empty server, closed when t ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{files: map[string][]byte{}, counts: map[string]int{}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.counts[r.URL.Path]++
		body, ok := s.files[r.URL.Path]
		s.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	}))
	t.Cleanup(s.srv.Close)
	s.URL = s.srv.URL
	s.PythonMirror = s.URL + "/python"
	s.NodeMirror = s.URL + "/dist"
	return s
}

// Client is the server's HTTP client.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Put serves body at path.
func (s *Server) Put(path string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[path] = body
}

// Get returns what is served at path.
func (s *Server) Get(path string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.files[path]
}

// Count is how many requests path had.
func (s *Server) Count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[path]
}

// PythonFile is the install_only archive's name of CPython version in
// release for triple ("aarch64-unknown-linux-gnu").
func PythonFile(release, version, triple string) string {
	return "cpython-" + version + "+" + release + "-" + triple + "-install_only.tar.gz"
}

// PythonPath is where the server serves a file of a release.
func PythonPath(release, file string) string { return "/python/" + release + "/" + file }

// AddPython publishes CPython version in release for triple: python/ with
// bin/python3.X, a script that says "Python <version>" and otherwise runs
// exec, the python3 link to it and a file in lib/, listed in the release's
// SHA256SUMS. It returns the archive.
func (s *Server) AddPython(t testing.TB, release, version, triple, exec string) []byte {
	t.Helper()
	minor := version[:strings.LastIndexByte(version, '.')]
	body := Archive(t, []Entry{
		{Name: "python/bin/python" + minor, Body: Script("Python "+version, exec), Mode: 0o755},
		{Name: "python/bin/python3", Type: tar.TypeSymlink, Link: "python" + minor},
		{Name: "python/lib/python" + minor + "/os.py", Body: "# the standard library\n"},
	})
	file := PythonFile(release, version, triple)
	s.Put(PythonPath(release, file), body)
	sums := PythonPath(release, "SHA256SUMS")
	s.Put(sums, append(s.Get(sums), fmt.Sprintf("%s  %s\n", Sum(body), file)...))
	return body
}

// NodeFile is the Linux tarball's name of Node.js version for arch ("arm64",
// "x64").
func NodeFile(version, arch string) string { return "node-v" + version + "-linux-" + arch + ".tar.gz" }

// NodePath is where the server serves a file of a Node.js version.
func NodePath(version, file string) string { return "/dist/v" + version + "/" + file }

// AddNode publishes Node.js version for arch: node-vX.Y.Z-linux-<arch>/
// with bin/node, a script that says "v<version>" and otherwise runs exec,
// and bin/npm linked into lib/node_modules, listed in its SHASUMS256.txt
// and in index.json (newest first). It returns the archive.
func (s *Server) AddNode(t testing.TB, version, arch, exec string) []byte {
	t.Helper()
	top := "node-v" + version + "-linux-" + arch + "/"
	body := Archive(t, []Entry{
		{Name: top + "bin/node", Body: Script("v"+version, exec), Mode: 0o755},
		{Name: top + "lib/node_modules/npm/bin/npm-cli.js", Body: "#!/bin/sh\necho npm of " + version + "\n", Mode: 0o755},
		{Name: top + "bin/npm", Type: tar.TypeSymlink, Link: "../lib/node_modules/npm/bin/npm-cli.js"},
	})
	file := NodeFile(version, arch)
	s.Put(NodePath(version, file), body)
	sums := NodePath(version, "SHASUMS256.txt")
	s.Put(sums, append(s.Get(sums), fmt.Sprintf("%s  %s\n", Sum(body), file)...))
	s.AddNodeRelease(version, "linux-"+arch)
	return body
}

// AddNodeRelease lists version in index.json with builds for files
// ("linux-arm64"), keeping it newest first as nodejs.org does.
func (s *Server) AddNodeRelease(version string, files ...string) {
	s.mu.Lock()
	for i, r := range s.node {
		if r.Version == "v"+version {
			s.node[i].Files = append(s.node[i].Files, files...)
			files = nil
		}
	}
	if files != nil {
		s.node = append(s.node, nodeRelease{Version: "v" + version, Files: files})
	}
	sortNewestFirst(s.node)
	index, _ := json.Marshal(s.node)
	s.mu.Unlock()
	s.Put("/dist/index.json", index)
}

func sortNewestFirst(rs []nodeRelease) {
	slices.SortFunc(rs, func(a, b nodeRelease) int {
		as, bs := strings.Split(strings.TrimPrefix(a.Version, "v"), "."), strings.Split(strings.TrimPrefix(b.Version, "v"), ".")
		for i := range min(len(as), len(bs)) {
			x, _ := strconv.Atoi(as[i])
			y, _ := strconv.Atoi(bs[i])
			if x != y {
				return y - x
			}
		}
		return len(bs) - len(as)
	})
}
