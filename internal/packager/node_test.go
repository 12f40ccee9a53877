package packager_test

import (
	"context"
	"debug/elf"
	"maps"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/stackflow/stackflow/internal/pipeline"
)

const nodeTemplate = `Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: nodejs22.x
    Handler: src/app.handler
Resources:
  ArmFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: npm/
      Architectures: [arm64]
  X86Function:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: npm/
      Runtime: nodejs20.x
  EsFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: esbuild
      BuildProperties:
        Sourcemap: true
        Target: es2022
        EntryPoints: [src/app.ts]
        External: ["@aws-sdk/*"]
    Properties:
      CodeUri: es/
      Environment:
        Variables:
          GREETING: hi
  Shared:
    Type: AWS::Serverless::LayerVersion
    Metadata:
      BuildMethod: nodejs22.x
    Properties:
      ContentUri: nodelayer/
`

func TestPackageNode(t *testing.T) {
	t.Parallel()
	f := setupTools(t)
	ctx := context.Background()
	files := dirFiles(t, "testdata/node", "")
	files["template.yaml"] = nodeTemplate
	files["npm/node_modules/stale/index.js"] = "left over from a local install"
	in := f.source(t, files)
	pkg, err := f.svc.Handle(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(pkg.Summary, "packaged 3 functions and 1 layer (") || !strings.HasSuffix(pkg.Summary, ": 4 built, 0 reused") {
		t.Errorf("got summary %q, want packaged 3 functions and 1 layer (size): 4 built, 0 reused", pkg.Summary)
	}
	fns := map[string]pipeline.BuiltFunction{}
	for _, fn := range pkg.Functions {
		fns[fn.Name] = fn
	}

	t.Run("npm: packed files and production dependencies for the target", func(t *testing.T) {
		tests := []struct {
			fn, native string
			want       elf.Machine
		}{
			{"ArmFunction", "node_modules/@node-rs/crc32-linux-arm64-gnu/crc32.linux-arm64-gnu.node", elf.EM_AARCH64},
			{"X86Function", "node_modules/@node-rs/crc32-linux-x64-gnu/crc32.linux-x64-gnu.node", elf.EM_X86_64},
		}
		for _, tt := range tests {
			zf := zipFiles(t, f.get(t, fns[tt.fn].Key))
			for _, want := range []string{"src/app.js", "package.json", "package-lock.json", "node_modules/ms/index.js", "node_modules/@node-rs/crc32/index.js", tt.native} {
				if zf[want] == nil {
					t.Errorf("%s: zip lacks %s; it holds %q", tt.fn, want, names(zf, ""))
				}
			}
			for name := range zf {
				for _, bad := range []string{"test/", ".npmrc", ".gitignore", "is-number", "node_modules/.package-lock.json", "stale", "crc32-linux-" + map[bool]string{true: "x64", false: "arm64"}[tt.want == elf.EM_AARCH64]} {
					if strings.Contains(name, bad) {
						t.Errorf("%s: zip holds %s", tt.fn, name)
					}
				}
			}
			if n := zf[tt.native]; n != nil {
				if got := machine(t, n); got != tt.want {
					t.Errorf("%s: %s is for %v, want %v", tt.fn, tt.native, got, tt.want)
				}
			}
		}
	})

	t.Run("esbuild: the bundle alone, handler and NODE_OPTIONS rewritten", func(t *testing.T) {
		zf := zipFiles(t, f.get(t, fns["EsFunction"].Key))
		if got := strings.Join(names(zf, ""), ","); got != "app.js,app.js.map" {
			t.Errorf("zip holds %s, want app.js,app.js.map", got)
		}
		if js := string(read(t, zf["app.js"])); !strings.Contains(js, "sourceMappingURL=app.js.map") || strings.Contains(js, "Promise<") {
			t.Errorf("app.js is not a bundle with a source map:\n%.300s", js)
		}
		var doc struct {
			Resources map[string]struct {
				Properties struct {
					Handler     string `yaml:"Handler"`
					Environment struct {
						Variables map[string]string `yaml:"Variables"`
					} `yaml:"Environment"`
				} `yaml:"Properties"`
			} `yaml:"Resources"`
		}
		if err := yaml.Unmarshal(f.get(t, pkg.TemplateKey), &doc); err != nil {
			t.Fatal(err)
		}
		p := doc.Resources["EsFunction"].Properties
		if p.Handler != "app.handler" || p.Environment.Variables["NODE_OPTIONS"] != " --enable-source-maps" || p.Environment.Variables["GREETING"] != "hi" {
			t.Errorf("got Handler %q, variables %v; want app.handler and NODE_OPTIONS ' --enable-source-maps' beside GREETING", p.Handler, p.Environment.Variables)
		}
		if h := doc.Resources["ArmFunction"].Properties.Handler; h != "" {
			t.Errorf("ArmFunction got Handler %q, want it left in Globals", h)
		}
	})

	t.Run("layer under nodejs/", func(t *testing.T) {
		zf := zipFiles(t, f.get(t, fns["Shared"].Key))
		for _, want := range []string{"nodejs/index.js", "nodejs/package.json", "nodejs/node_modules/ms/index.js"} {
			if zf[want] == nil {
				t.Errorf("layer zip lacks %s; it holds %q", want, names(zf, ""))
			}
		}
		for name := range zf {
			if !strings.HasPrefix(name, "nodejs/") {
				t.Errorf("layer zip holds %s, want everything under nodejs/", name)
			}
		}
	})

	t.Run("same commit again: all reused, the esbuild Handler kept", func(t *testing.T) {
		packageAgain(t, f, in, pkg)
	})
}

func TestPackageNodeFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		resource   string
		files      map[string]string
		wantReason string
	}{
		{
			name: "makefile layer",
			resource: "Type: AWS::Serverless::LayerVersion\n    Metadata: {BuildMethod: makefile}\n" +
				"    Properties: {ContentUri: fn/}",
			wantReason: "Metadata BuildMethod makefile: layers built by a Makefile are not supported",
		},
		{
			name: "esbuild layer",
			resource: "Type: AWS::Serverless::LayerVersion\n    Metadata: {BuildMethod: esbuild}\n" +
				"    Properties: {ContentUri: fn/}",
			wantReason: `Metadata BuildMethod "esbuild": layers are built for a runtime`,
		},
		{
			name: "build method of another family",
			resource: "Type: AWS::Serverless::Function\n    Metadata: {BuildMethod: python-uv}\n" +
				"    Properties: {CodeUri: fn/, Runtime: nodejs22.x, Handler: app.handler}",
			wantReason: `Metadata BuildMethod "python-uv" does not build a nodejs22.x function: leave it out, or use esbuild`,
		},
		{
			name: "esbuild without esbuild in dependencies",
			resource: "Type: AWS::Serverless::Function\n    Metadata: {BuildMethod: esbuild}\n" +
				"    Properties: {CodeUri: fn/, Runtime: nodejs22.x, Handler: app.handler}",
			files:      map[string]string{"fn/package.json": `{"name": "fn", "version": "1.0.0"}`},
			wantReason: "esbuild is not in the app's node_modules",
		},
		{
			name: "esbuild without package.json",
			resource: "Type: AWS::Serverless::Function\n    Metadata: {BuildMethod: esbuild, BuildProperties: {EntryPoints: [app.js]}}\n" +
				"    Properties: {CodeUri: fn/, Runtime: nodejs22.x, Handler: app.handler}",
			wantReason: "no package.json in fn: esbuild comes from the app's node_modules",
		},
		{
			name: "EntryPoints not a list",
			resource: "Type: AWS::Serverless::Function\n    Metadata: {BuildMethod: esbuild, BuildProperties: {EntryPoints: app.ts}}\n" +
				"    Properties: {CodeUri: fn/, Runtime: nodejs22.x, Handler: app.handler}",
			wantReason: "Metadata BuildProperties EntryPoints must be a list of files",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			files := map[string]string{"template.yaml": "Transform: AWS::Serverless-2016-10-31\nResources:\n  It:\n    " + tt.resource + "\n", "fn/app.js": ""}
			maps.Copy(files, tt.files)
			pf := packageFails(t, files)
			if pf.Function != "It" || !strings.Contains(pf.Reason, tt.wantReason) {
				t.Errorf("got %s: %q, want It: ...%q...", pf.Function, pf.Reason, tt.wantReason)
			}
		})
	}
}

