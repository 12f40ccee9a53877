package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/stackflow/stackflow/internal/pipeline"
)

const (
	testExecution = "arn:aws:states:us-east-1:123456789012:execution:stackflow-pipeline:hello-main-0123456"
	// wantName is changeSetName(testRun, testExecution): "stackflow-", the
	// commit's seven characters, "-", the first 8 hex digits of the
	// execution ARN's SHA-256.
	wantName = "stackflow-0123456-2e2970e1"
)

var testRun = pipeline.Run{
	Repository: pipeline.Repository{Workspace: "acme", Slug: "hello"},
	Branch:     "main",
	Commit:     "0123456789abcdef0123456789abcdef01234567",
}

func testInput() pipeline.DeployInput {
	return pipeline.DeployInput{
		Run:       testRun,
		Execution: testExecution,
		Package: pipeline.Package{
			TemplateURL: "https://artifacts.s3.us-east-1.amazonaws.com/packages/acme/hello/0123456789abcdef0123456789abcdef01234567/template.yaml",
		},
		Environment: pipeline.Environment{
			Name:       "staging",
			Stack:      "hello-staging",
			Parameters: map[string]string{"Stage": "staging", "LogLevel": "debug"},
			Tags:       map[string]string{"team": "payments", "stackflow:commit": "spoofed", "stackflow:environment": "prod"},
		},
	}
}

func newTestService(f *fakeCFN) *Service {
	return newService("us-east-1", func(string, string) cfnAPI { return f }, f.clock.Now)
}

func add(id, typ string) types.Change {
	return types.Change{Type: types.ChangeTypeResource, ResourceChange: &types.ResourceChange{
		Action: types.ChangeActionAdd, LogicalResourceId: aws.String(id), ResourceType: aws.String(typ),
	}}
}

func modify(id, typ string, r types.Replacement) types.Change {
	return types.Change{Type: types.ChangeTypeResource, ResourceChange: &types.ResourceChange{
		Action: types.ChangeActionModify, LogicalResourceId: aws.String(id), ResourceType: aws.String(typ), Replacement: r,
	}}
}

func remove(id, typ string) types.Change {
	return types.Change{Type: types.ChangeTypeResource, ResourceChange: &types.ResourceChange{
		Action: types.ChangeActionRemove, LogicalResourceId: aws.String(id), ResourceType: aws.String(typ),
	}}
}

// deployStack drives the deploy of in's environment as the state machine
// does: create the change set, describe it until done, execute it unless it
// is empty, describe the stack until done. Each answer goes through JSON, as
// it does in the state. It returns every answer's summary, the last answer
// and the first error.
func deployStack(t *testing.T, svc *Service, in pipeline.DeployInput) ([]string, pipeline.Deployment, error) {
	t.Helper()
	var summaries []string
	call := func(a pipeline.DeployAction) (pipeline.Deployment, error) {
		in.Action = a
		d, err := svc.Handle(context.Background(), in)
		if err != nil {
			return d, err
		}
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatalf("marshal deployment: %v", err)
		}
		var back pipeline.Deployment
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("unmarshal deployment: %v", err)
		}
		summaries = append(summaries, back.Summary)
		in.Deployment = back
		return back, nil
	}
	poll := func(a pipeline.DeployAction) (pipeline.Deployment, error) {
		for range 20 {
			d, err := call(a)
			if err != nil || d.Done {
				return d, err
			}
		}
		t.Fatalf("%s: still not done after 20 calls", a)
		return pipeline.Deployment{}, nil
	}
	if _, err := call(pipeline.ActionCreateChangeSet); err != nil {
		return summaries, in.Deployment, err
	}
	d, err := poll(pipeline.ActionDescribeChangeSet)
	if err != nil {
		return summaries, in.Deployment, err
	}
	if !d.NoChanges {
		if _, err := call(pipeline.ActionExecuteChangeSet); err != nil {
			return summaries, in.Deployment, err
		}
	}
	d, err = poll(pipeline.ActionDescribeStack)
	if err != nil {
		return summaries, in.Deployment, err
	}
	return summaries, d, nil
}

var (
	previousOutputs = map[string]string{"ApiUrl": "https://old.execute-api.us-east-1.amazonaws.com/"}
	newOutputs      = map[string]string{"ApiUrl": "https://abc123.execute-api.us-east-1.amazonaws.com/", "TableName": "hello-staging-Table-1"}
)

