package stackflow_test

// cfn-lint, the reference CloudFormation linter (pinned in
// requirements-test.txt), over every template of the repository: the
// pipeline's own, the examples', any in a testdata folder, and every
// template written out in Go test code.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// installHint says how to install the Python tools the tests use.
const installHint = "python3 -m venv .venv && .venv/bin/pip install -r requirements-test.txt (at the repository's root, as the README's test command does)"

// invalidTemplates are the templates in Go test code that are wrong on
// purpose (each tests the error it makes), by the name cfnLintTargets gives
// them, with the reason. cfn-lint must find a problem in each, so the list
// stays true: one it passes is to be taken off.
var invalidTemplates = map[string]string{
	canary: "the canary: cfn-lint must find its misspelt property, or the test checks nothing",

	// Resources that cannot be created: a stack rolled back, a run failed.
	"internal/deploy/engine_test.go:badTemplate":                                                        "a bucket name S3 refuses: the deploy step's failed create",
	"internal/local/local_test.go:TestAResourceThatCannotBeCreatedRollsTheStackBack/repo/template.yaml": "a bucket name S3 refuses: the run fails naming the resource",
	"internal/local/recovery_test.go:TestAFailedFirstCreateIsRecoveredOnTheNextPush/repo/template.yaml": "a bucket name S3 refuses: a failed first create, recovered by the next push",
	"internal/local/cfn/stack_test.go:TestCreateFailureRollsBack/invalid bucket name/body":              "a bucket name S3 refuses: the create rolls back",
	"internal/local/cfn/stack_test.go:TestUpdateFailureRollsBackToThePreviousRelease/v2":                "a bucket name S3 refuses: the update rolls back",

	// The local CloudFormation engine's refusals, each with CloudFormation's message.
	"internal/local/cfn/api_test.go:TestCreateChangeSetRefusals/cycle":         "a circular dependency",
	"internal/local/cfn/api_test.go:TestCreateChangeSetRefusals/unresolved":    "a Ref to no resource",
	"internal/local/cfn/api_test.go:TestCreateChangeSetRefusals/bad attribute": "a GetAtt of an attribute the type does not have",
	"internal/local/cfn/api_test.go:TestValidateTemplate/TemplateBody":         "an unknown type and a Ref to no resource: ValidateTemplate's error",
	"internal/local/cfn/stack_test.go:TestParameters/body":                     "parameters declared for their own checks (NoEcho, a constraint description), not used",
	"internal/local/cfn/stack_test.go:TestParameters/missing":                  "parameters declared without values, not used: the missing values' error",

	// The local engine's template parser, alone: every form, then every error.
	"internal/local/cfn/template_test.go:TestParseTemplateShortForms/body":                  "every intrinsic's short form (and a key YAML 1.1 reads as null), referring to nothing",
	"internal/local/cfn/template_test.go:TestParseTemplateJSON/body":                        "JSON's forms of attributes, referring to a condition that is not there",
	"internal/local/cfn/template_test.go:TestParseTemplateErrors/no type":                   "a resource without Type",
	"internal/local/cfn/template_test.go:TestParseTemplateErrors/unknown section":           "an unknown top-level section",
	"internal/local/cfn/template_test.go:TestParseTemplateErrors/globals without transform": "Globals without SAM's transform",
	"internal/local/cfn/template_test.go:TestParseTemplateErrors/bad version":               "an AWSTemplateFormatVersion that is not 2010-09-09",
	"internal/local/cfn/template_test.go:TestParseTemplateErrors/unknown tag":               "a short form that is no intrinsic (and a resource type T)",
	"internal/local/cfn/template_test.go:TestParseTemplateErrors/bad parameter type":        "a parameter type that does not exist",
	"internal/local/cfn/template_test.go:TestParseTemplateErrors/bad logical ID":            "a logical ID with a hyphen",
	"internal/local/cfn/template_test.go:TestParseTemplateErrors/output without value":      "an output without Value",

	// SAM's translator's refusals, and dynamic references where CloudFormation refuses them.
	"internal/local/cfn/api_test.go:TestServerlessTemplateProblemsFailTheChangeSet/invalid SAM":                  "a function without Handler: the translator's error fails the change set",
	"cmd/stackflow/plan_test.go:TestPlanSaysWhatALocalRunDoesNotRehearse/bad/template.yaml":                      "a function without Handler: plan shows the translator's error",
	"internal/local/cfn/support_test.go:TestTranslateSaysWhatIsWrong/bad":                                        "a function without Handler: Translate's error, as CloudFormation words it",
	"internal/local/cfn/dynref_test.go:TestDynamicReferenceErrors/ssm-secure in a function_s variables/template": "an ssm-secure reference where CloudFormation does not resolve one",
	"internal/local/cfn/dynref_test.go:TestDynamicReferencesResolve/tmpl":                                        "a secretsmanager reference in an Output (left as written, as the test shows); parameter names filled in at run time",

	// Templates made with fmt.Sprintf, whose %s cfn-lint reads literally.
	"internal/local/samtransform/translator_test.go:TestConcurrentTranslationsGetTheirOwnAnswers/body": "a logical ID filled in per translation with %s",
}

