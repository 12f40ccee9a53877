package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stackflow/stackflow/internal/pipeline"
)

const full = `version: 1
template: app/template.yaml
checks:
  - go vet ./...
  - make lint
environments:
  - name: staging
    branches: [main, release/*]
    stack: hello-staging
    region: eu-west-1
    parameters: {Stage: staging, Replicas: 2, Debug: true, Ratio: 1.50}
    capabilities: [CAPABILITY_NAMED_IAM]
    tags: {team: web}
    smoke_timeout: 90s
    smoke:
      - name: greets
        url: ${ApiUrl}hello
        method: post
        status: 201
        contains: hello
        headers: {Accept: text/plain}
      - name: health
        url: https://${Domain}/health
  - name: prod
    branches: [main]
    approval: required
    approval_timeout: 48h
    approvers: [arn:aws:iam::123456789012:role/release, "arn:aws:sts::123456789012:assumed-role/oncall/*"]
    role_arn: arn:aws:iam::123456789012:role/deploy
    cloudformation_role_arn: arn:aws:iam::123456789012:role/cloudformation
    protected: true
previews:
  pull_requests: true
  environment: staging
`

func TestParseFull(t *testing.T) {
	t.Parallel()
	got, err := Parse([]byte(full))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	got.Previews.line = 0
	for i := range got.Environments {
		got.Environments[i].line = 0
		for j := range got.Environments[i].Smoke {
			got.Environments[i].Smoke[j].line = 0
		}
	}
	want := &Config{
		Version:  1,
		Template: "app/template.yaml",
		Checks:   []string{"go vet ./...", "make lint"},
		Environments: []Environment{
			{
				Name:            "staging",
				Branches:        []string{"main", "release/*"},
				Stack:           "hello-staging",
				Region:          "eu-west-1",
				Parameters:      map[string]string{"Stage": "staging", "Replicas": "2", "Debug": "true", "Ratio": "1.50"},
				Capabilities:    []string{"CAPABILITY_NAMED_IAM"},
				Tags:            map[string]string{"team": "web"},
				SmokeTimeout:    90 * time.Second,
				ApprovalTimeout: DefaultApprovalTimeout,
				Smoke: []SmokeCheck{
					{Name: "greets", URL: "${ApiUrl}hello", Method: "POST", Status: 201, Contains: "hello", Headers: map[string]string{"Accept": "text/plain"}},
					{Name: "health", URL: "https://${Domain}/health", Method: "GET", Status: 200},
				},
			},
			{
				Name: "prod", Branches: []string{"main"}, SmokeTimeout: DefaultSmokeTimeout,
				Approval: true, ApprovalTimeout: 48 * time.Hour,
				Approvers:             []string{"arn:aws:iam::123456789012:role/release", "arn:aws:sts::123456789012:assumed-role/oncall/*"},
				RoleARN:               "arn:aws:iam::123456789012:role/deploy",
				CloudFormationRoleARN: "arn:aws:iam::123456789012:role/cloudformation",
				Protected:             true,
			},
		},
		Previews: Previews{PullRequests: true, Environment: "staging"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Parse:\ngot  %+v\nwant %+v", got, want)
	}
}

func TestParseValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want *Config
	}{
		{name: "empty file", in: "", want: &Config{}},
		{name: "comments only", in: "# nothing yet\n", want: &Config{}},
		{name: "null document", in: "~\n", want: &Config{}},
		{name: "checks only", in: "checks: [make test]\n", want: &Config{Checks: []string{"make test"}}},
		{name: "no checks", in: "checks: []\n", want: &Config{Checks: []string{}}},
		{name: "empty environments", in: "environments:\n", want: &Config{}},
		{name: "template is cleaned", in: "template: ./infra/../sam.yaml\n", want: &Config{Template: "sam.yaml"}},
		{name: "quoted version", in: "version: \"1\"\n", want: &Config{Version: 1}},
		{
			name: "anchors and aliases",
			in:   "environments:\n  - name: a\n    branches: &b [main]\n  - name: b\n    branches: *b\n    stack: other\n",
			want: &Config{Environments: []Environment{
				{Name: "a", Branches: []string{"main"}, SmokeTimeout: DefaultSmokeTimeout},
				{Name: "b", Branches: []string{"main"}, Stack: "other", SmokeTimeout: DefaultSmokeTimeout},
			}},
		},
		{
			name: "invoke and HTTP checks",
			in: "environments:\n  - name: a\n    branches: [main]\n    smoke:\n" +
				"      - name: works\n        function: ${WorkerName}\n        payload: {name: smoke, n: [1, 2]}\n        contains: hello\n        timeout: 45s\n" +
				"      - name: by id\n        function: WorkerFunction\n" +
				"      - name: greets\n        url: ${ApiUrl}\n        timeout: 3s\n",
			want: &Config{Environments: []Environment{{Name: "a", Branches: []string{"main"}, SmokeTimeout: DefaultSmokeTimeout, Smoke: []SmokeCheck{
				{Name: "works", Function: "${WorkerName}", Payload: `{"n":[1,2],"name":"smoke"}`, Contains: "hello", Timeout: 45 * time.Second},
				{Name: "by id", Function: "WorkerFunction"},
				{Name: "greets", URL: "${ApiUrl}", Method: "GET", Status: 200, Timeout: 3 * time.Second},
			}}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse([]byte(tt.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got.Previews.line = 0
			for i := range got.Environments {
				got.Environments[i].line = 0
				if got.Environments[i].ApprovalTimeout == DefaultApprovalTimeout {
					got.Environments[i].ApprovalTimeout = 0 // the wants leave the default out
				}
				for j := range got.Environments[i].Smoke {
					got.Environments[i].Smoke[j].line = 0
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse:\ngot  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	env := func(extra string) string {
		return "environments:\n  - name: staging\n    branches: [main]\n" + extra
	}
	smoke := func(extra string) string {
		return env("    smoke:\n      - name: greets\n        url: ${ApiUrl}\n" + extra)
	}
	tests := []struct {
		name        string
		in          string
		wantLine    int
		wantProblem string
		wantFix     string
	}{
		{
			name: "unknown top-level key", in: "version: 1\nenvironment: []\n",
			wantLine: 2, wantProblem: `unknown key "environment" at the top level`, wantFix: `did you mean "environments"?`,
		},
		{
			name: "unknown environment key", in: "environments:\n  - name: a\n    branches: [main]\n  - name: b\n    branch: main\n",
			wantLine: 5, wantProblem: `unknown key "branch" in environments[1]`, wantFix: `did you mean "branches"?`,
		},
		{
			name: "unknown smoke key", in: smoke("        expect: 200\n"),
			wantLine: 7, wantProblem: `unknown key "expect" in environments[0].smoke[0]`, wantFix: "known keys here: name, url, function, payload, method, status, contains, headers, timeout",
		},
		{
			name: "misspelt smoke_timeout", in: env("    smoke_timout: 1m\n"),
			wantLine: 4, wantProblem: `unknown key "smoke_timout" in environments[0]`, wantFix: `did you mean "smoke_timeout"?`,
		},
		{
			name: "duplicate key", in: "checks: []\nchecks: [x]\n",
			wantLine: 2, wantProblem: `duplicate key "checks" at the top level (first at line 1)`, wantFix: "keep one",
		},
		{
			name: "top level is a list", in: "- a\n- b\n",
			wantLine: 1, wantProblem: "the file: want a mapping, got a list", wantFix: "key: value",
		},
		{
			name: "checks is a string", in: "checks: go test ./...\n",
			wantLine: 1, wantProblem: `checks: want a list, got "go test ./..."`, wantFix: "write a list",
		},
		{
			name: "check is a mapping", in: "checks:\n  - run: x\n",
			wantLine: 2, wantProblem: "checks[0]: want a string, got a mapping", wantFix: "single value",
		},
		{
			name: "environments is a mapping", in: "environments:\n  staging: {}\n",
			wantLine: 2, wantProblem: "environments: want a list, got a mapping", wantFix: "- name: staging",
		},
		{
			name: "missing name", in: "environments:\n  - branches: [main]\n",
			wantLine: 2, wantProblem: `environments[0]: missing "name"`, wantFix: "name: staging",
		},
		{
			name: "bad name", in: "environments:\n  - name: Prod_EU\n    branches: [main]\n",
			wantLine: 2, wantProblem: `environments[0].name: "Prod_EU" is not a valid environment name`, wantFix: "lowercase",
		},
		{
			name: "duplicate environment", in: "environments:\n  - name: a\n    branches: [main]\n  - name: a\n    branches: [dev]\n",
			wantLine: 4, wantProblem: `environments[1].name: "a" is already the name of environments[0]`, wantFix: "its own name",
		},
		{
			name: "missing branches", in: "environments:\n  - name: a\n",
			wantLine: 2, wantProblem: `environments[0]: missing "branches"`, wantFix: "branches: [main]",
		},
		{
			name: "empty branches", in: "environments:\n  - name: a\n    branches: []\n",
			wantLine: 3, wantProblem: "environments[0].branches: is empty", wantFix: "at least one branch",
		},
		{
			name: "bad glob", in: "environments:\n  - name: a\n    branches:\n      - main\n      - release/[0-9\n",
			wantLine: 5, wantProblem: `environments[0].branches[1]: "release/[0-9" is not a valid branch pattern`, wantFix: "path.Match",
		},
		{
			name: "bad stack name", in: env("    stack: 1hello_world\n"),
			wantLine: 4, wantProblem: `environments[0].stack: "1hello_world" is not a valid CloudFormation stack name`, wantFix: "start with a letter",
		},
		{
			name: "bad region", in: env("    region: Ireland\n"),
			wantLine: 4, wantProblem: `environments[0].region: "Ireland" is not an AWS region`, wantFix: "eu-west-1",
		},
		{
			name: "parameter value is a list", in: env("    parameters:\n      Stage: [a]\n"),
			wantLine: 5, wantProblem: "environments[0].parameters.Stage: want a string, got a list", wantFix: "single value",
		},
		{
			name: "bad parameter name", in: env("    parameters: {my-param: x}\n"),
			wantLine: 4, wantProblem: `environments[0].parameters: "my-param" is not a CloudFormation parameter name`, wantFix: "letters and digits",
		},
		{
			name: "bad capability", in: env("    capabilities: [CAPABILITY_IAM, IAM]\n"),
			wantLine: 4, wantProblem: `environments[0].capabilities[1]: "IAM" is not a CloudFormation capability`, wantFix: "CAPABILITY_NAMED_IAM",
		},
		{
			name: "duration without unit", in: env("    smoke_timeout: 60\n"),
			wantLine: 4, wantProblem: `environments[0].smoke_timeout: want a duration such as 60s, got "60"`, wantFix: "such as 60s, at most 10m",
		},
		{
			name: "duration too long", in: env("    smoke_timeout: 1h\n"),
			wantLine: 4, wantProblem: "environments[0].smoke_timeout: 1h is out of range: want more than 0s and at most 10m", wantFix: "at most 10m",
		},
		{
			name: "zero duration", in: env("    smoke_timeout: 0s\n"),
			wantLine: 4, wantProblem: "environments[0].smoke_timeout: 0s is out of range", wantFix: "at most 10m",
		},
		{
			name: "approval misspelt", in: env("    approval: yes\n"),
			wantLine: 4, wantProblem: `environments[0].approval: "yes" is not an approval setting`, wantFix: "approval: required",
		},
		{
			name: "approval timeout too short", in: env("    approval_timeout: 500ms\n"),
			wantLine: 4, wantProblem: "environments[0].approval_timeout: 500ms is out of range: want at least 1s", wantFix: "such as 168h",
		},
		{
			name: "role is not an ARN", in: env("    role_arn: deploy\n"),
			wantLine: 4, wantProblem: `environments[0].role_arn: "deploy" is not an IAM role ARN`, wantFix: "arn:aws:iam::123456789012:role/deploy",
		},
		{
			name: "approver is not an ARN", in: env("    approval: required\n    approvers: [ada]\n"),
			wantLine: 5, wantProblem: `environments[0].approvers[0]: "ada" is not an IAM principal ARN`, wantFix: "arn:aws:iam::123456789012:role/release-managers",
		},
		{
			name: "approver is everyone", in: env("    approval: required\n    approvers: ['*']\n"),
			wantLine: 5, wantProblem: `environments[0].approvers[0]: "*" is not an IAM principal ARN`, wantFix: "role/release-managers",
		},
		{
			name: "approver is not a principal", in: env("    approval: required\n    approvers: [arn:aws:s3:::bucket]\n"),
			wantLine: 5, wantProblem: `environments[0].approvers[0]: "arn:aws:s3:::bucket" is not an IAM principal ARN`, wantFix: "role/release-managers",
		},
		{
			name: "approvers without approval", in: env("    approvers: [arn:aws:iam::123456789012:user/ada]\n"),
			wantLine: 4, wantProblem: "environments[0].approvers: approvers answer approvals, but this environment asks for none", wantFix: "approval: required",
		},
		{
			name: "protected is not a boolean", in: env("    protected: yes please\n"),
			wantLine: 4, wantProblem: `environments[0].protected: want true or false`, wantFix: "true or false",
		},
		{
			name: "previews of an unknown environment", in: env("") + "previews:\n  pull_requests: true\n  environment: qa\n",
			wantLine: 6, wantProblem: `previews.environment: "qa" is not one of the environments`, wantFix: "staging",
		},
		{
			name: "previews key misspelt", in: env("") + "previews:\n  pull_request: true\n",
			wantLine: 5, wantProblem: `unknown key "pull_request"`, wantFix: `did you mean "pull_requests"?`,
		},
		{
			name: "status is not a number", in: smoke("        status: ok\n"),
			wantLine: 7, wantProblem: `environments[0].smoke[0].status: want an HTTP status code such as 200, got "ok"`, wantFix: "whole number",
		},
		{
			name: "status out of range", in: smoke("        status: 700\n"),
			wantLine: 7, wantProblem: "environments[0].smoke[0].status: 700 is not an HTTP status code", wantFix: "100 to 599",
		},
		{
			name: "bad method", in: smoke("        method: FETCH\n"),
			wantLine: 7, wantProblem: `environments[0].smoke[0].method: "FETCH" is not an HTTP method`, wantFix: "GET",
		},
		{
			name: "smoke without url", in: env("    smoke:\n      - name: greets\n"),
			wantLine: 5, wantProblem: `environments[0].smoke[0]: missing "url"`, wantFix: "${ApiUrl}hello",
		},
		{
			name: "url not http", in: env("    smoke:\n      - name: greets\n        url: ftp://example.com/\n"),
			wantLine: 6, wantProblem: `environments[0].smoke[0].url: "ftp://example.com/" is not an http(s) URL`, wantFix: "${ApiUrl}",
		},
		{
			name: "url with bad output", in: env("    smoke:\n      - name: greets\n        url: ${Api.Url}/x\n"),
			wantLine: 6, wantProblem: `environments[0].smoke[0].url: "${Api.Url}" is not a stack output`, wantFix: "${ApiUrl}",
		},
		{
			name: "url with unclosed placeholder", in: env("    smoke:\n      - name: greets\n        url: ${ApiUrl/x\n"),
			wantLine: 6, wantProblem: `environments[0].smoke[0].url: "${ApiUrl/x" has a ${ without its closing }`, wantFix: "close it",
		},
		{
			name: "duplicate smoke name", in: smoke("      - name: greets\n        url: ${ApiUrl}x\n"),
			wantLine: 7, wantProblem: `environments[0].smoke[1].name: "greets" is already the name of environments[0].smoke[0]`, wantFix: "own name",
		},
		{
			name: "url and function", in: smoke("        function: WorkerFunction\n"),
			wantLine: 7, wantProblem: "environments[0].smoke[0]: has both url and function", wantFix: "not both",
		},
		{
			name: "invoke check with a status", in: env("    smoke:\n      - name: works\n        function: WorkerFunction\n        status: 200\n"),
			wantLine: 7, wantProblem: "environments[0].smoke[0].status: an invoke check has no status", wantFix: "returns no error",
		},
		{
			name: "function neither output nor logical ID", in: env("    smoke:\n      - name: works\n        function: my-function\n"),
			wantLine: 6, wantProblem: `environments[0].smoke[0].function: "my-function" is neither a ${Output} nor a logical ID`, wantFix: "WorkerFunction",
		},
		{
			name: "function as output and more", in: env("    smoke:\n      - name: works\n        function: ${Name}:live\n"),
			wantLine: 6, wantProblem: `environments[0].smoke[0].function: "${Name}:live" is not one ${Output}`, wantFix: "${WorkerFunctionName}",
		},
		{
			name: "payload of an HTTP check", in: smoke("        payload: {a: 1}\n"),
			wantLine: 7, wantProblem: "environments[0].smoke[0].payload: only an invoke check sends a payload", wantFix: "function:",
		},
		{
			name: "payload too large", in: env("    smoke:\n      - name: works\n        function: WorkerFunction\n        payload: {a: " + strings.Repeat("x", MaxPayload) + "}\n"),
			wantLine: 7, wantProblem: "environments[0].smoke[0].payload: 32776 bytes of JSON, more than 32768", wantFix: "smaller",
		},
		{
			name: "timeout out of range", in: env("    smoke:\n      - name: works\n        function: WorkerFunction\n        timeout: 20m\n"),
			wantLine: 7, wantProblem: "environments[0].smoke[0].timeout: 20m is out of range", wantFix: "such as 30s, at most 10m",
		},
		{
			name: "bad version", in: "version: 2\n",
			wantLine: 1, wantProblem: "version: 2 is not a version this pipeline reads", wantFix: "version: 1",
		},
		{
			name: "version is not a number", in: "version: one\n",
			wantLine: 1, wantProblem: `version: want a version number such as 1, got "one"`, wantFix: "whole number",
		},
		{
			name: "template outside the repository", in: "template: ../other/template.yaml\n",
			wantLine: 1, wantProblem: `template: "../other/template.yaml" is not a path inside the repository`, wantFix: "repository root",
		},
		{
			name: "tab starting a line", in: "environments:\n\t- name: a\n",
			wantLine: 2, wantProblem: "not valid YAML: found character that cannot start any token", wantFix: "indent with spaces",
		},
		{
			name: "tab indentation", in: "checks: []\nenvironments:\n  - name: a\n\tbranches: [main]\n",
			wantLine: 4, wantProblem: "not valid YAML: found a tab character that violates indentation", wantFix: "indent with spaces",
		},
		{
			name: "unclosed list", in: "checks: [a, b\nenvironments: []\n",
			wantLine: 1, wantProblem: "not valid YAML: did not find expected ',' or ']'", wantFix: "indentation",
		},
		{
			name: "two documents", in: "checks: []\n---\nchecks: [x]\n",
			wantLine: 2, wantProblem: "holds more than one YAML document", wantFix: "---",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tt.in))
			wantInvalid(t, err, tt.wantLine, tt.wantProblem, tt.wantFix)
		})
	}
}

func TestErrorMessage(t *testing.T) {
	t.Parallel()
	in := "environments:\n  - name: staging\n    branches: [main]\n    smoke:\n      - name: greets\n        url: ${ApiUrl}\n        status: ok\n"
	_, err := Parse([]byte(in))
	want := `stackflow.yml:7: environments[0].smoke[0].status: want an HTTP status code such as 200, got "ok" (write a whole number without quotes, such as 200)`
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v\nwant    %s", err, want)
	}
}

func TestSuggest(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"branch", `did you mean "branches"?`},
		{"Name", `did you mean "name"?`},
		{"parameter", `did you mean "parameters"?`},
		{"stacks", `did you mean "stack"?`},
		{"zzz", "known keys here: " + strings.Join(envKeys, ", ")},
	}
	for _, tt := range tests {
		if got := suggest(tt.in, envKeys); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// wantInvalid checks that err is stackflow.yml's *pipeline.ConfigInvalid
// at line, with a problem that starts with problem and a fix that
// contains fix.
func wantInvalid(t *testing.T, err error, line int, problem, fix string) {
	t.Helper()
	var ci *pipeline.ConfigInvalid
	if !errors.As(err, &ci) {
		t.Fatalf("got %v (%T), want a *pipeline.ConfigInvalid", err, err)
	}
	if ci.File != File || ci.Line != line {
		t.Errorf("got %s:%d, want %s:%d (%v)", ci.File, ci.Line, File, line, err)
	}
	if !strings.HasPrefix(ci.Problem, problem) {
		t.Errorf("got problem %q, want it to start with %q", ci.Problem, problem)
	}
	if !strings.Contains(ci.Fix, fix) {
		t.Errorf("got fix %q, want it to contain %q", ci.Fix, fix)
	}
}
