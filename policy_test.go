package stackflow_test

// Least privilege, checked statically on template.yaml: no role may pass
// or assume any role, or delete any stack, or invoke any function but
// those of the pipeline's stacks; the functions that run the commit's code
// hold no S3, DynamoDB or Secrets Manager action at all (Lambda puts a
// role's credentials where that code can read them), and name no role or
// managed policy the check cannot read.

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// sensitive are the actions no statement may allow on every resource.
var sensitive = []string{"iam:PassRole", "sts:AssumeRole", "cloudformation:DeleteStack"}

// runsCommitCode are the functions that run the delivered commit's code
// (its checks, its build).
var runsCommitCode = []string{"ChecksFunction", "PackageFunction"}

// forbidden are the services whose actions no function that runs the
// commit's code may hold: what the pipeline trusts lives there.
var forbidden = []string{"s3", "dynamodb", "secretsmanager"}

// samPolicyTemplates is SAM's own table of policy templates, from the
// aws-sam-translator the tests install (requirements-test.txt).
const samPolicyTemplates = ".venv/lib/python3.11/site-packages/samtranslator/policy_templates_data/policy_templates.json"

// templateActions reads the actions of each SAM policy template.
func templateActions(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(samPolicyTemplates)
	if err != nil {
		t.Fatalf("SAM's policy templates: %v; install the test tools: python3 -m venv .venv && .venv/bin/pip install -r requirements-test.txt", err)
	}
	var doc struct {
		Templates map[string]struct {
			Definition struct {
				Statement []struct {
					Action any `json:"Action"`
				} `json:"Statement"`
			} `json:"Definition"`
		} `json:"Templates"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", samPolicyTemplates, err)
	}
	out := map[string][]string{}
	for name, tpl := range doc.Templates {
		for _, st := range tpl.Definition.Statement {
			out[name] = append(out[name], strs(st.Action)...)
		}
	}
	return out
}

// touches reports whether the action pattern covers some action of
// service ("s3:Get*", "s3:*", "*" all touch s3).
func touches(pattern, service string) bool {
	if pattern == "*" {
		return true
	}
	svc, _, ok := strings.Cut(pattern, ":")
	return ok && allows(svc, service)
}

// policyStatement is one statement of a policy document, with the
// resources and conditions as written (intrinsics read as plain values).
type policyStatement struct {
	Effect    string         `yaml:"Effect"`
	Action    any            `yaml:"Action"`
	Resource  any            `yaml:"Resource"`
	Condition map[string]any `yaml:"Condition"`
}

// grant is a statement of a resource's policies, or a SAM policy template
// it names.
type grant struct {
	owner     string
	template  string // a SAM policy template's name; empty for a statement
	managed   string // a managed policy's name or ARN
	role      string // the function's own Role, which replaces its policies
	statement policyStatement
}

// grants reads every policy statement and SAM policy template of data's
// functions, state machines and roles.
func grants(t *testing.T, data []byte) ([]grant, map[string][]string) {
	t.Helper()
	var node yaml.Node
	if err := yaml.Unmarshal(data, &node); err != nil {
		t.Fatal(err)
	}
	clearTags(&node)
	var tpl struct {
		Parameters map[string]struct {
			Default any `yaml:"Default"`
		} `yaml:"Parameters"`
		Resources map[string]struct {
			Type       string `yaml:"Type"`
			Properties struct {
				Policies yaml.Node `yaml:"Policies"`
				Role     any       `yaml:"Role"`
			} `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := node.Decode(&tpl); err != nil {
		t.Fatal(err)
	}
	params := map[string][]string{}
	for name, p := range tpl.Parameters {
		if s, ok := p.Default.(string); ok {
			params[name] = strings.Split(s, ",")
		}
	}
	var out []grant
	walk := func(owner string, n *yaml.Node) {
		switch n.Kind {
		case yaml.ScalarNode: // a managed policy
			if n.Value != "" {
				out = append(out, grant{owner: owner, managed: n.Value})
			}
		case yaml.MappingNode:
			var doc struct {
				Statement      []policyStatement `yaml:"Statement"`
				PolicyDocument *struct {
					Statement []policyStatement `yaml:"Statement"`
				} `yaml:"PolicyDocument"`
			}
			if err := n.Decode(&doc); err != nil {
				t.Fatalf("%s: %v", owner, err)
			}
			if doc.PolicyDocument != nil {
				doc.Statement = doc.PolicyDocument.Statement
			}
			for _, st := range doc.Statement {
				out = append(out, grant{owner: owner, statement: st})
			}
			if len(doc.Statement) == 0 && len(n.Content) == 2 {
				out = append(out, grant{owner: owner, template: n.Content[0].Value})
			}
		}
	}
	for name, r := range tpl.Resources {
		policies := &r.Properties.Policies
		switch policies.Kind {
		case yaml.SequenceNode:
			for _, p := range policies.Content {
				if p.Kind == yaml.SequenceNode { // !If [condition, then, else]
					for _, c := range p.Content[1:] {
						walk(name, c)
					}
					continue
				}
				walk(name, p)
			}
		default:
			walk(name, policies)
		}
		if r.Properties.Role != nil {
			out = append(out, grant{owner: name, role: fmt.Sprint(r.Properties.Role)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].owner < out[j].owner })
	return out, params
}

// strs reads a policy field that is one string or a list of them.
func strs(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, strs(x)...)
		}
		return out
	}
	return nil
}