// canary is the name of canaryTemplate among the targets.
const canary = "cfnlint_test.go:canaryTemplate"

// dateRules are cfn-lint's rules whose verdict depends on the day it runs
// (a runtime deprecated, or blocked for creation or update, as of today):
// they are left out, since no test depends on the date. Which runtimes the
// packager and the checks accept is tested on its own.
var dateRules = map[string]string{
	"W2531": "a deprecated Lambda runtime, as of today",
	"E2531": "a Lambda runtime whose creation is blocked, as of today",
	"E2533": "a Lambda runtime whose update is blocked, as of today",
}

// canaryTemplate has mistakes cfn-lint must report, so a lint run that
// checks nothing fails the test rather than passing it.
const canaryTemplate = `Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/
      Handler: app.handler
      Runtime: python3.12
      Timeoot: 3
`

// canaryFinding is what cfn-lint must say of canaryTemplate.
const canaryFinding = "E3002"

// lintTarget is a template to lint: its name in messages, and its text.
type lintTarget struct {
	name string
	body []byte
}

// TestTemplatesPassCfnLint runs cfn-lint once over every template of the
// repository and wants no error or warning, except in invalidTemplates,
// where it wants one. cfn-lint reads a SAM template with SAM's transform in
// mind: it merges Globals into the resources, checks SAM's resource types
// against SAM's schema, and knows the resources SAM makes of them
// (FnRole, ServerlessHttpApi, ...) for Ref and GetAtt.
func TestTemplatesPassCfnLint(t *testing.T) {
	t.Parallel()
	cfnLint := cfnLintPath(t)
	targets := cfnLintTargets(t)
	found := runCfnLint(t, cfnLint, targets)
	if !slices.ContainsFunc(found[canary], func(s string) bool { return strings.Contains(s, canaryFinding) }) {
		t.Errorf("cfn-lint did not report %s (a misspelt property) in %s, which has one: the test would pass any template; it said %q", canaryFinding, canary, found[canary])
	}
	names := map[string]bool{}
	for _, tg := range targets {
		names[tg.name] = true
		if tg.name == canary && string(tg.body) != canaryTemplate {
			t.Errorf("%s was read from the Go source as %q, want %q", canary, tg.body, canaryTemplate)
		}
		reason, invalid := invalidTemplates[tg.name]
		switch {
		case invalid && len(found[tg.name]) == 0:
			t.Errorf("%s is listed as invalid (%s) but cfn-lint finds nothing wrong with it: take it off invalidTemplates", tg.name, reason)
		case !invalid && len(found[tg.name]) > 0:
			t.Errorf("cfn-lint: %s:\n  %s\n(fix the template; a template wrong on purpose goes in invalidTemplates, with the reason)", tg.name, strings.Join(found[tg.name], "\n  "))
		}
	}
	for name := range invalidTemplates {
		if !names[name] {
			t.Errorf("invalidTemplates lists %s, which is not a template of the repository any more: take it off", name)
		}
	}
	for _, want := range []string{"template.yaml", "examples/hello/template.yaml", canary} {
		if !names[want] {
			t.Errorf("%s is not among the templates linted", want)
		}
	}
	t.Logf("cfn-lint over %d templates: no problem in %d, the expected ones in %d", len(names), len(names)-len(invalidTemplates), len(invalidTemplates))
}

