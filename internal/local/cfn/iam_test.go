package cfn

import (
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
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
