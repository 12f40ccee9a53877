package cfn

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/stackflow/stackflow/internal/testaws"
)

// refs are the values a dynamic references test reads: an SSM parameter,
// a SecureString, a JSON secret and a plain one, named for the test.
type refs struct {
	plain, secure, jsonSecret, textSecret string
}

// Values no API of the engine may show.
const (
	securePassword = "ssm-secure-value-0123456789"
	secretPassword = "secrets-manager-password-0123456789"
)

func seedRefs(t *testing.T, en *env) refs {
	t.Helper()
	ctx := context.Background()
	r := refs{
		plain:      "/" + testaws.Name("dynref") + "/greeting",
		secure:     "/" + testaws.Name("dynref") + "/password",
		jsonSecret: testaws.Name("dynref-json"),
		textSecret: testaws.Name("dynref-text"),
	}
	if err := en.engine.ssm.PutParameter(ctx, r.plain, "String", "hello v1", "", false); err != nil {
		t.Fatal(err)
	}
	if err := en.engine.ssm.PutParameter(ctx, r.secure, "SecureString", securePassword, "", false); err != nil {
		t.Fatal(err)
	}
	sm := secretsmanager.NewFromConfig(en.cfg)
	for name, value := range map[string]string{
		r.jsonSecret: `{"username":"ada","password":"` + secretPassword + `","port":5432}`,
		r.textSecret: "plain-text-secret",
	} {
		if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)}); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// expand puts the test's names into a template.
func (r refs) expand(s string) string {
	return strings.NewReplacer("PLAIN", r.plain, "SECURE", r.secure, "JSONSECRET", r.jsonSecret, "TEXTSECRET", r.textSecret).Replace(s)
}

// parameter reads an SSM parameter of the local AWS.
func (en *env) parameter(name string) string {
	en.t.Helper()
	p, err := en.engine.ssm.parameter(context.Background(), name)
	if err != nil {
		en.t.Fatalf("get parameter %s: %v", name, err)
	}
	return p.Value
}

// TestDynamicReferencesResolve: references in properties are resolved
// when the resource is made (mid-string, several in one string, inside
// Fn::Sub, through a parameter's Default); outputs resolve ssm
// references and keep secure ones as written; nothing the engine answers
// shows a secret, and change sets compare references, not values.
func TestDynamicReferencesResolve(t *testing.T) {
	t.Parallel()
	en := setup(t)
	r := seedRefs(t, en)
	out := "/" + testaws.Name("dynref-out")
	tmpl := r.expand(`
Parameters:
  Pinned:
    Type: String
    Default: "{{resolve:ssm:PLAIN:1}}"
Resources:
  Greeting:
    Type: AWS::SSM::Parameter
    Properties:
      Name: OUT/greeting
      Type: String
      Value: "say {{resolve:ssm:PLAIN}} and {{resolve:ssm:PLAIN:1}}!"
  Subbed:
    Type: AWS::SSM::Parameter
    Properties:
      Name: !Sub "OUT/${AWS::StackName}"
      Type: String
      Value: !Sub "{{resolve:secretsmanager:JSONSECRET:SecretString:username}}@${Pinned}"
  Secret:
    Type: AWS::SecretsManager::Secret
    Properties:
      Name: OUT/secret
      SecretString: "{{resolve:secretsmanager:JSONSECRET:SecretString:password}}"
  Whole:
    Type: AWS::SSM::Parameter
    Properties:
      Name: OUT/whole
      Type: String
      Value: "{{resolve:secretsmanager:TEXTSECRET}}|{{resolve:secretsmanager:JSONSECRET::port:AWSCURRENT}}"
Outputs:
  Plain:
    Value: "{{resolve:ssm:PLAIN}}"
  Secret:
    Value: "{{resolve:secretsmanager:JSONSECRET:SecretString:password}}"
`)
	tmpl = strings.ReplaceAll(tmpl, "OUT", out)
	stackName := testaws.Name("dynref")
	st := en.deploy(stackName, "create", "CREATE", tmpl, nil)
	if st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("got %s (%s), want CREATE_COMPLETE; events:\n%s", st.StackStatus, aws.ToString(st.StackStatusReason), eventLines(en.events(stackName)))
	}
	for name, want := range map[string]string{
		out + "/greeting":     "say hello v1 and hello v1!",
		out + "/" + stackName: "ada@hello v1",
		out + "/whole":        "plain-text-secret|5432",
	} {
		if got := en.parameter(name); got != want {
			t.Errorf("parameter %s is %q, want %q", name, got, want)
		}
	}
	sv, err := secretsmanager.NewFromConfig(en.cfg).GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(out + "/secret")})
	if err != nil || aws.ToString(sv.SecretString) != secretPassword {
		t.Errorf("got secret %v (%v), want the password", sv, err)
	}
	outs := outputsOf(st)
	if outs["Plain"] != "hello v1" {
		t.Errorf("output Plain is %q, want the SSM value", outs["Plain"])
	}
	if want := "{{resolve:secretsmanager:" + r.jsonSecret + ":SecretString:password}}"; outs["Secret"] != want {
		t.Errorf("output Secret is %q, want it as written, %q", outs["Secret"], want)
	}
	noSecretIn(t, en, stackName)

	// The SSM value changes; the template does not: CloudFormation
	// compares the references, so no resource changes (the output that
	// resolves the parameter does).
	if err := en.engine.ssm.PutParameter(context.Background(), r.plain, "String", "hello v2", "", true); err != nil {
		t.Fatal(err)
	}
	cs := en.changeSet(stackName, "same", "UPDATE", tmpl, nil)
	if len(cs.Changes) != 0 {
		t.Errorf("got changes %v, want none", changesOf(cs))
	}
	// A change to the resource resolves its references again; version 1
	// is gone (the local Parameter Store keeps the latest only).
	changed := strings.Replace(tmpl, `"say {{`, `"now say {{`, 1)
	changed = strings.Replace(changed, "{{resolve:ssm:"+r.plain+":1}}!", "!", 1)
	st = en.deploy(stackName, "update", "UPDATE", changed, nil)
	if st.StackStatus != cfntypes.StackStatusUpdateComplete {
		t.Fatalf("got %s, want UPDATE_COMPLETE; events:\n%s", st.StackStatus, eventLines(en.events(stackName)))
	}
	if got, want := en.parameter(out+"/greeting"), "now say hello v2 and !"; got != want {
		t.Errorf("after the update, got %q, want %q", got, want)
	}
	noSecretIn(t, en, stackName)
}

