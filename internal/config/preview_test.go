package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stackflow/stackflow/internal/pipeline"
)

const previewConfig = planConfig + `previews:
  pull_requests: true
`

func TestPreviewPlan(t *testing.T) {
	t.Parallel()
	// staging's settings, as Plan resolves them, under the preview's name
	// and stack.
	preview := pipeline.Environment{
		Name:                   "pr-7",
		Stack:                  "hello-pr-7",
		Region:                 "eu-west-1",
		Parameters:             map[string]string{"Stage": "staging", "Color": "blue", "Size": "2"},
		Capabilities:           []string{"CAPABILITY_NAMED_IAM"},
		Smoke:                  []pipeline.SmokeCheck{{Name: "greets", URL: "${ApiUrl}hello", Method: "GET", Status: 200}},
		SmokeTimeoutSeconds:    2,
		ApprovalTimeoutSeconds: pipeline.DefaultApprovalTimeoutSeconds,
		PullRequest:            7,
	}
	fromProd := pipeline.Environment{
		Name:                   "pr-7",
		Stack:                  "hello-pr-7",
		Region:                 "us-west-2",
		Capabilities:           []string{"CAPABILITY_IAM"},
		Tags:                   map[string]string{"tier": "prod"},
		SmokeTimeoutSeconds:    60,
		ApprovalTimeoutSeconds: 3600,
		RoleARN:                "arn:aws:iam::123456789012:role/deploy",
		PullRequest:            7,
	}
	open := pipeline.PullRequest{ID: 7, Title: "Friendlier greeting", Destination: "main"}
	closed := open
	closed.Closed = true
	tests := []struct {
		name string
		yml  string
		sam  string
		pr   pipeline.PullRequest
		want pipeline.Plan
	}{
		{
			name: "open: checks, then the preview", yml: previewConfig, sam: planSAM, pr: open,
			want: pipeline.Plan{
				Checks: DefaultChecks, Template: "template.yaml", Environments: []pipeline.Environment{preview},
				Deploy: true, Summary: "pull request #7: checks, then preview stack hello-pr-7",
			},
		},
		{
			name: "settings of the named environment, never its protection or approval",
			yml: strings.Replace(planConfig, "    tags: {tier: prod}\n",
				"    tags: {tier: prod}\n    protected: true\n    approval: required\n    approval_timeout: 1h\n    role_arn: arn:aws:iam::123456789012:role/deploy\n", 1) +
				"previews:\n  pull_requests: true\n  environment: prod\n",
			sam: planSAM, pr: open,
			want: pipeline.Plan{
				Checks: DefaultChecks, Template: "template.yaml", Environments: []pipeline.Environment{fromProd},
				Deploy: true, Summary: "pull request #7: checks, then preview stack hello-pr-7",
			},
		},
		{
			name: "no checks", yml: "checks: []\n" + previewConfig, sam: planSAM, pr: open,
			want: pipeline.Plan{
				Checks: []string{}, Template: "template.yaml", Environments: []pipeline.Environment{preview},
				Deploy: true, Summary: "pull request #7: preview stack hello-pr-7 (no checks)",
			},
		},
		{
			name: "template and defaults of the environment", yml: "environments:\n  - name: qa\n    branches: [qa]\npreviews:\n  pull_requests: true\n",
			sam: "[qa.build.parameters]\ntemplate_file = \"sam/app.yaml\"\n", pr: pipeline.PullRequest{ID: 12},
			want: pipeline.Plan{
				Checks: DefaultChecks, Template: "sam/app.yaml", Deploy: true, Summary: "pull request #12: checks, then preview stack hello-pr-12",
				Environments: []pipeline.Environment{{
					Name: "pr-12", Stack: "hello-pr-12", Capabilities: DefaultCapabilities, SmokeTimeoutSeconds: 60,
					ApprovalTimeoutSeconds: pipeline.DefaultApprovalTimeoutSeconds, PullRequest: 12,
				}},
			},
		},
		{
			name: "closed: the preview to delete, nothing to run", yml: previewConfig, sam: planSAM, pr: closed,
			want: pipeline.Plan{
				Checks: []string{}, Template: "template.yaml", Environments: []pipeline.Environment{preview},
				Summary: "pull request #7 closed: delete preview stack hello-pr-7",
			},
		},
		{
			name: "previews off: checks only", yml: planConfig, sam: planSAM, pr: open,
			want: pipeline.Plan{
				Checks: DefaultChecks, Template: "template.yaml",
				Summary: "pull request #7: checks only (previews are off: set previews.pull_requests: true in stackflow.yml for a preview stack)",
			},
		},
		{
			name: "previews off explicitly, template from samconfig", yml: planConfig + "previews:\n  pull_requests: false\n",
			sam: "[default.build.parameters]\ntemplate_file = \"sam.yaml\"\n", pr: open,
			want: pipeline.Plan{
				Checks: DefaultChecks, Template: "sam.yaml",
				Summary: "pull request #7: checks only (previews are off: set previews.pull_requests: true in stackflow.yml for a preview stack)",
			},
		},
		{
			name: "previews off, no checks", yml: "checks: []\n", pr: open,
			want: pipeline.Plan{Checks: []string{}, Template: "template.yaml", Summary: "pull request #7: nothing to do (no checks, and previews are off)"},
		},
		{
			name: "previews off, closed", yml: planConfig, pr: closed,
			want: pipeline.Plan{Checks: []string{}, Template: "template.yaml", Summary: "pull request #7 closed: nothing to do (previews are off)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, sam := mustParse(t, tt.yml, tt.sam)
			got, err := c.PreviewPlan(repo, tt.pr, sam)
			if err != nil {
				t.Fatalf("PreviewPlan: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("PreviewPlan:\ngot  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestPreviewPlanErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		cfg         *Config
		yml         string
		wantLine    int
		wantProblem string
	}{
		{
			name:        "an environment deploys the preview's stack",
			yml:         "environments:\n  - name: staging\n    branches: [main]\n  - name: odd\n    branches: [odd]\n    stack: hello-pr-7\npreviews:\n  pull_requests: true\n",
			wantLine:    4,
			wantProblem: "environment odd deploys stack hello-pr-7 in the pipeline's region, which is the preview stack of pull request #7",
		},
		{
			name:        "no environment to take settings from",
			cfg:         &Config{Previews: Previews{PullRequests: true}},
			wantProblem: "previews.pull_requests: preview stacks need an environment",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := tt.cfg
			if c == nil {
				c, _ = mustParse(t, tt.yml, "")
			}
			_, err := c.PreviewPlan(repo, pipeline.PullRequest{ID: 7}, nil)
			var ci *pipeline.ConfigInvalid
			if !errors.As(err, &ci) {
				t.Fatalf("got %v, want a *pipeline.ConfigInvalid", err)
			}
			if ci.File != File || ci.Line != tt.wantLine || !strings.HasPrefix(ci.Problem, tt.wantProblem) || ci.Fix == "" {
				t.Errorf("got %s:%d %q (fix %q), want %s:%d %q with a fix", ci.File, ci.Line, ci.Problem, ci.Fix, File, tt.wantLine, tt.wantProblem)
			}
		})
	}
}

// TestPreviewPlanDoesNotShareSettings keeps a preview's settings apart
// from the environment's and the package's defaults.
func TestPreviewPlanDoesNotShareSettings(t *testing.T) {
	t.Parallel()
	c, sam := mustParse(t, previewConfig, planSAM)
	p, err := c.PreviewPlan(repo, pipeline.PullRequest{ID: 7}, sam)
	if err != nil {
		t.Fatal(err)
	}
	p.Checks[0] = "changed"
	p.Environments[0].Parameters["Stage"] = "changed"
	p.Environments[0].Smoke[0].URL = "changed"
	again, err := c.Plan(repo, "main", sam)
	if err != nil {
		t.Fatal(err)
	}
	if DefaultChecks[0] == "changed" || again.Environments[0].Parameters["Stage"] != "staging" || again.Environments[0].Smoke[0].URL == "changed" {
		t.Fatal("changing a preview plan changed the configuration or the defaults")
	}
}

func TestCheckOutputsOfAPreview(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		yml         string
		wantProblem string
	}{
		{name: "the previewed environment's smoke checks are checked",
			yml:         "environments:\n  - name: staging\n    branches: [main]\n    smoke:\n      - name: greets\n        url: ${ApiURL}hello\npreviews:\n  pull_requests: true\n",
			wantProblem: "environments[0].smoke[0] (greets) refers to ${ApiURL}"},
		{name: "the named one's, not the first's",
			yml: "environments:\n  - name: staging\n    branches: [main]\n    smoke:\n      - name: greets\n        url: ${Nope}hello\n  - name: prod\n    branches: [main]\n    smoke:\n      - name: greets\n        url: ${ApiUrl}hello\npreviews:\n  pull_requests: true\n  environment: prod\n"},
		{name: "previews off: nothing deployed, nothing checked",
			yml: "environments:\n  - name: staging\n    branches: [main]\n    smoke:\n      - name: greets\n        url: ${Nope}hello\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tree := t.TempDir()
			if err := os.WriteFile(filepath.Join(tree, "template.yaml"), []byte(outputsTemplate), 0o644); err != nil {
				t.Fatal(err)
			}
			c, _ := mustParse(t, tt.yml, "")
			plan, err := c.PreviewPlan(repo, pipeline.PullRequest{ID: 3}, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = c.CheckOutputs(tree, plan)
			switch {
			case tt.wantProblem == "" && err != nil:
				t.Errorf("got %v, want no error", err)
			case tt.wantProblem != "" && (err == nil || !strings.Contains(err.Error(), tt.wantProblem)):
				t.Errorf("got %v, want an error about %q", err, tt.wantProblem)
			}
		})
	}
}
