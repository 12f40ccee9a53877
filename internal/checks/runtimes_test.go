package checks_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/stackflow/stackflow/internal/gocache"
	"github.com/stackflow/stackflow/internal/indexes"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/runtimes"
	rt "github.com/stackflow/stackflow/internal/runtimes/runtimestest"
)

// template is an app with a Python and a Node.js function, and no Go.
const template = `Transform: AWS::Serverless-2016-10-31
Resources:
  Py: {Type: AWS::Serverless::Function, Properties: {CodeUri: py/, Handler: app.handler, Runtime: python3.12}}
  Js: {Type: AWS::Serverless::Function, Properties: {CodeUri: js/, Handler: app.handler, Runtime: nodejs22.x}}
`

// wheel is a pure-Python wheel of the package "tiny" with a console
// command "tiny", as pytest is one.
func wheel(t *testing.T) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range map[string]string{
		"tiny/__init__.py":                    "def main():\n    print('tiny ran')\n",
		"tiny-1.0.dist-info/METADATA":         "Metadata-Version: 2.1\nName: tiny\nVersion: 1.0\n",
		"tiny-1.0.dist-info/WHEEL":            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
		"tiny-1.0.dist-info/entry_points.txt": "[console_scripts]\ntiny = tiny:main\n",
		"tiny-1.0.dist-info/RECORD":           "tiny/__init__.py,,\ntiny-1.0.dist-info/METADATA,,\ntiny-1.0.dist-info/WHEEL,,\ntiny-1.0.dist-info/entry_points.txt,,\ntiny-1.0.dist-info/RECORD,,\n",
	} {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// An app with Python and Node.js functions and no go.mod gets, locally,
// this machine's python3 and node: pip installs into a virtual environment
// of the run's own, whose commands are then on PATH as pytest would be;
// node, npm and npx are on PATH; CI is true. The log says which versions
// run, and warns when they are not the runtimes'.
func TestChecksOfAPythonAndNodeAppOnTheHost(t *testing.T) {
	t.Parallel()
	f := setup(t)
	files := map[string]string{"template.yaml": template, "dist/tiny-1.0-py3-none-any.whl": wheel(t)}
	in := f.source(t, files,
		"pip install -q --no-index dist/tiny-1.0-py3-none-any.whl",
		"tiny",
		`python3 -c 'import sys, tiny; assert sys.prefix != sys.base_prefix, "not in a virtual environment"'`,
		"pip3.12 --version || pip3 --version",
		"node --version && npm --version && npx --version",
		"echo global config: $(npm config get globalconfig)",
		`test "$CI" = true`,
	)
	if _, err := f.svc.Handle(context.Background(), in); err != nil {
		t.Fatalf("got %v, want the checks to pass", err)
	}
	log := f.log(t)
	tools, err := runtimes.Resolve(context.Background(), []runtimes.Need{{Language: runtimes.Python, Version: "3.12"}, {Language: runtimes.Node, Version: "22"}}, runtimes.Options{Host: true})
	if err != nil {
		t.Fatal(err)
	}
	// npm's global config is the Node.js install's, as outside the checks
	// (a CA file, a mirror), though its prefix is the run's own.
	global, err := exec.Command("npm", "config", "get", "globalconfig").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"tiny ran", "python3.12: a virtual environment of its own is on PATH", "/venv-python3.12/",
		"global config: " + strings.TrimSpace(string(global))}
	for _, tool := range tools {
		want = append(want, tool.String())
		if tool.Warning != "" {
			want = append(want, "warning: "+tool.Warning)
		}
	}
	for _, w := range want {
		if !strings.Contains(log, w) {
			t.Errorf("log lacks %q:\n%s", w, log)
		}
	}
	if strings.Contains(log, " with go") {
		t.Errorf("log names a Go toolchain for an app without Go:\n%s", log)
	}
}

// In Lambda, the checks fetch the runtimes' Python and Node.js, verified,
// and run with them first on PATH; a later cold start takes them from
// the artifact bucket.
func TestChecksFetchTheRuntimesTools(t *testing.T) {
	t.Parallel()
	host, err := runtimes.Resolve(context.Background(), []runtimes.Need{{Language: runtimes.Python, Version: "3.12"}, {Language: runtimes.Node, Version: "22"}}, runtimes.Options{Host: true})
	if err != nil {
		t.Fatal(err)
	}
	// The fetched interpreters say the runtimes' versions and run this
	// machine's for anything else.
	m := rt.NewServer(t)
	arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH] + "-unknown-linux-gnu"
	m.AddPython(t, "20251031", "3.12.12", arch, host[0].Exe)
	m.AddNode(t, "22.12.0", map[string]string{"amd64": "x64", "arm64": "arm64"}[runtime.GOARCH], host[1].Exe)

	f := setup(t)
	files := map[string]string{"template.yaml": template}
	checks := []string{
		`test "$(node --version)" = v22.12.0`,
		`test "$(npm)" = "npm of 22.12.0"`,
		`pip --version && python3 -c 'import sys; assert sys.prefix != sys.base_prefix'`,
	}
	for i, origin := range []string{"downloaded and verified", "from the artifact bucket and verified"} {
		f.svc.Runtimes = runtimes.Options{CacheDir: t.TempDir(), Store: f.store, HTTPClient: m.Client(),
			Mirrors: map[runtimes.Language]string{runtimes.Python: m.PythonMirror, runtimes.Node: m.NodeMirror}}
		if _, err := f.svc.Handle(context.Background(), f.source(t, files, checks...)); err != nil {
			t.Fatalf("run %d: got %v, want the checks to pass", i+1, err)
		}
		log := f.log(t)
		for _, want := range []string{
			"python3.12: Python 3.12.12 from python-build-standalone 20251031, " + origin + " against SHA256SUMS",
			"nodejs22.x: Node.js 22.12.0 from nodejs.org, " + origin + " against SHASUMS256.txt",
		} {
			if !strings.Contains(log, want) {
				t.Errorf("run %d: log lacks %q:\n%s", i+1, want, log)
			}
		}
	}

	// A mirror whose archive is not the published one stops the step.
	m.Put(rt.NodePath("22.12.0", "SHASUMS256.txt"), []byte(strings.Repeat("0", 64)+"  "+rt.NodeFile("22.12.0", map[string]string{"amd64": "x64", "arm64": "arm64"}[runtime.GOARCH])+"\n"))
	f.svc.Runtimes.CacheDir = t.TempDir()
	f.svc.Runtimes.Store = nil
	_, err = f.svc.Handle(context.Background(), f.source(t, files, checks...))
	var ue *pipeline.UnexpectedError
	if !errors.As(err, &ue) || !strings.Contains(ue.Message, "refused: "+runtimes.ErrChecksum.Error()) {
		t.Errorf("got %v, want an UnexpectedError refusing the archive (the app's checks did not fail)", err)
	}
}