// TestEsbuildFunctionsOfOneCodeUriInstallOnce: two esbuild functions of
// one code directory are two builds (their BuildProperties differ, as they
// would in sam build's build graph), each with its own bundle, but npm
// installs the directory's dependencies once.
func TestEsbuildFunctionsOfOneCodeUriInstallOnce(t *testing.T) {
	t.Parallel()
	f := setupTools(t)
	files := dirFiles(t, "testdata/node", "")
	files["template.yaml"] = `Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: nodejs22.x
    Handler: src/app.handler
    CodeUri: es/
Resources:
  MinifiedFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: esbuild
      BuildProperties: {EntryPoints: [src/app.ts]}
  ReadableFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: esbuild
      BuildProperties: {EntryPoints: [src/app.ts], Minify: false, Format: esm}
`
	pkg, err := f.svc.Handle(context.Background(), f.source(t, files))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(pkg.Summary, ": 2 built, 0 reused") {
		t.Errorf("got summary %q, want ...: 2 built, 0 reused", pkg.Summary)
	}
	bundles := map[string]string{}
	for _, fn := range pkg.Functions {
		zf := zipFiles(t, f.get(t, fn.Key))
		if zf["app.js"] == nil || len(zf) != 1 {
			t.Fatalf("%s: zip holds %q, want app.js", fn.Name, names(zf, ""))
		}
		bundles[fn.Name] = string(read(t, zf["app.js"]))
	}
	if min, esm := bundles["MinifiedFunction"], bundles["ReadableFunction"]; min == esm || !strings.Contains(esm, "export {") || strings.Contains(min, "export {") {
		t.Errorf("got bundles\n%.200s\nand\n%.200s\nwant a minified CommonJS one and a readable ES module", min, esm)
	}
	log := string(f.get(t, pkg.LogKey))
	if n := strings.Count(log, "$ npm install"); n != 1 {
		t.Errorf("npm install ran %d times, want once:\n%s", n, log)
	}
	if want := "[ReadableFunction: bundling from the copy of es that MinifiedFunction's build installed"; !strings.Contains(log, want) {
		t.Errorf("log lacks %q:\n%s", want, log)
	}
}
