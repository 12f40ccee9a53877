package packager_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stackflow/stackflow/internal/gocache"
)

// With Caches, the package step keeps pip's and npm's download caches in
// the bucket, per branch: a later build of the branch on a new Lambda
// restores them before it builds.
func TestPackageKeepsDownloadCaches(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.svc.ToolPath = toolPath(t)
	app := map[string]string{
		"template.yaml": `Transform: AWS::Serverless-2016-10-31
Resources:
  Py:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: py/, Handler: app.handler, Runtime: python3.11, Architectures: [arm64]}
  Js:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: js/, Handler: app.handler, Runtime: nodejs22.x, Architectures: [arm64]}
`,
		"py/requirements.txt": "markupsafe==3.0.2\ndocopt==0.6.2\n", // docopt: an sdist, built into pip's wheel cache
		"py/app.py":           "def handler(event, context):\n    return 1\n",
		"js/package.json":     `{"name": "js", "version": "1.0.0", "dependencies": {"ms": "2.1.3"}}`,
		"js/app.js":           "exports.handler = async () => { return 1; };\n",
	}
	tests := []struct {
		commit, version string
		want            []string
	}{
		{"1111111111111111111111111111111111111111", "1", []string{"pip's cache: none stored yet", "npm's cache: none stored yet", "pip's cache saved: ", "npm's cache saved: "}},
		{"2222222222222222222222222222222222222222", "2", []string{"pip's cache restored: ", "npm's cache restored: "}},
	}
	for _, tt := range tests {
		// A new Lambda each time, and a change to each function, so that
		// both are built again.
		f.svc.Caches = &gocache.Config{Store: f.store, Dir: t.TempDir()}
		files := map[string]string{}
		for k, v := range app {
			files[k] = strings.ReplaceAll(v, "return 1", "return "+tt.version)
		}
		pkg, err := f.svc.Handle(context.Background(), f.sourceAt(t, files, tt.commit))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(pkg.Summary, ": 2 built, 0 reused") {
			t.Errorf("commit %s: got %q, want both built", tt.commit[:7], pkg.Summary)
		}
		log := string(f.get(t, pkg.LogKey))
		for _, want := range tt.want {
			if !strings.Contains(log, want) {
				t.Errorf("commit %s: log lacks %q:\n%s", tt.commit[:7], want, log)
			}
		}
	}
}
