package cfn

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stackflow/stackflow/internal/testaws"
)

const storeV1 = `
AWSTemplateFormatVersion: "2010-09-09"
Description: a store
Parameters:
  Greeting:
    Type: String
    Default: hello
Resources:
  Files:
    Type: AWS::S3::Bucket
  Items:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
  Setting:
    Type: AWS::SSM::Parameter
    Properties:
      Type: String
      Value: !Sub "${Greeting} from ${Files}"
  Logs:
    Type: AWS::Logs::LogGroup
Outputs:
  FilesName:
    Value: !Ref Files
  Setting:
    Value: !GetAtt Setting.Value
`

// storeV2 changes the parameter's value (Modify), renames the bucket
// (replacement), drops the log group (Remove) and adds a secret (Add).
const storeV2 = `
AWSTemplateFormatVersion: "2010-09-09"
Description: a store
Parameters:
  Greeting:
    Type: String
    Default: hello
Resources:
  Files:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: store-files-v2
  Items:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
  Setting:
    Type: AWS::SSM::Parameter
    Properties:
      Type: String
      Value: !Sub "${Greeting} again from ${Files}"
  Token:
    Type: AWS::SecretsManager::Secret
    Properties:
      GenerateSecretString:
        PasswordLength: 20
Outputs:
  FilesName:
    Value: !Ref Files
  Setting:
    Value: !GetAtt Setting.Value
`

