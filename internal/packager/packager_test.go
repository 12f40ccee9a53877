package packager_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/stackflow/stackflow/internal/archive"
	"github.com/stackflow/stackflow/internal/artifacts"
	"github.com/stackflow/stackflow/internal/packager"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/testaws"
	"github.com/stackflow/stackflow/internal/toolchain"
)

var run = pipeline.Run{
	Repository: pipeline.Repository{Workspace: "acme", Slug: "app"},
	Branch:     "main",
	Commit:     "0123456789abcdef0123456789abcdef01234567",
}

const execution = "arn:aws:states:us-east-1:123456789012:execution:stackflow:app-main-0123456"

const appTemplate = `AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Description: a tiny app # kept as it is

Globals:
  Function:
    Runtime: provided.al2023
    Handler: bootstrap
    Architectures: [arm64]
    CodeUri: functions/world
    Timeout: 5

Resources:
  HelloFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: go1.x
    Properties:
      CodeUri: functions/hello
      Environment:
        Variables:
          TABLE: !Ref Table
          URL: !Sub "https://${AWS::Region}.example.com"
  WorldFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: go1.x
    Properties:
      Policies:
        - DynamoDBReadPolicy:
            TableName: !Ref Table
  AgainFunction:
    Type: AWS::Serverless::Function
    Metadata: {BuildMethod: go1.x}
    Properties:
      CodeUri: ./functions/hello/
  Prebuilt:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: s3://elsewhere/code.zip
  Table:
    Type: AWS::Serverless::SimpleTable
  Flow:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: statemachine/flow.asl.json
      DefinitionSubstitutions:
        HelloArn: !GetAtt HelloFunction.Arn
  Tools:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: layer/
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      DefinitionUri: api/openapi.yaml
  Plain:
    Type: AWS::Lambda::Function
    Properties:
      Code: layer
      Role: !GetAtt Role.Arn
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: "sts:AssumeRole"}]

Outputs:
  HelloArn:
    Value: !GetAtt HelloFunction.Arn
`

const flowDefinition = `{"StartAt": "Hello", "States": {"Hello": {"Type": "Task", "Resource": "${HelloArn}", "End": true}}}`

// app is a repository with two functions and no dependencies, so builds
// need no network.
var app = map[string]string{
	"go.mod":                     "module example.com/app\n\ngo 1.22\n",
	"template.yaml":              appTemplate,
	"functions/hello/main.go":    "package main\n\nfunc main() { println(\"hello\") }\n",
	"functions/world/main.go":    "package main\n\nfunc main() { println(\"world\") }\n",
	"statemachine/flow.asl.json": flowDefinition,
	"layer/bin/tool":             "#!/bin/sh\necho tool\n",
	"layer/data.txt":             "data\n",
	"api/openapi.yaml":           "openapi: 3.0.1\npaths: {}\n",
}

func with(files map[string]string, changes ...string) map[string]string {
	out := map[string]string{}
	for k, v := range files {
		out[k] = v
	}
	for i := 0; i+1 < len(changes); i += 2 {
		out[changes[i]] = changes[i+1]
	}
	return out
}

type fixture struct {
	svc   *packager.Service
	store *artifacts.Store
}

func setup(t *testing.T) fixture {
	t.Helper()
	cfg := testaws.Start(t)
	// kumo's servers share their buckets: one per test.
	bucket := strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-"))
	store := artifacts.New(testaws.S3(cfg), testaws.Bucket(t, cfg, bucket), cfg.Region)
	// The host's go and its build cache; no downloads.
	svc := &packager.Service{
		Store:     store,
		Toolchain: toolchain.Options{Proxy: "off", CacheDir: t.TempDir()},
		Logger:    slog.New(slog.DiscardHandler),
	}
	return fixture{svc: svc, store: store}
}

// source stores files as the commit's archive and returns the step input.
// Files starting with "#!" are executable.
func (f fixture) source(t *testing.T, files map[string]string) pipeline.PackageInput {
	t.Helper()
	return f.sourceAt(t, files, run.Commit)
}