func TestDeploy(t *testing.T) {
	t.Parallel()
	type wantFailure struct {
		status, resource string
		reason           []string // substrings of Reason
	}
	tests := []struct {
		name  string
		setup func(f *fakeCFN)
		// env changes the environment deployed.
		env func(*pipeline.Environment)
		// Outcomes when the deploy goes through.
		wantSummaries []string
		wantType      string
		wantChanges   []string
		wantNoChanges bool
		wantOutputs   map[string]string
		// Or how it fails.
		wantErr *wantFailure
		// wantCalls lists operations that must or must not (prefix "!")
		// have been called.
		wantCalls []string
	}{
		{
			name: "new stack is created",
			setup: func(f *fakeCFN) {
				f.changes = []types.Change{add("ApiFunction", "AWS::Lambda::Function"), add("Table", "AWS::DynamoDB::Table"), add("HttpApi", "AWS::ApiGatewayV2::Api")}
				f.outputs = newOutputs
			},
			wantSummaries: []string{
				"hello-staging: creating CREATE change set " + wantName,
				"hello-staging: change set CREATE_IN_PROGRESS",
				"hello-staging: 3 to add",
				"hello-staging: executing CREATE change set",
				"hello-staging CREATE_IN_PROGRESS",
				"hello-staging CREATE_COMPLETE",
			},
			wantType: "CREATE",
			wantChanges: []string{
				"Add ApiFunction (AWS::Lambda::Function)",
				"Add Table (AWS::DynamoDB::Table)",
				"Add HttpApi (AWS::ApiGatewayV2::Api)",
			},
			wantOutputs: newOutputs,
		},
		{
			name: "existing stack is updated, waiting while in progress",
			setup: func(f *fakeCFN) {
				f.seedStack("hello-staging", types.StackStatusUpdateComplete, previousOutputs)
				f.changes = []types.Change{
					add("Queue", "AWS::SQS::Queue"),
					modify("ApiFunction", "AWS::Lambda::Function", types.ReplacementFalse),
					modify("Table", "AWS::DynamoDB::Table", types.ReplacementTrue),
					remove("OldTopic", "AWS::SNS::Topic"),
				}
				f.changePage = 3
				f.changeSetPolls = 2
				f.opPolls = 2
				f.outputs = newOutputs
			},
			wantSummaries: []string{
				"hello-staging: creating UPDATE change set " + wantName,
				"hello-staging: change set CREATE_IN_PROGRESS",
				"hello-staging: change set CREATE_IN_PROGRESS",
				"hello-staging: change set CREATE_IN_PROGRESS",
				"hello-staging: 1 to add, 2 to change, 1 to remove",
				"hello-staging: executing UPDATE change set",
				"hello-staging UPDATE_IN_PROGRESS",
				"hello-staging UPDATE_IN_PROGRESS",
				"hello-staging UPDATE_IN_PROGRESS",
				"hello-staging UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
			},
			wantType: "UPDATE",
			wantChanges: []string{
				"Add Queue (AWS::SQS::Queue)",
				"Modify ApiFunction (AWS::Lambda::Function)",
				"Modify Table (AWS::DynamoDB::Table) (replacement: True)",
				"Remove OldTopic (AWS::SNS::Topic)",
			},
			wantOutputs: newOutputs,
		},
		{
			name: "stack left by an unexecuted CREATE change set is created",
			setup: func(f *fakeCFN) {
				f.seedStack("hello-staging", types.StackStatusReviewInProgress, nil)
				f.changes = []types.Change{add("ApiFunction", "AWS::Lambda::Function")}
				f.outputs = newOutputs
			},
			wantSummaries: []string{
				"hello-staging: creating CREATE change set " + wantName,
				"hello-staging: change set CREATE_IN_PROGRESS",
				"hello-staging: 1 to add",
				"hello-staging: executing CREATE change set",
				"hello-staging CREATE_IN_PROGRESS",
				"hello-staging CREATE_COMPLETE",
			},
			wantType:    "CREATE",
			wantChanges: []string{"Add ApiFunction (AWS::Lambda::Function)"},
			wantOutputs: newOutputs,
		},
		{
			name: "empty change set on an existing stack is success with its outputs",
			setup: func(f *fakeCFN) {
				f.seedStack("hello-staging", types.StackStatusUpdateComplete, previousOutputs)
			},
			wantSummaries: []string{
				"hello-staging: creating UPDATE change set " + wantName,
				"hello-staging: change set CREATE_IN_PROGRESS",
				"hello-staging: no changes",
				"hello-staging: no changes (UPDATE_COMPLETE)",
			},
			wantType:      "UPDATE",
			wantNoChanges: true,
			wantOutputs:   previousOutputs,
			wantCalls:     []string{"DeleteChangeSet", "!ExecuteChangeSet"},
		},
		{
			name: "no updates to be performed on a stack whose last update rolled back",
			setup: func(f *fakeCFN) {
				f.seedStack("hello-staging", types.StackStatusUpdateRollbackComplete, previousOutputs)
				f.failReason = "No updates are to be performed."
			},
			wantSummaries: []string{
				"hello-staging: creating UPDATE change set " + wantName,
				"hello-staging: change set CREATE_IN_PROGRESS",
				"hello-staging: no changes",
				"hello-staging: no changes (UPDATE_ROLLBACK_COMPLETE)",
			},
			wantType:      "UPDATE",
			wantNoChanges: true,
			wantOutputs:   previousOutputs,
			wantCalls:     []string{"DeleteChangeSet", "!ExecuteChangeSet"},
		},
		{
			name: "failed change set names its reason",
			setup: func(f *fakeCFN) {
				f.seedStack("hello-staging", types.StackStatusUpdateComplete, previousOutputs)
				f.failReason = "Template format error: Unresolved resource dependencies [Tabel] in the Resources block of the template"
			},
			wantErr:   &wantFailure{status: "FAILED", reason: []string{"the change set failed: Template format error: Unresolved resource dependencies [Tabel]"}},
			wantCalls: []string{"!DeleteChangeSet", "!ExecuteChangeSet"},
		},
		{
			name: "update rolled back names the first failing resource of this update",
			setup: func(f *fakeCFN) {
				f.seedStack("hello-staging", types.StackStatusUpdateRollbackComplete, previousOutputs,
					fakeFailure{"OldFailure", "AWS::Lambda::Function", types.ResourceStatusUpdateFailed, "an old failure of an earlier update"})
				f.changes = []types.Change{modify("ApiFunction", "AWS::Lambda::Function", types.ReplacementFalse), add("Table", "AWS::DynamoDB::Table"), add("Queue", "AWS::SQS::Queue")}
				f.opFailures = []fakeFailure{
					{"ApiFunction", "AWS::Lambda::Function", types.ResourceStatusUpdateFailed, "Resource handler returned message: \"Uploaded file must be a non-empty zip\""},
					{"Table", "AWS::DynamoDB::Table", types.ResourceStatusCreateFailed, "Resource creation cancelled"},
					{"Queue", "AWS::SQS::Queue", types.ResourceStatusCreateFailed, "Queue hello already exists"},
				}
				f.eventPage = 2
			},
			wantErr: &wantFailure{
				status:   "UPDATE_ROLLBACK_COMPLETE",
				resource: "ApiFunction (AWS::Lambda::Function)",
				reason:   []string{"Uploaded file must be a non-empty zip", "the previous release is still serving"},
			},
		},
		{
			name: "update rolled back, events without tokens: only events since the start count",
			setup: func(f *fakeCFN) {
				f.noTokens = true
				f.seedStack("hello-staging", types.StackStatusUpdateComplete, previousOutputs,
					fakeFailure{"OldFailure", "AWS::Lambda::Function", types.ResourceStatusUpdateFailed, "an old failure of an earlier update"})
				f.changes = []types.Change{modify("ApiFunction", "AWS::Lambda::Function", types.ReplacementFalse)}
				f.opFailures = []fakeFailure{
					{"ApiFunction", "AWS::Lambda::Function", types.ResourceStatusUpdateFailed, "Properties validation failed for resource ApiFunction"},
				}
				f.eventPage = 3
			},
			wantErr: &wantFailure{
				status:   "UPDATE_ROLLBACK_COMPLETE",
				resource: "ApiFunction (AWS::Lambda::Function)",
				reason:   []string{"Properties validation failed", "the previous release is still serving"},
			},
		},
		{
			name: "first create rolled back names the first failing resource, events without tokens",
			setup: func(f *fakeCFN) {
				f.changes = []types.Change{add("Table", "AWS::DynamoDB::Table"), add("ApiFunction", "AWS::Lambda::Function")}
				f.opFailures = []fakeFailure{
					{"Table", "AWS::DynamoDB::Table", types.ResourceStatusCreateFailed, "Resource creation cancelled"},
					{"ApiFunction", "AWS::Lambda::Function", types.ResourceStatusCreateFailed, "Resource handler returned message: \"The role defined for the function cannot be assumed by Lambda.\""},
				}
				f.noTokens = true
				f.eventPage = 1
			},
			wantErr: &wantFailure{
				status:   "ROLLBACK_COMPLETE",
				resource: "ApiFunction (AWS::Lambda::Function)",
				reason:   []string{"cannot be assumed by Lambda", "the next run deletes the stack and creates it again"},
			},
		},
		{
			name: "change set refused for a missing capability",
			setup: func(f *fakeCFN) {
				f.seedStack("hello-staging", types.StackStatusUpdateComplete, previousOutputs)
				f.requireCapability = types.CapabilityCapabilityNamedIam
			},
			wantErr:   &wantFailure{reason: []string{"CloudFormation refused the change set: Requires capabilities : [CAPABILITY_NAMED_IAM]"}},
			wantCalls: []string{"!DescribeChangeSet"},
		},
		{
			name: "stack in ROLLBACK_COMPLETE is deleted and created again",
			setup: func(f *fakeCFN) {
				f.seedStack("hello-staging", types.StackStatusRollbackComplete, nil)
				f.changes = []types.Change{add("ApiFunction", "AWS::Lambda::Function")}
				f.outputs = newOutputs
			},
			wantSummaries: []string{
				"deleting hello-staging, left in ROLLBACK_COMPLETE by a failed first create, to create it again",
				"deleted hello-staging, left in ROLLBACK_COMPLETE by a failed first create; hello-staging: creating CREATE change set " + wantName,
				"hello-staging: change set CREATE_IN_PROGRESS",
				"hello-staging: 1 to add",
				"hello-staging: executing CREATE change set",
				"hello-staging CREATE_IN_PROGRESS",
				"hello-staging CREATE_COMPLETE (deleted and created again: a failed first create had left it in ROLLBACK_COMPLETE)",
			},
			wantType:    "CREATE",
			wantChanges: []string{"Add ApiFunction (AWS::Lambda::Function)"},
			wantOutputs: newOutputs,
			wantCalls:   []string{"DeleteStack", "!ContinueUpdateRollback"},
		},
		{
			name: "stack in ROLLBACK_COMPLETE with termination protection is refused",
			setup: func(f *fakeCFN) {
				f.seedStack("hello-staging", types.StackStatusRollbackComplete, nil).protected = true
			},
			wantErr:   &wantFailure{status: "ROLLBACK_COMPLETE", reason: []string{"failed first create", "termination protection", "--no-enable-termination-protection --stack-name hello-staging"}},
			wantCalls: []string{"!DeleteStack", "!CreateChangeSet"},
		},
		{
			name: "stack in UPDATE_ROLLBACK_FAILED has its rollback continued, then is updated",
			setup: func(f *fakeCFN) {
				f.seedStack("hello-staging", types.StackStatusUpdateRollbackFailed, previousOutputs)
				f.changes = []types.Change{modify("ApiFunction", "AWS::Lambda::Function", types.ReplacementFalse)}
				f.outputs = newOutputs
			},
			wantSummaries: []string{
				"continuing the rollback of hello-staging, left in UPDATE_ROLLBACK_FAILED by an update whose rollback failed, to update it again",
				"continuing the rollback of hello-staging (UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS), left in UPDATE_ROLLBACK_FAILED by an update whose rollback failed, to update it again",
				"continued the rollback of hello-staging, left in UPDATE_ROLLBACK_FAILED, to UPDATE_ROLLBACK_COMPLETE; hello-staging: creating UPDATE change set " + wantName,
				"hello-staging: change set CREATE_IN_PROGRESS",
				"hello-staging: 1 to change",
				"hello-staging: executing UPDATE change set",
				"hello-staging UPDATE_IN_PROGRESS",
				"hello-staging UPDATE_COMPLETE_CLEANUP_IN_PROGRESS (the rollback of its last update, stopped in UPDATE_ROLLBACK_FAILED, was continued first)",
			},
			wantType:    "UPDATE",
			wantChanges: []string{"Modify ApiFunction (AWS::Lambda::Function)"},
			wantOutputs: newOutputs,
			wantCalls:   []string{"ContinueUpdateRollback", "!DeleteStack"},
		},
		{
			name: "stack busy with an operation started elsewhere is waited for",
			setup: func(f *fakeCFN) {
				st := f.seedStack("hello-staging", types.StackStatusUpdateInProgress, previousOutputs)
				st.steps = []func(){func() {}, func() {}, func() { f.stackEvent(st, "Console-UpdateStack-1", types.StackStatusUpdateComplete, "") }}
				f.changes = []types.Change{modify("ApiFunction", "AWS::Lambda::Function", types.ReplacementFalse)}
				f.outputs = newOutputs
			},
			wantSummaries: []string{
				"waiting for hello-staging to finish UPDATE_IN_PROGRESS, an operation started outside this run",
				"waiting for hello-staging to finish UPDATE_IN_PROGRESS, an operation started outside this run",
				"hello-staging is no longer busy with an operation started outside this run; hello-staging: creating UPDATE change set " + wantName,
				"hello-staging: change set CREATE_IN_PROGRESS",
				"hello-staging: 1 to change",
				"hello-staging: executing UPDATE change set",
				"hello-staging UPDATE_IN_PROGRESS",
				"hello-staging UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
			},
			wantType:    "UPDATE",
			wantChanges: []string{"Modify ApiFunction (AWS::Lambda::Function)"},
			wantOutputs: newOutputs,
			wantCalls:   []string{"!DeleteStack", "!ContinueUpdateRollback"},
		},
		{
			name: "stack whose first create's rollback failed is refused",
			setup: func(f *fakeCFN) {
				f.seedStack("hello-staging", types.StackStatusRollbackFailed, nil)
			},
			wantErr:   &wantFailure{status: "ROLLBACK_FAILED", reason: []string{"first create failed", "aws cloudformation delete-stack --stack-name hello-staging"}},
			wantCalls: []string{"!CreateChangeSet", "!DeleteStack"},
		},
		{
			name: "a protected environment's stack is protected",
			setup: func(f *fakeCFN) {
				f.changes = []types.Change{add("ApiFunction", "AWS::Lambda::Function")}
				f.outputs = newOutputs
			},
			env: func(e *pipeline.Environment) { e.Protected = true },
			wantSummaries: []string{
				"hello-staging: creating CREATE change set " + wantName,
				"hello-staging: change set CREATE_IN_PROGRESS",
				"hello-staging: 1 to add",
				"hello-staging: executing CREATE change set",
				"hello-staging CREATE_IN_PROGRESS",
				"hello-staging CREATE_COMPLETE; termination protection turned on",
			},
			wantType:    "CREATE",
			wantChanges: []string{"Add ApiFunction (AWS::Lambda::Function)"},
			wantOutputs: newOutputs,
			wantCalls:   []string{"UpdateTerminationProtection"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeCFN()
			tt.setup(f)
			in := testInput()
			if tt.env != nil {
				tt.env(&in.Environment)
			}
			summaries, d, err := deployStack(t, newTestService(f), in)

			for _, c := range tt.wantCalls {
				op, absent := strings.CutPrefix(c, "!")
				if got := slices.Contains(f.calls, op); got == absent {
					t.Errorf("%s called: got %v, want %v (calls %v)", op, got, !absent, f.calls)
				}
			}
			if tt.wantErr != nil {
				var sf *pipeline.StackDeployFailed
				if !errors.As(err, &sf) {
					t.Fatalf("got error %T %v, want *pipeline.StackDeployFailed", err, err)
				}
				if _, ok := err.(*pipeline.StackDeployFailed); !ok {
					t.Errorf("got error of type %T, want it unwrapped for the state machine", err)
				}
				if sf.Stack != "hello-staging" || sf.Status != tt.wantErr.status || sf.Resource != tt.wantErr.resource {
					t.Errorf("got stack %q status %q resource %q, want %q %q %q",
						sf.Stack, sf.Status, sf.Resource, "hello-staging", tt.wantErr.status, tt.wantErr.resource)
				}
				for _, r := range tt.wantErr.reason {
					if !strings.Contains(sf.Reason, r) {
						t.Errorf("got reason %q, want it to contain %q", sf.Reason, r)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("deploy: %v", err)
			}
			if !slices.Equal(summaries, tt.wantSummaries) {
				t.Errorf("got summaries\n%s\nwant\n%s", strings.Join(summaries, "\n"), strings.Join(tt.wantSummaries, "\n"))
			}
			if !d.Done || d.NoChanges != tt.wantNoChanges {
				t.Errorf("got done %v noChanges %v, want true %v", d.Done, d.NoChanges, tt.wantNoChanges)
			}
			if d.ChangeSetType != tt.wantType {
				t.Errorf("got change set type %q, want %q", d.ChangeSetType, tt.wantType)
			}
			if !strings.Contains(d.ChangeSetID, ":changeSet/"+wantName+"/") {
				t.Errorf("got change set ID %q, want the ARN of %s", d.ChangeSetID, wantName)
			}
			if !strings.Contains(d.StackID, ":stack/hello-staging/") {
				t.Errorf("got stack ID %q, want the stack's ARN", d.StackID)
			}
			if !slices.Equal(d.Changes, tt.wantChanges) {
				t.Errorf("got changes %q, want %q", d.Changes, tt.wantChanges)
			}
			if !maps.Equal(d.Outputs, tt.wantOutputs) {
				t.Errorf("got outputs %v, want %v", d.Outputs, tt.wantOutputs)
			}
		})
	}
}

func TestCreateChangeSetInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name             string
		capabilities     []string
		wantCapabilities []types.Capability
		role             string
	}{
		{"default capabilities", nil, []types.Capability{types.CapabilityCapabilityIam, types.CapabilityCapabilityAutoExpand}, ""},
		{"environment's capabilities", []string{"CAPABILITY_NAMED_IAM"}, []types.Capability{types.CapabilityCapabilityNamedIam}, ""},
		{"service role", nil, []types.Capability{types.CapabilityCapabilityIam, types.CapabilityCapabilityAutoExpand}, "arn:aws:iam::123456789012:role/stackflow-cfn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeCFN()
			in := testInput()
			in.Action = pipeline.ActionCreateChangeSet
			in.Environment.Capabilities = tt.capabilities
			svc := newTestService(f)
			svc.roleARN = tt.role
			if _, err := svc.Handle(context.Background(), in); err != nil {
				t.Fatalf("create change set: %v", err)
			}
			if len(f.created) != 1 {
				t.Fatalf("got %d CreateChangeSet calls, want 1", len(f.created))
			}
			got := f.created[0]
			if n := aws.ToString(got.ChangeSetName); n != wantName {
				t.Errorf("got change set name %q, want %q", n, wantName)
			}
			if tok := aws.ToString(got.ClientToken); tok != wantName {
				t.Errorf("got client token %q, want %q", tok, wantName)
			}
			if r := aws.ToString(got.RoleARN); r != tt.role {
				t.Errorf("got role %q, want %q", r, tt.role)
			}
			if u := aws.ToString(got.TemplateURL); u != in.Package.TemplateURL {
				t.Errorf("got template URL %q, want %q", u, in.Package.TemplateURL)
			}
			if d := aws.ToString(got.Description); d != "stackflow acme/hello main 0123456" {
				t.Errorf("got description %q, want %q", d, "stackflow acme/hello main 0123456")
			}
			var params []string
			for _, p := range got.Parameters {
				params = append(params, aws.ToString(p.ParameterKey)+"="+aws.ToString(p.ParameterValue))
			}
			if want := []string{"LogLevel=debug", "Stage=staging"}; !slices.Equal(params, want) {
				t.Errorf("got parameters %q, want %q", params, want)
			}
			if !slices.Equal(got.Capabilities, tt.wantCapabilities) {
				t.Errorf("got capabilities %v, want %v", got.Capabilities, tt.wantCapabilities)
			}
			var tags []string
			for _, tg := range got.Tags {
				tags = append(tags, aws.ToString(tg.Key)+"="+aws.ToString(tg.Value))
			}
			wantTags := []string{
				"stackflow:branch=main",
				"stackflow:commit=0123456789abcdef0123456789abcdef01234567",
				"stackflow:environment=staging",
				"stackflow:repository=acme/hello",
				"team=payments",
			}
			if !slices.Equal(tags, wantTags) {
				t.Errorf("got tags %q, want %q", tags, wantTags)
			}
		})
	}
}

