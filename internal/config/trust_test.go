package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// mainYML is the default branch's stackflow.yml in the trust tests: main
// and feature branches reach staging, only main reaches prod, which is in
// another account behind an approval.
const mainYML = `environments:
  - name: staging
    branches: [main, feature/*]
    parameters: {Stage: staging}
    smoke:
      - name: greets
        url: ${ApiUrl}hello
  - name: prod
    branches: [main]
    region: eu-west-1
    role_arn: arn:aws:iam::210987654321:role/deploy
    approval: required
    protected: true
previews:
  pull_requests: true
  environment: staging
`

const mainSAM = `[staging.deploy.parameters]
stack_name = "hello-staging"
region = "eu-central-1"

[prod.deploy.parameters]
stack_name = "hello-prod"
`

const trustedCommit = "abcdef0123456789abcdef0123456789abcdef01"

func mustTrust(t *testing.T, yml, toml string) Trusted {
	t.Helper()
	var y, m []byte
	if yml != "" {
		y = []byte(yml)
	}
	if toml != "" {
		m = []byte(toml)
	}
	tr, err := ParseTrusted("main", trustedCommit, y, m)
	if err != nil {
		t.Fatalf("ParseTrusted: %v", err)
	}
	return tr
}

// edit applies replacements (old, new, old, new, ...) to s, failing when
// one is not found: a test edit that silently did nothing would pass.
func edit(t *testing.T, s string, pairs ...string) string {
	t.Helper()
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(s, pairs[i]) {
			t.Fatalf("edit: %q not found", pairs[i])
		}
		s = strings.Replace(s, pairs[i], pairs[i+1], 1)
	}
	return s
}

func settings(ignored []pipeline.IgnoredSetting) []string {
	var out []string
	for _, s := range ignored {
		out = append(out, s.Setting)
	}
	return out
}

func names(envs []pipeline.Environment) []string {
	var out []string
	for _, e := range envs {
		out = append(out, e.Name+"@"+e.Stack)
	}
	return out
}