// sourceAt stores files as the archive of commit and returns the step
// input.
func (f fixture) sourceAt(t *testing.T, files map[string]string, commit string) pipeline.PackageInput {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(body, "#!") {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := archive.Create(&buf, dir, "acme-app-0123456789ab", nil); err != nil {
		t.Fatal(err)
	}
	r := run
	r.Commit = commit
	key := pipeline.SourceKey(r.Repository, r.Commit)
	if err := f.store.Put(context.Background(), key, buf.Bytes(), ""); err != nil {
		t.Fatal(err)
	}
	return pipeline.PackageInput{Run: r, Execution: execution, Source: pipeline.Source{
		ArchiveKey: key, Plan: pipeline.Plan{Template: "template.yaml"},
	}}
}

func (f fixture) get(t *testing.T, key string) []byte {
	t.Helper()
	b, err := f.store.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// unzip returns the zip's entries by name.
func unzip(t *testing.T, b []byte) []*zip.File {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	return zr.File
}

func read(t *testing.T, f *zip.File) []byte {
	t.Helper()
	r, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var fixedTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

func TestPackage(t *testing.T) {
	t.Parallel()
	f := setup(t)
	in := f.source(t, app)
	ctx := context.Background()

	pkg, err := f.svc.Handle(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	bucket := f.store.Bucket()
	if pkg.Bucket != bucket || pkg.TemplateKey != "packages/acme/app/"+run.Commit+"/template.yaml" ||
		pkg.TemplateURL != f.store.URL(pkg.TemplateKey) || pkg.LogKey != "logs/acme/app/app-main-0123456/package.log" {
		t.Errorf("got package %+v", pkg)
	}
	if !regexp.MustCompile(`^packaged 3 functions \([0-9.]+ (KiB|MiB)\): 3 built, 0 reused$`).MatchString(pkg.Summary) {
		t.Errorf("got summary %q, want packaged 3 functions (size): 3 built, 0 reused", pkg.Summary)
	}
	fns := map[string]pipeline.BuiltFunction{}
	for _, fn := range pkg.Functions {
		fns[fn.Name] = fn
	}
	hello, world, again := fns["HelloFunction"], fns["WorldFunction"], fns["AgainFunction"]
	if len(pkg.Functions) != 3 || hello.Key == "" || hello.Key != again.Key || hello.Key == world.Key {
		t.Fatalf("got functions %+v, want Hello and Again sharing one zip, World its own", pkg.Functions)
	}

	t.Run("template's hash", func(t *testing.T) {
		sum := sha256.Sum256(f.get(t, pkg.TemplateKey))
		if got := hex.EncodeToString(sum[:]); got != pkg.TemplateSHA256 {
			t.Errorf("the stored template has sha256 %s, want the package's %q", got, pkg.TemplateSHA256)
		}
	})

	t.Run("zip", func(t *testing.T) {
		b := f.get(t, hello.Key)
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); got != hello.SHA256 || hello.Key != pipeline.ArtifactKey(run.Repository, got, ".zip") || int64(len(b)) != hello.Size {
			t.Errorf("zip has sha256 %s and %d bytes, want %+v named by its hash", got, len(b), hello)
		}
		files := unzip(t, b)
		if len(files) != 1 {
			t.Fatalf("got %d entries, want 1", len(files))
		}
		zf := files[0]
		if zf.Name != "bootstrap" || zf.Mode() != 0o755 || !zf.Modified.Equal(fixedTime) || zf.Method != zip.Deflate {
			t.Errorf("got entry %s mode %v time %v method %d, want bootstrap 0755 at %v deflated", zf.Name, zf.Mode(), zf.Modified, zf.Method, fixedTime)
		}
		exe, err := elf.NewFile(bytes.NewReader(read(t, zf)))
		if err != nil {
			t.Fatal(err)
		}
		if exe.Machine != elf.EM_AARCH64 || exe.Section(".symtab") != nil {
			t.Errorf("got machine %v (symbol table: %v), want a stripped arm64 binary", exe.Machine, exe.Section(".symtab") != nil)
		}
	})

	tpl := string(f.get(t, pkg.TemplateKey))
	t.Run("template", func(t *testing.T) {
		for _, want := range []string{
			"TABLE: !Ref Table",
			`URL: !Sub "https://${AWS::Region}.example.com"`,
			"HelloArn: !GetAtt HelloFunction.Arn",
			"TableName: !Ref Table",
			"Description: a tiny app # kept as it is",
			"CodeUri: s3://elsewhere/code.zip",
			"Architectures: [arm64]",
		} {
			if !strings.Contains(tpl, want) {
				t.Errorf("packaged template lacks %q:\n%s", want, tpl)
			}
		}
		var doc struct {
			Globals   map[string]map[string]any `yaml:"Globals"`
			Resources map[string]struct {
				Properties map[string]any `yaml:"Properties"`
			} `yaml:"Resources"`
		}
		if err := yaml.Unmarshal([]byte(tpl), &doc); err != nil {
			t.Fatal(err)
		}
		if _, ok := doc.Globals["Function"]["CodeUri"]; ok {
			t.Errorf("Globals still has a local CodeUri")
		}
		for name, fn := range fns {
			if got, want := doc.Resources[name].Properties["CodeUri"], "s3://"+bucket+"/"+fn.Key; got != want {
				t.Errorf("%s CodeUri = %v, want %s", name, got, want)
			}
		}
		def := doc.Resources["Flow"].Properties["DefinitionUri"]
		sum := sha256.Sum256([]byte(flowDefinition))
		wantKey := pipeline.ArtifactKey(run.Repository, hex.EncodeToString(sum[:]), ".json")
		if want := map[string]any{"Bucket": bucket, "Key": wantKey}; !equalJSON(def, want) {
			t.Errorf("DefinitionUri = %v, want %v", def, want)
		}
		if got := string(f.get(t, wantKey)); got != flowDefinition {
			t.Errorf("stored definition = %q, want the file", got)
		}
		layer, _ := doc.Resources["Tools"].Properties["ContentUri"].(string)
		key, ok := strings.CutPrefix(layer, "s3://"+bucket+"/")
		if !ok || !strings.HasSuffix(key, ".zip") {
			t.Fatalf("layer ContentUri = %q, want an s3:// zip", layer)
		}
		if code := doc.Resources["Plain"].Properties["Code"]; !equalJSON(code, map[string]any{"S3Bucket": bucket, "S3Key": key}) {
			t.Errorf("Lambda Code = %v, want the layer's zip as S3Bucket and S3Key", code)
		}
		sum = sha256.Sum256([]byte(app["api/openapi.yaml"]))
		if got, want := doc.Resources["Api"].Properties["DefinitionUri"], "s3://"+bucket+"/"+pipeline.ArtifactKey(run.Repository, hex.EncodeToString(sum[:]), ".yaml"); got != want {
			t.Errorf("HttpApi DefinitionUri = %v, want %s", got, want)
		}
		var got []string
		for _, zf := range unzip(t, f.get(t, key)) {
			got = append(got, zf.Name+" "+zf.Mode().String())
		}
		if want := []string{"bin/tool -rwxr-xr-x", "data.txt -rw-r--r--"}; strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("layer zip holds %q, want %q", got, want)
		}
	})

	t.Run("log", func(t *testing.T) {
		log := string(f.get(t, pkg.LogKey))
		for _, want := range []string{"cd functions/hello && GOOS=linux GOARCH=arm64 go build -tags lambda.norpc", "[built HelloFunction", "packaged template: s3://"} {
			if !strings.Contains(log, want) {
				t.Errorf("log lacks %q:\n%s", want, log)
			}
		}
	})

	t.Run("again: reused, not built or uploaded again", func(t *testing.T) {
		// Mark the stored zip: an upload would replace the mark.
		if err := f.store.Put(ctx, hello.Key, []byte("mark"), ""); err != nil {
			t.Fatal(err)
		}
		again, err := f.svc.Handle(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		want := slices.Clone(pkg.Functions)
		for i := range want {
			want[i].Reused = true
		}
		if !equalJSON(again.Functions, want) {
			t.Errorf("second package made %+v, want the same zips reused %+v", again.Functions, want)
		}
		if !strings.HasSuffix(again.Summary, ": 0 built, 3 reused") {
			t.Errorf("got summary %q, want 0 built, 3 reused", again.Summary)
		}
		log := string(f.get(t, again.LogKey))
		if !strings.Contains(log, "reused HelloFunction (inputs unchanged): s3://"+bucket+"/"+hello.Key) || strings.Contains(log, "go build") {
			t.Errorf("log does not say HelloFunction was reused without go build:\n%s", log)
		}
		if got := string(f.get(t, again.TemplateKey)); got != tpl {
			t.Errorf("second packaged template differs:\n%s\nwant\n%s", got, tpl)
		}
		if got := string(f.get(t, hello.Key)); got != "mark" {
			t.Errorf("the stored zip was uploaded again")
		}
	})
}

// A JSON template stays valid JSON; with Arch set, functions are built for
// it whatever the template says (here SAM's default, x86_64).
func TestPackageJSONTemplateWithArch(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.svc.Arch = "arm64"
	tpl := `{
  "Transform": "AWS::Serverless-2016-10-31",
  "Resources": {
    "HelloFunction": {
      "Type": "AWS::Serverless::Function",
      "Metadata": {"BuildMethod": "go1.x"},
      "Properties": {"Runtime": "provided.al2023", "Handler": "bootstrap", "Environment": {"Variables": {"T": {"Ref": "Table"}}}}
    },
    "Table": {"Type": "AWS::Serverless::SimpleTable"}
  }
}
`
	// CodeUri is relative to the template's directory.
	in := f.source(t, map[string]string{
		"go.mod":               "module example.com/app\n\ngo 1.22\n",
		"main.go":              app["functions/hello/main.go"],
		"deploy/template.json": strings.Replace(tpl, `"Runtime"`, `"CodeUri": "..", "Runtime"`, 1),
	})
	in.Source.Plan.Template = "deploy/template.json"
	pkg, err := f.svc.Handle(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	out := f.get(t, pkg.TemplateKey)
	if !json.Valid(out) {
		t.Fatalf("packaged template is not JSON:\n%s", out)
	}
	var doc struct {
		Resources map[string]struct{ Properties map[string]any }
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	props := doc.Resources["HelloFunction"].Properties
	if got, want := props["CodeUri"], "s3://"+f.store.Bucket()+"/"+pkg.Functions[0].Key; got != want {
		t.Errorf("CodeUri = %v, want %s", got, want)
	}
	if !equalJSON(props["Environment"], map[string]any{"Variables": map[string]any{"T": map[string]any{"Ref": "Table"}}}) {
		t.Errorf("Environment = %v, want it kept", props["Environment"])
	}
	files := unzip(t, f.get(t, pkg.Functions[0].Key))
	exe, err := elf.NewFile(bytes.NewReader(read(t, files[0])))
	if err != nil {
		t.Fatal(err)
	}
	if exe.Machine != elf.EM_AARCH64 {
		t.Errorf("got machine %v, want arm64 as Arch says", exe.Machine)
	}
}

func TestPackageFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		files        map[string]string
		wantFunction string
		wantReason   string
		wantTail     string
	}{
		{
			name:         "unsupported build method",
			files:        with(app, "template.yaml", strings.Replace(appTemplate, "BuildMethod: go1.x", "BuildMethod: makefile", 1)),
			wantFunction: "HelloFunction",
			wantReason:   `Metadata BuildMethod "makefile": only Go functions with BuildMethod go1.x are built`,
		},
		{
			name:         "no build method",
			files:        with(app, "template.yaml", strings.Replace(appTemplate, "Metadata: {BuildMethod: go1.x}", "Metadata: {}", 1)),
			wantFunction: "AgainFunction",
			wantReason:   "no Metadata BuildMethod: only Go functions with BuildMethod go1.x are built",
		},
		{
			name:         "handler other than bootstrap",
			files:        with(app, "template.yaml", strings.Replace(appTemplate, "Handler: bootstrap", "Handler: main", 1)),
			wantFunction: "HelloFunction",
			wantReason:   `Handler "main"`,
		},
		{
			name:         "retired go1.x runtime",
			files:        with(app, "template.yaml", strings.Replace(appTemplate, "Runtime: provided.al2023", "Runtime: go1.x", 1)),
			wantFunction: "HelloFunction",
			wantReason:   "runtime go1.x is retired",
		},
		{
			name:         "CodeUri out of the repository",
			files:        with(app, "template.yaml", strings.Replace(appTemplate, "CodeUri: functions/hello", "CodeUri: ../../etc", 1)),
			wantFunction: "HelloFunction",
			wantReason:   `CodeUri "../../etc" leaves the repository`,
		},
		{
			name:         "missing state machine definition",
			files:        with(app, "template.yaml", strings.Replace(appTemplate, "flow.asl.json", "gone.json", 1)),
			wantFunction: "Flow",
			wantReason:   `DefinitionUri "statemachine/gone.json": no such file`,
		},
		{
			name: "build failure",
			files: with(app, "functions/world/main.go",
				"package main\n\nfunc main() { println(nope) }\n"),
			wantFunction: "WorldFunction",
			wantReason:   "go build failed in functions/world",
			wantTail:     "undefined: nope",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			_, err := f.svc.Handle(context.Background(), f.source(t, tt.files))
			var pf *pipeline.PackageFailed
			if !errors.As(err, &pf) {
				t.Fatalf("got error %v, want PackageFailed", err)
			}
			if pf.Function != tt.wantFunction || !strings.Contains(pf.Reason, tt.wantReason) || !strings.Contains(pf.Tail, tt.wantTail) {
				t.Errorf("got %q: %q, tail %q; want %q: %q, tail with %q", pf.Function, pf.Reason, pf.Tail, tt.wantFunction, tt.wantReason, tt.wantTail)
			}
			log := string(f.get(t, "logs/acme/app/app-main-0123456/package.log"))
			if !strings.Contains(log, tt.wantReason) {
				t.Errorf("log lacks the reason %q:\n%s", tt.wantReason, log)
			}
		})
	}
}

func TestPackageBadTemplate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		template string
		files    map[string]string
		want     string
	}{
		{name: "missing", template: "nope.yaml", files: app, want: "nope.yaml: no such template"},
		{name: "not YAML", template: "template.yaml", files: with(app, "template.yaml", "Resources: [\n"), want: "template.yaml: line"},
		{name: "no resources", template: "template.yaml", files: with(app, "template.yaml", "Outputs: {}\n"), want: "no Resources"},
		{name: "outside", template: "../template.yaml", files: app, want: "leaves the repository"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			in := f.source(t, tt.files)
			in.Source.Plan.Template = tt.template
			_, err := f.svc.Handle(context.Background(), in)
			var ci *pipeline.ConfigInvalid
			if !errors.As(err, &ci) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got error %v, want ConfigInvalid with %q", err, tt.want)
			}
		})
	}
}

func TestGoArch(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"x86_64", "amd64"}, {"amd64", "amd64"}, {"arm64", "arm64"}, {"aarch64", "arm64"}, {"sparc", ""},
	}
	for _, tt := range tests {
		got, err := packager.GoArch(tt.in)
		if got != tt.want || (err != nil) != (tt.want == "") {
			t.Errorf("GoArch(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func equalJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}
