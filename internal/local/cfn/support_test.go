package cfn

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// unrehearsedApp has a bit of everything plan warns about: a type the
// engine does not run, a refused property, ignored ones, and a type only
// recorded.
const unrehearsedApp = `
Transform: AWS::Serverless-2016-10-31
Parameters:
  Arch: {Type: String, Default: arm64}
  Alias: {Type: String}
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
      CodeUri: s3://code-bucket/hello.zip
      Handler: bootstrap
      Runtime: provided.al2023
      Architectures: [!Ref Arch]
      AutoPublishAlias: !Ref Alias
      Events:
        Get: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /hello, Method: get}}
  Image:
    Type: AWS::Serverless::Function
    Properties:
      PackageType: Image
      ImageUri: 123456789012.dkr.ecr.us-east-1.amazonaws.com/image:1
  Db:
    Type: AWS::RDS::DBCluster
    Properties: {Engine: aurora-postgresql, ManageMasterUserPassword: true, MasterUsername: app}
  Gateway:
    Type: AWS::ApiGateway::Account
    Properties: {CloudWatchRoleArn: !GetAtt HelloRole.Arn}
`

func TestUnrehearsedListsWhatALocalRunDoesNotRehearse(t *testing.T) {
	t.Parallel()
	body := []byte(unrehearsedApp)
	if _, err := Unrehearsed(body); err == nil || !strings.Contains(err.Error(), "translate it first") {
		t.Errorf("a SAM template as it is: got %v, want an error saying to translate it first", err)
	}
	plain, err := Translate(context.Background(), testSAM, body, "app-staging", "eu-west-1", map[string]string{"Alias": "staging"})
	if err != nil {
		t.Fatal(err)
	}
	gaps, err := Unrehearsed(plain)
	if err != nil {
		t.Fatal(err)
	}
	find := func(typ, property string) *Gap {
		for i := range gaps {
			if gaps[i].Type == typ && gaps[i].Property == property {
				return &gaps[i]
			}
		}
		t.Errorf("no gap of %s %s in %v", typ, property, gaps)
		return nil
	}
	for _, want := range []Gap{
		{Type: "AWS::RDS::DBCluster", Resources: []string{"Db"}, Fails: true, Note: "the type does not run locally: a local run fails the stack"},
		{Type: "AWS::Lambda::Function", Property: "Code.ImageUri", Resources: []string{"Image"}, Fails: true,
			Note: "refused locally: container images do not run locally: give the code as a zip (SAM's CodeUri)"},
		{Type: "AWS::ApiGateway::RestApi", Property: "Body.securityDefinitions", Resources: []string{"Api"},
			Note: "Lambda authorizers (token and request) run; Cognito user pool and IAM authorizers and API keys are not enforced locally"},
		{Type: "AWS::Lambda::Function", Property: "Architectures", Resources: []string{"Hello"}, Note: "functions run on this machine's architecture"},
		{Type: "AWS::ApiGateway::Account", Resources: []string{"Gateway"}, Note: "recorded only: API Gateway's logs are not written locally"},
	} {
		if got := find(want.Type, want.Property); got != nil && !reflect.DeepEqual(*got, want) {
			t.Errorf("got %+v, want %+v", *got, want)
		}
	}
	// What fails a run comes first; the alias the parameter named is there.
	if i := slices.IndexFunc(gaps, func(g Gap) bool { return !g.Fails }); i < 0 || slices.ContainsFunc(gaps[i:], func(g Gap) bool { return g.Fails }) {
		t.Errorf("got %v, want the gaps that fail a run first", gaps)
	}
	if !strings.Contains(string(plain), `"HelloAliasstaging"`) {
		t.Errorf("the translated template has no alias staging: %s", plain)
	}
	if got := find("AWS::Lambda::Function", "Architectures"); got != nil && got.String() != "AWS::Lambda::Function Architectures (Hello): functions run on this machine's architecture" {
		t.Errorf("got the line %q", got.String())
	}
	for typ, want := range map[string]bool{"AWS::ApiGateway::RestApi": true, "AWS::Lambda::Url": true, "AWS::RDS::DBCluster": false} {
		if got := Supported(typ); got != want {
			t.Errorf("Supported(%s): got %v, want %v", typ, got, want)
		}
	}
}

func TestTranslateSaysWhatIsWrong(t *testing.T) {
	t.Parallel()
	bad := "Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties: {CodeUri: s3://b/k.zip, Runtime: python3.12}\n"
	_, err := Translate(context.Background(), testSAM, []byte(bad), "app", "us-east-1", nil)
	if err == nil || !strings.HasPrefix(err.Error(), "Transform AWS::Serverless-2016-10-31 failed with: ") {
		t.Errorf("got %v, want the translator's error as CloudFormation words it", err)
	}
	plain := []byte("Resources:\n  Topic: {Type: AWS::SNS::Topic}\n")
	if got, err := Translate(context.Background(), testSAM, plain, "app", "us-east-1", nil); err != nil || string(got) != string(plain) {
		t.Errorf("a plain template: got %q %v, want it as it is", got, err)
	}
}
