package packager_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stackflow/stackflow/internal/runtimes"
	rt "github.com/stackflow/stackflow/internal/runtimes/runtimestest"
)

// In Lambda the package step fetches the Python of the functions' runtime
// and builds with it, as the checks do.
func TestPackageFetchesTheRuntimesPython(t *testing.T) {
	t.Parallel()
	host, err := runtimes.Resolve(context.Background(), []runtimes.Need{{Language: runtimes.Python, Version: "3.12"}}, runtimes.Options{Host: true})
	if err != nil || host[0].Exe == "" {
		t.Fatalf("no python3 on this machine: %v %+v", err, host)
	}
	// The fetched interpreter runs this machine's and leaves a mark.
	dir := t.TempDir()
	marker, shim := filepath.Join(dir, "used"), filepath.Join(dir, "python")
	if err := os.WriteFile(shim, []byte("#!/bin/sh\necho used >> '"+marker+"'\nexec '"+host[0].Exe+"' \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	m := rt.NewServer(t)
	triple := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH] + "-unknown-linux-gnu"
	m.AddPython(t, "20251031", "3.12.12", triple, shim)

	f := setup(t)
	f.svc.Runtimes = &runtimes.Options{CacheDir: t.TempDir(), HTTPClient: m.Client(),
		Mirrors: map[runtimes.Language]string{runtimes.Python: m.PythonMirror}}
	pkg, err := f.svc.Handle(context.Background(), f.source(t, map[string]string{
		"template.yaml": "Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn: {Type: AWS::Serverless::Function, Properties: {CodeUri: fn/, Handler: app.handler, Runtime: python3.12}}\n",
		"fn/app.py":     "def handler(event, context):\n    return 1\n",
	}))
	if err != nil {
		t.Fatal(err)
	}
	log := string(f.get(t, pkg.LogKey))
	if want := "[python3.12: Python 3.12.12 from python-build-standalone 20251031, downloaded and verified against SHA256SUMS"; !strings.Contains(log, want) {
		t.Errorf("log lacks %q:\n%s", want, log)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("the build did not run the fetched python3.12: %v\n%s", err, log)
	}
}

// uvStore is an artifact bucket that keeps uv's wheels alone, in the
// user's cache folder, so the real uv is downloaded from PyPI once, not on
// every run; it has nothing else.
type uvStore string

func (s uvStore) path(key string) (string, bool) {
	base := path.Base(key)
	return filepath.Join(string(s), base), strings.HasPrefix(base, "uv-") && strings.HasSuffix(base, ".whl")
}

func (s uvStore) Open(_ context.Context, key string) (io.ReadCloser, error) {
	p, ok := s.path(key)
	if !ok {
		return nil, fmt.Errorf("%s: not kept", key)
	}
	return os.Open(p)
}

func (s uvStore) PutFile(_ context.Context, key, file, _ string) error {
	p, ok := s.path(key)
	if !ok {
		return nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(string(s), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(p+".tmp", b, 0o644); err != nil {
		return err
	}
	return os.Rename(p+".tmp", p)
}

// In Lambda a python-uv build fetches uv from PyPI (its wheel checked
// against the SHA-256 pinned in internal/runtimes) and builds with it.
func TestPackageFetchesUV(t *testing.T) {
	t.Parallel()
	m := rt.NewServer(t)
	triple := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH] + "-unknown-linux-gnu"
	m.AddPython(t, "20251031", "3.12.12", triple, "")
	f := setup(t)
	f.svc.Runtimes = &runtimes.Options{CacheDir: t.TempDir(), HTTPClient: m.Client(), Store: uvStore(filepath.Join(downloadCache(t), "uv-wheels")),
		Mirrors: map[runtimes.Language]string{runtimes.Python: m.PythonMirror}}
	pkg, err := f.svc.Handle(context.Background(), f.source(t, map[string]string{
		"template.yaml": "Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn: {Type: AWS::Serverless::Function, Metadata: {BuildMethod: python-uv}, Properties: {CodeUri: fn/, Handler: app.handler, Runtime: python3.12}}\n",
		"fn/app.py":     "def handler(event, context):\n    return 1\n",
	}))
	if err != nil {
		t.Fatal(err)
	}
	log := string(f.get(t, pkg.LogKey))
	for _, want := range []string{"[python-uv: uv 0.13.9 from PyPI, ", "verified against the pinned SHA-256", "[python-uv: uv 0.13.9]"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if got := zipFiles(t, f.get(t, pkg.Functions[0].Key)); got["app.py"] == nil {
		t.Errorf("the zip holds %v, want app.py", names(got, ""))
	}
}