func TestPlanTrusted(t *testing.T) {
	t.Parallel()
	trusted := mustTrust(t, mainYML, mainSAM)
	tests := []struct {
		name   string
		branch string
		yml    string // the commit's stackflow.yml; "" means main's
		sam    string // the commit's samconfig.toml; "" means main's
		// want are the environments deployed, as name@stack.
		want        []string
		wantIgnored []string
		// check looks further at the plan.
		check func(t *testing.T, p pipeline.Plan)
	}{
		{
			name: "the default branch's own file", branch: "main",
			want: []string{"staging@hello-staging", "prod@hello-prod"},
		},
		{
			name: "a feature branch that joins prod's branches stays out of prod", branch: "feature/x",
			yml:         edit(t, mainYML, "branches: [main]\n", "branches: [main, feature/x]\n"),
			want:        []string{"staging@hello-staging"},
			wantIgnored: []string{"prod.branches"},
			check: func(t *testing.T, p pipeline.Plan) {
				want := "feature/x: checks, then staging; ignored this commit's prod.branches: main's stackflow.yml decides where commits deploy"
				if p.Summary != want {
					t.Errorf("summary: got %q, want %q", p.Summary, want)
				}
				if got := p.Ignored[0].String(); got != "prod.branches: [main, feature/x] in this commit, [main] on the default branch" {
					t.Errorf("ignored: got %q", got)
				}
			},
		},
		{
			name: "a branch no environment takes on main, whatever the commit says", branch: "bugfix/y",
			yml:         edit(t, mainYML, "branches: [main, feature/*]", "branches: ['*', '*/*']", "branches: [main]\n", "branches: ['*/*']\n"),
			want:        nil,
			wantIgnored: []string{"staging.branches", "prod.branches"},
			check: func(t *testing.T, p pipeline.Plan) {
				if p.Deploy || !strings.HasPrefix(p.Summary, "bugfix/y: checks only") {
					t.Errorf("got deploy %v, summary %q; want checks only", p.Deploy, p.Summary)
				}
			},
		},
		{
			name: "an earlier environment pointed at a later one's stack keeps its own", branch: "feature/x",
			yml:         edit(t, mainYML, "parameters: {Stage: staging}\n", "parameters: {Stage: staging}\n    stack: hello-prod\n"),
			want:        []string{"staging@hello-staging"},
			wantIgnored: []string{"staging.stack"},
		},
		{
			name: "a stack_name in the commit's samconfig.toml is a stack too", branch: "feature/x",
			sam:         edit(t, mainSAM, `stack_name = "hello-staging"`, `stack_name = "hello-prod"`),
			want:        []string{"staging@hello-staging"},
			wantIgnored: []string{"staging.stack"},
		},
		{
			name: "region, roles, approval and protection come from main", branch: "main",
			yml: edit(t, mainYML,
				"    region: eu-west-1\n", "    region: us-east-1\n",
				"    role_arn: arn:aws:iam::210987654321:role/deploy\n", "    role_arn: arn:aws:iam::111111111111:role/mine\n    cloudformation_role_arn: arn:aws:iam::111111111111:role/cfn\n",
				"    approval: required\n", "    approval: none\n    approval_timeout: 1m\n",
				"    protected: true\n", ""),
			sam:  edit(t, mainSAM, `region = "eu-central-1"`, `region = "us-east-2"`),
			want: []string{"staging@hello-staging", "prod@hello-prod"},
			wantIgnored: []string{"staging.region", "prod.region", "prod.role_arn", "prod.cloudformation_role_arn",
				"prod.approval", "prod.approval_timeout", "prod.protected"},
			check: func(t *testing.T, p pipeline.Plan) {
				staging, prod := p.Environments[0], p.Environments[1]
				if staging.Region != "eu-central-1" {
					t.Errorf("staging region: got %q, want main's eu-central-1", staging.Region)
				}
				want := pipeline.Environment{Region: "eu-west-1", RoleARN: "arn:aws:iam::210987654321:role/deploy",
					ApprovalRequired: true, ApprovalTimeoutSeconds: 7 * 24 * 3600, Protected: true}
				got := pipeline.Environment{Region: prod.Region, RoleARN: prod.RoleARN, CloudFormationRoleARN: prod.CloudFormationRoleARN,
					ApprovalRequired: prod.ApprovalRequired, ApprovalTimeoutSeconds: prod.ApprovalTimeoutSeconds, Protected: prod.Protected}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("prod: got %+v, want main's %+v", got, want)
				}
			},
		},
		{
			name: "approvers come from main", branch: "main",
			yml:         edit(t, mainYML, "    approval: required\n", "    approval: required\n    approvers: [arn:aws:iam::111111111111:user/mallory]\n"),
			want:        []string{"staging@hello-staging", "prod@hello-prod"},
			wantIgnored: []string{"prod.approvers"},
			check: func(t *testing.T, p pipeline.Plan) {
				if got := p.Environments[1].Approvers; len(got) != 0 {
					t.Errorf("prod's approvers: got %v, want main's (none)", got)
				}
				if got := p.Ignored[0].String(); got != "prod.approvers: [arn:aws:iam::111111111111:user/mallory] in this commit, none on the default branch" {
					t.Errorf("ignored: got %q", got)
				}
			},
		},
		{
			name: "parameters, smoke checks, checks and template come from the commit", branch: "main",
			yml: "checks: [make test]\ntemplate: app.yaml\n" + edit(t, mainYML,
				"parameters: {Stage: staging}\n", "parameters: {Stage: blue}\n    capabilities: [CAPABILITY_NAMED_IAM]\n    smoke_timeout: 90s\n",
				"url: ${ApiUrl}hello", "url: ${ApiUrl}health"),
			want: []string{"staging@hello-staging", "prod@hello-prod"},
			check: func(t *testing.T, p pipeline.Plan) {
				s := p.Environments[0]
				if s.Parameters["Stage"] != "blue" || s.Smoke[0].URL != "${ApiUrl}health" || s.SmokeTimeoutSeconds != 90 ||
					!reflect.DeepEqual(s.Capabilities, []string{"CAPABILITY_NAMED_IAM"}) {
					t.Errorf("staging: got %+v, want the commit's parameters, capabilities and smoke checks", s)
				}
				if !reflect.DeepEqual(p.Checks, []string{"make test"}) || p.Template != "app.yaml" {
					t.Errorf("got checks %v, template %q; want the commit's", p.Checks, p.Template)
				}
			},
		},
		{
			name: "an environment the commit leaves out is deployed with main's settings", branch: "main",
			yml:         edit(t, mainYML, mainYML[strings.Index(mainYML, "  - name: prod"):strings.Index(mainYML, "previews:")], ""),
			want:        []string{"staging@hello-staging", "prod@hello-prod"},
			wantIgnored: []string{"environments"},
			check: func(t *testing.T, p pipeline.Plan) {
				if !p.Environments[1].ApprovalRequired {
					t.Errorf("prod: got %+v, want main's settings", p.Environments[1])
				}
			},
		},
		{
			name: "an environment only the commit has is not deployed", branch: "feature/x",
			yml:         edit(t, mainYML, "previews:", "  - name: qa\n    branches: ['**', feature/x]\n    stack: hello-qa\npreviews:"),
			want:        []string{"staging@hello-staging"},
			wantIgnored: []string{"environments"},
			check: func(t *testing.T, p pipeline.Plan) {
				want := pipeline.IgnoredSetting{Setting: "environments", Commit: "[staging, prod, qa]", Default: "[staging, prod]"}
				if p.Ignored[0] != want {
					t.Errorf("got %+v, want %+v", p.Ignored[0], want)
				}
			},
		},
		{
			name: "the commit's own file may be invalid in what it does not decide", branch: "feature/x",
			// Alone, this file is a ConfigInvalid: both environments deploy hello-prod.
			yml:         edit(t, mainYML, "parameters: {Stage: staging}\n", "parameters: {Stage: staging}\n    stack: hello-prod\n    region: eu-west-1\n"),
			want:        []string{"staging@hello-staging"},
			wantIgnored: []string{"staging.stack", "staging.region"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, sam := mustParse(t, cmpOr(tt.yml, mainYML), cmpOr(tt.sam, mainSAM))
			p, err := c.PlanTrusted(trusted, repo, tt.branch, sam)
			if err != nil {
				t.Fatalf("PlanTrusted: %v", err)
			}
			if got := names(p.Environments); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("environments: got %v, want %v", got, tt.want)
			}
			if got := settings(p.Ignored); !reflect.DeepEqual(got, tt.wantIgnored) {
				t.Errorf("ignored: got %v, want %v", got, tt.wantIgnored)
			}
			if p.DefaultBranch == nil || *p.DefaultBranch != (pipeline.DefaultBranch{Name: "main", Commit: trustedCommit}) {
				t.Errorf("default branch: got %+v, want main at %s", p.DefaultBranch, trustedCommit)
			}
			if len(tt.wantIgnored) == 0 && strings.Contains(p.Summary, "ignored") {
				t.Errorf("summary %q: want nothing ignored", p.Summary)
			}
			if tt.check != nil {
				tt.check(t, p)
			}
		})
	}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// The plan of the default branch's own files is the plan of the file
