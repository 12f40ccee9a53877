//go:build unix

package cfn

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsv4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
)

// helloWorld is `sam init`'s hello world (python3.12, the API's path
// with a parameter), with its outputs as sam init writes them.
const helloWorld = `
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Description: sam-app, Sample SAM Template for sam-app
Globals:
  Function:
    Timeout: 3
Resources:
  HelloWorldFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: CODE
      Handler: app.lambda_handler
      Runtime: python3.12
      Architectures: [x86_64]
      Events:
        HelloWorld:
          Type: Api
          Properties:
            Path: /hello/{name}
            Method: get
Outputs:
  HelloWorldApi:
    Description: API Gateway endpoint URL for Prod stage for Hello World function
    Value: !Sub "https://${ServerlessRestApi}.execute-api.${AWS::Region}.amazonaws.com/Prod/hello/"
  HelloWorldFunction:
    Value: !GetAtt HelloWorldFunction.Arn
`

// echoApp answers with the event it got, as the body of a Lambda proxy
// answer.
const echoApp = `import json


def lambda_handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"message": "hello world", "event": event})}
`

// authorizerApp is a token authorizer: "allow" and "deny" get a policy
// that says so for the method, anything else is Unauthorized.
const authorizerApp = `def handler(event, context):
    token = event["authorizationToken"]
    if token not in ("allow", "deny"):
        raise Exception("Unauthorized")
    effect = "Allow" if token == "allow" else "Deny"
    return {
        "principalId": "ann",
        "policyDocument": {"Version": "2012-10-17", "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}]},
        "context": {"team": "blue"},
    }
`

// proxyEvent is what the tests read of a payload 1.0 event.
type proxyEvent struct {
	Resource        string            `json:"resource"`
	Path            string            `json:"path"`
	HTTPMethod      string            `json:"httpMethod"`
	PathParameters  map[string]string `json:"pathParameters"`
	StageVariables  map[string]string `json:"stageVariables"`
	Body            *string           `json:"body"`
	IsBase64Encoded bool              `json:"isBase64Encoded"`
	RequestContext  struct {
		Stage        string         `json:"stage"`
		ResourcePath string         `json:"resourcePath"`
		APIID        string         `json:"apiId"`
		Path         string         `json:"path"`
		Authorizer   map[string]any `json:"authorizer"`
	} `json:"requestContext"`
}