func TestChangeSetsCreateUpdateNoChangeAndDelete(t *testing.T) {
	t.Parallel()
	en := setup(t)
	ctx := context.Background()

	// Create.
	cs := en.changeSet("store", "create", "CREATE", storeV1, nil)
	if got, want := changesOf(cs), []string{
		"Add Files AWS::S3::Bucket", "Add Items AWS::DynamoDB::Table", "Add Setting AWS::SSM::Parameter", "Add Logs AWS::Logs::LogGroup",
	}; !reflect.DeepEqual(got, want) {
		t.Errorf("create changes: got %q, want %q", got, want)
	}
	if cs.ExecutionStatus != cfntypes.ExecutionStatusAvailable {
		t.Errorf("got execution status %s, want AVAILABLE", cs.ExecutionStatus)
	}
	review, err := en.cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("store")})
	if err != nil {
		t.Fatal(err)
	}
	if got := review.Stacks[0].StackStatus; got != cfntypes.StackStatusReviewInProgress {
		t.Errorf("before execution: got %s, want REVIEW_IN_PROGRESS", got)
	}
	st := en.execute(cs)
	if st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("got %s (%s), want CREATE_COMPLETE", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	files := outputsOf(st)["FilesName"]
	if !strings.HasPrefix(files, "store-files-") || strings.ToLower(files) != files {
		t.Errorf("got bucket name %q, want store-files-<random> in lower case", files)
	}
	if got, want := outputsOf(st)["Setting"], "hello from "+files; got != want {
		t.Errorf("got Setting %q, want %q", got, want)
	}
	if _, err := en.s3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(files)}); err != nil {
		t.Errorf("the bucket is not in the local S3: %v", err)
	}

	// Update.
	cs = en.changeSet("store", "update", "UPDATE", storeV2, nil)
	if got, want := changesOf(cs), []string{
		"Modify Files AWS::S3::Bucket True", "Modify Setting AWS::SSM::Parameter False", "Add Token AWS::SecretsManager::Secret", "Remove Logs AWS::Logs::LogGroup",
	}; !reflect.DeepEqual(got, want) {
		t.Errorf("update changes: got %q, want %q", got, want)
	}
	st = en.execute(cs)
	if st.StackStatus != cfntypes.StackStatusUpdateComplete {
		t.Fatalf("got %s (%s), want UPDATE_COMPLETE", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	if got, want := outputsOf(st), map[string]string{"FilesName": "store-files-v2", "Setting": "hello again from store-files-v2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got outputs %v, want %v", got, want)
	}
	if _, err := en.s3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(files)}); err == nil {
		t.Errorf("the replaced bucket %s is still in the local S3", files)
	}
	var statuses []string
	for _, ev := range en.events("store") {
		if aws.ToString(ev.LogicalResourceId) == "store" {
			statuses = append(statuses, string(ev.ResourceStatus))
		}
	}
	if want := []string{"REVIEW_IN_PROGRESS", "CREATE_IN_PROGRESS", "CREATE_COMPLETE", "UPDATE_IN_PROGRESS",
		"UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_COMPLETE"}; !reflect.DeepEqual(statuses, want) {
		t.Errorf("got stack statuses %v, want %v", statuses, want)
	}

	// No change.
	cs = en.changeSet("store", "again", "UPDATE", storeV2, nil)
	if cs.Status != cfntypes.ChangeSetStatusFailed || aws.ToString(cs.StatusReason) != emptyChangeSet {
		t.Errorf("got %s %q, want FAILED %q", cs.Status, aws.ToString(cs.StatusReason), emptyChangeSet)
	}
	if cs.ExecutionStatus != cfntypes.ExecutionStatusUnavailable {
		t.Errorf("got execution status %s, want UNAVAILABLE", cs.ExecutionStatus)
	}
	if _, err := en.cfn.ExecuteChangeSet(ctx, &cloudformation.ExecuteChangeSetInput{ChangeSetName: cs.ChangeSetId}); err == nil {
		t.Error("executing an empty change set: got nil, want an error")
	} else if code, _ := apiCode(err); code != "InvalidChangeSetStatus" {
		t.Errorf("got error code %q, want InvalidChangeSetStatus", code)
	}
	if _, err := en.cfn.DeleteChangeSet(ctx, &cloudformation.DeleteChangeSetInput{ChangeSetName: cs.ChangeSetId}); err != nil {
		t.Errorf("delete the empty change set: %v", err)
	}
	if _, err := en.cfn.DescribeChangeSet(ctx, &cloudformation.DescribeChangeSetInput{ChangeSetName: cs.ChangeSetId}); err == nil {
		t.Error("describe a deleted change set: got nil, want ChangeSetNotFound")
	} else if code, _ := apiCode(err); code != "ChangeSetNotFound" {
		t.Errorf("got error code %q, want ChangeSetNotFound", code)
	}

	// Delete.
	table := physicalOf(t, en, "store", "Items")
	id := aws.ToString(st.StackId)
	if _, err := en.cfn.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String("store")}); err != nil {
		t.Fatal(err)
	}
	st = en.waitStack(id)
	if st.StackStatus != cfntypes.StackStatusDeleteComplete {
		t.Fatalf("got %s, want DELETE_COMPLETE", st.StackStatus)
	}
	_, err = en.cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("store")})
	if code, msg := apiCode(err); code != "ValidationError" || msg != "Stack with id store does not exist" {
		t.Errorf("describe a deleted stack by name: got %q %q, want ValidationError \"Stack with id store does not exist\"", code, msg)
	}
	if _, err := en.s3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("store-files-v2")}); err == nil {
		t.Error("the stack's bucket is still in the local S3 after the delete")
	}
	if _, err := dynamodb.NewFromConfig(en.cfg).DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}); err == nil {
		t.Errorf("the stack's table %s is still in the local DynamoDB after the delete", table)
	}
}

