package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/stackflow/stackflow/internal/pipeline"
)

var repo = pipeline.Repository{Workspace: "acme", Slug: "hello"}

const planConfig = `environments:
  - name: staging
    branches: [main, release/*]
    parameters: {Stage: staging, Color: blue}
    smoke_timeout: 1500ms
    smoke:
      - name: greets
        url: ${ApiUrl}hello
  - name: prod
    branches: [main]
    region: us-west-2
    capabilities: [CAPABILITY_IAM]
    tags: {tier: prod}
  - name: qa
    branches: [qa]
`

const planSAM = `[default.deploy.parameters]
region = "eu-west-1"
parameter_overrides = "Stage=dev LogLevel=info"

[staging.deploy.parameters]
stack_name = "hello-stg"
capabilities = "CAPABILITY_NAMED_IAM"
parameter_overrides = "Stage=stg Color=red Size=2"

[prod.deploy.parameters]
stack_name = "hello-prod"
region = "ap-south-1"
`

func mustParse(t *testing.T, yml, toml string) (*Config, *SAMConfig) {
	t.Helper()
	c, err := Parse([]byte(yml))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if toml == "" {
		return c, nil
	}
	s, err := ParseSAMConfig([]byte(toml))
	if err != nil {
		t.Fatalf("ParseSAMConfig: %v", err)
	}
	return c, s
}