// call makes a request and returns the status, the headers and the body;
// headers are name, value, name, value, ...
func call(t *testing.T, method, url, contentType, body string, headers ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// echoed calls url and returns the event the echo function got.
func echoed(t *testing.T, method, url, contentType, body string, headers ...string) proxyEvent {
	t.Helper()
	status, _, got := call(t, method, url, contentType, body, headers...)
	if status != http.StatusOK {
		t.Fatalf("%s %s: got %d %s, want 200", method, url, status, got)
	}
	var answer struct {
		Message string     `json:"message"`
		Event   proxyEvent `json:"event"`
	}
	if err := json.Unmarshal([]byte(got), &answer); err != nil || answer.Message != "hello world" {
		t.Fatalf("%s %s: got %q (%v), want the function's answer", method, url, got, err)
	}
	return answer.Event
}

// mustBe fails the test unless the stack is in status want.
func (en *env) mustBe(st cfntypes.Stack, want cfntypes.StackStatus) {
	en.t.Helper()
	if st.StackStatus == want {
		return
	}
	for _, ev := range en.events(aws.ToString(st.StackId)) {
		if strings.HasSuffix(string(ev.ResourceStatus), "_FAILED") {
			en.t.Logf("%s %s: %s", aws.ToString(ev.LogicalResourceId), ev.ResourceStatus, aws.ToString(ev.ResourceStatusReason))
		}
	}
	en.t.Fatalf("got %s (%s), want %s", st.StackStatus, aws.ToString(st.StackStatusReason), want)
}

// TestSAMHelloWorldServesItsRestAPI: sam init's hello world deploys, its
// output URL reaches the function with a payload 1.0 event, a new route
// is served on the same port after an update, and the port closes when
// the stack is deleted.
func TestSAMHelloWorldServesItsRestAPI(t *testing.T) {
	t.Parallel()
	en := setup(t)
	ctx := context.Background()
	code := en.put("code/hello-world.zip", zipFiles(t, map[string]string{"app.py": echoApp}))
	tmpl := strings.Replace(helloWorld, "CODE", code, 1)

	cs := en.changeSet("sam-app", "create", "CREATE", tmpl, nil, iam...)
	got := changesOf(cs)
	for _, want := range []string{
		"Add ServerlessRestApi AWS::ApiGateway::RestApi", "Add ServerlessRestApiProdStage AWS::ApiGateway::Stage",
		"Add HelloWorldFunctionHelloWorldPermissionProd AWS::Lambda::Permission",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("the change set has no %q: %q", want, got)
		}
	}
	st := en.execute(cs)
	en.mustBe(st, cfntypes.StackStatusCreateComplete)
	base := outputsOf(st)["HelloWorldApi"]
	if !strings.HasPrefix(base, "http://127.0.0.1:") || !strings.HasSuffix(base, "/Prod/hello/") {
		t.Fatalf("got the output %q, want the API's loopback URL with /Prod/hello/", base)
	}

	ev := echoed(t, "GET", base+"ann", "", "")
	if ev.PathParameters["name"] != "ann" || ev.RequestContext.Stage != "Prod" || ev.RequestContext.ResourcePath != "/hello/{name}" ||
		ev.Resource != "/hello/{name}" || ev.Path != "/hello/ann" || ev.HTTPMethod != "GET" || ev.RequestContext.Path != "/Prod/hello/ann" {
		t.Errorf("got the event %+v, want GET /hello/ann of /hello/{name} on stage Prod with name=ann", ev)
	}
	res, err := en.cfn.DescribeStackResource(ctx, &cloudformation.DescribeStackResourceInput{StackName: aws.String("sam-app"), LogicalResourceId: aws.String("ServerlessRestApi")})
	if err != nil {
		t.Fatal(err)
	}
	apiID := aws.ToString(res.StackResourceDetail.PhysicalResourceId)
	if ev.RequestContext.APIID != apiID || len(apiID) != 10 {
		t.Errorf("got the API ID %q in the event and %q as the resource's, want the same 10 characters", ev.RequestContext.APIID, apiID)
	}
	// SAM's Deployment makes the Stage stage too, as on AWS.
	if ev := echoed(t, "GET", strings.Replace(base, "/Prod/", "/Stage/", 1)+"bob", "", ""); ev.RequestContext.Stage != "Stage" {
		t.Errorf("got stage %q, want Stage", ev.RequestContext.Stage)
	}
	if status, _, body := call(t, "GET", strings.Replace(base, "/Prod/", "/Beta/", 1)+"ann", "", ""); status != http.StatusForbidden || !strings.Contains(body, "Missing Authentication Token") {
		t.Errorf("GET on a stage that does not exist: got %d %s, want 403 Missing Authentication Token", status, body)
	}

	// A new route: the API is updated in place, on the same port.
	bye := "            Method: get\n        Bye:\n          Type: Api\n          Properties: {Path: /bye, Method: post}\n"
	st = en.deploy("sam-app", "bye", "UPDATE", strings.Replace(tmpl, "            Method: get\n", bye, 1), nil, iam...)
	en.mustBe(st, cfntypes.StackStatusUpdateComplete)
	if after := outputsOf(st)["HelloWorldApi"]; after != base {
		t.Errorf("got the URL %q after the update, want %q (the same port)", after, base)
	}
	ev = echoed(t, "POST", strings.TrimSuffix(base, "hello/")+"bye", "application/json", `{"x":1}`)
	if ev.RequestContext.ResourcePath != "/bye" || ev.Body == nil || *ev.Body != `{"x":1}` || ev.PathParameters != nil {
		t.Errorf("POST /bye: got the event %+v, want /bye with the body and no path parameters", ev)
	}
	if ev := echoed(t, "GET", base+"cy", "", ""); ev.PathParameters["name"] != "cy" {
		t.Errorf("GET /hello/cy after the update: got %+v", ev)
	}

	// Delete: the port closes.
	if _, err := en.cfn.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String("sam-app")}); err != nil {
		t.Fatal(err)
	}
	en.mustBe(en.waitStack(aws.ToString(st.StackId)), cfntypes.StackStatusDeleteComplete)
	if _, _, err := get(t, base+"ann"); err == nil {
		t.Errorf("GET %sann after the delete: got an answer, want the connection refused", base)
	}
}

