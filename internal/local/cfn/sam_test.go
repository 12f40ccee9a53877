//go:build unix

package cfn

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
)

const aliasApp = `
Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: CODE
      Runtime: provided.al2023
      Handler: bootstrap
      AutoPublishAlias: live
      DeploymentPreference: {Type: AllAtOnce}
      Events:
        Get: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /hello, Method: GET}}
Outputs:
  Url: {Value: !Sub "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/hello"}
  Alias: {Value: !Ref HelloAliaslive}
  Function: {Value: !GetAtt Hello.Arn}
`

func TestAutoPublishAliasServesEachNewVersion(t *testing.T) {
	t.Parallel()
	en := setup(t)
	ctx := context.Background()
	v1 := strings.Replace(aliasApp, "CODE", en.put("code/alias-v1.zip", handlerZip["v1"]), 1)
	v2 := strings.Replace(aliasApp, "CODE", en.put("code/alias-v2.zip", handlerZip["v2"]), 1)

	cs := en.changeSet("alias", "v1", "CREATE", v1, nil, iam...)
	got := changesOf(cs)
	for _, want := range []string{
		"Add Hello AWS::Lambda::Function", "Add HelloAliaslive AWS::Lambda::Alias", "Add HelloDeploymentGroup AWS::CodeDeploy::DeploymentGroup",
		"Add ServerlessDeploymentApplication AWS::CodeDeploy::Application", "Add CodeDeployServiceRole AWS::IAM::Role",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("the change set has no %q: %q", want, got)
		}
	}
	st := en.execute(cs)
	if st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("got %s (%s), want CREATE_COMPLETE", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	out := outputsOf(st)
	if want := out["Function"] + ":live"; out["Alias"] != want {
		t.Errorf("got the alias %q, want %q", out["Alias"], want)
	}
	// The route's integration invokes the alias: it reaches the function.
	if status, body, err := get(t, out["Url"]); err != nil || status != http.StatusOK || !strings.HasPrefix(body, "v1 ") {
		t.Fatalf("GET %s: got %d %q %v, want 200 from v1", out["Url"], status, body, err)
	}

	// New code: SAM publishes a new version (a new logical ID) and the
	// alias moves to it at once.
	cs = en.changeSet("alias", "v2", "UPDATE", v2, nil, iam...)
	var added, modified []string
	for _, c := range cs.Changes {
		rc := c.ResourceChange
		switch rc.Action {
		case cfntypes.ChangeActionAdd:
			added = append(added, aws.ToString(rc.ResourceType))
		case cfntypes.ChangeActionModify:
			modified = append(modified, aws.ToString(rc.LogicalResourceId))
		}
	}
	if !slices.Equal(added, []string{"AWS::Lambda::Version"}) || !slices.Contains(modified, "HelloAliaslive") || !slices.Contains(modified, "Hello") {
		t.Errorf("got additions %q and modifications %q, want a new version, and the function and its alias modified", added, modified)
	}
	if st = en.execute(cs); st.StackStatus != cfntypes.StackStatusUpdateComplete {
		t.Fatalf("got %s (%s), want UPDATE_COMPLETE", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	if status, body, err := get(t, out["Url"]); err != nil || status != http.StatusOK || !strings.HasPrefix(body, "v2 ") {
		t.Errorf("GET %s after the update: got %d %q %v, want 200 from v2", out["Url"], status, body, err)
	}
	res, err := en.cfn.DescribeStackResources(ctx, &cloudformation.DescribeStackResourcesInput{StackName: aws.String("alias")})
	if err != nil {
		t.Fatal(err)
	}
	var versions []string
	for _, r := range res.StackResources {
		if aws.ToString(r.ResourceType) == "AWS::Lambda::Version" {
			versions = append(versions, aws.ToString(r.PhysicalResourceId))
		}
	}
	// SAM's versions are retained (DeletionPolicy Retain): the stack keeps
	// only the newest.
	if !slices.Equal(versions, []string{out["Function"] + ":2"}) {
		t.Errorf("got versions %q, want %s:2", versions, out["Function"])
	}
}

func TestGetTemplateGivesTheOriginalAndTheProcessedTemplate(t *testing.T) {
	t.Parallel()
	en := setup(t)
	ctx := context.Background()
	body := "Transform: AWS::Serverless-2016-10-31\nResources:\n  Table: {Type: AWS::Serverless::SimpleTable}\n"
	st := en.deploy("stages", "create", "CREATE", body, nil)
	if st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("got %s (%s), want CREATE_COMPLETE", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	for _, tt := range []struct {
		stage cfntypes.TemplateStage
		check func(string) bool
	}{
		{"", func(b string) bool { return b == body }},
		{cfntypes.TemplateStageOriginal, func(b string) bool { return b == body }},
		{cfntypes.TemplateStageProcessed, func(b string) bool {
			var m struct {
				Transform any
				Resources map[string]struct{ Type string }
			}
			return json.Unmarshal([]byte(b), &m) == nil && m.Transform == nil && m.Resources["Table"].Type == "AWS::DynamoDB::Table"
		}},
	} {
		out, err := en.cfn.GetTemplate(ctx, &cloudformation.GetTemplateInput{StackName: aws.String("stages"), TemplateStage: tt.stage})
		if err != nil {
			t.Fatal(err)
		}
		if !tt.check(aws.ToString(out.TemplateBody)) {
			t.Errorf("stage %q: got %s", tt.stage, aws.ToString(out.TemplateBody))
		}
		if !slices.Equal(out.StagesAvailable, []cfntypes.TemplateStage{"Original", "Processed"}) {
			t.Errorf("stage %q: got stages %v, want Original and Processed", tt.stage, out.StagesAvailable)
		}
	}
}

func TestAPlainHTTPAPIServesOnceItHasAStage(t *testing.T) {
	t.Parallel()
	en := setup(t)
	code := en.put("code/plain.zip", handlerZip["v1"])
	bucket, key, _ := strings.Cut(strings.TrimPrefix(code, "s3://"), "/")
	body := `
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]}
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Code: {S3Bucket: BUCKET, S3Key: KEY}
      Runtime: provided.al2023
      Handler: bootstrap
      Role: !GetAtt Role.Arn
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties:
      Name: plain
      ProtocolType: HTTP
      Body:
        openapi: 3.0.1
        info: {title: plain, version: "1"}
        paths:
          /items/{id}:
            x-amazon-apigateway-any-method:
              x-amazon-apigateway-integration:
                type: aws_proxy
                httpMethod: POST
                payloadFormatVersion: "2.0"
                uri: !Sub "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Fn.Arn}/invocations"
STAGE
Outputs:
  Url: {Value: !Sub "https://${Api}.execute-api.${AWS::Region}.amazonaws.com/v1/items/7"}
`
	body = strings.NewReplacer("BUCKET", bucket, "KEY", key).Replace(body)
	st := en.deploy("plain", "create", "CREATE", strings.Replace(body, "STAGE", "", 1), nil, iam...)
	if st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("got %s (%s), want CREATE_COMPLETE", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	url := outputsOf(st)["Url"]
	if status, _, err := get(t, url); err != nil || status != http.StatusNotFound {
		t.Errorf("GET %s with no stage: got %d %v, want 404", url, status, err)
	}
	stage := "  V1:\n    Type: AWS::ApiGatewayV2::Stage\n    Properties: {ApiId: !Ref Api, StageName: v1, AutoDeploy: true}\n"
	st = en.deploy("plain", "stage", "UPDATE", strings.Replace(body, "STAGE\n", stage, 1), nil, iam...)
	if st.StackStatus != cfntypes.StackStatusUpdateComplete {
		t.Fatalf("got %s (%s), want UPDATE_COMPLETE", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	if status, got, err := get(t, url); err != nil || status != http.StatusOK || !strings.HasPrefix(got, "v1  /v1/items/7 ") {
		t.Errorf("GET %s on stage v1: got %d %q %v, want 200 from the function", url, status, got, err)
	}
}