func TestServiceRole(t *testing.T) {
	t.Parallel()
	const (
		pipelineRole = "arn:aws:iam::111111111111:role/stackflow-cfn"
		envRole      = "arn:aws:iam::222222222222:role/deploy"
		envCFNRole   = "arn:aws:iam::222222222222:role/cfn"
	)
	tests := []struct {
		name                           string
		pipelineRole, envRole, cfnRole string
		want                           string
	}{
		{name: "none at all"},
		{name: "the pipeline's", pipelineRole: pipelineRole, want: pipelineRole},
		{name: "the environment's wins", pipelineRole: pipelineRole, cfnRole: envCFNRole, want: envCFNRole},
		{name: "the environment's in its own account", pipelineRole: pipelineRole, envRole: envRole, cfnRole: envCFNRole, want: envCFNRole},
		// The pipeline's role is in the pipeline's account: it cannot be
		// passed in another.
		{name: "another account without one", pipelineRole: pipelineRole, envRole: envRole, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeCFN()
			svc := newTestService(f)
			svc.roleARN = tt.pipelineRole
			in := testInput()
			in.Action = pipeline.ActionCreateChangeSet
			in.Environment.RoleARN, in.Environment.CloudFormationRoleARN = tt.envRole, tt.cfnRole
			if _, err := svc.Handle(context.Background(), in); err != nil {
				t.Fatalf("create change set: %v", err)
			}
			if got := aws.ToString(f.created[0].RoleARN); got != tt.want {
				t.Errorf("got RoleARN %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRetriedCallsAreHarmless(t *testing.T) {
	t.Parallel()
	f := newFakeCFN()
	f.changes = []types.Change{add("ApiFunction", "AWS::Lambda::Function")}
	svc := newTestService(f)
	ctx := context.Background()
	in := testInput()

	in.Action = pipeline.ActionCreateChangeSet
	first, err := svc.Handle(ctx, in)
	if err != nil {
		t.Fatalf("create change set: %v", err)
	}
	again, err := svc.Handle(ctx, in)
	if err != nil {
		t.Fatalf("create change set again: %v", err)
	}
	if again.ChangeSetID != first.ChangeSetID || again.ChangeSetType != "CREATE" {
		t.Errorf("got change set %s (%s) on retry, want %s (CREATE)", again.ChangeSetID, again.ChangeSetType, first.ChangeSetID)
	}

	in.Deployment = first
	in.Action = pipeline.ActionDescribeChangeSet
	for d := first; !d.Done; {
		if d, err = svc.Handle(ctx, in); err != nil {
			t.Fatalf("describe change set: %v", err)
		}
		in.Deployment = d
	}
	in.Action = pipeline.ActionExecuteChangeSet
	for i := range 2 {
		if _, err := svc.Handle(ctx, in); err != nil {
			t.Fatalf("execute change set, call %d: %v", i+1, err)
		}
	}
	if len(f.executed) != 2 || aws.ToString(f.executed[1].ClientRequestToken) != wantName {
		t.Errorf("got %d ExecuteChangeSet calls, want 2 with client request token %s", len(f.executed), wantName)
	}
}

func TestThrottled(t *testing.T) {
	t.Parallel()
	tests := []struct {
		op     string
		action pipeline.DeployAction
	}{
		{"DescribeStacks", pipeline.ActionCreateChangeSet},
		{"CreateChangeSet", pipeline.ActionCreateChangeSet},
		{"DescribeStacks", pipeline.ActionDescribeStack},
	}
	for _, tt := range tests {
		t.Run(string(tt.action)+" "+tt.op, func(t *testing.T) {
			t.Parallel()
			f := newFakeCFN()
			st := f.seedStack("hello-staging", types.StackStatusUpdateComplete, nil)
			f.throttle = tt.op
			in := testInput()
			in.Action = tt.action
			in.Deployment = pipeline.Deployment{Stack: st.name, StackID: st.id}
			_, err := newTestService(f).Handle(context.Background(), in)
			th, ok := err.(*pipeline.Throttled)
			if !ok {
				t.Fatalf("got error %T %v, want *pipeline.Throttled", err, err)
			}
			if !strings.Contains(th.Operation, "hello-staging") {
				t.Errorf("got operation %q, want it to name the stack", th.Operation)
			}
		})
	}
}

func TestStackDeletedWhileDeploying(t *testing.T) {
	t.Parallel()
	f := newFakeCFN()
	st := f.seedStack("hello-staging", types.StackStatusDeleteComplete, nil)
	in := testInput()
	in.Action = pipeline.ActionDescribeStack
	in.Deployment = pipeline.Deployment{Stack: st.name, StackID: st.id, StartedAt: f.clock.Now().Format(timeFormat)}
	_, err := newTestService(f).Handle(context.Background(), in)
	sf, ok := err.(*pipeline.StackDeployFailed)
	if !ok {
		t.Fatalf("got error %T %v, want *pipeline.StackDeployFailed", err, err)
	}
	if sf.Status != "DELETE_COMPLETE" || !strings.Contains(sf.Reason, "deleted") {
		t.Errorf("got status %q reason %q, want DELETE_COMPLETE and a reason saying it was deleted", sf.Status, sf.Reason)
	}
}

func TestClientsByRegionAndRole(t *testing.T) {
	t.Parallel()
	const role = "arn:aws:iam::222222222222:role/deploy"
	tests := []struct {
		name, region, role, want string
	}{
		{"pipeline's own region", "", "", "us-east-1 as the pipeline"},
		{"same region named", "us-east-1", "", "us-east-1 as the pipeline"},
		{"other region", "eu-west-1", "", "eu-west-1 as the pipeline"},
		{"the environment's role", "", role, "us-east-1 as " + role},
		{"the environment's role in another region", "eu-west-1", role, "eu-west-1 as " + role},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeCFN()
			var clients []string
			svc := newService("us-east-1", func(r, role string) cfnAPI {
				if role == "" {
					role = "the pipeline"
				}
				clients = append(clients, r+" as "+role)
				return f
			}, f.clock.Now)
			in := testInput()
			in.Action = pipeline.ActionCreateChangeSet
			in.Environment.Region = tt.region
			in.Environment.RoleARN = tt.role
			for range 2 {
				if _, err := svc.Handle(context.Background(), in); err != nil {
					t.Fatalf("create change set: %v", err)
				}
			}
			if want := []string{tt.want}; !slices.Equal(clients, want) {
				t.Errorf("got clients built for %q, want %q (one, reused)", clients, want)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		modify func(*pipeline.DeployInput)
		want   string
	}{
		{"unknown action", func(in *pipeline.DeployInput) { in.Action = "launch" }, `unknown action "launch"`},
		{"no stack", func(in *pipeline.DeployInput) { in.Action = pipeline.ActionCreateChangeSet; in.Environment.Stack = "" }, "no stack name"},
		{"no template", func(in *pipeline.DeployInput) {
			in.Action = pipeline.ActionCreateChangeSet
			in.Package.TemplateURL = ""
		}, "no template URL"},
		{"no change set", func(in *pipeline.DeployInput) { in.Action = pipeline.ActionDescribeChangeSet }, "no change set ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := testInput()
			tt.modify(&in)
			_, err := newTestService(newFakeCFN()).Handle(context.Background(), in)
			ue, ok := err.(*pipeline.UnexpectedError)
			if !ok {
				t.Fatalf("got error %T %v, want *pipeline.UnexpectedError", err, err)
			}
			if !strings.Contains(ue.Message, tt.want) {
				t.Errorf("got message %q, want it to contain %q", ue.Message, tt.want)
			}
		})
	}
}

func TestChangeSetName(t *testing.T) {
	t.Parallel()
	valid := regexp.MustCompile(`^[a-zA-Z][-a-zA-Z0-9]{0,127}$`)
	tests := []struct {
		name      string
		run       pipeline.Run
		execution string
		want      string
	}{
		{"commit and execution", testRun, testExecution, wantName},
		{"other execution of the same commit", testRun, testExecution + "-2", ""},
		{"short commit", pipeline.Run{Commit: "ab"}, testExecution, "stackflow-ab-2e2970e1"},
		{"no commit", pipeline.Run{}, testExecution, "stackflow-commit-2e2970e1"},
		{"odd characters", pipeline.Run{Commit: "a_b.c/d"}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := changeSetName(tt.run, tt.execution)
			if !valid.MatchString(got) {
				t.Errorf("got %q, want a valid change set name", got)
			}
			if tt.want != "" && got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if tt.want == "" && got == wantName {
				t.Errorf("got %q, want a name other than %q", got, wantName)
			}
		})
	}
}

func TestChangeLinesAreBounded(t *testing.T) {
	t.Parallel()
	var changes []types.Change
	for i := range maxChangeLines + 5 {
		changes = append(changes, add(fmt.Sprintf("Fn%d", i), "AWS::Lambda::Function"))
	}
	lines := changeLines(changes)
	if len(lines) != maxChangeLines+1 {
		t.Fatalf("got %d lines, want %d", len(lines), maxChangeLines+1)
	}
	if last := lines[len(lines)-1]; last != "... and 5 more" {
		t.Errorf("got last line %q, want %q", last, "... and 5 more")
	}
	if got := countChanges(changes); got != fmt.Sprintf("%d to add", maxChangeLines+5) {
		t.Errorf("got %q, want %q", got, fmt.Sprintf("%d to add", maxChangeLines+5))
	}
}