// noSecretIn fails t when an event, the stack's description or its
// template shows a secret value.
func noSecretIn(t *testing.T, en *env, stack string) {
	t.Helper()
	ctx := context.Background()
	var texts []string
	for _, e := range en.events(stack) {
		texts = append(texts, aws.ToString(e.ResourceStatusReason))
	}
	d, err := en.cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range d.Stacks[0].Outputs {
		texts = append(texts, aws.ToString(o.OutputValue))
	}
	for _, p := range d.Stacks[0].Parameters {
		texts = append(texts, aws.ToString(p.ParameterValue))
	}
	for _, stage := range []cfntypes.TemplateStage{cfntypes.TemplateStageOriginal, cfntypes.TemplateStageProcessed} {
		tpl, err := en.cfn.GetTemplate(ctx, &cloudformation.GetTemplateInput{StackName: aws.String(stack), TemplateStage: stage})
		if err != nil {
			t.Fatal(err)
		}
		texts = append(texts, aws.ToString(tpl.TemplateBody))
	}
	for _, text := range texts {
		for _, secret := range []string{securePassword, secretPassword} {
			if strings.Contains(text, secret) {
				t.Errorf("%q shows a secret", text)
			}
		}
	}
}

func eventLines(events []cfntypes.StackEvent) string {
	var b strings.Builder
	for _, e := range events {
		b.WriteString(aws.ToString(e.LogicalResourceId) + " " + string(e.ResourceStatus) + " " + aws.ToString(e.ResourceStatusReason) + "\n")
	}
	return b.String()
}