func TestPlan(t *testing.T) {
	t.Parallel()
	staging := pipeline.Environment{
		Name:                "staging",
		Stack:               "hello-stg",
		Region:              "eu-west-1",
		Parameters:          map[string]string{"Stage": "staging", "Color": "blue", "Size": "2"},
		Capabilities:        []string{"CAPABILITY_NAMED_IAM"},
		Smoke:               []pipeline.SmokeCheck{{Name: "greets", URL: "${ApiUrl}hello", Method: "GET", Status: 200}},
		SmokeTimeoutSeconds: 2,
	}
	prod := pipeline.Environment{
		Name:                "prod",
		Stack:               "hello-prod",
		Region:              "us-west-2",
		Parameters:          nil, // the default section's overrides are not prod's
		Capabilities:        []string{"CAPABILITY_IAM"},
		Tags:                map[string]string{"tier": "prod"},
		SmokeTimeoutSeconds: 60,
	}
	tests := []struct {
		name   string
		yml    string
		sam    string
		branch string
		want   pipeline.Plan
	}{
		{
			name: "main goes to staging then prod", yml: planConfig, sam: planSAM, branch: "main",
			want: pipeline.Plan{
				Checks: DefaultChecks, Template: "template.yaml", Environments: []pipeline.Environment{staging, prod},
				Deploy: true, Summary: "main: checks, then staging -> prod",
			},
		},
		{
			name: "release branch matches a glob", yml: planConfig, sam: planSAM, branch: "release/1.2",
			want: pipeline.Plan{
				Checks: DefaultChecks, Template: "template.yaml", Environments: []pipeline.Environment{staging},
				Deploy: true, Summary: "release/1.2: checks, then staging",
			},
		},
		{
			name: "glob star does not cross a slash", yml: planConfig, sam: planSAM, branch: "release/1/hotfix",
			want: pipeline.Plan{
				Checks: DefaultChecks, Template: "template.yaml",
				Summary: "release/1/hotfix: checks only (no environment deploys this branch)",
			},
		},
		{
			name: "feature branch runs checks only", yml: planConfig, sam: planSAM, branch: "feature/x",
			want: pipeline.Plan{
				Checks: DefaultChecks, Template: "template.yaml",
				Summary: "feature/x: checks only (no environment deploys this branch)",
			},
		},
		{
			name: "without samconfig everything defaults", yml: "environments:\n  - name: qa\n    branches: ['*']\n", branch: "dev",
			want: pipeline.Plan{
				Checks: DefaultChecks, Template: "template.yaml", Deploy: true, Summary: "dev: checks, then qa",
				Environments: []pipeline.Environment{{
					Name: "qa", Stack: "hello-qa", Capabilities: DefaultCapabilities, SmokeTimeoutSeconds: 60,
				}},
			},
		},
		{
			name: "default samconfig section is a fallback but for the stack's name", yml: "environments:\n  - name: qa\n    branches: [qa]\n",
			sam: "[default.global.parameters]\nstack_name = \"hello-any\"\nregion = \"eu-north-1\"\ncapabilities = [\"CAPABILITY_IAM\"]\n", branch: "qa",
			want: pipeline.Plan{
				Checks: DefaultChecks, Template: "template.yaml", Deploy: true, Summary: "qa: checks, then qa",
				Environments: []pipeline.Environment{{
					Name: "qa", Stack: "hello-qa", Region: "eu-north-1", Capabilities: []string{"CAPABILITY_IAM"}, SmokeTimeoutSeconds: 60,
				}},
			},
		},
		{
			name: "no checks", yml: "checks: []\nenvironments:\n  - name: qa\n    branches: [qa]\n    stack: q\n", branch: "qa",
			want: pipeline.Plan{
				Checks: []string{}, Template: "template.yaml", Deploy: true, Summary: "qa: qa (no checks)",
				Environments: []pipeline.Environment{{Name: "qa", Stack: "q", Capabilities: DefaultCapabilities, SmokeTimeoutSeconds: 60}},
			},
		},
		{
			name: "nothing to do", yml: "checks: []\n", branch: "x",
			want: pipeline.Plan{
				Checks: []string{}, Template: "template.yaml",
				Summary: "x: nothing to do (no checks, and no environment deploys this branch)",
			},
		},
		{
			name: "template from stackflow.yml wins", yml: "template: infra/sam.yaml\n",
			sam: "[default.build.parameters]\ntemplate_file = \"other.yaml\"\n", branch: "x",
			want: pipeline.Plan{
				Checks: DefaultChecks, Template: "infra/sam.yaml",
				Summary: "x: checks only (no environment deploys this branch)",
			},
		},
		{
			name: "template from samconfig", yml: "environments:\n  - name: qa\n    branches: [qa]\n",
			sam: "[default.global.parameters]\ntemplate_file = \"app.yaml\"\n[qa.build.parameters]\ntemplate_file = \"sam/app.yaml\"\n", branch: "qa",
			want: pipeline.Plan{
				Checks: DefaultChecks, Template: "sam/app.yaml", Deploy: true, Summary: "qa: checks, then qa",
				Environments: []pipeline.Environment{{Name: "qa", Stack: "hello-qa", Capabilities: DefaultCapabilities, SmokeTimeoutSeconds: 60}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, sam := mustParse(t, tt.yml, tt.sam)
			got, err := c.Plan(repo, tt.branch, sam)
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			for i := range tt.want.Environments {
				if tt.want.Environments[i].ApprovalTimeoutSeconds == 0 {
					tt.want.Environments[i].ApprovalTimeoutSeconds = pipeline.DefaultApprovalTimeoutSeconds
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Plan:\ngot  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestPlanDoesNotShareDefaults(t *testing.T) {
	t.Parallel()
	c, _ := mustParse(t, "environments:\n  - name: qa\n    branches: [qa]\n", "")
	p, err := c.Plan(repo, "qa", nil)
	if err != nil {
		t.Fatal(err)
	}
	p.Checks[0] = "changed"
	p.Environments[0].Capabilities[0] = "changed"
	if DefaultChecks[0] == "changed" || DefaultCapabilities[0] == "changed" {
		t.Fatal("changing a plan changed the package's defaults")
	}
}

func TestPlanErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		yml, sam    string
		branch      string
		wantFile    string
		wantLine    int
		wantProblem string
	}{
		{
			name:        "two environments share a stack",
			yml:         "environments:\n  - name: staging\n    branches: [main]\n  - name: prod\n    branches: [prod]\n",
			sam:         "[staging.deploy.parameters]\nstack_name = \"sam-app\"\n[prod.deploy.parameters]\nstack_name = \"sam-app\"\n",
			branch:      "feature",
			wantFile:    File,
			wantLine:    4,
			wantProblem: "environments staging and prod both deploy stack sam-app in the pipeline's region",
		},
		{
			name:        "different templates for one run",
			yml:         "environments:\n  - name: staging\n    branches: [main]\n  - name: prod\n    branches: [main]\n",
			sam:         "[staging.build.parameters]\ntemplate_file = \"a.yaml\"\n",
			branch:      "main",
			wantFile:    SAMFile,
			wantProblem: "environments staging and prod build different templates (a.yaml, template.yaml)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, sam := mustParse(t, tt.yml, tt.sam)
			_, err := c.Plan(repo, tt.branch, sam)
			var ci *pipeline.ConfigInvalid
			if !errors.As(err, &ci) {
				t.Fatalf("Plan error = %v, want a *pipeline.ConfigInvalid", err)
			}
			if ci.File != tt.wantFile || ci.Line != tt.wantLine {
				t.Errorf("at %s:%d, want %s:%d", ci.File, ci.Line, tt.wantFile, tt.wantLine)
			}
			if !strings.HasPrefix(ci.Problem, tt.wantProblem) {
				t.Errorf("Problem = %q, want it to start with %q", ci.Problem, tt.wantProblem)
			}
			if ci.Fix == "" {
				t.Error("Fix is empty, want a fix")
			}
		})
	}
}

func TestDefaultStack(t *testing.T) {
	t.Parallel()
	tests := []struct{ slug, env, want string }{
		{"hello", "prod", "hello-prod"},
		{"my_app.v2", "staging", "my-app-v2-staging"},
		{"3d-viewer", "qa", "app-3d-viewer-qa"},
		{"__", "qa", "app-qa"},
		{strings.Repeat("a", 130), "prod", strings.Repeat("a", 128)},
	}
	for _, tt := range tests {
		got := defaultStack(tt.slug, tt.env)
		if got != tt.want || !stackName.MatchString(got) {
			t.Errorf("defaultStack(%q, %q) = %q, want %q, a valid stack name", tt.slug, tt.env, got, tt.want)
		}
	}
}
