package runtimes

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stackflow/stackflow/internal/pipeline"
	rt "github.com/stackflow/stackflow/internal/runtimes/runtimestest"
)

// uvFile is the test wheel's name, as PyPI names uv's arm64 wheel.
const uvFile = "uv-0.13.9-py3-none-manylinux_2_28_aarch64.whl"

// uvWheel is a wheel holding entries (name, body): the binary is
// uv-0.13.9.data/scripts/uv.
func uvWheel(t *testing.T, entries ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := 0; i+1 < len(entries); i += 2 {
		hdr := &zip.FileHeader{Name: entries[i], Method: zip.Deflate}
		hdr.SetMode(0o755)
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(entries[i+1]))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// goodUV is a wheel like uv's: the binary, and the package's Python files.
func goodUV(t *testing.T) []byte {
	return uvWheel(t,
		"uv-0.13.9.data/scripts/uv", rt.Script("uv 0.13.9 (aarch64-unknown-linux-gnu)", ""),
		"uv/__init__.py", "# find the binary\n",
		"uv-0.13.9.dist-info/METADATA", "Metadata-Version: 2.4\nName: uv\nVersion: 0.13.9\n")
}

// uvIndex serves body, a wheel, as PyPI's simple index lists uv's files (PEP 691
// JSON, the file's URL relative to the project page), with listed as its
// SHA-256, and returns options that fetch it for arm64 with pinned as the
// pinned SHA-256.
func uvIndex(t *testing.T, m *rt.Server, body []byte, listed, pinned string, store Store) Options {
	t.Helper()
	m.Put("/files/ab/cd/"+uvFile, body)
	m.Put("/simple/uv/", fmt.Appendf(nil, `{"meta": {"api-version": "1.1"}, "name": "uv", "files": [
		{"filename": "uv-0.13.8-py3-none-manylinux_2_28_aarch64.whl", "url": "../../files/00/00/uv-0.13.8.whl", "hashes": {"sha256": "00"}},
		{"filename": %q, "url": "../../files/ab/cd/%s", "hashes": {"sha256": %q}}]}`, uvFile, uvFile, listed))
	o := options(t, m, store)
	o.Mirrors[UV] = m.URL + "/simple"
	o.uvWheels = map[string]wheel{"arm64": {uvFile, pinned}}
	return o
}

var uvNeed = []Need{{UV, UVVersion}}

// A cold start finds uv's wheel on the index, checks it against the pinned
// SHA-256, unpacks the binary and keeps the wheel in the bucket; a warm
// start finds it unpacked; another cold start takes it from the bucket.
func TestFetchUV(t *testing.T) {
	t.Parallel()
	m := rt.NewServer(t)
	wheel := goodUV(t)
	store := newStore()
	opts := uvIndex(t, m, wheel, rt.Sum(wheel), rt.Sum(wheel), store)
	ctx := context.Background()

	tools, err := Resolve(ctx, uvNeed, opts)
	if err != nil {
		t.Fatal(err)
	}
	uv := tools[0]
	if uv.Version != UVVersion || uv.Origin != "downloaded and verified against the pinned SHA-256" || uv.Exe != filepath.Join(uv.Bin, "uv") {
		t.Errorf("got %+v, want uv %s downloaded and verified, bin/uv", uv, UVVersion)
	}
	if got := run(t, uv.Exe); got != "uv 0.13.9 (aarch64-unknown-linux-gnu)" {
		t.Errorf("uv says %q", got)
	}
	if fi, err := os.Stat(filepath.Join(filepath.Dir(uv.Bin), "uv", "__init__.py")); err == nil {
		t.Errorf("the wheel's Python files were unpacked too: %v", fi.Name())
	}
	if want := "python-uv: uv 0.13.9 from PyPI, downloaded and verified against the pinned SHA-256 in "; !strings.HasPrefix(uv.String(), want) {
		t.Errorf("log line %q, want it to start %q", uv.String(), want)
	}
	if got := store.objects[pipeline.ToolchainKey(uvFile)]; !bytes.Equal(got, wheel) {
		t.Error("the wheel is not kept in the bucket")
	}

	again, err := Resolve(ctx, uvNeed, opts)
	if err != nil {
		t.Fatal(err)
	}
	if again[0].Origin != "cached" {
		t.Errorf("warm start: got origin %q, want cached", again[0].Origin)
	}

	cold := opts
	cold.CacheDir = t.TempDir()
	tools, err = Resolve(ctx, uvNeed, cold)
	if err != nil {
		t.Fatal(err)
	}
	if got := tools[0].Origin; got != "from the artifact bucket and verified against the pinned SHA-256" {
		t.Errorf("cold start: got origin %q, want from the bucket", got)
	}
	if n := m.Count("/files/ab/cd/" + uvFile); n != 1 {
		t.Errorf("the wheel was downloaded %d times, want 1", n)
	}
}

// A wheel is used only when its SHA-256 is the pinned one, whatever the
// index or the bucket say, and only its uv binary is unpacked.
func TestFetchUVRefuses(t *testing.T) {
	t.Parallel()
	good := goodUV(t)
	other := uvWheel(t, "uv-0.13.9.data/scripts/uv", rt.Script("uv 0.13.9 (evil)", ""))
	tests := []struct {
		name           string
		wheel          []byte
		listed, pinned string // SHA-256s; "" is the served wheel's
		wantErr        error
		want           string
	}{
		{name: "the index lists another SHA-256", wheel: other, listed: rt.Sum(other), pinned: rt.Sum(good), wantErr: ErrChecksum,
			want: "the index lists SHA-256 " + rt.Sum(other) + ", but stackflow pins " + rt.Sum(good)},
		{name: "the index serves other bytes than it lists", wheel: other, listed: rt.Sum(good), pinned: rt.Sum(good), wantErr: ErrChecksum,
			want: "but stackflow pins " + rt.Sum(good) + ": refused"},
		{name: "no uv in the wheel", wheel: uvWheel(t, "uv/__init__.py", ""), want: "the wheel holds no <name>.data/scripts/uv"},
		{name: "a uv out of place", wheel: uvWheel(t, "../uv-0.13.9.data/scripts/uv", rt.Script("uv 0.13.9", "")), want: "holds no"},
		{name: "another version", wheel: uvWheel(t, "uv-0.13.9.data/scripts/uv", rt.Script("uv 0.14.0", "")), want: `says "uv 0.14.0", want uv 0.13.9`},
		{name: "not a wheel", wheel: []byte("<html>not found</html>"), want: "not a wheel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := rt.NewServer(t)
			listed, pinned := tt.listed, tt.pinned
			if listed == "" {
				listed = rt.Sum(tt.wheel)
			}
			if pinned == "" {
				pinned = rt.Sum(tt.wheel)
			}
			store := newStore()
			opts := uvIndex(t, m, tt.wheel, listed, pinned, store)
			_, err := Resolve(context.Background(), uvNeed, opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("got %v, want an error saying %q", err, tt.want)
			}
			entries, _ := os.ReadDir(opts.CacheDir)
			for _, e := range entries {
				if e.IsDir() {
					t.Errorf("left %s in the cache", e.Name())
				}
			}
			if len(store.objects) != 0 {
				t.Error("a refused wheel was kept in the bucket")
			}
		})
	}

	t.Run("a bad bucket copy", func(t *testing.T) {
		t.Parallel()
		m := rt.NewServer(t)
		store := newStore()
		store.objects[pipeline.ToolchainKey(uvFile)] = other
		tools, err := Resolve(context.Background(), uvNeed, uvIndex(t, m, good, rt.Sum(good), rt.Sum(good), store))
		if err != nil {
			t.Fatal(err)
		}
		if got := tools[0]; !strings.HasPrefix(got.Origin, "downloaded") || !strings.Contains(got.Note, "not used") {
			t.Errorf("got origin %q, note %q; want downloaded, the bucket's copy not used", got.Origin, got.Note)
		}
		if !bytes.Equal(store.objects[pipeline.ToolchainKey(uvFile)], good) {
			t.Error("the bad copy in the bucket was not replaced")
		}
	})
	t.Run("an architecture with no wheel", func(t *testing.T) {
		t.Parallel()
		opts := uvIndex(t, rt.NewServer(t), good, rt.Sum(good), rt.Sum(good), nil)
		opts.Arch = "riscv64"
		if _, err := Resolve(context.Background(), uvNeed, opts); err == nil || !strings.Contains(err.Error(), "no wheel pinned for linux/riscv64") {
			t.Errorf("got %v, want no wheel for riscv64", err)
		}
	})
}