// explicitAPI is an AWS::Serverless::Api with a stage name, stage
// variables, CORS, binary media types, a Lambda authorizer, and API keys
// with a usage plan.
const explicitAPI = `
Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: dev
      Variables: {who: world}
      Cors: "'https://example.com'"
      BinaryMediaTypes: [image~1png]
      Auth:
        DefaultAuthorizer: Token
        Authorizers:
          Token: {FunctionArn: !GetAtt Auth.Arn}
        AddDefaultAuthorizerToCorsPreflight: false
        ApiKeyRequired: true
        UsagePlan: {CreateUsagePlan: PER_API}
  Auth:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: CODE, Handler: auth.handler, Runtime: python3.12}
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: CODE
      Handler: app.lambda_handler
      Runtime: python3.12
      Events:
        Items:
          Type: Api
          Properties: {RestApiId: !Ref Api, Path: "/items/{proxy+}", Method: any}
Outputs:
  Url: {Value: !Sub "https://${Api}.execute-api.${AWS::Region}.amazonaws.com/dev"}
`

// TestAServerlessApiServesItsStageWithCorsAndBinaryBodies: StageName,
// Variables, Cors (SAM's mock OPTIONS methods), BinaryMediaTypes and the
// Lambda authorizer take effect; the API key is recorded and not enforced.
func TestAServerlessApiServesItsStageWithCorsAndBinaryBodies(t *testing.T) {
	t.Parallel()
	en := setup(t)
	code := en.put("code/echo.zip", zipFiles(t, map[string]string{"app.py": echoApp, "auth.py": authorizerApp}))
	st := en.deploy("explicit", "create", "CREATE", strings.Replace(explicitAPI, "CODE", code, 2), nil, iam...)
	en.mustBe(st, cfntypes.StackStatusCreateComplete)
	url := outputsOf(st)["Url"]
	res, err := en.cfn.DescribeStackResources(context.Background(), &cloudformation.DescribeStackResourcesInput{StackName: aws.String("explicit")})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, r := range res.StackResources {
		types = append(types, aws.ToString(r.ResourceType))
	}
	for _, want := range []string{"AWS::ApiGateway::ApiKey", "AWS::ApiGateway::UsagePlan", "AWS::ApiGateway::UsagePlanKey"} {
		if !slices.Contains(types, want) {
			t.Errorf("the stack has no %s: %q", want, types)
		}
	}

	// The authorizer decides; no API key is asked for.
	for _, tt := range []struct {
		token  string
		status int
		body   string
	}{
		{"", http.StatusUnauthorized, `{"message":"Unauthorized"}`},
		{"nobody", http.StatusUnauthorized, `{"message":"Unauthorized"}`},
		{"deny", http.StatusForbidden, `{"Message":"User is not authorized to access this resource with an explicit deny"}`},
	} {
		var headers []string
		if tt.token != "" {
			headers = []string{"Authorization", tt.token}
		}
		if status, _, body := call(t, "GET", url+"/items/x", "", "", headers...); status != tt.status || body != tt.body {
			t.Errorf("token %q: got %d %s, want %d %s", tt.token, status, body, tt.status, tt.body)
		}
	}
	ev := echoed(t, "PUT", url+"/items/a/b%20c", "image/png", "\x89PNG", "Authorization", "allow")
	if ev.PathParameters["proxy"] != "a/b c" || ev.StageVariables["who"] != "world" || ev.RequestContext.Stage != "dev" ||
		ev.RequestContext.ResourcePath != "/items/{proxy+}" || !ev.IsBase64Encoded || ev.Body == nil || *ev.Body != "iVBORw==" {
		t.Errorf("got the event %+v, want PUT of /items/{proxy+} on dev with proxy=a/b c, who=world and the body in base64", ev)
	}
	if a := ev.RequestContext.Authorizer; a["principalId"] != "ann" || a["team"] != "blue" {
		t.Errorf("got requestContext.authorizer %v, want principalId ann and the authorizer's context", a)
	}
	status, header, _ := call(t, "OPTIONS", url+"/items/x", "", "")
	if status != http.StatusOK || header.Get("Access-Control-Allow-Origin") != "https://example.com" || !strings.Contains(header.Get("Access-Control-Allow-Methods"), "OPTIONS") {
		t.Errorf("OPTIONS: got %d %v, want 200 with SAM's CORS headers", status, header)
	}
}

