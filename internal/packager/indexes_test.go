package packager_test

import (
	"context"
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
