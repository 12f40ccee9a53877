package packager_test

import (
	"context"
	"os"
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
