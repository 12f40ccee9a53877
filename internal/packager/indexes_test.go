package packager_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stackflow/stackflow/internal/indexes"
	"github.com/stackflow/stackflow/internal/indexes/indexestest"
)

// Dependencies from private indexes: pip gets PIP_INDEX_URL and the
// repository's pip.conf, npm its registry, and both their credentials;
// nothing the step shows holds them.
func TestPackageFromPrivateIndexes(t *testing.T) {
	t.Parallel()
	const password, token = "pypi-pass-do-not-leak", "npm-token-do-not-leak"
	srv := indexestest.Start(t, "ci", password, token)
	settings := indexes.Settings{
		PipIndexURL: srv.PipIndex,
		NpmRegistry: srv.NpmRegistry,
		Credentials: map[string]indexes.Credential{
			srv.Host:          {Username: "ci", Password: password},
			srv.Host + "/npm": {Token: token},
		},
	}
	f := setupTools(t)
	f.svc.DownloadCache = t.TempDir() // nothing from another test's downloads
	f.svc.Indexes = indexes.NewSource(settings)
	var echo strings.Builder
	f.svc.Echo = &echo
	app := map[string]string{
		"template.yaml": `Transform: AWS::Serverless-2016-10-31
Resources:
  Py:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: py/, Handler: app.handler, Runtime: python3.12}
  Js:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: js/, Handler: app.handler, Runtime: nodejs22.x}
`,
		// The repository's pip.conf: the test index is served over http.
		"pip.conf":            "[global]\ntrusted-host = " + strings.Split(srv.Host, ":")[0] + "\n",
		"py/requirements.txt": "tiny==1.0\n",
		"py/app.py":           "import tiny\n\ndef handler(event, context):\n    return tiny.X\n",
		"js/package.json":     `{"name": "js", "version": "1.0.0", "dependencies": {"tiny": "1.0.0"}}`,
		"js/app.js":           "exports.handler = async () => require('tiny');\n",
	}
	pkg, err := f.svc.Handle(context.Background(), f.source(t, app))
	if err != nil {
		t.Fatalf("%v\n%s", err, echo.String())
	}
	zips := map[string]string{"Py": "tiny/__init__.py", "Js": "node_modules/tiny/index.js"}
	for _, fn := range pkg.Functions {
		if want := zips[fn.Name]; zipFiles(t, f.get(t, fn.Key))[want] == nil {
			t.Errorf("%s's zip lacks %s from the private index", fn.Name, want)
		}
	}
	log := string(f.get(t, pkg.LogKey))
	for _, secret := range settings.Secrets() {
		if strings.Contains(log, secret) || strings.Contains(echo.String(), secret) {
			t.Errorf("the step shows a secret:\n%s", log)
		}
	}
}

// A build's key names the indexes it resolves from: the same sources from
// another index build again; from the same index, or with other
// credentials for it, they are reused.
func TestPackageIndexesAreInTheBuildKeys(t *testing.T) {
	t.Parallel()
	const password, token = "pypi-pass-do-not-leak", "npm-token-do-not-leak"
	one, two := indexestest.Start(t, "ci", password, token), indexestest.Start(t, "ci", password, token)
	creds := func(hosts ...string) map[string]indexes.Credential {
		c := map[string]indexes.Credential{}
		for _, h := range hosts {
			c[h] = indexes.Credential{Username: "ci", Password: password}
			c[h+"/npm"] = indexes.Credential{Token: token}
		}
		return c
	}
	f := setupTools(t)
	f.svc.DownloadCache = t.TempDir()
	app := map[string]string{
		"template.yaml": `Transform: AWS::Serverless-2016-10-31
Resources:
  Py:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: py/, Handler: app.handler, Runtime: python3.12}
  Js:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: js/, Handler: app.handler, Runtime: nodejs22.x}
`,
		"pip.conf":            "[global]\ntrusted-host = 127.0.0.1\n",
		"py/requirements.txt": "tiny==1.0\n",
		"py/app.py":           "import tiny\n\ndef handler(event, context):\n    return tiny.X\n",
		"js/package.json":     `{"name": "js", "version": "1.0.0", "dependencies": {"tiny": "1.0.0"}}`,
		"js/app.js":           "exports.handler = async () => require('tiny');\n",
	}
	tests := []struct {
		name      string
		settings  indexes.Settings
		files     map[string]string
		wantBuilt []string
	}{
		{name: "first", settings: indexes.Settings{PipIndexURL: one.PipIndex, NpmRegistry: one.NpmRegistry, Credentials: creds(one.Host)},
			wantBuilt: []string{"Js", "Py"}},
		{name: "the same indexes", settings: indexes.Settings{PipIndexURL: one.PipIndex, NpmRegistry: one.NpmRegistry, Credentials: creds(one.Host)}},
		{name: "other credentials, a user in the URL", settings: indexes.Settings{PipIndexURL: strings.Replace(one.PipIndex, "://", "://ci@", 1),
			NpmRegistry: one.NpmRegistry, Credentials: map[string]indexes.Credential{one.Host: {Username: "ci", Password: "another"}}}},
		{name: "another index", settings: indexes.Settings{PipIndexURL: two.PipIndex, NpmRegistry: one.NpmRegistry, Credentials: creds(one.Host, two.Host)},
			wantBuilt: []string{"Py"}},
		{name: "another registry", settings: indexes.Settings{PipIndexURL: two.PipIndex, NpmRegistry: two.NpmRegistry, Credentials: creds(one.Host, two.Host)},
			wantBuilt: []string{"Js"}},
		{name: "an extra index", settings: indexes.Settings{PipIndexURL: two.PipIndex, PipExtraIndexURL: one.PipIndex, NpmRegistry: two.NpmRegistry,
			Credentials: creds(one.Host, two.Host)}, wantBuilt: []string{"Py"}},
		{name: "pip.conf changed", settings: indexes.Settings{PipIndexURL: two.PipIndex, PipExtraIndexURL: one.PipIndex, NpmRegistry: two.NpmRegistry,
			Credentials: creds(one.Host, two.Host)}, files: with(app, "pip.conf", app["pip.conf"]+"timeout = 30\n"), wantBuilt: []string{"Py"}},
	}
	for i, tt := range tests {
		f.svc.Indexes = indexes.NewSource(tt.settings)
		files := tt.files
		if files == nil {
			files = app
		}
		pkg, err := f.svc.Handle(context.Background(), f.sourceAt(t, files, fmt.Sprintf("%040d", i)))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var built []string
		for _, fn := range pkg.Functions {
			if !fn.Reused {
				built = append(built, fn.Name)
			}
		}
		slices.Sort(built)
		if !slices.Equal(built, tt.wantBuilt) {
			t.Errorf("%s: built %v, want %v (%s)", tt.name, built, tt.wantBuilt, pkg.Summary)
		}
	}
	if n := one.Refused.Load() + two.Refused.Load(); n != 0 {
		t.Errorf("the indexes refused %d requests without credentials", n)
	}
}