// alone: trusting it changes nothing but the notes.
func TestPlanTrustedOfTheDefaultBranchIsPlan(t *testing.T) {
	t.Parallel()
	c, sam := mustParse(t, mainYML, mainSAM)
	for _, branch := range []string{"main", "feature/x", "other"} {
		want, err := c.Plan(repo, branch, sam)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.PlanTrusted(mustTrust(t, mainYML, mainSAM), repo, branch, sam)
		if err != nil {
			t.Fatal(err)
		}
		got.DefaultBranch = nil
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %+v, want %+v", branch, got, want)
		}
	}
}

func TestPlanTrustedWithoutAFileOnTheDefaultBranch(t *testing.T) {
	t.Parallel()
	c, sam := mustParse(t, mainYML, mainSAM)
	p, err := c.PlanTrusted(mustTrust(t, "", ""), repo, "main", sam)
	if err != nil {
		t.Fatal(err)
	}
	if p.Deploy || len(p.Environments) != 0 {
		t.Errorf("got %v, want no environment until main has a stackflow.yml", names(p.Environments))
	}
	want := []pipeline.IgnoredSetting{
		{Setting: "environments", Commit: "[staging, prod]", Default: "none (main has no stackflow.yml)"},
		{Setting: "previews.pull_requests", Commit: "true", Default: "false"},
		{Setting: "previews.environment", Commit: "staging", Default: "none"},
	}
	if !reflect.DeepEqual(p.Ignored, want) {
		t.Errorf("ignored: got %+v, want %+v", p.Ignored, want)
	}
	if !reflect.DeepEqual(p.Checks, DefaultChecks) {
		t.Errorf("checks: got %v, want the commit's (the defaults)", p.Checks)
	}
}