func TestOutputsWithRefGetAttAndSub(t *testing.T) {
	t.Parallel()
	en := setup(t)
	body := `
Parameters:
  Env:
    Type: String
    Default: staging
Mappings:
  Sizes:
    staging: {Memory: "256"}
Resources:
  Data:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub "${AWS::StackName}-${Env}-data"
  Table:
    Type: AWS::Serverless::SimpleTable
  Secret:
    Type: AWS::SecretsManager::Secret
    Properties:
      SecretString: s3cr3t
Outputs:
  Bucket: {Value: !Ref Data}
  BucketArn: {Value: !GetAtt Data.Arn}
  Domain: {Value: !GetAtt [Data, RegionalDomainName]}
  Url: {Value: !Sub "https://${Data.RegionalDomainName}/${Env}?r=${AWS::Region}&a=${AWS::AccountId}&p=${AWS::Partition}&s=${AWS::URLSuffix}"}
  Vars: {Value: !Sub ["${A}-${B}-${!Literal}", {A: !Ref Env, B: !FindInMap [Sizes, !Ref Env, Memory]}]}
  Joined: {Value: !Join [",", [!Select [1, !Split ["/", "a/b/c"]], !Base64 "hi", !Select [0, !GetAZs ""]]]}
  TableName: {Value: !Ref Table}
  TableArn: {Value: !GetAtt Table.Arn}
  SecretArn: {Value: !Ref Secret}
  StackId: {Value: !Ref "AWS::StackId"}
Transform: AWS::Serverless-2016-10-31
`
	// The stack's name makes the bucket's: unique, as kumo is shared.
	stack := testaws.Name("outs")
	st := en.deploy(stack, "create", "CREATE", body, nil)
	if st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("got %s (%s), want CREATE_COMPLETE", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	out := outputsOf(st)
	tests := []struct {
		key, want string
		prefix    bool
	}{
		{"Bucket", stack + "-staging-data", false},
		{"BucketArn", "arn:aws:s3:::" + stack + "-staging-data", false},
		{"Domain", stack + "-staging-data.s3.us-east-1.amazonaws.com", false},
		{"Url", "https://" + stack + "-staging-data.s3.us-east-1.amazonaws.com/staging?r=us-east-1&a=000000000000&p=aws&s=amazonaws.com", false},
		{"Vars", "staging-256-${Literal}", false},
		{"Joined", "b,aGk=,us-east-1a", false},
		{"TableName", stack + "-Table-", true},
		{"TableArn", "arn:aws:dynamodb:", true},
		{"SecretArn", "arn:aws:secretsmanager:", true},
		{"StackId", "arn:aws:cloudformation:us-east-1:000000000000:stack/" + stack + "/", true},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			got, ok := out[tt.key]
			if !ok || (tt.prefix && !strings.HasPrefix(got, tt.want)) || (!tt.prefix && got != tt.want) {
				t.Errorf("got %q, want %q (prefix %v)", got, tt.want, tt.prefix)
			}
		})
	}
}

