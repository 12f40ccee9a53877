package stackflow_test

// Static checks of the pipeline's SAM application and of the example app,
// run without AWS: the state machine against asl-validator, the templates
// against goformation's SAM schema, the placeholders against the
// substitutions, and every function built the way `sam build` builds it.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7/intrinsics"
	"github.com/awslabs/goformation/v7/schema"
	"github.com/xeipuuv/gojsonschema"
	"gopkg.in/yaml.v3"

	"github.com/stackflow/stackflow"
	"github.com/stackflow/stackflow/internal/pipeline"
)

var templates = []string{"template.yaml", "examples/hello/template.yaml"}

var placeholder = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)

// samTemplate is the part of a SAM template these checks read.
type samTemplate struct {
	Globals struct {
		Function map[string]any `yaml:"Function"`
	} `yaml:"Globals"`
	Resources map[string]struct {
		Type       string         `yaml:"Type"`
		Metadata   map[string]any `yaml:"Metadata"`
		Properties map[string]any `yaml:"Properties"`
	} `yaml:"Resources"`
}

func readTemplate(t *testing.T, path string) samTemplate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Short-form intrinsics (!Ref, !GetAtt) are custom tags: decode through
	// nodes so their values are read as plain scalars.
	var node yaml.Node
	if err := yaml.Unmarshal(data, &node); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	clearTags(&node)
	var tpl samTemplate
	if err := node.Decode(&tpl); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return tpl
}

func clearTags(n *yaml.Node) {
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		n.Tag = ""
	}
	for _, c := range n.Content {
		clearTags(c)
	}
}

func substitutions(t *testing.T) map[string]any {
	t.Helper()
	tpl := readTemplate(t, "template.yaml")
	sm, ok := tpl.Resources["PipelineStateMachine"]
	if !ok {
		t.Fatal("template.yaml has no PipelineStateMachine")
	}
	subs, ok := sm.Properties["DefinitionSubstitutions"].(map[string]any)
	if !ok {
		t.Fatal("PipelineStateMachine has no DefinitionSubstitutions")
	}
	return subs
}

// substituted returns the definition with every placeholder replaced by an
// ARN of the right shape, as DefinitionSubstitutions would.
func substituted(t *testing.T) []byte {
	t.Helper()
	return placeholder.ReplaceAllFunc(stackflow.Definition, func(m []byte) []byte {
		name := placeholder.FindSubmatch(m)[1]
		return []byte("arn:aws:lambda:eu-west-1:123456789012:function:stackflow-" + string(name))
	})
}

func TestDefinitionPlaceholdersMatchSubstitutions(t *testing.T) {
	t.Parallel()
	used := map[string]bool{}
	for _, m := range placeholder.FindAllSubmatch(stackflow.Definition, -1) {
		used[string(m[1])] = true
	}
	subs := substitutions(t)
	for name := range used {
		if _, ok := subs[name]; !ok {
			t.Errorf("${%s} is used in statemachine/pipeline.asl.json but has no DefinitionSubstitution", name)
		}
	}
	for name := range subs {
		if !used[name] {
			t.Errorf("DefinitionSubstitution %s is never used in statemachine/pipeline.asl.json", name)
		}
	}
	if len(used) == 0 {
		t.Fatal("the definition uses no placeholders; the regexp or the file is wrong")
	}
}

func TestDefinitionIsValidASL(t *testing.T) {
	t.Parallel()
	bin := filepath.Join("node_modules", ".bin", "asl-validator")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("asl-validator is not installed (%v): run `npm ci` at the repository root", err)
	}
	path := filepath.Join(t.TempDir(), "pipeline.asl.json")
	if err := os.WriteFile(path, substituted(t), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--json-path", path).CombinedOutput()
	if err != nil {
		t.Fatalf("asl-validator: %v\n%s", err, out)
	}
}

