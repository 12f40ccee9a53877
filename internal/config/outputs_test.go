package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackflow/stackflow/internal/pipeline"
)

const outputsTemplate = `AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  HelloApi:
    Type: AWS::Serverless::HttpApi
  WorkerFunction:
    Type: AWS::Serverless::Function
  Plain:
    Type: AWS::Lambda::Function
    Properties:
      Role: arn:aws:iam::123456789012:role/plain
      Runtime: nodejs22.x
      Handler: index.handler
      Code:
        ZipFile: "exports.handler = async () => 'hi'"
Outputs:
  ApiUrl:
    Value: !Sub "https://${HelloApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/"
  Domain:
    Value: example.com
`

func TestCheckOutputs(t *testing.T) {
	t.Parallel()
	repo := pipeline.Repository{Workspace: "acme", Slug: "hello"}
	tests := []struct {
		name        string
		yml         string
		template    string // "" means no template file
		branch      string
		wantLine    int
		wantFile    string
		wantProblem string
		wantFix     string
	}{
		{name: "every output exists", branch: "main", template: outputsTemplate,
			yml: "environments:\n  - name: staging\n    branches: [main]\n    smoke:\n      - name: greets\n        url: ${ApiUrl}hello\n        headers: {Host: \"${Domain}\"}\n"},
		{name: "a misspelt output", branch: "main", template: outputsTemplate,
			yml:      "environments:\n  - name: staging\n    branches: [main]\n    smoke:\n      - name: greets\n        url: ${ApiURL}hello\n",
			wantFile: File, wantLine: 6,
			wantProblem: "environments[0].smoke[0] (greets) refers to ${ApiURL}, but template.yaml has no output ApiURL (it has ApiUrl, Domain)",
			wantFix:     "did you mean ${ApiUrl}?"},
		{name: "a header names a missing output", branch: "main", template: outputsTemplate,
			yml:      "environments:\n  - name: staging\n    branches: [main]\n    smoke:\n      - name: greets\n        url: ${ApiUrl}hello\n        headers: {X-Key: \"${ApiKey}\"}\n",
			wantFile: File, wantLine: 6,
			wantProblem: "refers to ${ApiKey}"},
		{name: "invoke checks name functions", branch: "main", template: outputsTemplate,
			yml: "environments:\n  - name: staging\n    branches: [main]\n    smoke:\n      - name: a\n        function: WorkerFunction\n      - name: b\n        function: Plain\n      - name: c\n        function: ${Domain}\n"},
		{name: "an invoke check names a missing output", branch: "main", template: outputsTemplate,
			yml:      "environments:\n  - name: staging\n    branches: [main]\n    smoke:\n      - name: works\n        function: ${WorkerName}\n",
			wantFile: File, wantLine: 6, wantProblem: "environments[0].smoke[0] (works) refers to ${WorkerName}, but template.yaml has no output WorkerName"},
		{name: "an invoke check names a missing resource", branch: "main", template: outputsTemplate,
			yml:      "environments:\n  - name: staging\n    branches: [main]\n    smoke:\n      - name: works\n        function: Worker\n",
			wantFile: File, wantLine: 6, wantProblem: "environments[0].smoke[0] (works) invokes Worker, but template.yaml has no resource Worker",
			wantFix: "name one of the template's functions: Plain, WorkerFunction"},
		{name: "an invoke check names a resource that is no function", branch: "main", template: outputsTemplate,
			yml:      "environments:\n  - name: staging\n    branches: [main]\n    smoke:\n      - name: works\n        function: HelloApi\n",
			wantFile: File, wantLine: 6, wantProblem: "invokes HelloApi, but HelloApi is of type AWS::Serverless::HttpApi, not a function"},
		{name: "an environment this branch does not deploy is not checked", branch: "feature", template: outputsTemplate,
			yml: "environments:\n  - name: staging\n    branches: [main]\n    smoke:\n      - name: greets\n        url: ${Nope}hello\n"},
		{name: "no template", branch: "main",
			yml:         "environments:\n  - name: staging\n    branches: [main]\n",
			wantFile:    "template.yaml",
			wantProblem: "the app's SAM template is not in the repository"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tree := t.TempDir()
			if tt.template != "" {
				if err := os.WriteFile(filepath.Join(tree, "template.yaml"), []byte(tt.template), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cfg, err := Parse([]byte(tt.yml))
			if err != nil {
				t.Fatal(err)
			}
			plan, err := cfg.Plan(repo, tt.branch, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = cfg.CheckOutputs(tree, plan)
			if tt.wantProblem == "" {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				return
			}
			var ci *pipeline.ConfigInvalid
			if !errors.As(err, &ci) {
				t.Fatalf("got %v, want a *pipeline.ConfigInvalid", err)
			}
			if ci.File != tt.wantFile || ci.Line != tt.wantLine || !strings.Contains(ci.Problem, tt.wantProblem) || (tt.wantFix != "" && ci.Fix != tt.wantFix) {
				t.Errorf("got %s:%d %q (%q), want %s:%d %q (%q)", ci.File, ci.Line, ci.Problem, ci.Fix, tt.wantFile, tt.wantLine, tt.wantProblem, tt.wantFix)
			}
		})
	}
}