func TestParameters(t *testing.T) {
	t.Parallel()
	en := setup(t)
	body := `
Parameters:
  Name:
    Type: String
    Default: alpha
    AllowedPattern: "[a-z]+"
  Size:
    Type: Number
    Default: "10"
    MinValue: "1"
    MaxValue: "100"
  Color:
    Type: String
    AllowedValues: [red, green]
    Default: red
  Code:
    Type: String
    MinLength: "2"
    MaxLength: "4"
    Default: ab
  Zones:
    Type: CommaDelimitedList
    Default: "a, b"
  Password:
    Type: String
    NoEcho: true
    Default: hunter2
  Shouty:
    Type: String
    Default: OK
    AllowedPattern: "[A-Z]+"
    ConstraintDescription: must be upper case
Resources:
  P:
    Type: AWS::SSM::Parameter
    Properties:
      Type: String
      Value: !Sub
        - "${Name}-${Size}-${Color}-${Code}-${Z}"
        - Z: !Join [":", !Ref Zones]
Outputs:
  Value: {Value: !GetAtt P.Value}
`
	t.Run("defaults", func(t *testing.T) {
		st := en.deploy("params-defaults", "create", "CREATE", body, nil)
		if got, want := outputsOf(st)["Value"], "alpha-10-red-ab-a:b"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
		if got := paramsOf(st)["Password"]; got != "****" {
			t.Errorf("got NoEcho parameter %q, want ****", got)
		}
	})
	t.Run("overrides", func(t *testing.T) {
		st := en.deploy("params-given", "create", "CREATE", body, map[string]string{"Name": "beta", "Size": "99", "Color": "green", "Code": "abcd", "Zones": "x,y,z"})
		if got, want := outputsOf(st)["Value"], "beta-99-green-abcd-x:y:z"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
		if got, want := paramsOf(st)["Name"], "beta"; got != want {
			t.Errorf("got parameter Name %q, want %q", got, want)
		}
	})
	tests := []struct {
		name   string
		params map[string]string
		want   string
	}{
		{"pattern", map[string]string{"Name": "Beta"}, "Parameter 'Name' must match pattern [a-z]+"},
		{"not a number", map[string]string{"Size": "ten"}, "Parameter 'Size' must be a number."},
		{"too small", map[string]string{"Size": "0"}, "Parameter 'Size' must be a number not less than 1"},
		{"too big", map[string]string{"Size": "101"}, "Parameter 'Size' must be a number not greater than 100"},
		{"allowed values", map[string]string{"Color": "blue"}, "Parameter 'Color' must be one of AllowedValues"},
		{"too short", map[string]string{"Code": "a"}, "Parameter 'Code' must contain at least 2 characters"},
		{"too long", map[string]string{"Code": "abcde"}, "Parameter 'Code' must contain at most 4 characters"},
		{"constraint description", map[string]string{"Shouty": "no"}, "Parameter 'Shouty' failed to satisfy constraint: must be upper case"},
		{"unknown", map[string]string{"Nope": "x"}, "Parameters: [Nope] do not exist in the template"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := en.createChangeSet("params-bad", "create", "CREATE", body, tt.params)
			code, msg := apiCode(err)
			if code != "ValidationError" || msg != tt.want {
				t.Errorf("got %q %q, want ValidationError %q", code, msg, tt.want)
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		_, err := en.createChangeSet("params-missing", "create", "CREATE", "Parameters: {A: {Type: String}, B: {Type: String}}\nResources: {L: {Type: AWS::Logs::LogGroup}}", nil)
		if code, msg := apiCode(err); code != "ValidationError" || msg != "Parameters: [A, B] must have values" {
			t.Errorf("got %q %q, want ValidationError \"Parameters: [A, B] must have values\"", code, msg)
		}
	})
	t.Run("use previous value", func(t *testing.T) {
		in := &cloudformation.CreateChangeSetInput{
			StackName: aws.String("params-given"), ChangeSetName: aws.String("again"), ChangeSetType: cfntypes.ChangeSetTypeUpdate,
			TemplateBody: aws.String(strings.Replace(body, "Outputs:", "Outputs:\n  Extra: {Value: x}", 1)),
			Parameters: []cfntypes.Parameter{
				{ParameterKey: aws.String("Name"), UsePreviousValue: aws.Bool(true)},
				{ParameterKey: aws.String("Size"), UsePreviousValue: aws.Bool(true)},
				{ParameterKey: aws.String("Color"), UsePreviousValue: aws.Bool(true)},
				{ParameterKey: aws.String("Code"), UsePreviousValue: aws.Bool(true)},
				{ParameterKey: aws.String("Zones"), UsePreviousValue: aws.Bool(true)},
			},
		}
		out, err := en.cfn.CreateChangeSet(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		st := en.execute(en.waitChangeSet(aws.ToString(out.Id)))
		if got, want := outputsOf(st)["Value"], "beta-99-green-abcd-x:y:z"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
}

func TestConditions(t *testing.T) {
	t.Parallel()
	en := setup(t)
	body := `
Parameters:
  Env: {Type: String}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  NotProd: !Not [{Condition: IsProd}]
  ProdOrStaging: !Or [{Condition: IsProd}, !Equals [!Ref Env, staging]]
  Both: !And [{Condition: NotProd}, {Condition: ProdOrStaging}]
Resources:
  Always:
    Type: AWS::SSM::Parameter
    Properties:
      Type: String
      Value: !If [IsProd, big, small]
      Description: !If [IsProd, !Ref "AWS::NoValue", not prod]
  ProdOnly:
    Type: AWS::Logs::LogGroup
    Condition: IsProd
  StagingOnly:
    Type: AWS::Logs::LogGroup
    Condition: Both
Outputs:
  Size: {Value: !GetAtt Always.Value}
  Prod: {Value: !Ref ProdOnly, Condition: IsProd}
  Staging: {Value: !Ref StagingOnly, Condition: Both}
`
	tests := []struct {
		env     string
		changes []string
		outputs []string
		size    string
	}{
		{"prod", []string{"Add Always AWS::SSM::Parameter", "Add ProdOnly AWS::Logs::LogGroup"}, []string{"Prod", "Size"}, "big"},
		{"staging", []string{"Add Always AWS::SSM::Parameter", "Add StagingOnly AWS::Logs::LogGroup"}, []string{"Size", "Staging"}, "small"},
		{"dev", []string{"Add Always AWS::SSM::Parameter"}, []string{"Size"}, "small"},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			cs := en.changeSet("cond-"+tt.env, "create", "CREATE", body, map[string]string{"Env": tt.env})
			if got := changesOf(cs); !reflect.DeepEqual(got, tt.changes) {
				t.Errorf("got changes %q, want %q", got, tt.changes)
			}
			st := en.execute(cs)
			out := outputsOf(st)
			var keys []string
			for k := range out {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if !reflect.DeepEqual(keys, tt.outputs) {
				t.Errorf("got outputs %v, want %v", keys, tt.outputs)
			}
			if out["Size"] != tt.size {
				t.Errorf("got Size %q, want %q", out["Size"], tt.size)
			}
		})
	}
}

func TestCreateFailureRollsBack(t *testing.T) {
	t.Parallel()
	en := setup(t)
	ctx := context.Background()
	tests := []struct {
		name, body, failed, reason string
	}{
		{
			name: "unsupported type",
			body: `
Resources:
  Files: {Type: AWS::S3::Bucket}
  Stream:
    Type: AWS::Kinesis::Stream
    DependsOn: Files
    Properties: {ShardCount: 1}
`,
			failed: "Stream",
			reason: "Resource type AWS::Kinesis::Stream is not supported by stackflow's local engine",
		},
		{
			name: "invalid bucket name",
			body: `
Resources:
  Files: {Type: AWS::S3::Bucket}
  Bad:
    Type: AWS::S3::Bucket
    DependsOn: Files
    Properties: {BucketName: Not_A_Valid_Bucket}
`,
			failed: "Bad",
			reason: "The specified bucket is not valid",
		},
		{
			name: "the local AWS refuses",
			body: `
Resources:
  Files: {Type: AWS::S3::Bucket}
  Taken:
    Type: AWS::S3::Bucket
    DependsOn: Files
    Properties: {BucketName: artifacts-bucket}
`,
			failed: "Taken",
			reason: "you already own it. (Service: S3, Status Code: 409, Error Code: BucketAlreadyOwnedByYou)",
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := fmt.Sprintf("broken-%d", i)
			body := strings.ReplaceAll(tt.body, "artifacts-bucket", en.bucket)
			st := en.deploy(name, "create", "CREATE", body, nil)
			if st.StackStatus != cfntypes.StackStatusRollbackComplete {
				t.Fatalf("got %s, want ROLLBACK_COMPLETE", st.StackStatus)
			}
			var failed *cfntypes.StackEvent
			var files string
			var statuses []string
			for _, ev := range en.events(name) {
				if ev.ResourceStatus == cfntypes.ResourceStatusCreateFailed {
					failed = &ev
				}
				if aws.ToString(ev.LogicalResourceId) == "Files" && ev.ResourceStatus == cfntypes.ResourceStatusCreateComplete {
					files = aws.ToString(ev.PhysicalResourceId)
				}
				if aws.ToString(ev.LogicalResourceId) == name {
					statuses = append(statuses, string(ev.ResourceStatus))
				}
			}
			if failed == nil || aws.ToString(failed.LogicalResourceId) != tt.failed || !strings.Contains(aws.ToString(failed.ResourceStatusReason), tt.reason) {
				t.Errorf("got failure %+v, want %s failing with %q", failed, tt.failed, tt.reason)
			}
			if want := []string{"REVIEW_IN_PROGRESS", "CREATE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE"}; !reflect.DeepEqual(statuses, want) {
				t.Errorf("got stack statuses %v, want %v", statuses, want)
			}
			if files == "" {
				t.Fatal("the bucket made before the failure has no CREATE_COMPLETE event")
			}
			if _, err := en.s3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(files)}); err == nil {
				t.Errorf("the bucket %s made before the failure was not deleted", files)
			}
			_, err := en.createChangeSet(name, "update", "UPDATE", body, nil)
			want := "Stack:" + aws.ToString(st.StackId) + " is in ROLLBACK_COMPLETE state and can not be updated."
			if code, msg := apiCode(err); code != "ValidationError" || msg != want {
				t.Errorf("update after the rollback: got %q %q, want ValidationError %q", code, msg, want)
			}
		})
	}
}