// With Caches, pip's and npm's download caches are kept in the bucket per
// branch, as the Go caches are: restored into a new Lambda's empty
// directory for the next run of the branch; a feature branch starts from
// the default branch's, and what it adds never reaches the default
// branch's runs.
func TestChecksKeepDownloadCachesPerBranch(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	files := map[string]string{"template.yaml": template}
	write := `mkdir -p "$PIP_CACHE_DIR" "$npm_config_cache" && echo wheel > "$PIP_CACHE_DIR/marker" && echo tarball > "$npm_config_cache/marker"`
	read := `test "$(cat "$PIP_CACHE_DIR/marker")" = wheel && test "$(cat "$npm_config_cache/marker")" = tarball`
	plant := read + ` && head -c 2000000 /dev/zero > "$npm_config_cache/planted"`
	unplanted := read + ` && test ! -e "$npm_config_cache/planted"`
	tests := []struct {
		branch, check string
		want          []string
	}{
		{"main", write, []string{"pip's cache: none stored yet", "pip's cache saved: 1 files", "npm's cache saved: 1 files"}},
		{"main", read, []string{"pip's cache restored: 1 files", "npm's cache restored: 1 files", "pip's cache unchanged"}},
		{"feature/x", plant, []string{"npm's cache restored: 1 files", "npm's cache saved: 2 files"}},
		{"main", unplanted, []string{"npm's cache restored: 1 files"}},
	}
	for i, tt := range tests {
		// Each run a new Lambda: an empty directory.
		f.svc.Caches = &gocache.Config{Store: f.store, Dir: t.TempDir()}
		in := f.source(t, files, tt.check)
		in.Run.Branch = tt.branch
		in.Source.Plan.DefaultBranch = &pipeline.DefaultBranch{Name: "main", Commit: run.Commit}
		if _, err := f.svc.Handle(ctx, in); err != nil {
			t.Fatalf("run %d on %s: %v", i+1, tt.branch, err)
		}
		log := f.log(t)
		for _, want := range tt.want {
			if !strings.Contains(log, want) {
				t.Errorf("run %d on %s: log lacks %q:\n%s", i+1, tt.branch, want, log)
			}
		}
		if strings.Contains(log, "GOMODCACHE") {
			t.Errorf("run %d: Go caches for an app without Go:\n%s", i+1, log)
		}
	}
}

// The checks get the package indexes and their credentials, in files
// their tools read; whatever a check prints of them, the log, the echo and
// the error hide the secrets.
func TestChecksGetThePackageIndexesAndHideTheirSecrets(t *testing.T) {
	t.Parallel()
	const password, token = "pypi-pass-do-not-leak", "npm-token-do-not-leak"
	f := setup(t)
	settings := indexes.Settings{
		PipIndexURL: "https://pypi.example.com/simple",
		NpmRegistry: "https://npm.example.com/",
		Credentials: map[string]indexes.Credential{
			"pypi.example.com": {Username: "ci", Password: password},
			"npm.example.com":  {Token: token},
		},
	}
	f.svc.Indexes = indexes.NewSource(settings)
	var echo strings.Builder
	f.svc.Echo = &echo
	files := map[string]string{"template.yaml": template, "pip.conf": "[global]\ntimeout = 60\n"}
	_, err := f.svc.Handle(context.Background(), f.source(t, files,
		`test "$PIP_INDEX_URL" = https://pypi.example.com/simple && test "$npm_config_registry" = https://npm.example.com/`,
		`test "$PIP_CONFIG_FILE" = "$PWD/pip.conf"`,
		`pip config list | grep -q "timeout='60'"`,
		`cat "$NETRC" "$npm_config_userconfig"; echo "$(cat "$NETRC")" >&2; exit 1`,
	))
	var cf *pipeline.ChecksFailed
	if !errors.As(err, &cf) || !strings.HasPrefix(cf.Check, "cat ") {
		t.Fatalf("got %v, want the last check to fail", err)
	}
	log := f.log(t)
	for what, text := range map[string]string{"tail": cf.Tail, "log": log, "echo": echo.String()} {
		for _, want := range []string{"machine pypi.example.com login ci password ****", "//npm.example.com/:_authToken=****"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s lacks %q:\n%s", what, want, text)
			}
		}
		for _, secret := range settings.Secrets() {
			if strings.Contains(text, secret) {
				t.Errorf("%s shows a secret:\n%s", what, text)
			}
		}
	}
}
