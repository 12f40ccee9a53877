package packager_test

import (
	"context"
	"debug/elf"
	"maps"
	"strings"
	"testing"

	"github.com/stackflow/stackflow/internal/pipeline"
)

const pythonTemplate = `Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.11
    Handler: app.handler
Resources:
  ArmFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/
      Architectures: [arm64]
  X86Function:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/
  PlainFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: plain
      Runtime: python3.13
  Deps:
    Type: AWS::Serverless::LayerVersion
    Metadata:
      BuildMethod: python3.11
      BuildArchitecture: arm64
    Properties:
      ContentUri: layer/
`

// pythonApp has a function with a dependency that has a wheel per
// architecture (markupsafe) and a pure-Python one with only a source
// distribution (docopt), a function with no requirements, and a layer.
var pythonApp = map[string]string{
	"template.yaml":                            pythonTemplate,
	"fn/requirements.txt":                      "# pinned\nmarkupsafe==3.0.2\ndocopt==0.6.2\n",
	"fn/app.py":                                "import markupsafe\n\ndef handler(event, context):\n    return str(markupsafe.escape('<hi>'))\n",
	"fn/lib/util.py":                           "X = 1\n",
	"fn/__pycache__/app.cpython-311.pyc":       "compiled",
	"fn/.venv/bin/python":                      "#!/bin/sh\n",
	"fn/.pytest_cache/v/cache/lastfailed":      "{}",
	"fn/native.so":                             "not for the zip",
	"fn/tests/test_app.py":                     "def test_app():\n    pass\n",
	"plain/app.py":                             "def handler(event, context):\n    return 1\n",
	"layer/requirements.txt":                   "markupsafe==3.0.2\n",
	"layer/shared.py":                          "Y = 2\n",
	"layer/requirements-dev.txt":               "pytest\n",
	"layer/__pycache__/shared.cpython-311.pyc": "compiled",
}

func TestPackagePython(t *testing.T) {
	t.Parallel()
	f := setupTools(t)
	ctx := context.Background()
	in := f.source(t, pythonApp)
	pkg, err := f.svc.Handle(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if want := ": 4 built, 0 reused"; !strings.HasPrefix(pkg.Summary, "packaged 3 functions and 1 layer (") || !strings.HasSuffix(pkg.Summary, want) {
		t.Errorf("got summary %q, want packaged 3 functions and 1 layer (size)%s", pkg.Summary, want)
	}
	fns := map[string]pipeline.BuiltFunction{}
	for _, fn := range pkg.Functions {
		fns[fn.Name] = fn
	}
	arm := zipFiles(t, f.get(t, fns["ArmFunction"].Key))
	x86 := zipFiles(t, f.get(t, fns["X86Function"].Key))

	t.Run("wheels for the target", func(t *testing.T) {
		for _, c := range []struct {
			fn   string
			so   string
			want elf.Machine
		}{
			{"ArmFunction", "markupsafe/_speedups.cpython-311-aarch64-linux-gnu.so", elf.EM_AARCH64},
			{"X86Function", "markupsafe/_speedups.cpython-311-x86_64-linux-gnu.so", elf.EM_X86_64},
		} {
			files := arm
			if c.fn == "X86Function" {
				files = x86
			}
			zf := files[c.so]
			if zf == nil {
				t.Errorf("%s: no %s; markupsafe has %q", c.fn, c.so, names(files, "markupsafe/"))
				continue
			}
			if got := machine(t, zf); got != c.want {
				t.Errorf("%s: %s is for %v, want %v", c.fn, c.so, got, c.want)
			}
		}
	})

	t.Run("sources and pure-Python sdist", func(t *testing.T) {
		for _, want := range []string{"app.py", "lib/util.py", "tests/test_app.py", "requirements.txt", "docopt.py",
			"docopt-0.6.2.dist-info/METADATA", "markupsafe/__init__.py", "MarkupSafe-3.0.2.dist-info/RECORD"} {
			if arm[want] == nil {
				t.Errorf("ArmFunction zip lacks %s", want)
			}
		}
		for name := range arm {
			for _, bad := range []string{"__pycache__", ".venv/", ".pytest_cache", "native.so", ".pyc"} {
				if strings.Contains(name, bad) {
					t.Errorf("ArmFunction zip holds %s, which sam build leaves out", name)
				}
			}
		}
		if got := string(read(t, arm["app.py"])); got != pythonApp["fn/app.py"] {
			t.Errorf("app.py = %q, want the source", got)
		}
	})

	t.Run("no requirements: sources only", func(t *testing.T) {
		plain := zipFiles(t, f.get(t, fns["PlainFunction"].Key))
		if got := names(plain, ""); strings.Join(got, ",") != "app.py" {
			t.Errorf("PlainFunction zip holds %q, want app.py", got)
		}
	})

	t.Run("layer under python/", func(t *testing.T) {
		layer := zipFiles(t, f.get(t, fns["Deps"].Key))
		for name := range layer {
			if !strings.HasPrefix(name, "python/") {
				t.Errorf("layer zip holds %s, want everything under python/", name)
			}
		}
		so := layer["python/markupsafe/_speedups.cpython-311-aarch64-linux-gnu.so"]
		if so == nil || layer["python/shared.py"] == nil || layer["python/requirements-dev.txt"] == nil {
			t.Fatalf("layer zip holds %q, want markupsafe for arm64 and the layer's files", names(layer, ""))
		}
		if got := machine(t, so); got != elf.EM_AARCH64 {
			t.Errorf("layer's markupsafe is for %v, want arm64 (BuildArchitecture)", got)
		}
		tpl := string(f.get(t, pkg.TemplateKey))
		if !strings.Contains(tpl, "ContentUri: s3://"+f.store.Bucket()+"/"+fns["Deps"].Key) {
			t.Errorf("packaged template does not point the layer at its zip:\n%s", tpl)
		}
	})

	t.Run("same commit again: all reused", func(t *testing.T) {
		packageAgain(t, f, in, pkg)
	})
}

func TestPackagePythonFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		template   string
		files      map[string]string
		wantReason []string
	}{
		{
			name:     "C extension with no wheel for the target",
			template: "Runtime: python3.11\n      Architectures: [arm64]",
			// ujson 1.35 has only a source distribution, in C.
			files:      map[string]string{"fn/requirements.txt": "ujson==1.35\n"},
			wantReason: []string{"ujson==1.35 has no wheel for python3.11 on arm64", "manylinux2014_aarch64", "manylinux_2_17_aarch64", "C extensions"},
		},
		{
			name:       "unsupported runtime",
			template:   "Runtime: python3.9",
			wantReason: []string{"runtime python3.9 is not built: stackflow builds python3.11-python3.14"},
		},
		{
			name:       "image",
			template:   "Runtime: python3.11\n      PackageType: Image\n    Metadata:\n      Dockerfile: Dockerfile",
			wantReason: []string{"PackageType Image: image functions are not built"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			files := map[string]string{
				"template.yaml": "Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: fn\n      Handler: app.handler\n      " + tt.template + "\n",
				"fn/app.py":     "",
			}
			maps.Copy(files, tt.files)
			pf := packageFails(t, files)
			for _, want := range tt.wantReason {
				if pf.Function != "Fn" || !strings.Contains(pf.Reason, want) {
					t.Errorf("got %s: %q, want Fn: ...%q...", pf.Function, pf.Reason, want)
				}
			}
		})
	}
}
