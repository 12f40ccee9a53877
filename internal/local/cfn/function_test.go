//go:build unix

package cfn

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
)

var iam = []cfntypes.Capability{cfntypes.CapabilityCapabilityIam}

// get fetches url on a new connection and returns the status and body.
func get(t *testing.T, url string) (int, string, error) {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// zipOf returns a zip holding one file.
func zipOf(t *testing.T, name, content string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, content); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func alive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}

const helloApp = `
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: provided.al2023
    Handler: bootstrap
    Timeout: 5
    Environment:
      Variables:
        MESSAGE: hello
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: CODE
      Events:
        Get:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: "/hello/{name}", Method: GET}
Outputs:
  Url:
    Value: !Sub "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/hello/ann"
  Endpoint:
    Value: !GetAtt Api.ApiEndpoint
  Function:
    Value: !Ref Hello
  FunctionArn:
    Value: !GetAtt Hello.Arn
`

func TestFunctionServesItsHTTPAPIThroughUpdateAndDelete(t *testing.T) {
	t.Parallel()
	en := setup(t)
	ctx := context.Background()
	v1 := strings.Replace(helloApp, "CODE", en.put("code/v1.zip", handlerZip["v1"]), 1)
	v2 := strings.Replace(helloApp, "CODE", en.put("code/v2.zip", handlerZip["v2"]), 1)

	cs := en.changeSet("hello", "without-capabilities", "CREATE", v1, nil)
	if cs.Status != cfntypes.ChangeSetStatusFailed || aws.ToString(cs.StatusReason) != "Requires capabilities : [CAPABILITY_IAM]" {
		t.Errorf("without CAPABILITY_IAM: got %s %q, want FAILED \"Requires capabilities : [CAPABILITY_IAM]\"", cs.Status, aws.ToString(cs.StatusReason))
	}

	cs = en.changeSet("hello", "v1", "CREATE", v1, nil, iam...)
	if got, want := changesOf(cs), []string{
		"Add HelloRole AWS::IAM::Role", "Add Hello AWS::Lambda::Function", "Add Api AWS::ApiGatewayV2::Api",
		"Add ApiApiGatewayDefaultStage AWS::ApiGatewayV2::Stage", "Add HelloGetPermission AWS::Lambda::Permission",
	}; !reflect.DeepEqual(got, want) {
		t.Errorf("got changes %q, want %q", got, want)
	}
	st := en.execute(cs)
	if st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("got %s (%s), want CREATE_COMPLETE", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	out := outputsOf(st)
	endpoint := out["Endpoint"]
	if !regexp.MustCompile(`^http://127\.0\.0\.1:\d+$`).MatchString(endpoint) {
		t.Fatalf("got ApiEndpoint %q, want the local http://127.0.0.1:<port>", endpoint)
	}
	url := out["Url"]
	if url != endpoint+"/hello/ann" {
		t.Errorf("got Url %q, want the API's URL replaced by the local one: %s/hello/ann", url, endpoint)
	}
	if arn := out["FunctionArn"]; !strings.HasPrefix(arn, "arn:aws:lambda:") || !strings.HasSuffix(arn, ":function:"+out["Function"]) {
		t.Errorf("got FunctionArn %q, want Lambda's ARN of %s", arn, out["Function"])
	}

	status, body, err := get(t, url)
	if err != nil || status != http.StatusOK {
		t.Fatalf("GET %s: got %d %q %v, want 200", url, status, body, err)
	}
	fields := strings.Fields(body)
	if len(fields) != 4 || fields[0] != "v1" || fields[1] != "hello" || fields[2] != "/hello/ann" {
		t.Fatalf("got %q, want \"v1 hello /hello/ann <pid>\"", body)
	}
	pid1, _ := strconv.Atoi(fields[3])
	if status, _, _ := get(t, endpoint+"/nowhere"); status != http.StatusNotFound {
		t.Errorf("GET /nowhere: got %d, want 404", status)
	}

	// Update: new code, a new process, the same URL.
	cs = en.changeSet("hello", "v2", "UPDATE", v2, nil, iam...)
	if got, want := changesOf(cs), []string{"Modify Hello AWS::Lambda::Function False"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got changes %q, want %q", got, want)
	}
	st = en.execute(cs)
	if st.StackStatus != cfntypes.StackStatusUpdateComplete {
		t.Fatalf("got %s (%s), want UPDATE_COMPLETE", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	if got := outputsOf(st)["Url"]; got != url {
		t.Errorf("got Url %q after the update, want the same %q", got, url)
	}
	status, body, err = get(t, url)
	if err != nil || status != http.StatusOK || !strings.HasPrefix(body, "v2 hello /hello/ann ") {
		t.Fatalf("GET %s after the update: got %d %q %v, want 200 \"v2 hello /hello/ann <pid>\"", url, status, body, err)
	}
	if alive(pid1) {
		t.Errorf("the old process %d still runs after the update", pid1)
	}
	pid2 := en.engine.functions.PID(out["Function"])
	if pid2 == 0 || pid2 == pid1 {
		t.Errorf("got process %d after the update, want a new one", pid2)
	}

	// A failed update rolls back: the previous release keeps serving.
	broken := strings.Replace(helloApp, "CODE", en.put("code/broken.zip", zipOf(t, "README", "no bootstrap here")), 1)
	st = en.deploy("hello", "broken", "UPDATE", broken, nil, iam...)
	if st.StackStatus != cfntypes.StackStatusUpdateRollbackComplete {
		t.Fatalf("got %s, want UPDATE_ROLLBACK_COMPLETE", st.StackStatus)
	}
	if reason := aws.ToString(st.StackStatusReason); !strings.Contains(reason, "failed to update: [Hello]") {
		t.Errorf("got reason %q, want it to name Hello", reason)
	}
	var failure string
	for _, ev := range en.events("hello") {
		if ev.ResourceStatus == cfntypes.ResourceStatusUpdateFailed {
			failure = aws.ToString(ev.ResourceStatusReason)
		}
	}
	if !strings.Contains(failure, "has no bootstrap") {
		t.Errorf("got the failure %q, want it to say the code has no bootstrap", failure)
	}
	status, body, err = get(t, url)
	if err != nil || status != http.StatusOK || !strings.HasPrefix(body, "v2 hello /hello/ann ") {
		t.Fatalf("GET %s after the rollback: got %d %q %v, want 200 from v2", url, status, body, err)
	}
	pid2 = en.engine.functions.PID(out["Function"])

	// Delete: the port closes, the process ends, the function goes.
	if _, err := en.cfn.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String("hello")}); err != nil {
		t.Fatal(err)
	}
	if st = en.waitStack(aws.ToString(st.StackId)); st.StackStatus != cfntypes.StackStatusDeleteComplete {
		t.Fatalf("got %s, want DELETE_COMPLETE", st.StackStatus)
	}
	if _, _, err := get(t, url); err == nil {
		t.Errorf("GET %s after the delete: got an answer, want the connection refused", url)
	}
	if alive(pid2) {
		t.Errorf("the process %d still runs after the delete", pid2)
	}
	if _, err := awslambda.NewFromConfig(en.cfg).GetFunction(ctx, &awslambda.GetFunctionInput{FunctionName: aws.String(out["Function"])}); err == nil {
		t.Errorf("the function %s is still in Lambda after the delete", out["Function"])
	}
	if _, err := os.Stat(filepath.Join(en.engine.workDir, "functions", out["Function"])); !os.IsNotExist(err) {
		t.Errorf("the function's code is still unpacked after the delete: %v", err)
	}
}

func TestGlobalsAreMergedIntoFunctions(t *testing.T) {
	t.Parallel()
	en := setup(t)
	body := `
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: provided.al2023
    Handler: bootstrap
    Timeout: 7
    MemorySize: 256
    CodeUri: CODE
    Environment:
      Variables:
        MESSAGE: global
        SHARED: global
        FROM_ENGINE: overridden
Resources:
  Plain:
    Type: AWS::Serverless::Function
  Custom:
    Type: AWS::Serverless::Function
    Properties:
      Timeout: 9
      Environment:
        Variables:
          SHARED: local
          OWN: local
`
	body = strings.Replace(body, "CODE", en.put("code/globals.zip", handlerZip["v1"]), 1)
	st := en.deploy("globals", "create", "CREATE", body, nil, iam...)
	if st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("got %s (%s), want CREATE_COMPLETE", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	lc := awslambda.NewFromConfig(en.cfg)
	tests := []struct {
		logical string
		timeout int32
		env     map[string]string
	}{
		{"Plain", 7, map[string]string{"MESSAGE": "global", "SHARED": "global", "FROM_ENGINE": "overridden"}},
		{"Custom", 9, map[string]string{"MESSAGE": "global", "SHARED": "local", "OWN": "local", "FROM_ENGINE": "overridden"}},
	}
	for _, tt := range tests {
		t.Run(tt.logical, func(t *testing.T) {
			name := physicalOf(t, en, "globals", tt.logical)
			cfg, err := lc.GetFunctionConfiguration(context.Background(), &awslambda.GetFunctionConfigurationInput{FunctionName: aws.String(name)})
			if err != nil {
				t.Fatal(err)
			}
			if got := aws.ToInt32(cfg.Timeout); got != tt.timeout {
				t.Errorf("got timeout %d, want %d", got, tt.timeout)
			}
			if got := aws.ToInt32(cfg.MemorySize); got != 256 {
				t.Errorf("got memory %d, want 256", got)
			}
			if got := cfg.Environment.Variables; !reflect.DeepEqual(got, tt.env) {
				t.Errorf("got environment %v, want %v", got, tt.env)
			}
		})
	}
}

func TestPipelineTemplateInstalls(t *testing.T) {
	t.Parallel()
	en := setup(t)
	body, err := os.ReadFile("../../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	definition, err := os.ReadFile("../../../statemachine/pipeline.asl.json")
	if err != nil {
		t.Fatal(err)
	}
	code := en.put("code/pipeline.zip", handlerZip["v1"])
	tmpl := regexp.MustCompile(`CodeUri: functions/[a-z]+/`).ReplaceAllString(string(body), "CodeUri: "+code)
	tmpl = strings.Replace(tmpl, "DefinitionUri: statemachine/pipeline.asl.json", "DefinitionUri: "+en.put("statemachine/pipeline.asl.json", definition), 1)
	if strings.Contains(tmpl, "CodeUri: functions/") {
		t.Fatal("a CodeUri was not rewritten")
	}
	st := en.deploy("stackflow", "install", "CREATE", tmpl, map[string]string{"BitbucketToken": "token"},
		cfntypes.CapabilityCapabilityIam, cfntypes.CapabilityCapabilityAutoExpand)
	if st.StackStatus != cfntypes.StackStatusCreateComplete {
		for _, ev := range en.events("stackflow") {
			if strings.HasSuffix(string(ev.ResourceStatus), "FAILED") {
				t.Logf("%s %s: %s", aws.ToString(ev.LogicalResourceId), ev.ResourceStatus, aws.ToString(ev.ResourceStatusReason))
			}
		}
		t.Fatalf("got %s (%s), want CREATE_COMPLETE", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	out := outputsOf(st)
	checks := map[string]*regexp.Regexp{
		"WebhookUrl":         regexp.MustCompile(`^http://127\.0\.0\.1:\d+/webhook$`),
		"WebhookSecretArn":   regexp.MustCompile(`^arn:aws:secretsmanager:us-east-1:\d{12}:secret:WebhookSecret-`),
		"StateMachineArn":    regexp.MustCompile(`^arn:aws:states:us-east-1:\d{12}:stateMachine:PipelineStateMachine-`),
		"ArtifactBucketName": regexp.MustCompile(`^stackflow-artifactbucket-[a-z0-9]{12}$`),
		"ReleasesTableName":  regexp.MustCompile(`^stackflow-ReleasesTable-[A-Z0-9]{12}$`),
		// The approval function's URL (AuthType AWS_IAM), on loopback.
		"ApprovalUrl": regexp.MustCompile(`^http://127\.0\.0\.1:\d+/$`),
	}
	if len(out) != len(checks) {
		t.Errorf("got outputs %v, want %d", out, len(checks))
	}
	for k, re := range checks {
		if !re.MatchString(out[k]) {
			t.Errorf("output %s: got %q, want it to match %s", k, out[k], re)
		}
	}
	// The webhook route reaches the webhook function.
	resp, err := http.Post(out["WebhookUrl"], "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(b), "v1  /webhook ") {
		t.Errorf("POST %s: got %d %q, want 200 from the function", out["WebhookUrl"], resp.StatusCode, b)
	}
}

func TestImplicitAPIStagesAndUnsupportedEvents(t *testing.T) {
	t.Parallel()
	en := setup(t)
	code := en.put("code/implicit.zip", handlerZip["v1"])
	body := `
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Runtime: provided.al2023, Handler: bootstrap, CodeUri: CODE}
Resources:
  Staged:
    Type: AWS::Serverless::HttpApi
    Properties: {StageName: live}
  Any:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Everything: {Type: HttpApi}
        Live: {Type: HttpApi, Properties: {ApiId: !Ref Staged}}
Outputs:
  Implicit: {Value: !Sub "https://${ServerlessHttpApi}.execute-api.${AWS::Region}.amazonaws.com/some/path"}
  Live: {Value: !Sub "https://${Staged}.execute-api.${AWS::Region}.amazonaws.com/live/some/path"}
`
	cs := en.changeSet("implicit", "create", "CREATE", strings.Replace(body, "CODE", code, 1), nil, iam...)
	for _, want := range []string{"Add ServerlessHttpApi AWS::ApiGatewayV2::Api", "Add ServerlessHttpApiApiGatewayDefaultStage AWS::ApiGatewayV2::Stage", "Add StagedliveStage AWS::ApiGatewayV2::Stage"} {
		if !slices.Contains(changesOf(cs), want) {
			t.Errorf("the change set has no %q: %q", want, changesOf(cs))
		}
	}
	st := en.execute(cs)
	if st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("got %s (%s), want CREATE_COMPLETE", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	for name, wantPath := range map[string]string{"Implicit": "/some/path", "Live": "/live/some/path"} {
		url := outputsOf(st)[name]
		status, got, err := get(t, url)
		if err != nil || status != http.StatusOK || !strings.HasPrefix(got, "v1  "+wantPath+" ") {
			t.Errorf("GET %s: got %d %q %v, want 200 from the $default route", url, status, got, err)
		}
	}

	logs := strings.Replace(body, "Live: {Type: HttpApi, Properties: {ApiId: !Ref Staged}}", "Logs: {Type: CloudWatchLogs, Properties: {LogGroupName: app-logs, FilterPattern: ERROR}}", 1)
	st = en.deploy("logs", "create", "CREATE", strings.Replace(logs, "CODE", code, 1), nil, iam...)
	if st.StackStatus != cfntypes.StackStatusRollbackComplete {
		t.Fatalf("got %s, want ROLLBACK_COMPLETE", st.StackStatus)
	}
	var failed []string
	for _, ev := range en.events("logs") {
		if ev.ResourceStatus == cfntypes.ResourceStatusCreateFailed {
			failed = append(failed, aws.ToString(ev.LogicalResourceId)+": "+aws.ToString(ev.ResourceStatusReason))
		}
	}
	if want := []string{"AnyLogs: Resource type AWS::Logs::SubscriptionFilter is not supported by stackflow's local engine"}; !reflect.DeepEqual(failed, want) {
		t.Errorf("got failures %q, want %q", failed, want)
	}
}
