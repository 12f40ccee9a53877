//go:build unix

package cfn

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/codedeploy"
	cdtypes "github.com/aws/aws-sdk-go-v2/service/codedeploy/types"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
)

// deploymentApp is a SAM app whose function is deployed by CodeDeploy
// (DeploymentPreference) with a PreTraffic and a PostTraffic hook, whose
// statuses the parameters PreStatus and PostStatus set, and an alarm.
const deploymentApp = `
Transform: AWS::Serverless-2016-10-31
Parameters:
  RecordFile: {Type: String}
  PreStatus: {Type: String, Default: Succeeded}
  PostStatus: {Type: String, Default: Succeeded}
Globals:
  Function: {Runtime: provided.al2023, Handler: bootstrap}
Resources:
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: CODE
      AutoPublishAlias: live
      DeploymentPreference:
        Type: Linear10PercentEvery1Minute
        Alarms: [!Ref Errors]
        Hooks: {PreTraffic: !Ref PreHook, PostTraffic: !Ref PostHook}
  PreHook:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: HOOKZIP
      FunctionName: CodeDeployHook_pre
      Environment: {Variables: {RECORD_FILE: !Ref RecordFile, HOOK_STATUS: !Ref PreStatus}}
      Policies:
        - Statement:
            - Effect: Allow
              Action: codedeploy:PutLifecycleEventHookExecutionStatus
              Resource: !Sub arn:${AWS::Partition}:codedeploy:${AWS::Region}:${AWS::AccountId}:deploymentgroup:${ServerlessDeploymentApplication}/*
  PostHook:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: HOOKZIP
      FunctionName: CodeDeployHook_post
      Environment: {Variables: {RECORD_FILE: !Ref RecordFile, HOOK_STATUS: !Ref PostStatus}}
  Errors:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: AWS/Lambda
      MetricName: Errors
      Statistic: Sum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 1
      ComparisonOperator: GreaterThanThreshold
Outputs:
  Function: {Value: !Ref Hello}
`

// syncBuffer is a bytes.Buffer safe for the engine's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// hookCall is one invocation of testdata/hook.
type hookCall struct{ Function, Deployment, Execution, Status, Pid string }

func hookCalls(t *testing.T, file string) []hookCall {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var calls []hookCall
	for line := range strings.SplitSeq(strings.TrimSpace(string(data)), "\n") {
		if line == "" {
			continue
		}
		var c hookCall
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatalf("hook record %q: %v", line, err)
		}
		calls = append(calls, c)
	}
	return calls
}