// plainRestAPI is a REST API built of resources and methods, as plain
// CloudFormation templates build one.
const plainRestAPI = `
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]}
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Code: {S3Bucket: code-bucket, S3Key: code-key}
      Runtime: python3.12
      Handler: app.lambda_handler
      Role: !GetAtt Role.Arn
  Api:
    Type: AWS::ApiGateway::RestApi
    Properties: {Name: plain}
  Items:
    Type: AWS::ApiGateway::Resource
    Properties: {RestApiId: !Ref Api, ParentId: !GetAtt Api.RootResourceId, PathPart: items}
  Item:
    Type: AWS::ApiGateway::Resource
    Properties: {RestApiId: !Ref Api, ParentId: !Ref Items, PathPart: "{id}"}
  GetItem:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Api
      ResourceId: !Ref Item
      HttpMethod: GET
      AuthorizationType: NONE
      Integration:
        Type: AWS_PROXY
        IntegrationHttpMethod: POST
        Uri: !Sub "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Fn.Arn}/invocations"
  Health:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Api
      ResourceId: !GetAtt Api.RootResourceId
      HttpMethod: GET
      AuthorizationType: NONE
      Integration:
        Type: MOCK
        RequestTemplates: {application/json: '{"statusCode": 200}'}
        IntegrationResponses:
          - StatusCode: 200
            ResponseParameters: {method.response.header.X-Health: "'ok'"}
            ResponseTemplates: {application/json: '{"healthy": true}'}
      MethodResponses:
        - StatusCode: 200
          ResponseParameters: {method.response.header.X-Health: true}
  Deployment:
    Type: AWS::ApiGateway::Deployment
    DependsOn: [GetItem, Health]
    Properties: {RestApiId: !Ref Api}
  V1:
    Type: AWS::ApiGateway::Stage
    Properties:
      RestApiId: !Ref Api
      DeploymentId: !Ref Deployment
      StageName: v1
      Variables: {color: VARIABLE}
  Account:
    Type: AWS::ApiGateway::Account
    Properties: {CloudWatchRoleArn: !GetAtt Role.Arn}
Outputs:
  Url: {Value: !Sub "https://${Api}.execute-api.${AWS::Region}.amazonaws.com/${V1}"}
  Root: {Value: !GetAtt Api.RootResourceId}
`

// TestAPlainRestAPIOfResourcesAndMethods: Resource, Method (Lambda proxy
// and mock), Deployment and Stage, and an update of the stage's variables.
func TestAPlainRestAPIOfResourcesAndMethods(t *testing.T) {
	t.Parallel()
	en := setup(t)
	code := en.put("code/plain-rest.zip", zipFiles(t, map[string]string{"app.py": echoApp}))
	bucket, key, _ := strings.Cut(strings.TrimPrefix(code, "s3://"), "/")
	body := strings.NewReplacer("code-bucket", bucket, "code-key", key).Replace(plainRestAPI)
	st := en.deploy("plain-rest", "create", "CREATE", strings.Replace(body, "VARIABLE", "red", 1), nil, iam...)
	en.mustBe(st, cfntypes.StackStatusCreateComplete)
	out := outputsOf(st)
	if len(out["Root"]) != 10 {
		t.Errorf("got RootResourceId %q, want 10 characters", out["Root"])
	}
	ev := echoed(t, "GET", out["Url"]+"/items/7", "", "")
	if ev.PathParameters["id"] != "7" || ev.RequestContext.ResourcePath != "/items/{id}" || ev.StageVariables["color"] != "red" || ev.RequestContext.Stage != "v1" {
		t.Errorf("got the event %+v, want /items/{id} on v1 with id=7 and color=red", ev)
	}
	status, header, got := call(t, "GET", out["Url"]+"/", "", "")
	if status != http.StatusOK || header.Get("X-Health") != "ok" || got != `{"healthy": true}` {
		t.Errorf("GET / (a mock): got %d %v %q, want 200 with X-Health: ok and the template", status, header, got)
	}
	if status, _, _ := call(t, "POST", out["Url"]+"/items/7", "", ""); status != http.StatusForbidden {
		t.Errorf("POST /items/7 (no such method): got %d, want 403", status)
	}

	st = en.deploy("plain-rest", "blue", "UPDATE", strings.Replace(body, "VARIABLE", "blue", 1), nil, iam...)
	en.mustBe(st, cfntypes.StackStatusUpdateComplete)
	if ev := echoed(t, "GET", out["Url"]+"/items/8", "", ""); ev.StageVariables["color"] != "blue" {
		t.Errorf("after the update: got stage variables %v, want color=blue", ev.StageVariables)
	}
}