// allows reports whether the action pattern (IAM's: * any characters,
// ? one) covers action.
func allows(pattern, action string) bool {
	re := "^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(pattern)) + "$"
	return regexp.MustCompile("(?i)" + re).MatchString(action)
}

// everything reports whether resource stands for every resource of a
// service ("*", "arn:aws:s3:::*"), every role of every account, or the
// whole artifact bucket.
func everything(resource string) bool {
	return resource == "*" || strings.HasSuffix(resource, ":*") || strings.HasSuffix(resource, ":iam::*:role/*") ||
		resource == "${ArtifactBucket.Arn}/*"
}

// environmentTag is the tag the deploy step puts on every stack (and
// CloudFormation on its resources): the functions of stacks the pipeline
// deployed carry it.
const environmentTag = "stackflow:environment"

// tagCondition reports whether condition requires the resource to carry
// tag (any operator on aws:ResourceTag/<tag>).
func tagCondition(condition map[string]any, tag string) bool {
	for _, keys := range condition {
		if m, ok := keys.(map[string]any); ok {
			if _, ok := m["aws:ResourceTag/"+tag]; ok {
				return true
			}
		}
	}
	return false
}

// policyProblems lists what in the template's policies breaks least
// privilege.
func policyProblems(t *testing.T, data []byte) []string {
	t.Helper()
	all, params := grants(t, data)
	samTemplates := templateActions(t)
	var problems []string
	for _, g := range all {
		commitCode := slices.Contains(runsCommitCode, g.owner)
		switch {
		case g.role != "" && commitCode:
			problems = append(problems, fmt.Sprintf("%s runs the commit's code with a role of its own (%s), which this check cannot read: give it Policies", g.owner, g.role))
			continue
		case g.managed != "" && commitCode:
			problems = append(problems, fmt.Sprintf("%s runs the commit's code and holds the managed policy %s, which this check cannot read", g.owner, g.managed))
			continue
		case g.managed != "" || g.role != "":
			continue
		case g.template != "":
			actions, known := samTemplates[g.template]
			if commitCode && !known {
				problems = append(problems, fmt.Sprintf("%s runs the commit's code and holds %s, which is not one of SAM's policy templates", g.owner, g.template))
			}
			for _, a := range actions {
				for _, svc := range forbidden {
					if commitCode && touches(a, svc) {
						problems = append(problems, fmt.Sprintf("%s runs the commit's code and holds %s, which allows %s", g.owner, g.template, a))
					}
				}
			}
			continue
		}
		st := g.statement
		if st.Effect != "Allow" {
			continue
		}
		var resources []string
		for _, r := range strs(st.Resource) {
			if values, ok := params[r]; ok { // !Ref Parameter
				resources = append(resources, values...)
			} else {
				resources = append(resources, r)
			}
		}
		for _, action := range strs(st.Action) {
			for _, s := range sensitive {
				if !allows(action, s) {
					continue
				}
				for _, r := range resources {
					if everything(r) {
						problems = append(problems, fmt.Sprintf("%s allows %s on %q", g.owner, s, r))
					}
				}
				if s == "cloudformation:DeleteStack" && len(st.Condition) == 0 {
					problems = append(problems, fmt.Sprintf("%s allows %s on %v without a condition on the stack", g.owner, s, resources))
				}
			}
			if allows(action, "lambda:InvokeFunction") && !tagCondition(st.Condition, environmentTag) {
				for _, r := range resources {
					if everything(r) || strings.HasSuffix(r, ":function:*") {
						problems = append(problems, fmt.Sprintf("%s allows lambda:InvokeFunction on %q without a condition on the functions' %s tag", g.owner, r, environmentTag))
					}
				}
			}
			if !commitCode {
				continue
			}
			for _, svc := range forbidden {
				if touches(action, svc) {
					problems = append(problems, fmt.Sprintf("%s runs the commit's code and may %s on %v: it must hold no %s action", g.owner, action, resources, svc))
				}
			}
		}
	}
	return problems
}

