// Package indexestest serves a private Python package index (PEP 503's
// simple API, wanting basic auth) and a private npm registry (wanting a
// bearer token) for tests, each holding one package, "tiny".
package indexestest

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// Server is both indexes.
type Server struct {
	// URL is the server's; Host its host:port. PipIndex is the Python
	// index's URL (for PIP_INDEX_URL), NpmRegistry the registry's.
	URL, Host, PipIndex, NpmRegistry string
	// Refused counts requests that came without the credentials.
	Refused atomic.Int64
}

// Start serves the indexes until t ends: the Python index wants user and
// password, the npm registry token.
func Start(t testing.TB, user, password, token string) *Server {
	t.Helper()
	wheel, tarball := Wheel(t), tarball(t)
	s := &Server{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/simple/"), strings.HasPrefix(r.URL.Path, "/files/"):
			if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
				s.Refused.Add(1)
				w.Header().Set("WWW-Authenticate", `Basic realm="pypi"`)
				http.Error(w, "who are you?", http.StatusUnauthorized)
				return
			}
			if r.URL.Path == "/files/tiny-1.0-py3-none-any.whl" {
				w.Write(wheel)
				return
			}
			if r.URL.Path != "/simple/tiny/" {
				http.NotFound(w, r)
				return
			}
			sum := sha256.Sum256(wheel)
			fmt.Fprintf(w, `<html><body><a href="/files/tiny-1.0-py3-none-any.whl#sha256=%s">tiny-1.0-py3-none-any.whl</a></body></html>`, hex.EncodeToString(sum[:]))
		case strings.HasPrefix(r.URL.Path, "/npm/"):
			if r.Header.Get("Authorization") != "Bearer "+token {
				s.Refused.Add(1)
				http.Error(w, `{"error": "who are you?"}`, http.StatusUnauthorized)
				return
			}
			if strings.HasSuffix(r.URL.Path, ".tgz") {
				w.Write(tarball)
				return
			}
			if r.URL.Path != "/npm/tiny" {
				http.NotFound(w, r)
				return
			}
			sha1sum, sha512sum := sha1.Sum(tarball), sha512.Sum512(tarball)
			json.NewEncoder(w).Encode(map[string]any{
				"name": "tiny", "dist-tags": map[string]string{"latest": "1.0.0"},
				"versions": map[string]any{"1.0.0": map[string]any{"name": "tiny", "version": "1.0.0", "dist": map[string]string{
					"tarball":   s.URL + "/npm/tiny/-/tiny-1.0.0.tgz",
					"shasum":    hex.EncodeToString(sha1sum[:]),
					"integrity": "sha512-" + base64.StdEncoding.EncodeToString(sha512sum[:]),
				}}},
			})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	s.Host = strings.TrimPrefix(srv.URL, "http://")
	s.PipIndex = srv.URL + "/simple"
	s.NpmRegistry = srv.URL + "/npm/"
	return s
}

// Wheel is a pure-Python wheel of the package "tiny" 1.0 (tiny/__init__.py
// sets X = 1).
func Wheel(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range [][2]string{
		{"tiny/__init__.py", "X = 1\n"},
		{"tiny-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: tiny\nVersion: 1.0\n"},
		{"tiny-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
		{"tiny-1.0.dist-info/RECORD", "tiny/__init__.py,,\ntiny-1.0.dist-info/METADATA,,\ntiny-1.0.dist-info/WHEEL,,\ntiny-1.0.dist-info/RECORD,,\n"},
	} {
		w, err := zw.Create(f[0])
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(f[1]))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tarball is npm's tarball of the package "tiny" 1.0.0.
func tarball(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	body := `{"name": "tiny", "version": "1.0.0", "main": "index.js"}`
	index := "module.exports = 1;\n"
	for name, b := range map[string]string{"package/package.json": body, "package/index.js": index} {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b))}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(b))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
