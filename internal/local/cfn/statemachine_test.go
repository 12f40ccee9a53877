package cfn

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

func TestStateMachinesAreCreatedAndUpdated(t *testing.T) {
	t.Parallel()
	en := setup(t)
	definition := `{"StartAt":"Hi","States":{"Hi":{"Type":"Pass","Result":"${Where}","End":true}}}`
	body := `
Transform: AWS::Serverless-2016-10-31
Resources:
  Files: {Type: AWS::S3::Bucket}
  FromS3:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: {Bucket: BUCKET, Key: sm/definition.json}
      DefinitionSubstitutions:
        Where: !Ref Files
  Inline:
    Type: AWS::Serverless::StateMachine
    Properties:
      Type: EXPRESS
      Definition:
        StartAt: Wait
        States:
          Wait: {Type: Wait, Seconds: SECONDS, End: true}
Outputs:
  FromS3: {Value: !Ref FromS3}
  FromS3Name: {Value: !GetAtt FromS3.Name}
  Inline: {Value: !GetAtt Inline.Arn}
  Files: {Value: !Ref Files}
`
	en.put("sm/definition.json", []byte(definition))
	body = strings.Replace(body, "BUCKET", en.bucket, 1)
	st := en.deploy("machines", "create", "CREATE", strings.Replace(body, "SECONDS", "1", 1), nil, iam...)
	if st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("got %s (%s), want CREATE_COMPLETE", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	out := outputsOf(st)
	if !strings.HasSuffix(out["FromS3"], ":stateMachine:"+out["FromS3Name"]) || !strings.HasPrefix(out["FromS3Name"], "FromS3-") {
		t.Errorf("got ARN %q and name %q, want arn:...:stateMachine:FromS3-<random>", out["FromS3"], out["FromS3Name"])
	}
	client := sfn.NewFromConfig(en.cfg)
	describe := func(arn string) string {
		t.Helper()
		d, err := client.DescribeStateMachine(context.Background(), &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(d.Definition)
	}
	if got, want := describe(out["FromS3"]), strings.Replace(definition, "${Where}", out["Files"], 1); got != want {
		t.Errorf("got definition %s, want %s", got, want)
	}
	// SAM writes an inline Definition as DefinitionString, indented.
	seconds := func(n string) *regexp.Regexp { return regexp.MustCompile(`"Seconds":\s*` + n + `\b`) }
	if got := describe(out["Inline"]); !seconds("1").MatchString(got) {
		t.Errorf("got inline definition %s, want Seconds 1", got)
	}

	st = en.deploy("machines", "update", "UPDATE", strings.Replace(body, "SECONDS", "2", 1), nil, iam...)
	if st.StackStatus != cfntypes.StackStatusUpdateComplete {
		t.Fatalf("got %s (%s), want UPDATE_COMPLETE", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	if got := outputsOf(st)["Inline"]; got != out["Inline"] {
		t.Errorf("got ARN %q after the update, want the same %q", got, out["Inline"])
	}
	if got := describe(out["Inline"]); !seconds("2").MatchString(got) {
		t.Errorf("got definition %s after the update, want Seconds 2", got)
	}

	if _, err := en.cfn.DeleteStack(context.Background(), &cloudformation.DeleteStackInput{StackName: aws.String("machines")}); err != nil {
		t.Fatal(err)
	}
	en.mustBe(en.waitStack(aws.ToString(st.StackId)), cfntypes.StackStatusDeleteComplete)
	for _, arn := range []string{out["FromS3"], out["Inline"]} {
		if _, err := client.DescribeStateMachine(context.Background(), &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(arn)}); err == nil {
			t.Errorf("the state machine %s is still there after the delete", arn)
		}
	}
}
