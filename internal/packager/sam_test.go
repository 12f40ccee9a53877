package packager_test

import (
	"context"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// installHint says how to install the tools in venvBin.
const installHint = "python3 -m venv .venv && .venv/bin/pip install -r requirements-test.txt (at the repository's root, as the README's test command does)"

// testTool returns the path of the tool name in venvBin, or, when
// STACKFLOW_<NAME> is set, that path. When it is missing the test fails,
// saying how to install it: the README's test command does.
func testTool(t testing.TB, name string) string {
	t.Helper()
	p := os.Getenv("STACKFLOW_" + strings.ToUpper(name))
	if p == "" {
		p = filepath.Join(venvBin, name)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(abs); err != nil {
		t.Fatalf("%s is not installed at %s; install it with: %s", name, abs, installHint)
	}
	return abs
}

const oracleTemplate = `Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.11
    Handler: app.handler
Resources:
  PipFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: py/
  UvFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: python-uv
    Properties:
      CodeUri: uv/
  TemplateFolderFunction:
    Type: AWS::Serverless::Function
  NpmFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: npm/
      Runtime: nodejs20.x
      Handler: src/app.handler
  EsmFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: esbuild
      BuildProperties:
        EntryPoints: [src/app.ts]
        Minify: false
        Format: esm
        OutExtension: [.js=.mjs]
        MainFields: module,main
        External: ["@aws-sdk/*"]
    Properties:
      CodeUri: es/
      Runtime: nodejs20.x
      Handler: src/app.handler
  PyLayer:
    Type: AWS::Serverless::LayerVersion
    Metadata:
      BuildMethod: python3.11
    Properties:
      ContentUri: pylayer/
  NodeLayer:
    Type: AWS::Serverless::LayerVersion
    Metadata:
      BuildMethod: nodejs20.x
    Properties:
      ContentUri: nodelayer/
`

// difference is a way stackflow's zip may differ from sam build's folder,
// and why (the README lists them).
type difference struct {
	app, resource string
	file          string // a path.Match pattern
	why           string
}

// known are the differences that TestPackageLikeSamBuild accepts. Each
// must show up, so the list stays true.
var known = []difference{
	{app: "hello-node", resource: "HelloFunction", file: "app.js.map",
		why: "source maps name the sources relative to the build folder: sam build's is a random temporary folder, stackflow's ../src/"},
}

// TestPackageLikeSamBuild builds apps with sam build (aws-sam-cli from
// requirements-test.txt, the oracle) and with the packager, and compares
// every function's and layer's files and their contents, and the
// Handler and NODE_OPTIONS that the templates end with. The apps are the
// examples and a template with one of each build method.
func TestPackageLikeSamBuild(t *testing.T) {
	sam := testTool(t, "sam")
	t.Parallel()
	oracle := map[string]string{"template.yaml": oracleTemplate,
		"py/requirements.txt": "markupsafe==3.0.2\ndocopt==0.6.2\n", "py/app.py": pythonApp["fn/app.py"],
		"py/__pycache__/app.cpython-311.pyc": "compiled", "py/.venv/bin/python": "#!/bin/sh\n",
		"pylayer/requirements.txt": "markupsafe==3.0.2\n", "pylayer/shared.py": "Y = 2\n",
	}
	maps.Copy(oracle, dirFiles(t, "testdata/node", ""))
	maps.Copy(oracle, dirFiles(t, "testdata/uv", "uv/"))
	apps := []struct {
		name  string
		files map[string]string
	}{
		{"hello-python", exampleFiles(t, "hello-python")},
		{"hello-node", exampleFiles(t, "hello-node")},
		{"oracle", oracle},
	}
	// The apps are independent, and so are sam build and the packager
	// building one app: they all run at once, and what they made is
	// compared once both are done. The known differences are checked once
	// every app has been compared.
	var mu sync.Mutex
	used := map[difference]bool{}
	t.Cleanup(func() {
		for _, d := range known {
			if !used[d] && !t.Skipped() {
				t.Errorf("known difference %s %s %s did not show up: drop it here and in the README", d.app, d.resource, d.file)
			}
		}
	})
	for _, app := range apps {
		t.Run(app.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeFiles(t, dir, app.files)
			type samResult struct {
				out  []byte
				err  error
				took time.Duration
			}
			cmd := exec.Command(sam, "build", "--template", "template.yaml", "--build-dir", ".aws-sam/build", "--beta-features", "--parallel")
			cmd.Dir = dir
			cache := downloadCache(t)
			cmd.Env = append(os.Environ(), "PATH="+strings.Join(append(toolPath(t), os.Getenv("PATH")), string(os.PathListSeparator)),
				"SAM_CLI_TELEMETRY=0", "PIP_CACHE_DIR="+filepath.Join(cache, "pip"),
				"npm_config_cache="+filepath.Join(cache, "npm"), "UV_CACHE_DIR="+filepath.Join(cache, "uv"))
			samDone := make(chan samResult, 1)
			go func() {
				began := time.Now()
				out, err := cmd.CombinedOutput()
				samDone <- samResult{out, err, time.Since(began)}
			}()

			f := setupTools(t)
			began := time.Now()
			pkg, err := f.svc.Handle(context.Background(), f.source(t, app.files))
			took := time.Since(began)
			sb := <-samDone
			if sb.err != nil {
				t.Fatalf("sam build: %v\n%s", sb.err, sb.out)
			}
			t.Logf("sam build: %s", sb.took.Round(100*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("stackflow: %s, %s", took.Round(100*time.Millisecond), pkg.Summary)

			for _, fn := range pkg.Functions {
				want := dirFiles(t, filepath.Join(dir, ".aws-sam", "build", fn.Name), "")
				if len(want) == 0 {
					t.Errorf("%s: sam build made no files to compare with", fn.Name)
				}
				got := map[string]string{}
				for name, zf := range zipFiles(t, f.get(t, fn.Key)) {
					got[name] = string(read(t, zf))
				}
				for _, name := range slices.Sorted(maps.Keys(merge(got, want))) {
					g, inGot := got[name]
					w, inWant := want[name]
					if inGot && inWant && g == w {
						continue
					}
					d := match(app.name, fn.Name, name)
					switch {
					case d != nil:
						mu.Lock()
						used[*d] = true
						mu.Unlock()
					case !inGot:
						t.Errorf("%s: sam build has %s, stackflow's zip does not", fn.Name, name)
					case !inWant:
						t.Errorf("%s: stackflow's zip has %s, sam build does not", fn.Name, name)
					default:
						t.Errorf("%s: %s differs:\nstackflow: %.300q\nsam build: %.300q", fn.Name, name, g, w)
					}
				}
			}
			samTpl, ourTpl := templateProps(t, filepath.Join(dir, ".aws-sam", "build", "template.yaml"), nil),
				templateProps(t, "", f.get(t, pkg.TemplateKey))
			for name, want := range samTpl {
				if got := ourTpl[name]; got != want {
					t.Errorf("%s: packaged template has %q, sam build's %q", name, got, want)
				}
			}
		})
	}
}

// exampleFiles are the committed files of examples/name: no installed
// dependencies, caches or build output.
func exampleFiles(t testing.TB, name string) map[string]string {
	t.Helper()
	files := dirFiles(t, filepath.Join("..", "..", "examples", name), "")
	for n := range files {
		for _, skip := range []string{"node_modules/", ".venv/", ".pytest_cache/", "__pycache__/", ".test/", ".aws-sam/"} {
			if strings.Contains(n, skip) {
				delete(files, n)
			}
		}
	}
	return files
}

func merge(a, b map[string]string) map[string]string {
	out := maps.Clone(a)
	maps.Copy(out, b)
	return out
}

func match(app, resource, file string) *difference {
	for i, d := range known {
		if ok, _ := path.Match(d.file, file); ok && d.app == app && d.resource == resource {
			return &known[i]
		}
	}
	return nil
}

// templateProps reads each function's Handler and NODE_OPTIONS from a
// template file (or body), keyed "Function Handler".
func templateProps(t *testing.T, file string, body []byte) map[string]string {
	t.Helper()
	if file != "" {
		var err error
		if body, err = os.ReadFile(file); err != nil {
			t.Fatal(err)
		}
	}
	var doc struct {
		Resources map[string]struct {
			Properties struct {
				Handler     string `yaml:"Handler"`
				Environment struct {
					Variables map[string]any `yaml:"Variables"`
				} `yaml:"Environment"`
			} `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for name, r := range doc.Resources {
		out[name+" Handler"] = r.Properties.Handler
		if v, ok := r.Properties.Environment.Variables["NODE_OPTIONS"].(string); ok {
			out[name+" NODE_OPTIONS"] = v
		}
	}
	return out
}