// TestDynamicReferenceErrors: a reference CloudFormation refuses at once
// is a ValidationError of CreateChangeSet; one that cannot be resolved
// fails its resource with CloudFormation's reason, and the stack rolls
// back.
func TestDynamicReferenceErrors(t *testing.T) {
	t.Parallel()
	en := setup(t)
	r := seedRefs(t, en)
	param := func(value string) string {
		return r.expand("Resources:\n  Target:\n    Type: AWS::SSM::Parameter\n    Properties:\n      Type: String\n      Value: \"" + value + "\"\n")
	}
	tests := []struct {
		name       string
		template   string
		wantSync   string // the ValidationError of CreateChangeSet
		wantReason string // the failed resource's reason
	}{
		{name: "a label for a version", template: param("{{resolve:ssm:PLAIN:prod}}"),
			wantSync: "Incorrect format is used in the following SSM reference: [{{resolve:ssm:" + r.plain + ":prod}}]"},
		{name: "ssm-secure where it is not taken", template: param("{{resolve:ssm-secure:SECURE}}"),
			wantSync: "SSM Secure reference is not supported in: [AWS::SSM::Parameter/Properties/Value]"},
		{name: "ssm-secure in a function's variables",
			template: r.expand("Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Lambda::Function\n    Properties:\n      Environment:\n        Variables:\n          PASSWORD: \"{{resolve:ssm-secure:SECURE:1}}\"\n"),
			wantSync: "SSM Secure reference is not supported in: [AWS::Lambda::Function/Properties/Environment/Variables/PASSWORD]"},
		{name: "versionless in a parameter's default",
			template: r.expand("Parameters:\n  P:\n    Type: String\n    Default: \"{{resolve:ssm:PLAIN}}\"\nResources:\n  Target:\n    Type: AWS::SSM::Parameter\n    Properties: {Type: String, Value: !Ref P}\n"),
			wantSync: "Template error: parameter P should not contain ssm versionless resolver"},
		{name: "a missing parameter", template: param("{{resolve:ssm:/no/such/parameter}}"),
			wantReason: "Unable to fetch parameters [/no/such/parameter] from parameter store for this account."},
		{name: "a version that is not there", template: param("{{resolve:ssm:PLAIN:7}}"),
			wantReason: "Unable to fetch parameters [" + r.plain + ":7] from parameter store for this account."},
		{name: "ssm for a SecureString", template: param("{{resolve:ssm:SECURE}}"),
			wantReason: "Non-secure ssm prefix was used for secure parameter " + r.secure},
		{name: "a missing secret", template: param("{{resolve:secretsmanager:no-such-secret}}"),
			wantReason: "Secrets Manager can't find the specified secret. (Service: AWSSecretsManager; Status Code: 400; Error Code: ResourceNotFoundException)"},
		{name: "a missing key", template: param("{{resolve:secretsmanager:JSONSECRET:SecretString:nokey}}"),
			wantReason: "Could not find a value associated with JSONKey in SecretString"},
		{name: "a key of a secret that is not JSON", template: param("{{resolve:secretsmanager:TEXTSECRET:SecretString:password}}"),
			wantReason: "Could not parse SecretString JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stack := testaws.Name("dynref-err")
			out, err := en.createChangeSet(stack, "create", "CREATE", tt.template, nil)
			if tt.wantSync != "" {
				code, msg := apiCode(err)
				if code == "" && err == nil {
					// A SAM template is checked once transformed: the
					// change set fails instead.
					cs := en.waitChangeSet(aws.ToString(out.Id))
					code, msg = "ValidationError", aws.ToString(cs.StatusReason)
				}
				if code != "ValidationError" || msg != tt.wantSync {
					t.Errorf("got %s %q, want ValidationError %q", code, msg, tt.wantSync)
				}
				return
			}
			if err != nil {
				t.Fatalf("create change set: %v", err)
			}
			st := en.execute(en.waitChangeSet(aws.ToString(out.Id)))
			if st.StackStatus != cfntypes.StackStatusRollbackComplete {
				t.Errorf("got %s, want ROLLBACK_COMPLETE", st.StackStatus)
			}
			var reason string
			for _, e := range en.events(stack) {
				if aws.ToString(e.LogicalResourceId) == "Target" && e.ResourceStatus == cfntypes.ResourceStatusCreateFailed {
					reason = aws.ToString(e.ResourceStatusReason)
				}
			}
			if reason != tt.wantReason {
				t.Errorf("got reason %q, want %q", reason, tt.wantReason)
			}
		})
	}
}

// TestAFunctionSeesItsResolvedVariables: a function's environment
// variables are resolved before its processes start.
func TestAFunctionSeesItsResolvedVariables(t *testing.T) {
	t.Parallel()
	en := setup(t)
	r := seedRefs(t, en)
	code := en.put(testaws.Name("node")+".zip", zipFiles(t, map[string]string{
		"index.mjs": "export const handler = async () => ({ greeting: process.env.GREETING, user: process.env.DB_USER });\n",
	}))
	tmpl := r.expand(`Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs20.x
      Handler: index.handler
      CodeUri: ` + code + `
      Environment:
        Variables:
          GREETING: "{{resolve:ssm:PLAIN}}"
          DB_USER: "{{resolve:secretsmanager:JSONSECRET:SecretString:username}}"
Outputs:
  Fn: {Value: !Ref Fn}
`)
	stack := testaws.Name("dynref-fn")
	st := en.deploy(stack, "create", "CREATE", tmpl, nil, cfntypes.CapabilityCapabilityIam)
	if st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("got %s, want CREATE_COMPLETE; events:\n%s", st.StackStatus, eventLines(en.events(stack)))
	}
	res, err := awslambda.NewFromConfig(en.cfg).Invoke(context.Background(), &awslambda.InvokeInput{FunctionName: aws.String(outputsOf(st)["Fn"])})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(res.Payload), `{"greeting":"hello v1","user":"ada"}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
