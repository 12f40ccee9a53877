package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/stackflow/stackflow/internal/pipeline"
)

const samconfig = `version = 0.1

[default.global.parameters]
stack_name = "hello"
region = "us-east-1"

[default.build.parameters]
cached = true
template_file = "./template.yaml"

[default.deploy.parameters]
capabilities = "CAPABILITY_IAM CAPABILITY_AUTO_EXPAND"
confirm_changeset = true
parameter_overrides = "Stage=dev Greeting=\"hello world\" Name='it\\'s' Path=a\\ b ParameterKey=Size,ParameterValue=3"

[staging.deploy.parameters]
stack_name = "hello-staging"
capabilities = ["CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
parameter_overrides = ["Stage=staging", "Greeting=\"hi there\""]

[prod.global.parameters]
region = "eu-west-1"

[prod.deploy.parameters]
stack_name = "hello-prod"
`

func TestParseSAMConfig(t *testing.T) {
	t.Parallel()
	c, err := ParseSAMConfig([]byte(samconfig))
	if err != nil {
		t.Fatalf("ParseSAMConfig: %v", err)
	}
	tests := []struct {
		env  string
		want SAMSettings
	}{
		{
			env: "default",
			want: SAMSettings{
				StackName: "hello", Region: "us-east-1", TemplateFile: "template.yaml",
				Capabilities:       []string{"CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"},
				ParameterOverrides: map[string]string{"Stage": "dev", "Greeting": "hello world", "Name": "it's", "Path": "a b", "Size": "3"},
			},
		},
		{
			env: "staging",
			want: SAMSettings{
				StackName: "hello-staging", Region: "us-east-1", TemplateFile: "template.yaml",
				Capabilities:       []string{"CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"},
				ParameterOverrides: map[string]string{"Stage": "staging", "Greeting": "hi there"},
			},
		},
		{
			env: "prod",
			want: SAMSettings{
				// The default section's overrides describe one stack: not prod's.
				StackName: "hello-prod", Region: "eu-west-1", TemplateFile: "template.yaml",
				Capabilities: []string{"CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			t.Parallel()
			if got := c.Settings(tt.env); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Settings(%q):\ngot  %+v\nwant %+v", tt.env, got, tt.want)
			}
		})
	}
}

func TestSAMConfigWithoutDefault(t *testing.T) {
	t.Parallel()
	c, err := ParseSAMConfig([]byte("[qa.deploy.parameters]\nstack_name = \"x-qa\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Settings("prod"); !reflect.DeepEqual(got, SAMSettings{}) {
		t.Errorf("Settings(prod) = %+v, want nothing set", got)
	}
	if got := c.Settings("qa").StackName; got != "x-qa" {
		t.Errorf("Settings(qa).StackName = %q, want %q", got, "x-qa")
	}
	var none *SAMConfig
	if got := none.Settings("qa"); !reflect.DeepEqual(got, SAMSettings{}) {
		t.Errorf("nil SAMConfig Settings = %+v, want nothing set", got)
	}
}

func TestParseOverrides(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    map[string]string
		wantErr string
	}{
		{in: "", want: map[string]string{}},
		{in: "A=1", want: map[string]string{"A": "1"}},
		{in: "  A=1   B=two  ", want: map[string]string{"A": "1", "B": "two"}},
		{in: `A="x y" B='p q'`, want: map[string]string{"A": "x y", "B": "p q"}},
		{in: `A="say \"hi\""`, want: map[string]string{"A": `say "hi"`}},
		{in: `A=C:\dir`, want: map[string]string{"A": `C:\dir`}},
		{in: `A=x=y`, want: map[string]string{"A": "x=y"}},
		{in: `ParameterKey=A,ParameterValue="v w" B=2`, want: map[string]string{"A": "v w", "B": "2"}},
		{in: `"A"=1`, want: map[string]string{"A": "1"}},
		{in: "A=1 B", wantErr: `cannot read "B": want Key=Value`},
		{in: `A="unclosed`, wantErr: `cannot read "A=\"unclosed": want Key=Value`},
		{in: `my-key=1`, wantErr: `cannot read "my-key=1"`},
		{in: `A=x"y"`, wantErr: `cannot read "A=x\"y\""`},
	}
	for _, tt := range tests {
		got, err := parseOverrides(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Errorf("parseOverrides(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseOverrides(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseSAMConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		in          string
		wantLine    int
		wantProblem string
	}{
		{
			name: "invalid TOML", in: "version = 0.1\n[default.deploy.parameters\nstack_name = \"x\"\n",
			wantLine: 2, wantProblem: "not valid TOML: ",
		},
		{
			name: "stack name is a number", in: "[staging.deploy.parameters]\nregion = \"eu-west-1\"\nstack_name = 5\n",
			wantLine: 3, wantProblem: "[staging.deploy.parameters] stack_name: want a string, got 5",
		},
		{
			name: "bad stack name", in: "[prod.global.parameters]\nstack_name = \"my_app\"\n",
			wantLine: 2, wantProblem: `[prod.global.parameters] stack_name: "my_app" is not a valid CloudFormation stack name`,
		},
		{
			name: "bad region", in: "[default.deploy.parameters]\nregion = \"mars\"\n",
			wantLine: 2, wantProblem: `[default.deploy.parameters] region: "mars" is not an AWS region`,
		},
		{
			name: "capabilities of numbers", in: "[default.deploy.parameters]\ncapabilities = [1, 2]\n",
			wantLine: 2, wantProblem: "[default.deploy.parameters] capabilities: want a string or an array of strings",
		},
		{
			name: "bad parameter overrides", in: "[default.deploy.parameters]\n\nparameter_overrides = \"Stage=dev oops\"\n",
			wantLine: 3, wantProblem: `[default.deploy.parameters] parameter_overrides: cannot read "oops": want Key=Value`,
		},
		{
			name: "bad parameter overrides array", in: "[default.deploy.parameters]\nparameter_overrides = [\"Stage\"]\n",
			wantLine: 2, wantProblem: `[default.deploy.parameters] parameter_overrides: cannot read "Stage": want Key=Value`,
		},
		{
			name: "absolute template", in: "[default.build.parameters]\ntemplate_file = \"/home/me/app/template.yaml\"\n",
			wantLine: 2, wantProblem: `[default.build.parameters] template_file: "/home/me/app/template.yaml" is not a path inside the repository`,
		},
		{
			name: "dotted keys", in: "[staging]\ndeploy.parameters.stack_name = \"-x\"\n",
			wantLine: 2, wantProblem: `[staging.deploy.parameters] stack_name: "-x" is not a valid`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseSAMConfig([]byte(tt.in))
			var ci *pipeline.ConfigInvalid
			if !errors.As(err, &ci) {
				t.Fatalf("ParseSAMConfig error = %v (%T), want a *pipeline.ConfigInvalid", err, err)
			}
			if ci.File != SAMFile || ci.Line != tt.wantLine {
				t.Errorf("at %s:%d, want %s:%d (%v)", ci.File, ci.Line, SAMFile, tt.wantLine, err)
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