// BenchmarkCfnLint measures what TestTemplatesPassCfnLint spends: finding
// the templates, and the one cfn-lint run over them.
func BenchmarkCfnLint(b *testing.B) {
	cfnLint := cfnLintPath(b)
	for b.Loop() {
		runCfnLint(b, cfnLint, cfnLintTargets(b))
	}
}

// cfnLintPath returns the path of .venv's cfn-lint; when it is missing the
// test fails, saying how to install it.
func cfnLintPath(tb testing.TB) string {
	tb.Helper()
	p, err := filepath.Abs(filepath.Join(".venv", "bin", "cfn-lint"))
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("cfn-lint is not installed at %s; install it with: %s", p, installHint)
	}
	return p
}

// runCfnLint lints the targets with one cfn-lint process and returns what
// it found, by target name.
func runCfnLint(tb testing.TB, cfnLint string, targets []lintTarget) map[string][]string {
	tb.Helper()
	// One process for all: cfn-lint takes a second or more to start.
	dir := tb.TempDir()
	byFile := map[string]string{}
	args := []string{"--format", "json", "--ignore-checks", strings.Join(sortedKeys(dateRules), ","), "--"}
	for i, tg := range targets {
		ext := ".yaml"
		if bytes.HasPrefix(bytes.TrimSpace(tg.body), []byte("{")) {
			ext = ".json"
		}
		// cfn-lint globs its arguments: the file names have no glob characters.
		file := filepath.Join(dir, fmt.Sprintf("%03d%s", i, ext))
		if err := os.WriteFile(file, tg.body, 0o644); err != nil {
			tb.Fatal(err)
		}
		byFile[file] = tg.name
		args = append(args, file)
	}
	cmd := exec.Command(cfnLint, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	var findings []struct {
		Filename *string
		Message  string
		Location struct{ Start struct{ LineNumber int } }
		Rule     struct{ Id string }
	}
	if err := json.Unmarshal(out, &findings); err != nil {
		tb.Fatalf("cfn-lint: %v (%v)\n%s%s", err, runErr, out, stderr.Bytes())
	}
	found := map[string][]string{} // by target name
	for _, f := range findings {
		if f.Filename == nil {
			tb.Fatalf("cfn-lint: %s %s", f.Rule.Id, f.Message)
		}
		name, ok := byFile[*f.Filename]
		if !ok {
			tb.Fatalf("cfn-lint reported a file it was not given: %s: %s %s", *f.Filename, f.Rule.Id, f.Message)
		}
		found[name] = append(found[name], fmt.Sprintf("line %d: %s %s", f.Location.Start.LineNumber, f.Rule.Id, f.Message))
	}
	return found
}

// cfnLintTargets returns every template of the repository: the YAML and
// JSON files that git tracks (or would: untracked, not ignored) whose top
// level has Resources, and the templates written as string literals in its
// Go test files, named "file.go:Func/label".
func cfnLintTargets(t testing.TB) []lintTarget {
	t.Helper()
	out, err := exec.Command("git", "ls-files", "--cached", "--others", "--exclude-standard", "-z").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v (the test finds the templates through git: run it in a clone)", err)
	}
	var targets []lintTarget
	seen := map[string]bool{}
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if seen[name] {
			continue // listed twice when both tracked and changed
		}
		seen[name] = true
		switch filepath.Ext(name) {
		case ".yaml", ".yml", ".json":
			if strings.Contains(name, "node_modules/") || filepath.Base(name) == "package-lock.json" {
				continue
			}
			data, err := os.ReadFile(name)
			if os.IsNotExist(err) {
				continue // deleted in the work tree
			}
			if err != nil {
				t.Fatal(err)
			}
			if isTemplate(data) {
				targets = append(targets, lintTarget{name: name, body: data})
			}
		case ".go":
			if !strings.HasSuffix(name, "_test.go") {
				continue
			}
			found, err := goTemplates(name)
			if err != nil {
				t.Fatal(err)
			}
			targets = append(targets, found...)
		}
	}
	return targets
}

// isTemplate says whether data is a CloudFormation template: a YAML (or
// JSON) mapping whose Resources is a mapping with at least one resource.
func isTemplate(data []byte) bool {
	if !bytes.Contains(data, []byte("Resources")) {
		return false
	}
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return false
	}
	top := doc.Content[0].Content
	for i := 0; i+1 < len(top); i += 2 {
		if top[i].Value == "Resources" {
			return top[i+1].Kind == yaml.MappingNode && len(top[i+1].Content) > 0
		}
	}
	return false
}