func TestTemplateGrantsLeastPrivilege(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range policyProblems(t, data) {
		t.Error(p)
	}
	all, _ := grants(t, data)
	if len(all) < 20 {
		t.Fatalf("read %d grants from template.yaml, want the template's many: the reader is wrong", len(all))
	}
}

// TestPolicyProblemsAreFound feeds the check templates that break each
// rule, so that a check that cannot fail is caught.
func TestPolicyProblemsAreFound(t *testing.T) {
	t.Parallel()
	fn := func(name, policies string) string {
		return "Resources:\n  " + name + ":\n    Type: AWS::Serverless::Function\n    Properties:\n      Policies:\n" + policies
	}
	tests := []struct {
		name string
		tpl  string
		want string
	}{
		{name: "pass any role", want: `DeployFunction allows iam:PassRole on "*"`, tpl: fn("DeployFunction", `
        - Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Action: iam:PassRole
              Resource: "*"
`)},
		{name: "assume any role through a parameter", want: `DeployFunction allows sts:AssumeRole on "*"`,
			tpl: "Parameters:\n  Roles:\n    Type: CommaDelimitedList\n    Default: \"arn:aws:iam::*:role/x,*\"\n" + fn("DeployFunction", `
        - Statement:
            - Effect: Allow
              Action: [sts:*]
              Resource: !Ref Roles
`)},
		{name: "assume every role of every account", want: `DeployFunction allows sts:AssumeRole on "arn:${AWS::Partition}:iam::*:role/*"`, tpl: fn("DeployFunction", `
        - Statement:
            - Effect: Allow
              Action: sts:AssumeRole
              Resource: !Sub "arn:${AWS::Partition}:iam::*:role/*"
`)},
		{name: "delete any stack", want: "DeployFunction allows cloudformation:DeleteStack on [arn:aws:cloudformation:*:1:stack/*] without a condition", tpl: fn("DeployFunction", `
        - Statement:
            - Effect: Allow
              Action: cloudformation:Delete*
              Resource: arn:aws:cloudformation:*:1:stack/*
`)},
		{name: "checks write the whole bucket by a SAM template", want: "ChecksFunction runs the commit's code and holds S3CrudPolicy", tpl: fn("ChecksFunction", `
        - S3CrudPolicy:
            BucketName: !Ref ArtifactBucket
`)},
		{name: "checks read a table by a SAM template", want: "ChecksFunction runs the commit's code and holds DynamoDBReadPolicy, which allows dynamodb:GetItem", tpl: fn("ChecksFunction", `
        - DynamoDBReadPolicy:
            TableName: !Ref ReleasesTable
`)},
		{name: "package reads a secret", want: "PackageFunction runs the commit's code and may secretsmanager:GetSecretValue", tpl: fn("PackageFunction", `
        - AWSSecretsManagerGetSecretValuePolicy:
            SecretArn: !Ref PackageIndexSecret
        - Statement:
            - Effect: Allow
              Action: secretsmanager:GetSecretValue
              Resource: !Ref PackageIndexSecret
`)},
		{name: "checks only read their prefix", want: "ChecksFunction runs the commit's code and may s3:GetObject on [${ArtifactBucket.Arn}/sources/*]: it must hold no s3 action", tpl: fn("ChecksFunction", `
        - Statement:
            - Effect: Allow
              Action: s3:GetObject
              Resource: !Sub "${ArtifactBucket.Arn}/sources/*"
`)},
		{name: "a managed policy", want: "ChecksFunction runs the commit's code and holds the managed policy AmazonS3ReadOnlyAccess", tpl: fn("ChecksFunction", `
        - AmazonS3ReadOnlyAccess
`)},
		{name: "a role of its own", want: "PackageFunction runs the commit's code with a role of its own", tpl: fn("PackageFunction", `
        - Statement: []
`) + "      Role: arn:aws:iam::1:role/builder\n"},
		{name: "package writes the whole bucket", want: `PackageFunction runs the commit's code and may s3:Put* on [${ArtifactBucket.Arn}/*]`, tpl: fn("PackageFunction", `
        - Statement:
            - Effect: Allow
              Action: [s3:GetObject, s3:Put*]
              Resource: !Sub "${ArtifactBucket.Arn}/*"
`)},
		{name: "invoke any function", want: `SmokeTestFunction allows lambda:InvokeFunction on "arn:${AWS::Partition}:lambda:*:${AWS::AccountId}:function:*" without a condition`, tpl: fn("SmokeTestFunction", `
        - Statement:
            - Effect: Allow
              Action: lambda:Invoke*
              Resource: !Sub "arn:${AWS::Partition}:lambda:*:${AWS::AccountId}:function:*"
              Condition:
                StringEquals:
                  aws:ResourceTag/team: web
`)},
		{name: "inside an If", want: `ChecksFunction allows iam:PassRole on "*"`, tpl: fn("ChecksFunction", `
        - !If
          - SomeCondition
          - Statement:
              - Effect: Allow
                Action: "*"
                Resource: "*"
          - !Ref AWS::NoValue
`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := policyProblems(t, []byte(tt.tpl))
			if !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Errorf("got problems %q, want one with %q", got, tt.want)
			}
		})
	}
}