// With Host, the host's uv on PATH, with a warning when it is another
// version or missing.
func TestHostUV(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, says, version, warning string
	}{
		{name: "the tested version", says: "uv 0.13.9 (x86_64-unknown-linux-gnu)", version: "0.13.9"},
		{name: "another version", says: "uv 0.14.1", version: "0.14.1", warning: "tested with uv 0.13.9; this machine's is uv 0.14.1"},
		{name: "none", warning: "no uv on this machine's PATH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if tt.says != "" {
				if err := os.WriteFile(filepath.Join(dir, "uv"), []byte(rt.Script(tt.says, "")), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			tools, err := Resolve(context.Background(), uvNeed, Options{Host: true, Path: dir})
			if err != nil {
				t.Fatal(err)
			}
			got := tools[0]
			if got.Version != tt.version || !strings.Contains(got.Warning, tt.warning) || (tt.warning == "") != (got.Warning == "") {
				t.Errorf("got version %q, warning %q; want %q, %q", got.Version, got.Warning, tt.version, tt.warning)
			}
			if tt.says != "" && got.Exe != filepath.Join(dir, "uv") {
				t.Errorf("got exe %q, want %s", got.Exe, filepath.Join(dir, "uv"))
			}
		})
	}
}

// dirStore is an artifact bucket kept in a folder between test runs.
type dirStore string

func (d dirStore) Open(_ context.Context, key string) (io.ReadCloser, error) {
	return os.Open(filepath.Join(string(d), filepath.FromSlash(key)))
}

func (d dirStore) PutFile(_ context.Context, key, path, _ string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	target := filepath.Join(string(d), filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	tmp := target + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, target)
}

// TestFetchUVFromPyPI fetches the real uv for this machine from PyPI once,
// and keeps its wheel in the user's cache folder as the artifact bucket:
// later runs check that copy against the pinned SHA-256, unpack it and run
// it, with no download.
func TestFetchUVFromPyPI(t *testing.T) {
	t.Parallel()
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	opts := Options{CacheDir: t.TempDir(), Store: dirStore(filepath.Join(cache, "stackflow-test", "uv")), Arch: runtime.GOARCH}
	tools, err := Resolve(context.Background(), uvNeed, opts)
	if err != nil {
		t.Fatal(err)
	}
	uv := tools[0]
	t.Log(uv)
	if got := run(t, uv.Exe); !strings.HasPrefix(got, "uv "+UVVersion+" (") {
		t.Errorf("uv says %q, want uv %s", got, UVVersion)
	}
	if uv.Note != "" {
		t.Errorf("got note %q", uv.Note)
	}
}
