package cfn

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	localiam "github.com/stackflow/stackflow/internal/local/iam"
)

// TestAnHTTPAPIInvokesOnlyWithTheFunctionsPermission: with the local IAM,
// an HTTP API answers 500 for a function no AWS::Lambda::Permission lets
// API Gateway invoke, as API Gateway does, and invokes it once the stack
// adds one for the API; the function runs with its role's session.
func TestAnHTTPAPIInvokesOnlyWithTheFunctionsPermission(t *testing.T) {
	t.Parallel()
	auth := localiam.NewAuthority(localiam.Options{Account: DefaultAccountID, Region: "us-east-1"})
	en := setupWith(t, func(o *Options) { o.IAM = auth })
	code := en.put("code/permitted.zip", handlerZip["v1"])
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
      Name: permitted
      ProtocolType: HTTP
      Body:
        openapi: 3.0.1
        info: {title: permitted, version: "1"}
        paths:
          /items/{id}:
            get:
              x-amazon-apigateway-integration:
                type: aws_proxy
                httpMethod: POST
                payloadFormatVersion: "2.0"
                uri: !Sub "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Fn.Arn}/invocations"
  Stage:
    Type: AWS::ApiGatewayV2::Stage
    Properties: {ApiId: !Ref Api, StageName: $default, AutoDeploy: true}
PERMISSION
Outputs:
  Url: {Value: !Sub "https://${Api}.execute-api.${AWS::Region}.amazonaws.com/items/7"}
`
	body = strings.NewReplacer("BUCKET", bucket, "KEY", key).Replace(body)
	st := en.deploy("permitted", "create", "CREATE", strings.Replace(body, "PERMISSION\n", "", 1), nil, iam...)
	if st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("got %s (%s), want CREATE_COMPLETE", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	url := outputsOf(st)["Url"]
	if status, got, err := get(t, url); err != nil || status != http.StatusInternalServerError {
		t.Errorf("GET %s without a permission: got %d %q %v, want 500", url, status, got, err)
	}
	permission := `  Permission:
    Type: AWS::Lambda::Permission
    Properties:
      FunctionName: !Ref Fn
      Action: lambda:InvokeFunction
      Principal: apigateway.amazonaws.com
      SourceArn: !Sub "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${Api}/*/GET/items/*"
`
	st = en.deploy("permitted", "permission", "UPDATE", strings.Replace(body, "PERMISSION\n", permission, 1), nil, iam...)
	if st.StackStatus != cfntypes.StackStatusUpdateComplete {
		t.Fatalf("got %s (%s), want UPDATE_COMPLETE", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	if status, got, err := get(t, url); err != nil || status != http.StatusOK || !strings.HasPrefix(got, "v1  /items/7 ") {
		t.Errorf("GET %s with the permission: got %d %q %v, want 200 from the function", url, status, got, err)
	}
	usage := auth.Usage()
	if len(usage) != 1 || !strings.Contains(usage[0].Role, ":role/permitted-Role-") {
		t.Errorf("the local IAM knows roles %+v, want the stack's one role", usage)
	}
}

// TestAServerlessApiInvokesByThePermissionsSAMAdds: with the local IAM, a
// REST API's Lambda authorizer and integration are invoked through the
// AWS::Lambda::Permissions SAM makes for them, whose SourceArns match what
// the local API Gateway asks for.
func TestAServerlessApiInvokesByThePermissionsSAMAdds(t *testing.T) {
	t.Parallel()
	auth := localiam.NewAuthority(localiam.Options{Account: DefaultAccountID, Region: "us-east-1"})
	en := setupWith(t, func(o *Options) { o.IAM = auth })
	code := en.put("code/echo-permitted.zip", zipFiles(t, map[string]string{"app.py": echoApp, "auth.py": authorizerApp}))
	st := en.deploy("explicit-permitted", "create", "CREATE", strings.Replace(explicitAPI, "CODE", code, 2), nil, iam...)
	en.mustBe(st, cfntypes.StackStatusCreateComplete)
	ev := echoed(t, "GET", outputsOf(st)["Url"]+"/items/x", "", "", "Authorization", "allow")
	if ev.RequestContext.Authorizer["principalId"] != "ann" {
		t.Errorf("got requestContext.authorizer %v, want the authorizer's principalId ann", ev.RequestContext.Authorizer)
	}
}

// TestAFunctionURLOfAuthTypeNONEInvokesWithThePermissionsSAMWrites: with
// the local IAM, a function URL of AuthType NONE answers 403 Forbidden
// until the function's permissions let anyone invoke it through its URL
// (lambda:InvokeFunctionUrl and lambda:InvokeFunction with
// InvokedViaFunctionUrl, what SAM's FunctionUrlConfig writes), as Lambda
// does.
func TestAFunctionURLOfAuthTypeNONEInvokesWithThePermissionsSAMWrites(t *testing.T) {
	t.Parallel()
	auth := localiam.NewAuthority(localiam.Options{Account: DefaultAccountID, Region: "us-east-1"})
	en := setupWith(t, func(o *Options) { o.IAM = auth })
	code := en.put("code/url.zip", handlerZip["v1"])
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
  Url:
    Type: AWS::Lambda::Url
    Properties: {TargetFunctionArn: !Ref Fn, AuthType: NONE}
PERMISSIONS
Outputs:
  Url: {Value: !GetAtt Url.FunctionUrl}
`
	body = strings.NewReplacer("BUCKET", bucket, "KEY", key).Replace(body)
	st := en.deploy("url", "create", "CREATE", strings.Replace(body, "PERMISSIONS\n", "", 1), nil, iam...)
	if st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("got %s (%s), want CREATE_COMPLETE", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	url := outputsOf(st)["Url"] + "items/7"
	if status, got, err := get(t, url); err != nil || status != http.StatusForbidden || !strings.Contains(got, "Forbidden") {
		t.Errorf("GET %s without permissions: got %d %q %v, want 403 Forbidden", url, status, got, err)
	}
	permissions := `  FnUrlPublicPermissions:
    Type: AWS::Lambda::Permission
    Properties: {FunctionName: !Ref Fn, Action: lambda:InvokeFunctionUrl, Principal: "*", FunctionUrlAuthType: NONE}
  FnURLInvokeAllowPublicAccess:
    Type: AWS::Lambda::Permission
    Properties: {FunctionName: !Ref Fn, Action: lambda:InvokeFunction, Principal: "*", InvokedViaFunctionUrl: true}
`
	st = en.deploy("url", "permissions", "UPDATE", strings.Replace(body, "PERMISSIONS\n", permissions, 1), nil, iam...)
	if st.StackStatus != cfntypes.StackStatusUpdateComplete {
		t.Fatalf("got %s (%s), want UPDATE_COMPLETE", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	if status, got, err := get(t, url); err != nil || status != http.StatusOK || !strings.HasPrefix(got, "v1 ") {
		t.Errorf("GET %s with the permissions: got %d %q %v, want 200 from the function", url, status, got, err)
	}
}

// TestAServiceRoleMissingAPermissionFailsThatResource: with the local IAM,
// CloudFormation makes a stack's resources as its service role: a role
// that may create queues but not topics fails the topic as CloudFormation
// fails a handler's AccessDenied, naming the action, and the stack rolls
// back; with the permission it is created.
func TestAServiceRoleMissingAPermissionFailsThatResource(t *testing.T) {
	t.Parallel()
	auth := localiam.NewAuthority(localiam.Options{Account: DefaultAccountID, Region: "us-east-1"})
	en := setupWith(t, func(o *Options) { o.IAM = auth })
	roleARN := "arn:aws:iam::" + DefaultAccountID + ":role/deployer"
	trust := mustParse(t, `{"Statement":{"Effect":"Allow","Principal":{"Service":"cloudformation.amazonaws.com"},"Action":"sts:AssumeRole"}}`)
	role := func(actions string) *localiam.Role {
		return &localiam.Role{ARN: roleARN, Name: "deployer", ID: "AROADEPLOYER", Trust: trust,
			Inline: map[string]*localiam.Policy{"deploy": mustParse(t, `{"Statement":{"Effect":"Allow","Action":`+actions+`,"Resource":"*"}}`)}}
	}
	auth.PutRole(role(`["sqs:CreateQueue","sqs:DeleteQueue"]`))
	body := `
Resources:
  Jobs:
    Type: AWS::SQS::Queue
  News:
    Type: AWS::SNS::Topic
    DependsOn: Jobs
`
	deploy := func(name, typ string) cfntypes.Stack {
		t.Helper()
		out, err := en.cfn.CreateChangeSet(context.Background(), &cloudformation.CreateChangeSetInput{
			StackName: aws.String("as-role"), ChangeSetName: aws.String(name), ChangeSetType: cfntypes.ChangeSetType(typ),
			TemplateBody: aws.String(body), RoleARN: aws.String(roleARN),
		})
		if err != nil {
			t.Fatal(err)
		}
		return en.execute(en.waitChangeSet(aws.ToString(out.Id)))
	}
	st := deploy("first", "CREATE")
	if st.StackStatus != cfntypes.StackStatusRollbackComplete {
		t.Fatalf("got %s, want ROLLBACK_COMPLETE", st.StackStatus)
	}
	var failed, queueDeleted bool
	for _, ev := range en.events("as-role") {
		switch {
		case aws.ToString(ev.LogicalResourceId) == "News" && ev.ResourceStatus == cfntypes.ResourceStatusCreateFailed:
			failed = true
			reason := aws.ToString(ev.ResourceStatusReason)
			want := `Resource handler returned message: "User: arn:aws:sts::` + DefaultAccountID + `:assumed-role/deployer/AWSCloudFormation is not authorized to perform: sns:CreateTopic on resource: arn:aws:sns:us-east-1:` + DefaultAccountID + `:as-role-News-`
			if !strings.HasPrefix(reason, want) || !strings.Contains(reason, "because no identity-based policy allows the sns:CreateTopic action (Service: SNS, Status Code: 403") || !strings.Contains(reason, "HandlerErrorCode: AccessDenied)") {
				t.Errorf("got reason %q, want CloudFormation's AccessDenied of sns:CreateTopic as the role", reason)
			}
		case aws.ToString(ev.LogicalResourceId) == "Jobs" && ev.ResourceStatus == cfntypes.ResourceStatusDeleteComplete:
			queueDeleted = true
		}
	}
	if !failed || !queueDeleted {
		t.Errorf("got the topic failed %v and the queue deleted %v, want both", failed, queueDeleted)
	}

	if _, err := en.cfn.DeleteStack(context.Background(), &cloudformation.DeleteStackInput{StackName: aws.String("as-role")}); err != nil {
		t.Fatal(err)
	}
	en.waitStack(aws.ToString(st.StackId))
	auth.PutRole(role(`["sqs:CreateQueue","sqs:DeleteQueue","sns:CreateTopic","sns:DeleteTopic"]`))
	if st := deploy("second", "CREATE"); st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Errorf("with sns:CreateTopic: got %s (%s), want CREATE_COMPLETE", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
}

func mustParse(t *testing.T, doc string) *localiam.Policy {
	t.Helper()
	p, err := localiam.ParsePolicy([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return p
}