// TestRestAPIResourcesThatCannotRunFail: each fails its resource with a
// reason that says why.
func TestRestAPIResourcesThatCannotRunFail(t *testing.T) {
	t.Parallel()
	en := setup(t)
	tests := []struct {
		name, resources, want string
	}{
		{"a deployment of no methods", `
  Api: {Type: AWS::ApiGateway::RestApi, Properties: {Name: empty}}
  Deployment: {Type: AWS::ApiGateway::Deployment, Properties: {RestApiId: !Ref Api, StageName: v1}}
`, "Deployment: The REST API doesn't contain any methods"},
		{"an HTTP integration", `
  Api: {Type: AWS::ApiGateway::RestApi, Properties: {Name: http}}
  Get:
    Type: AWS::ApiGateway::Method
    Properties: {RestApiId: !Ref Api, ResourceId: !GetAtt Api.RootResourceId, HttpMethod: GET, AuthorizationType: NONE, Integration: {Type: HTTP_PROXY, IntegrationHttpMethod: GET, Uri: "https://example.com"}}
`, "Get: Integration.Type HTTP_PROXY is not supported by stackflow's local engine: it runs AWS_PROXY (Lambda proxy) and MOCK integrations"},
		{"a clone", `
  Api: {Type: AWS::ApiGateway::RestApi, Properties: {Name: clone, CloneFrom: abcdefghij}}
`, "Api: CloneFrom is not supported by stackflow's local engine: give the API's Body or its resources and methods"},
		{"a body with an HTTP integration", `
  Api:
    Type: AWS::ApiGateway::RestApi
    Properties:
      Body:
        swagger: "2.0"
        info: {title: b, version: "1"}
        paths: {/a: {get: {x-amazon-apigateway-integration: {type: http_proxy, httpMethod: GET, uri: "https://example.com"}}}}
`, `Api: Body: GET /a: integration type "http_proxy" does not run locally`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stack := "bad-rest-" + string(rune('a'+i))
			st := en.deploy(stack, "create", "CREATE", "Resources:"+tt.resources, nil)
			if st.StackStatus != cfntypes.StackStatusRollbackComplete {
				t.Fatalf("got %s, want ROLLBACK_COMPLETE", st.StackStatus)
			}
			var failed []string
			for _, ev := range en.events(stack) {
				if ev.ResourceStatus == cfntypes.ResourceStatusCreateFailed {
					failed = append(failed, aws.ToString(ev.LogicalResourceId)+": "+aws.ToString(ev.ResourceStatusReason))
				}
			}
			if len(failed) == 0 || !strings.HasPrefix(failed[0], tt.want) {
				t.Errorf("got failures %q, want the first to start with %q", failed, tt.want)
			}
		})
	}
}

// emptySHA256 is the SHA-256 of an empty body, as SigV4 signs it.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// functionURLApp is a function with a URL (SAM's FunctionUrlConfig) on
// its alias.
const functionURLApp = `
Transform: AWS::Serverless-2016-10-31
Resources:
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: CODE
      Runtime: provided.al2023
      Handler: bootstrap
      AutoPublishAlias: live
      Environment: {Variables: {MESSAGE: hi}}
      FunctionUrlConfig: {AuthType: NONE}
Outputs:
  Url: {Value: !GetAtt HelloUrl.FunctionUrl}
  Items: {Value: !Sub "${HelloUrl.FunctionUrl}items"}
  Target: {Value: !Ref HelloUrl}
  Function: {Value: !GetAtt Hello.Arn}
`