func TestPreviewPlanTrusted(t *testing.T) {
	t.Parallel()
	pr := pipeline.PullRequest{ID: 7}
	tests := []struct {
		name        string
		main        string
		yml         string
		wantStack   string // the preview's; "" for none
		wantRegion  string
		wantIgnored []string
	}{
		{name: "previews as main has them", main: mainYML, yml: mainYML, wantStack: "hello-pr-7", wantRegion: "eu-central-1"},
		{
			name: "a commit that takes prod's settings for its preview takes staging's", main: mainYML,
			yml:       edit(t, mainYML, "  environment: staging\n", "  environment: prod\n"),
			wantStack: "hello-pr-7", wantRegion: "eu-central-1", wantIgnored: []string{"previews.environment"},
		},
		{
			name: "a commit that turns previews on gets none", main: edit(t, mainYML, "pull_requests: true", "pull_requests: false"),
			yml: mainYML, wantIgnored: []string{"previews.pull_requests"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, sam := mustParse(t, tt.yml, mainSAM)
			p, err := c.PreviewPlanTrusted(mustTrust(t, tt.main, mainSAM), repo, pr, sam)
			if err != nil {
				t.Fatal(err)
			}
			if got := settings(p.Ignored); !reflect.DeepEqual(got, tt.wantIgnored) {
				t.Errorf("ignored: got %v, want %v", got, tt.wantIgnored)
			}
			if tt.wantStack == "" {
				if p.Deploy || len(p.Environments) != 0 {
					t.Errorf("got %v, want no preview", names(p.Environments))
				}
				return
			}
			if len(p.Environments) != 1 {
				t.Fatalf("got %v, want the preview", names(p.Environments))
			}
			e := p.Environments[0]
			if e.Stack != tt.wantStack || e.Region != tt.wantRegion || e.RoleARN != "" || e.Parameters["Stage"] != "staging" {
				t.Errorf("got %+v, want %s in %s with staging's parameters and no role", e, tt.wantStack, tt.wantRegion)
			}
		})
	}
}

func TestTrustedErrorsNameTheDefaultBranch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		yml, sam string
		wantFile string
		want     string
	}{
		{name: "invalid stackflow.yml", yml: "environments:\n  - name: staging\n", wantFile: "stackflow.yml on main (abcdef0)", want: `missing "branches"`},
		{name: "invalid samconfig.toml", yml: mainYML, sam: "[staging.deploy.parameters]\nstack_name = 7\n", wantFile: "samconfig.toml on main (abcdef0)", want: "stack_name"},
		{name: "two environments on one stack", yml: edit(t, mainYML, "parameters: {Stage: staging}\n", "parameters: {Stage: staging}\n    stack: hello-prod\n    region: eu-west-1\n"),
			sam: "", wantFile: "stackflow.yml on main (abcdef0)", want: "environments staging and prod both deploy stack hello-prod in eu-west-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var sam []byte
			if tt.sam != "" {
				sam = []byte(tt.sam)
			}
			tr, err := ParseTrusted("main", trustedCommit, []byte(tt.yml), sam)
			if err == nil {
				c, csam := mustParse(t, mainYML, mainSAM)
				_, err = c.PlanTrusted(tr, repo, "main", csam)
			}
			var ci *pipeline.ConfigInvalid
			if !errors.As(err, &ci) {
				t.Fatalf("got %v, want a ConfigInvalid", err)
			}
			if ci.File != tt.wantFile || !strings.Contains(ci.Error(), tt.want) || !strings.Contains(ci.Fix, "fix it on main") {
				t.Errorf("got %v, want %s: ...%s... (fix it on main)", ci, tt.wantFile, tt.want)
			}
		})
	}
}

// A commit that drops main's approvers is still approved by them.
func TestMainsApproversAreKept(t *testing.T) {
	t.Parallel()
	withApprovers := edit(t, mainYML, "    approval: required\n", "    approval: required\n    approvers: [arn:aws:iam::210987654321:role/release]\n")
	c, sam := mustParse(t, mainYML, mainSAM)
	p, err := c.PlanTrusted(mustTrust(t, withApprovers, mainSAM), repo, "main", sam)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Environments[1].Approvers; len(got) != 1 || got[0] != "arn:aws:iam::210987654321:role/release" {
		t.Errorf("prod's approvers: got %v, want main's", got)
	}
	if got := settings(p.Ignored); len(got) != 1 || got[0] != "prod.approvers" {
		t.Errorf("ignored: got %v, want prod.approvers", got)
	}
}