// TestDefinitionShape checks what the console and the handlers rely on:
// every Task retries transient Lambda errors, no Task retries the errors that
// mean the app itself is wrong, and every failure is reported before the
// run fails.
func TestDefinitionShape(t *testing.T) {
	t.Parallel()
	var def struct {
		States map[string]json.RawMessage
	}
	if err := json.Unmarshal(stackflow.Definition, &def); err != nil {
		t.Fatal(err)
	}
	type retrier struct {
		ErrorEquals []string
	}
	type state struct {
		Type               string
		Resource           string
		TimeoutSeconds     int
		TimeoutSecondsPath string
		Parameters         struct{ FunctionName string }
		Retry              []retrier
		Catch              []struct {
			ErrorEquals []string
			Next        string
		}
		ItemProcessor *struct{ States map[string]json.RawMessage }
		Next          string
	}
	noRetry := map[string]bool{"ChecksFailed": true, "SmokeTestFailed": true, "ConfigInvalid": true, "StackDeployFailed": true, "PackageFailed": true, "PackageRefused": true, "SourceUnavailable": true}
	known := map[string]bool{}
	for _, n := range pipeline.ErrorNames {
		known[n] = true
	}
	var walk func(prefix string, states map[string]json.RawMessage)
	tasks := 0
	// A Task must outlast its function: the local engine's default is 60 s
	// and AWS's is a year, neither of which fits.
	tpl := readTemplate(t, "template.yaml")
	subs := substitutions(t)
	lambdaTimeout := func(resource string) int {
		ph := strings.TrimSuffix(strings.TrimPrefix(resource, "${"), "}")
		ref, _ := subs[ph].(string)
		fn := tpl.Resources[strings.TrimSuffix(ref, ".Arn")]
		if v, ok := fn.Properties["Timeout"].(int); ok {
			return v
		}
		v, _ := tpl.Globals.Function["Timeout"].(int)
		return v
	}
	walk = func(prefix string, states map[string]json.RawMessage) {
		for name, raw := range states {
			var s state
			if err := json.Unmarshal(raw, &s); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if s.ItemProcessor != nil {
				walk(prefix+name+" / ", s.ItemProcessor.States)
			}
			if s.Type != "Task" {
				continue
			}
			tasks++
			switch {
			case strings.HasPrefix(s.Resource, "arn:aws:states:::aws-sdk:"):
				// A service call: bounded, retried, no function of ours.
				if s.TimeoutSeconds <= 0 || len(s.Retry) == 0 {
					t.Errorf("%s%s: want a TimeoutSeconds and a Retry", prefix, name)
				}
				continue
			case s.Resource == "arn:aws:states:::lambda:invoke.waitForTaskToken":
				// It waits for a person, as long as the path says; its
				// function must exist and be retried.
				if s.TimeoutSecondsPath == "" || lambdaTimeout(s.Parameters.FunctionName) == 0 {
					t.Errorf("%s%s: want a TimeoutSecondsPath and a function of the template, got %q", prefix, name, s.Parameters.FunctionName)
				}
			default:
				if lt := lambdaTimeout(s.Resource); lt == 0 || s.TimeoutSeconds <= lt {
					t.Errorf("%s%s: TimeoutSeconds %d, want more than its function's timeout (%d s)", prefix, name, s.TimeoutSeconds, lt)
				}
			}
			transient := false
			for _, r := range s.Retry {
				for _, e := range r.ErrorEquals {
					if e == "Lambda.ServiceException" {
						transient = true
					}
					if noRetry[e] {
						t.Errorf("%s%s retries %s, which retrying cannot fix", prefix, name, e)
					}
					if !strings.HasPrefix(e, "Lambda.") && !strings.HasPrefix(e, "States.") && !known[e] {
						t.Errorf("%s%s retries %s, which no handler returns (pipeline.ErrorNames)", prefix, name, e)
					}
				}
			}
			if !transient {
				t.Errorf("%s%s has no Retry for transient Lambda errors", prefix, name)
			}
		}
	}
	walk("", def.States)
	if tasks < 6 {
		t.Fatalf("found %d Task states, want at least 6", tasks)
	}
}

// samValidate validates a SAM template against goformation's SAM schema
// after resolving intrinsic functions to values of the right shape.
func samValidate(t *testing.T, path string, overrides map[string]any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tpl := readTemplate(t, path)
	params := map[string]any{}
	var raw struct {
		Parameters map[string]struct {
			Type    string `yaml:"Type"`
			Default any    `yaml:"Default"`
		} `yaml:"Parameters"`
	}
	if err := yaml.Unmarshal(data, &raw); err == nil {
		for k, p := range raw.Parameters {
			params[k] = p.Default
			// A Number parameter's value is a number wherever it is used.
			if s, ok := p.Default.(string); ok && p.Type == "Number" {
				var n float64
				if _, err := fmt.Sscan(s, &n); err == nil {
					params[k] = n
				}
			}
		}
	}
	for k, v := range overrides {
		params[k] = v
	}
	ref := func(_ string, input any, _ any) any {
		name, _ := input.(string)
		if v, ok := params[name]; ok && v != nil {
			return v
		}
		if _, ok := tpl.Resources[name]; ok || strings.HasPrefix(name, "AWS::") {
			return "ref-" + name
		}
		if _, ok := params[name]; ok {
			return "param-" + name
		}
		return nil // an unknown name: the schema check below reports the hole
	}
	getAtt := func(_ string, input any, _ any) any {
		return fmt.Sprintf("getatt-%v", input)
	}
	out, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{
		IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{"Ref": ref, "Fn::GetAtt": getAtt},
		ParameterOverrides:        overrides,
		EvaluateConditions:        true,
	})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	// Resolved, conditions are booleans and AWS::NoValue is null, which
	// CloudFormation removes: do the same before checking the shape.
	var doc map[string]any
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	delete(doc, "Conditions")
	out, err = json.Marshal(dropNulls(doc))
	if err != nil {
		t.Fatal(err)
	}
	res, err := gojsonschema.Validate(gojsonschema.NewStringLoader(schema.SamSchema), gojsonschema.NewBytesLoader(out))
	if err != nil {
		t.Fatalf("%s: schema: %v", path, err)
	}
	for _, e := range res.Errors() {
		t.Errorf("%s: %s", path, e)
	}
}