// TestAFunctionURLServesItsFunction: the URL's https://<id>.lambda-url
// address maps to loopback, reaches the alias's function, keeps its port
// across an update of the code, is replaced with its alias, refuses
// every request once it is AWS_IAM on an engine with no IAM to verify
// signatures, and closes with the stack, the engine forgetting each URL
// it closed.
func TestAFunctionURLServesItsFunction(t *testing.T) {
	t.Parallel()
	en := setup(t)
	ctx := context.Background()
	v1 := strings.Replace(functionURLApp, "CODE", en.put("code/url-v1.zip", handlerZip["v1"]), 1)
	v2 := strings.Replace(functionURLApp, "CODE", en.put("code/url-v2.zip", handlerZip["v2"]), 1)

	cs := en.changeSet("url", "create", "CREATE", v1, nil, iam...)
	if got := changesOf(cs); !slices.Contains(got, "Add HelloUrl AWS::Lambda::Url") {
		t.Errorf("the change set has no function URL: %q", got)
	}
	st := en.execute(cs)
	en.mustBe(st, cfntypes.StackStatusCreateComplete)
	out := outputsOf(st)
	url := out["Url"]
	if !strings.HasPrefix(url, "http://127.0.0.1:") || !strings.HasSuffix(url, "/") || out["Items"] != url+"items" {
		t.Fatalf("got the URL %q and %q, want a loopback URL ending in / and that URL with items", url, out["Items"])
	}
	if want := out["Function"] + ":live"; out["Target"] != want {
		t.Errorf("got Ref %q, want the alias's ARN %q", out["Target"], want)
	}
	if status, body, err := get(t, out["Items"]+"/7?x=1"); err != nil || status != http.StatusOK || !strings.HasPrefix(body, "v1 hi /items/7 ") {
		t.Errorf("GET %s/7: got %d %q %v, want 200 from v1 with the path", out["Items"], status, body, err)
	}

	st = en.deploy("url", "v2", "UPDATE", v2, nil, iam...)
	en.mustBe(st, cfntypes.StackStatusUpdateComplete)
	if after := outputsOf(st)["Url"]; after != url {
		t.Errorf("got the URL %q after the update, want %q (the same port)", after, url)
	}
	if status, body, err := get(t, url); err != nil || status != http.StatusOK || !strings.HasPrefix(body, "v2 hi / ") {
		t.Errorf("GET %s after the update: got %d %q %v, want 200 from v2", url, status, body, err)
	}
	// Another alias replaces the URL (its Qualifier): the old one closes,
	// and the engine keeps what it knew of one URL only.
	v3 := strings.Replace(v2, "AutoPublishAlias: live", "AutoPublishAlias: current", 1)
	st = en.deploy("url", "v3", "UPDATE", v3, nil, iam...)
	en.mustBe(st, cfntypes.StackStatusUpdateComplete)
	replaced := outputsOf(st)["Url"]
	if status, body, err := get(t, replaced); replaced == url || err != nil || status != http.StatusOK || !strings.HasPrefix(body, "v2 hi / ") {
		t.Errorf("GET %s after the replacement: got %d %q %v, want 200 from v2 at another URL than %s", replaced, status, body, err, url)
	}
	if n := en.engine.functionURLs(); n != 1 {
		t.Errorf("after the replacement the engine keeps %d function URLs' state, want 1", n)
	}
	// AWS_IAM, with no local IAM to verify a signature: every request is
	// refused, a signed one too (it names a key, and no one checks it).
	v4 := strings.Replace(v3, "FunctionUrlConfig: {AuthType: NONE}", "FunctionUrlConfig: {AuthType: AWS_IAM}", 1)
	st = en.deploy("url", "v4", "UPDATE", v4, nil, iam...)
	en.mustBe(st, cfntypes.StackStatusUpdateComplete)
	signed, err := http.NewRequest(http.MethodGet, replaced, nil)
	if err != nil {
		t.Fatal(err)
	}
	creds := aws.Credentials{AccessKeyID: "local", SecretAccessKey: "local"}
	if err := awsv4.NewSigner().SignHTTP(ctx, creds, signed, emptySHA256, "lambda", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(signed)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || string(b) != `{"Message":"Forbidden"}` {
		t.Errorf("a signed GET of the AWS_IAM URL with no IAM: got %d %s, want 403 {\"Message\":\"Forbidden\"}", resp.StatusCode, b)
	}

	if _, err := en.cfn.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String("url")}); err != nil {
		t.Fatal(err)
	}
	en.mustBe(en.waitStack(aws.ToString(st.StackId)), cfntypes.StackStatusDeleteComplete)
	for _, u := range []string{url, replaced} {
		if _, _, err := get(t, u); err == nil {
			t.Errorf("GET %s after the delete: got an answer, want the connection refused", u)
		}
	}
	if n := en.engine.functionURLs(); n != 0 {
		t.Errorf("after the delete the engine keeps %d function URLs' state, want none", n)
	}
}