func TestUpdateFailureRollsBackToThePreviousRelease(t *testing.T) {
	t.Parallel()
	en := setup(t)
	v1 := `
Resources:
  Setting:
    Type: AWS::SSM::Parameter
    Properties: {Type: String, Value: one}
Outputs:
  Value: {Value: !GetAtt Setting.Value}
`
	v2 := `
Resources:
  Setting:
    Type: AWS::SSM::Parameter
    Properties: {Type: String, Value: two}
  Bad:
    Type: AWS::S3::Bucket
    DependsOn: Setting
    Properties: {BucketName: Not_Valid}
Outputs:
  Value: {Value: !GetAtt Setting.Value}
  More: {Value: !Ref Bad}
`
	st := en.deploy("rel", "v1", "CREATE", v1, nil)
	if st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("got %s, want CREATE_COMPLETE", st.StackStatus)
	}
	st = en.deploy("rel", "v2", "UPDATE", v2, nil)
	if st.StackStatus != cfntypes.StackStatusUpdateRollbackComplete {
		t.Fatalf("got %s, want UPDATE_ROLLBACK_COMPLETE", st.StackStatus)
	}
	if got, want := outputsOf(st), map[string]string{"Value": "one"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got outputs %v, want the previous ones %v", got, want)
	}
	if !strings.Contains(aws.ToString(st.StackStatusReason), "The following resource(s) failed to create: [Bad]") {
		t.Errorf("got reason %q, want it to name Bad", aws.ToString(st.StackStatusReason))
	}
	got, err := en.engine.ssm.GetParameter(context.Background(), physicalOf(t, en, "rel", "Setting"))
	if err != nil {
		t.Fatal(err)
	}
	if got != "one" {
		t.Errorf("got the parameter's value %q after the rollback, want %q", got, "one")
	}
	tmpl, err := en.cfn.GetTemplate(context.Background(), &cloudformation.GetTemplateInput{StackName: aws.String("rel")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(tmpl.TemplateBody) != v1 {
		t.Errorf("got template %q, want the previous one", aws.ToString(tmpl.TemplateBody))
	}
	// The stack can be updated again after an update rollback.
	st = en.deploy("rel", "v3", "UPDATE", strings.Replace(v1, "one", "three", 1), nil)
	if st.StackStatus != cfntypes.StackStatusUpdateComplete || outputsOf(st)["Value"] != "three" {
		t.Errorf("got %s %v, want UPDATE_COMPLETE with Value three", st.StackStatus, outputsOf(st))
	}
}

// physicalOf returns a resource's physical ID.
func physicalOf(t *testing.T, en *env, stack, logical string) string {
	t.Helper()
	out, err := en.cfn.DescribeStackResources(context.Background(), &cloudformation.DescribeStackResourcesInput{StackName: aws.String(stack), LogicalResourceId: aws.String(logical)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.StackResources) != 1 {
		t.Fatalf("got %d resources named %s, want 1", len(out.StackResources), logical)
	}
	return aws.ToString(out.StackResources[0].PhysicalResourceId)
}