func TestDeploymentPreferenceRunsItsHooksAndRollsBackWhenOneFails(t *testing.T) {
	t.Parallel()
	var log syncBuffer
	en := setupWith(t, func(o *Options) {
		o.Log = &log
		o.FunctionEnv["AWS_ENDPOINT_URL_CODEDEPLOY"] = engineURL
	})
	ctx := context.Background()
	record := filepath.Join(t.TempDir(), "hooks.jsonl")
	hook := en.put("code/hook.zip", handlerZip["hook"])
	app := func(code string) string {
		return strings.NewReplacer("CODE", en.put("code/"+code+".zip", handlerZip[code]), "HOOKZIP", hook).Replace(deploymentApp)
	}
	lambdaClient := awslambda.NewFromConfig(en.cfg)
	serving := func(fn string) string {
		t.Helper()
		out, err := lambdaClient.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String(fn), Payload: []byte(`{"rawPath":"/"}`)})
		if err != nil {
			t.Fatal(err)
		}
		var resp struct{ Body string }
		_ = json.Unmarshal(out.Payload, &resp)
		v, _, _ := strings.Cut(resp.Body, " ")
		return v
	}

	st := en.deploy("deployed", "v1", "CREATE", app("v1"), map[string]string{"RecordFile": record}, iam...)
	if st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("got %s (%s), want CREATE_COMPLETE", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	fn := outputsOf(st)["Function"]
	if calls := hookCalls(t, record); len(calls) != 0 {
		t.Errorf("creating the stack ran hooks %v, want none (CodeDeploy deploys updates)", calls)
	}

	// New code: a deployment runs PreTraffic, shifts all traffic, then runs
	// PostTraffic, each hook reporting through CodeDeploy's API.
	st = en.deploy("deployed", "v2", "UPDATE", app("v2"), map[string]string{"RecordFile": record}, iam...)
	if st.StackStatus != cfntypes.StackStatusUpdateComplete {
		t.Fatalf("got %s (%s), want UPDATE_COMPLETE", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	calls := hookCalls(t, record)
	if len(calls) != 2 || calls[0].Function != "CodeDeployHook_pre" || calls[1].Function != "CodeDeployHook_post" ||
		calls[0].Deployment != calls[1].Deployment || !strings.HasPrefix(calls[0].Deployment, "d-") || calls[0].Execution == calls[1].Execution {
		t.Fatalf("got hook calls %+v, want PreTraffic then PostTraffic of one deployment d-..., each with its own execution", calls)
	}
	if v := serving(fn); v != "v2" {
		t.Errorf("the function serves %q after the deployment, want v2", v)
	}
	var said []string
	for _, ev := range en.events("deployed") {
		if aws.ToString(ev.LogicalResourceId) == "HelloAliaslive" && ev.ResourceStatus == cfntypes.ResourceStatusUpdateInProgress {
			said = append(said, aws.ToString(ev.ResourceStatusReason))
		}
	}
	for _, want := range []string{
		"locally all at once, where AWS shifts by CodeDeployDefault.LambdaLinear10PercentEvery1Minute",
		"alarms " + "deployed-Errors-", "not watched locally",
		"BeforeAllowTraffic hook CodeDeployHook_pre Succeeded", "shifted to version 2", "AfterAllowTraffic hook CodeDeployHook_post Succeeded",
	} {
		if !strings.Contains(strings.Join(said, "\n"), want) {
			t.Errorf("the alias's events say %q, want %q in them", said, want)
		}
		if !strings.Contains(log.String(), want) {
			t.Errorf("the engine's log says %q, want %q in it", log.String(), want)
		}
	}

	// A hook that reports Failed fails the alias's update: the stack rolls
	// back and the previous release keeps serving.
	for _, tt := range []struct {
		name, param, event string
		hooks              int
	}{
		{"PreTraffic fails", "PreStatus", "BeforeAllowTraffic hook CodeDeployHook_pre reported Failed; traffic stays on version 2", 1},
		{"PostTraffic fails", "PostStatus", "AfterAllowTraffic hook CodeDeployHook_post reported Failed; traffic rolled back to version 2", 2},
	} {
		before := len(hookCalls(t, record))
		st = en.deploy("deployed", strings.ReplaceAll(tt.name, " ", "-"), "UPDATE", app("v1"), map[string]string{"RecordFile": record, tt.param: "Failed"}, iam...)
		if st.StackStatus != cfntypes.StackStatusUpdateRollbackComplete {

			t.Fatalf("%s: got %s (%s), want UPDATE_ROLLBACK_COMPLETE", tt.name, st.StackStatus, aws.ToString(st.StackStatusReason))
		}
		var reason string
		for _, ev := range en.events("deployed") {
			if aws.ToString(ev.LogicalResourceId) == "HelloAliaslive" && ev.ResourceStatus == cfntypes.ResourceStatusUpdateFailed {
				reason = aws.ToString(ev.ResourceStatusReason)
			}
		}
		if !strings.Contains(reason, tt.event) || !strings.HasPrefix(reason, "CodeDeploy deployment d-") {
			t.Errorf("%s: the alias failed with %q, want %q in it", tt.name, reason, tt.event)
		}
		if got := len(hookCalls(t, record)) - before; got != tt.hooks {
			t.Errorf("%s: %d hooks ran, want %d", tt.name, got, tt.hooks)
		}
		if v := serving(fn); v != "v2" {
			t.Errorf("%s: the function serves %q after the rollback, want v2", tt.name, v)
		}
	}

	// Deleting the stack runs no hook and removes the function, its alias
	// and the deployment group's records.
	before := len(hookCalls(t, record))
	if _, err := en.cfn.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String("deployed")}); err != nil {
		t.Fatal(err)
	}
	en.mustBe(en.waitStack(aws.ToString(st.StackId)), cfntypes.StackStatusDeleteComplete)
	if got := len(hookCalls(t, record)) - before; got != 0 {
		t.Errorf("deleting the stack ran %d hooks, want none", got)
	}
	if _, err := lambdaClient.GetFunction(ctx, &awslambda.GetFunctionInput{FunctionName: aws.String(fn)}); err == nil {
		t.Errorf("the function %s is still there after the delete", fn)
	}
	// (SAM's versions are retained, DeletionPolicy Retain; the alias goes.)
	en.engine.mu.Lock()
	for arn := range en.engine.qualified {
		if strings.HasSuffix(arn, ":live") {
			t.Errorf("the engine still routes the alias %s after the delete", arn)
		}
	}
	en.engine.mu.Unlock()
}

func TestCodeDeployAnswersOnlyHooksThatWait(t *testing.T) {
	t.Parallel()
	en := setup(t)
	cfg := en.cfg.Copy()
	cfg.BaseEndpoint = aws.String(en.url)
	cd := codedeploy.NewFromConfig(cfg)
	ctx := context.Background()
	en.engine.mu.Lock()
	en.engine.hooks["exec-1"] = &hookRun{deploymentID: "d-ABCDEFGHI"}
	en.engine.mu.Unlock()
	put := func(dep, exec string, status cdtypes.LifecycleEventStatus) error {
		_, err := cd.PutLifecycleEventHookExecutionStatus(ctx, &codedeploy.PutLifecycleEventHookExecutionStatusInput{
			DeploymentId: aws.String(dep), LifecycleEventHookExecutionId: aws.String(exec), Status: status})
		return err
	}
	for _, tt := range []struct {
		name, dep, exec string
		status          cdtypes.LifecycleEventStatus
		code            string
	}{
		{"an unknown execution", "d-ABCDEFGHI", "exec-2", cdtypes.LifecycleEventStatusSucceeded, "InvalidLifecycleEventHookExecutionIdException"},
		{"another deployment", "d-OTHER0000", "exec-1", cdtypes.LifecycleEventStatusSucceeded, "DeploymentDoesNotExistException"},
		{"a status a hook cannot give", "d-ABCDEFGHI", "exec-1", cdtypes.LifecycleEventStatusInProgress, "InvalidLifecycleEventHookExecutionStatusException"},
		{"the hook's own", "d-ABCDEFGHI", "exec-1", cdtypes.LifecycleEventStatusFailed, ""},
		{"the same again", "d-ABCDEFGHI", "exec-1", cdtypes.LifecycleEventStatusSucceeded, "LifecycleEventAlreadyCompletedException"},
	} {
		err := put(tt.dep, tt.exec, tt.status)
		if code, _ := apiCode(err); code != tt.code {
			t.Errorf("%s: got %q (%v), want %q", tt.name, code, err, tt.code)
		}
	}
	en.engine.mu.Lock()
	got := en.engine.hooks["exec-1"].status
	en.engine.mu.Unlock()
	if got != "Failed" {
		t.Errorf("got the hook's status %q, want Failed", got)
	}
}