// goTemplates returns the templates written as string literals (or sums
// of them) in a Go file, each named after where it is: the function and
// the constant, variable, table case (its first string, or its name
// field) or map key that holds it.
func goTemplates(file string) ([]lintTarget, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	var targets []lintTarget
	count := map[string]int{}
	var stack []ast.Node
	ast.Inspect(f, func(n ast.Node) bool {
		if n == nil {
			stack = stack[:len(stack)-1]
			return false
		}
		stack = append(stack, n)
		s, ok := stringValue(n)
		if !ok {
			return true
		}
		if len(stack) > 1 {
			if b, ok := stack[len(stack)-2].(*ast.BinaryExpr); ok && b.Op == token.ADD {
				return true // part of a sum: checked as a whole if it is all literals, else a fragment
			}
		}
		if isTemplate([]byte(s)) {
			name := file + ":" + where(stack)
			count[name]++
			if c := count[name]; c > 1 {
				name += "#" + strconv.Itoa(c)
			}
			targets = append(targets, lintTarget{name: name, body: []byte(s)})
		}
		return true
	})
	return targets, nil
}

// stringValue returns the value of a string literal, or of a sum of
// string literals.
func stringValue(n ast.Node) (string, bool) {
	switch n := n.(type) {
	case *ast.BasicLit:
		if n.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(n.Value)
		return s, err == nil
	case *ast.BinaryExpr:
		if n.Op != token.ADD {
			return "", false
		}
		x, ok := stringValue(n.X)
		if !ok {
			return "", false
		}
		y, ok := stringValue(n.Y)
		return x + y, ok
	case *ast.ParenExpr:
		return stringValue(n.X)
	}
	return "", false
}

// label is what a name may hold: no glob or shell characters.
var label = regexp.MustCompile(`[^A-Za-z0-9 ._/-]+`)

// where names the place of the last node of stack: "Func/label", where
// label is the constant or variable it is assigned to or the table case it
// is in, and then the map key or field it is the value of, if any.
func where(stack []ast.Node) string {
	var parts []string
	key := ""
up:
	for i := len(stack) - 2; i >= 0; i-- {
		switch n := stack[i].(type) {
		case *ast.FuncDecl:
			break up
		case *ast.CallExpr:
			// t.Run("case", func(t *testing.T) { ... })
			if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Run" && len(n.Args) == 2 {
				if c, ok := stringValue(n.Args[0]); ok {
					parts = append(parts, c)
					break up
				}
			}
		case *ast.ValueSpec:
			parts = append(parts, n.Names[0].Name)
			break up
		case *ast.AssignStmt:
			if id, ok := n.Lhs[0].(*ast.Ident); ok && id.Name != "_" {
				parts = append(parts, id.Name)
				break up
			}
		case *ast.CompositeLit:
			if c := caseName(n); c != "" {
				parts = append(parts, c)
				break up
			}
		case *ast.KeyValueExpr:
			if key != "" {
				break
			}
			if k, ok := stringValue(n.Key); ok {
				key = k
			} else if id, ok := n.Key.(*ast.Ident); ok {
				key = id.Name
			}
		}
	}
	if key != "" {
		parts = append(parts, key)
	}
	for _, n := range stack {
		if fd, ok := n.(*ast.FuncDecl); ok {
			parts = append([]string{fd.Name.Name}, parts...)
		}
	}
	return strings.TrimSpace(label.ReplaceAllString(strings.Join(parts, "/"), "_"))
}

// caseName returns the name of a table case: its name field, or its first
// element when that is a string literal; "" for other composite literals.
func caseName(cl *ast.CompositeLit) string {
	for _, e := range cl.Elts {
		if kv, ok := e.(*ast.KeyValueExpr); ok {
			if id, ok := kv.Key.(*ast.Ident); ok && id.Name == "name" {
				s, _ := stringValue(kv.Value)
				return s
			}
		}
	}
	if len(cl.Elts) > 1 {
		if s, ok := stringValue(cl.Elts[0]); ok && !strings.Contains(s, "\n") {
			return s
		}
	}
	return ""
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