// TestAppsMayNotUseThePipelinesRoles: CloudFormation's role passes and
// changes the apps' roles, never the pipeline's own (SAM names them after
// the pipeline's stack), so a commit's stack cannot run a function as the
// deploy role, which may assume every environment's role.
func TestAppsMayNotUseThePipelinesRoles(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Resources map[string]struct {
			Properties struct {
				Policies []yaml.Node `yaml:"Policies"`
			} `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	for _, n := range doc.Resources["CloudFormationRole"].Properties.Policies {
		var p struct {
			PolicyDocument struct {
				Statement []struct {
					Effect   string    `yaml:"Effect"`
					Action   []string  `yaml:"Action"`
					Resource yaml.Node `yaml:"Resource"`
				} `yaml:"Statement"`
			} `yaml:"PolicyDocument"`
		}
		if n.Kind != yaml.MappingNode || n.Decode(&p) != nil {
			continue // an !If of policies: not where the deny belongs
		}
		for _, st := range p.PolicyDocument.Statement {
			if st.Effect == "Deny" && slices.Contains(st.Action, "iam:PassRole") && slices.Contains(st.Action, "iam:PutRolePolicy") &&
				strings.HasSuffix(st.Resource.Value, ":role/${AWS::StackName}-*") {
				return
			}
		}
	}
	t.Error("CloudFormationRole must deny iam:PassRole and changes to the pipeline's own roles (arn:...:role/${AWS::StackName}-*)")
}