// dropNulls removes null list items and map values, as CloudFormation
// removes an AWS::NoValue.
func dropNulls(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if x == nil {
				delete(v, k)
				continue
			}
			v[k] = dropNulls(x)
		}
		return v
	case []any:
		out := v[:0]
		for _, x := range v {
			if x != nil {
				out = append(out, dropNulls(x))
			}
		}
		return out
	}
	return v
}

func TestTemplatesMatchSAMSchema(t *testing.T) {
	t.Parallel()
	for _, path := range templates {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			samValidate(t, path, nil)
		})
	}
	// The parts only some parameter values turn on.
	t.Run("template.yaml with notifications", func(t *testing.T) {
		t.Parallel()
		samValidate(t, "template.yaml", map[string]any{"NotificationTopicArn": "arn:aws:sns:eu-west-1:123456789012:runs"})
	})
}

func TestTemplateFunctionsFollowTheHouseRules(t *testing.T) {
	t.Parallel()
	tpl := readTemplate(t, "template.yaml")
	g := tpl.Globals.Function
	if g["Runtime"] != "provided.al2023" || g["Handler"] != "bootstrap" || g["Tracing"] != "Active" {
		t.Errorf("Globals.Function: got Runtime=%v Handler=%v Tracing=%v, want provided.al2023, bootstrap, Active", g["Runtime"], g["Handler"], g["Tracing"])
	}
	if a, _ := g["Architectures"].([]any); len(a) != 1 || a[0] != "arm64" {
		t.Errorf("Globals.Function.Architectures: got %v, want [arm64]", g["Architectures"])
	}
	n := 0
	for name, r := range tpl.Resources {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		n++
		if r.Metadata["BuildMethod"] != "go1.x" {
			t.Errorf("%s: Metadata.BuildMethod = %v, want go1.x", name, r.Metadata["BuildMethod"])
		}
		code, _ := r.Properties["CodeUri"].(string)
		if _, err := os.Stat(filepath.Join(code, "main.go")); err != nil {
			t.Errorf("%s: CodeUri %q has no main.go", name, code)
		}
		// The checks and package steps run the commit's code and reach
		// the bucket through presigned URLs alone.
		touchesNoAWS := name == "ChecksFunction" || name == "PackageFunction"
		if r.Properties["Policies"] == nil && !touchesNoAWS {
			t.Errorf("%s has no Policies: every function that touches AWS names what it may touch", name)
		}
		if r.Properties["Policies"] != nil && touchesNoAWS {
			t.Errorf("%s has Policies: it touches no AWS and may hold nothing", name)
		}
	}
	if n != 10 {
		t.Errorf("template.yaml has %d functions, want 10 (webhook, status, source, grant, checks, package, publish, deploy, smoketest, approve)", n)
	}
}

// TestFunctionsBuildAsSAMBuilds builds every function of both templates the
// way `sam build` builds BuildMethod go1.x for provided.al2023 on arm64:
// GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -tags lambda.norpc. The
// functions of a template are built by one go build, which compiles each
// package once and links the functions side by side, each into a folder
// named after its code's.
func TestFunctionsBuildAsSAMBuilds(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	for i, path := range templates {
		tpl := readTemplate(t, path)
		names := make([]string, 0, len(tpl.Resources))
		for name, r := range tpl.Resources {
			if r.Type == "AWS::Serverless::Function" {
				names = append(names, name)
			}
		}
		sort.Strings(names)
		// go build -o DIR/ writes each main package to DIR/<its folder's
		// name>: functions whose folders share a name get a go build each.
		base := filepath.Dir(path)
		bins := map[string]string{} // function -> its binary
		var pkgs []string
		byFolder := map[string]string{}
		for _, name := range names {
			code, _ := tpl.Resources[name].Properties["CodeUri"].(string)
			folder := filepath.Base(filepath.Clean(filepath.Join(base, code)))
			dir := filepath.Join(out, fmt.Sprint(i))
			if other, ok := byFolder[folder]; ok && other != code {
				dir = filepath.Join(out, fmt.Sprint(i), name)
				build(t, filepath.Join(base, code), dir+"/", path+": "+name, ".")
				bins[name] = filepath.Join(dir, folder)
				continue
			}
			byFolder[folder] = code
			pkgs = append(pkgs, "./"+filepath.ToSlash(filepath.Clean(code)))
			bins[name] = filepath.Join(dir, folder)
		}
		if len(pkgs) > 0 {
			build(t, base, filepath.Join(out, fmt.Sprint(i))+"/", path, pkgs...)
		}
		for _, name := range names {
			if fi, err := os.Stat(bins[name]); err != nil || fi.Size() == 0 {
				t.Errorf("%s: %s: no bootstrap built", path, name)
			}
		}
	}
}

// build runs go build for linux/arm64 as sam build does, in dir, of pkgs,
// into out (a folder, ending in a slash); what names the build in
// messages.
func build(t *testing.T, dir, out, what string, pkgs ...string) {
	t.Helper()
	cmd := exec.Command("go", append([]string{"build", "-tags", "lambda.norpc", "-o", out}, pkgs...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("%s (%s): go build %s: %v\n%s", what, dir, strings.Join(pkgs, " "), err, b)
	}
}
