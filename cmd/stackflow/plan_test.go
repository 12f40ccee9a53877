package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackflow/stackflow/internal/pipeline"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, nil, &out, &errOut)
	return code, out.String(), errOut.String()
}

// cliCase is a command line and what it should do: its exit code, and
// what stdout and stderr should contain.
type cliCase struct {
	name       string
	args       []string
	wantCode   int
	wantOut    []string
	wantErrOut []string
}

// checkRun checks a command line's exit code, and that its stdout and
// stderr contain the strings wanted.
func checkRun(t *testing.T, code int, out, errOut string, wantCode int, wantOut, wantErrOut []string) {
	t.Helper()
	if code != wantCode {
		t.Errorf("exit code: got %d, want %d\nstdout: %s\nstderr: %s", code, wantCode, out, errOut)
	}
	for _, w := range wantOut {
		if !strings.Contains(out, w) {
			t.Errorf("stdout: got %q, want it to contain %q", out, w)
		}
	}
	for _, w := range wantErrOut {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr: got %q, want it to contain %q", errOut, w)
		}
	}
}

func writeApp(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestPlan(t *testing.T) {
	t.Parallel()
	hello := filepath.Join("..", "..", "examples", "hello")
	bad := writeApp(t, map[string]string{"stackflow.yml": "environments:\n  - name: staging\n    branches: [main]\n    smoke:\n      - name: x\n        url: http://x/\n        status: ok\n"})
	missing := writeApp(t, map[string]string{"README.md": "no config here\n"})
	typo := writeApp(t, map[string]string{
		"stackflow.yml": "environments:\n  - name: staging\n    branches: [main]\n    smoke:\n      - name: greets\n        url: ${ApiURL}hello\n",
		"template.yaml": "Resources: {}\nOutputs:\n  ApiUrl:\n    Value: http://x/\n",
	})
	tests := []cliCase{
		{
			name: "main is promoted to staging then prod", args: []string{"plan", hello, "--branch", "main"},
			wantOut: []string{"main: checks, then staging -> prod", "1. staging: stack hello-staging in eu-west-1", "2. prod: stack hello-prod", "parameters:   Stage=prod", `smoke greets: GET ${ApiUrl}hello, want status 200 and "hello from staging"`,
				"stackflow local (template.yaml as SAM's translator makes it):\n    runs every resource\n    runs differently from AWS:\n",
				"AWS::Lambda::Function Architectures (HelloFunction): functions run on this machine's architecture"},
		},
		{
			name: "a folder inside the app finds its root", args: []string{"plan", "--branch", "feature/x", filepath.Join(hello, "hello")},
			wantOut: []string{"feature/x: checks only (no environment deploys this branch)", "$ go test ./..."},
		},
		{
			name: "a bad config names the file, the line and the fix", args: []string{"plan", bad, "--branch", "main"}, wantCode: 1,
			wantErrOut: []string{"stackflow.yml:7: environments[0].smoke[0].status: want an HTTP status code such as 200"},
		},
		{
			name: "a missing config says what to add", args: []string{"plan", missing}, wantCode: 1,
			wantErrOut: []string{"has no stackflow.yml at its root", "add one at the repository root"},
		},
		{
			name: "a smoke check naming an output the template lacks", args: []string{"plan", typo, "--branch", "main"}, wantCode: 1,
			wantErrOut: []string{"stackflow.yml:6: environments[0].smoke[0] (greets) refers to ${ApiURL}", "did you mean ${ApiUrl}?"},
		},
		{name: "two directories", args: []string{"plan", hello, bad}, wantCode: 2, wantErrOut: []string{"at most one directory"}},
		{name: "bad --repo", args: []string{"plan", "--repo", "nope", hello}, wantCode: 2, wantErrOut: []string{"want workspace/slug"}},
		{name: "unknown command", args: []string{"deliver"}, wantCode: 2, wantErrOut: []string{`unknown command "deliver"`, "Usage:"}},
		{name: "help", args: []string{"help"}, wantOut: []string{"stackflow plan"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runCLI(t, tt.args...)
			checkRun(t, code, out, errOut, tt.wantCode, tt.wantOut, tt.wantErrOut)
		})
	}
}

// unrehearsed is an app whose template has what stackflow local does
// not rehearse: a type it does not run, and a REST API's authorizer.
var unrehearsed = map[string]string{
	"stackflow.yml": "environments:\n  - name: staging\n    branches: [main]\n",
	"template.yaml": `Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: v1
      Auth:
        DefaultAuthorizer: Token
        Authorizers:
          Token: {FunctionArn: !GetAtt Hello.Arn}
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ./hello
      Handler: app.handler
      Runtime: python3.12
      Events:
        Get: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /hello, Method: get}}
  Db:
    Type: AWS::RDS::DBCluster
    Properties: {Engine: aurora-postgresql, ManageMasterUserPassword: true, MasterUsername: app}
`,
}

// TestPlanSaysWhatALocalRunDoesNotRehearse: the template as SAM's
// translator makes it, what fails a local run first.
func TestPlanSaysWhatALocalRunDoesNotRehearse(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, unrehearsed)
	code, out, errOut := runCLI(t, "plan", dir, "--branch", "main")
	checkRun(t, code, out, errOut, 0, []string{
		"    fails the stack on (a local run stops there; AWS runs them):\n      AWS::RDS::DBCluster (Db): the type does not run locally: a local run fails the stack\n    runs differently from AWS:\n",
		"      AWS::ApiGateway::RestApi Body.securityDefinitions (Api): Lambda authorizers (token and request) run; Cognito user pool and IAM authorizers and API keys are not enforced locally",
	}, nil)

	code, out, errOut = runCLI(t, "plan", dir, "--branch", "main", "--json")
	if code != 0 {
		t.Fatalf("exit code %d: %s", code, errOut)
	}
	var got struct {
		NotRehearsed []struct {
			Type      string   `json:"type"`
			Resources []string `json:"resources"`
			Fails     bool     `json:"fails"`
		} `json:"notRehearsed"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	if len(got.NotRehearsed) == 0 || got.NotRehearsed[0].Type != "AWS::RDS::DBCluster" || !got.NotRehearsed[0].Fails || strings.Join(got.NotRehearsed[0].Resources, ",") != "Db" {
		t.Errorf("got notRehearsed %+v, want AWS::RDS::DBCluster (Db) first, failing", got.NotRehearsed)
	}

	// A template SAM's translator refuses: the plan says why, and still
	// shows.
	bad := writeApp(t, map[string]string{"stackflow.yml": unrehearsed["stackflow.yml"],
		"template.yaml": "Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties: {CodeUri: fn/, Runtime: python3.12}\n"})
	code, out, errOut = runCLI(t, "plan", bad, "--branch", "main")
	checkRun(t, code, out, errOut, 0, []string{"stackflow local: could not tell what it rehearses: template.yaml: Transform AWS::Serverless-2016-10-31 failed with: Invalid Serverless Application Specification document."}, nil)
}

func TestPlanJSON(t *testing.T) {
	t.Parallel()
	code, out, errOut := runCLI(t, "plan", "--json", "--repo", "acme/hello", "--branch", "main", filepath.Join("..", "..", "examples", "hello"))
	if code != 0 {
		t.Fatalf("exit code %d: %s", code, errOut)
	}
	var plan pipeline.Plan
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatalf("stdout is not a plan: %v\n%s", err, out)
	}
	var stacks []string
	for _, e := range plan.Environments {
		stacks = append(stacks, e.Stack)
	}
	if !plan.Deploy || strings.Join(stacks, ",") != "hello-staging,hello-prod" {
		t.Errorf("got deploy %v stacks %v, want true [hello-staging hello-prod]", plan.Deploy, stacks)
	}
}

// TestPlanReadsWhatAPushDelivers: plan reads HEAD, as a push delivers it
// (and stackflow local), and says first which uncommitted changes it
// leaves out; --work-tree reads the work tree as it is; a folder with no
// commit to read is read as it is.
func TestPlanReadsWhatAPushDelivers(t *testing.T) {
	t.Parallel()
	typo := func(t *testing.T, dir string) {
		t.Helper()
		p := filepath.Join(dir, "stackflow.yml")
		old, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.Replace(string(old), "status: 200", "status: ok", 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name       string
		app        func(t *testing.T) string
		args       []string
		wantCode   int
		wantOut    []string
		wantErrOut []string
	}{
		{
			name: "a clean work tree", app: helloApp,
			wantOut: []string{"main: checks, then staging -> prod"},
		},
		{
			name:       "an uncommitted typo is not planned",
			app:        func(t *testing.T) string { d := helloApp(t); typo(t, d); return d },
			wantOut:    []string{"main: checks, then staging -> prod"},
			wantErrOut: []string{"uncommitted changes in ", " are not planned: stackflow.yml\n", "  the plan reads HEAD (", "give --work-tree to use the work tree as it is"},
		},
		{
			name: "--work-tree plans the typo",
			app:  func(t *testing.T) string { d := helloApp(t); typo(t, d); return d },
			args: []string{"--work-tree"}, wantCode: 1,
			wantErrOut: []string{" are planned (--work-tree): stackflow.yml\n", "stackflow.yml:14: environments[0].smoke[0].status: want an HTTP status code such as 200"},
		},
		{
			name: "a stackflow.yml that is not committed",
			app: func(t *testing.T) string {
				d := gitApp(t, map[string]string{"README.md": "an app\n"})
				if err := os.WriteFile(filepath.Join(d, "stackflow.yml"), []byte("environments: []\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return d
			},
			wantCode:   1,
			wantErrOut: []string{"stackflow plan: ", " at HEAD (", "has no stackflow.yml at its root: the work tree has one that is not committed: git add stackflow.yml && git commit, or give --work-tree"},
		},
		{
			name: "a repository without commits is read as it is",
			app: func(t *testing.T) string {
				d := writeApp(t, map[string]string{"stackflow.yml": "checks: [go test ./...]\n"})
				git(t, d, "init", "-q", "-b", "main")
				return d
			},
			wantOut:    []string{"main: checks only"},
			wantErrOut: []string{"has no commits yet: planning the folder as it is"},
		},
		{
			name: "a folder in no repository is read as it is",
			app: func(t *testing.T) string {
				return writeApp(t, map[string]string{"stackflow.yml": "checks: [go test ./...]\n"})
			},
			wantOut:    []string{"main: checks only"},
			wantErrOut: []string{"is not in a git repository: planning the folder as it is"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := tt.app(t)
			code, out, errOut := runCLI(t, append([]string{"plan", dir}, tt.args...)...)
			checkRun(t, code, out, errOut, tt.wantCode, tt.wantOut, tt.wantErrOut)
			if len(tt.wantErrOut) == 0 && errOut != "" {
				t.Errorf("stderr: got %q, want nothing", errOut)
			}
		})
	}
}
