package cfn

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"

	localiam "github.com/stackflow/stackflow/internal/local/iam"
)

// asRoleApp is a function and its execution role, made by a stack's
// service role.
const asRoleApp = `
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]}
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Code: {S3Bucket: placeholder-bucket, S3Key: placeholder-key}
      Runtime: provided.al2023
      Handler: bootstrap
      Role: !GetAtt Role.Arn
Outputs:
  Function: {Value: !Ref Fn}
`

// serviceRole is a stack's service role in auth, trusting CloudFormation,
// that may do actions on any resource.
func serviceRole(t *testing.T, auth *localiam.Authority, name string, actions ...string) string {
	t.Helper()
	arn := "arn:aws:iam::" + DefaultAccountID + ":role/" + name
	list, _ := json.Marshal(actions)
	auth.PutRole(&localiam.Role{ARN: arn, Name: name, ID: "AROA" + strings.ToUpper(name), Trust: mustParse(t, `{"Statement":{"Effect":"Allow","Principal":{"Service":"cloudformation.amazonaws.com"},"Action":"sts:AssumeRole"}}`),
		Inline: map[string]*localiam.Policy{"deploy": mustParse(t, `{"Statement":{"Effect":"Allow","Action":`+string(list)+`,"Resource":"*"}}`)}})
	return arn
}

// deployAs runs a change set of body on stack with the service role.
func (en *env) deployAs(stack, name, typ, body, role string) cfntypes.Stack {
	en.t.Helper()
	out, err := en.cfn.CreateChangeSet(context.Background(), &cloudformation.CreateChangeSetInput{
		StackName: aws.String(stack), ChangeSetName: aws.String(name), ChangeSetType: cfntypes.ChangeSetType(typ),
		TemplateBody: aws.String(body), RoleARN: aws.String(role), Capabilities: iam,
	})
	if err != nil {
		en.t.Fatal(err)
	}
	return en.execute(en.waitChangeSet(aws.ToString(out.Id)))
}

// invokeVersion invokes a function through the local Lambda and returns
// the version of the test handler that answered.
func invokeVersion(t *testing.T, en *env, fn string) string {
	t.Helper()
	out, err := awslambda.NewFromConfig(en.cfg).Invoke(context.Background(), &awslambda.InvokeInput{FunctionName: aws.String(fn), Payload: []byte(`{"rawPath":"/"}`)})
	if err != nil {
		t.Fatalf("invoke %s: %v", fn, err)
	}
	var resp struct{ Body string }
	if err := json.Unmarshal(out.Payload, &resp); err != nil {
		t.Fatalf("invoke %s: %v (%s)", fn, err, out.Payload)
	}
	v, _, _ := strings.Cut(resp.Body, " ")
	return v
}

// failure is the reason of the resource's event in status, "" when there
// is none.
func failure(en *env, stack, logical string, status cfntypes.ResourceStatus) string {
	for _, ev := range en.events(stack) {
		if aws.ToString(ev.LogicalResourceId) == logical && ev.ResourceStatus == status {
			return aws.ToString(ev.ResourceStatusReason)
		}
	}
	return ""
}

// TestAServiceRoleWithoutAnUpdatePermissionRollsTheUpdateBack: a service
// role that may make and configure a function but not update its code
// fails the update of the function's code with Lambda's AccessDenied,
// before anything changed: the stack rolls back and the function still
// runs the previous code; with lambda:UpdateFunctionCode the update runs.
func TestAServiceRoleWithoutAnUpdatePermissionRollsTheUpdateBack(t *testing.T) {
	t.Parallel()
	auth := localiam.NewAuthority(localiam.Options{Account: DefaultAccountID, Region: "us-east-1"})
	en := setupWith(t, func(o *Options) { o.IAM = auth })
	actions := []string{"iam:CreateRole", "iam:DeleteRole", "iam:ListAttachedRolePolicies", "iam:ListRolePolicies", "iam:PassRole",
		"lambda:CreateFunction", "lambda:DeleteFunction", "lambda:UpdateFunctionConfiguration", "s3:GetObject"}
	role := serviceRole(t, auth, "updater", actions...)
	app := func(version string) string {
		code := en.put("code/as-role-"+version+".zip", handlerZip[version])
		bucket, key, _ := strings.Cut(strings.TrimPrefix(code, "s3://"), "/")
		return strings.NewReplacer("placeholder-bucket", bucket, "placeholder-key", key).Replace(asRoleApp)
	}
	st := en.deployAs("updated", "v1", "CREATE", app("v1"), role)
	if st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("create: got %s (%s), want CREATE_COMPLETE", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	fn := outputsOf(st)["Function"]

	st = en.deployAs("updated", "v2", "UPDATE", app("v2"), role)
	if st.StackStatus != cfntypes.StackStatusUpdateRollbackComplete {
		t.Fatalf("update without lambda:UpdateFunctionCode: got %s (%s), want UPDATE_ROLLBACK_COMPLETE", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	reason := failure(en, "updated", "Fn", cfntypes.ResourceStatusUpdateFailed)
	want := `Resource handler returned message: "User: arn:aws:sts::` + DefaultAccountID + `:assumed-role/updater/AWSCloudFormation is not authorized to perform: lambda:UpdateFunctionCode on resource: arn:aws:lambda:us-east-1:` + DefaultAccountID + `:function:` + fn +
		` because no identity-based policy allows the lambda:UpdateFunctionCode action (Service: Lambda, Status Code: 403, Request ID: `
	if !strings.HasPrefix(reason, want) || !strings.HasSuffix(reason, ", HandlerErrorCode: AccessDenied)") {
		t.Errorf("got the function's UPDATE_FAILED reason %q, want it to start %q", reason, want)
	}
	if got := invokeVersion(t, en, fn); got != "v1" {
		t.Errorf("after the rollback the function runs %s, want v1", got)
	}

	serviceRole(t, auth, "updater", append(actions, "lambda:UpdateFunctionCode")...)
	if st := en.deployAs("updated", "v2-again", "UPDATE", app("v2"), role); st.StackStatus != cfntypes.StackStatusUpdateComplete {
		t.Fatalf("update with lambda:UpdateFunctionCode: got %s (%s), want UPDATE_COMPLETE", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	if got := invokeVersion(t, en, fn); got != "v2" {
		t.Errorf("after the update the function runs %s, want v2", got)
	}
}

// TestAServiceRoleMissingTheSecondCreatePermissionMakesNothing: a
// function's create needs lambda:CreateFunction and iam:PassRole of its
// role; a service role with the first only fails the create, naming
// iam:PassRole, and no function was made.
func TestAServiceRoleMissingTheSecondCreatePermissionMakesNothing(t *testing.T) {
	t.Parallel()
	auth := localiam.NewAuthority(localiam.Options{Account: DefaultAccountID, Region: "us-east-1"})
	en := setupWith(t, func(o *Options) { o.IAM = auth })
	role := serviceRole(t, auth, "maker", "iam:CreateRole", "iam:DeleteRole", "iam:ListAttachedRolePolicies", "iam:ListRolePolicies",
		"lambda:CreateFunction", "lambda:DeleteFunction", "s3:GetObject")
	code := en.put("code/as-maker.zip", handlerZip["v1"])
	bucket, key, _ := strings.Cut(strings.TrimPrefix(code, "s3://"), "/")
	st := en.deployAs("made", "v1", "CREATE", strings.NewReplacer("placeholder-bucket", bucket, "placeholder-key", key).Replace(asRoleApp), role)
	if st.StackStatus != cfntypes.StackStatusRollbackComplete {
		t.Fatalf("got %s (%s), want ROLLBACK_COMPLETE", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	reason := failure(en, "made", "Fn", cfntypes.ResourceStatusCreateFailed)
	want := `is not authorized to perform: iam:PassRole on resource: arn:aws:iam::` + DefaultAccountID + `:role/made-Role-`
	if !strings.Contains(reason, want) || !strings.Contains(reason, "(Service: Lambda, Status Code: 403") {
		t.Errorf("got the function's CREATE_FAILED reason %q, want Lambda's AccessDenied %q", reason, want)
	}
	out, err := awslambda.NewFromConfig(en.cfg).ListFunctions(context.Background(), &awslambda.ListFunctionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range out.Functions {
		if strings.HasPrefix(aws.ToString(f.FunctionName), "made-") {
			t.Errorf("got function %s, want none made", aws.ToString(f.FunctionName))
		}
	}
}

// recordingIAM is the local IAM, recording what the service role is asked
// for.
type recordingIAM struct {
	*localiam.Authority
	mu    sync.Mutex
	asked []string // "action resource"
}

func (r *recordingIAM) AllowAsService(service, role, action, resource string, context map[string][]string) error {
	r.mu.Lock()
	r.asked = append(r.asked, action+" "+resource)
	r.mu.Unlock()
	return r.Authority.AllowAsService(service, role, action, resource, context)
}

// TestTheServiceRoleIsAskedForTheARNTheCreateGives: what the service role
// is asked for before a resource is made names the ARN the create then
// gives it, for the types that name themselves.
func TestTheServiceRoleIsAskedForTheARNTheCreateGives(t *testing.T) {
	t.Parallel()
	rec := &recordingIAM{Authority: localiam.NewAuthority(localiam.Options{Account: DefaultAccountID, Region: "us-east-1"})}
	en := setupWith(t, func(o *Options) { o.IAM = rec })
	role := serviceRole(t, rec.Authority, "namer", "*")
	body := `
Resources:
  Jobs: {Type: AWS::SQS::Queue}
  Ordered: {Type: AWS::SQS::Queue, Properties: {FifoQueue: true}}
  News: {Type: AWS::SNS::Topic}
  Visits:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
  Uploads: {Type: AWS::S3::Bucket}
  Setting: {Type: AWS::SSM::Parameter, Properties: {Type: String, Value: v}}
  Runner:
    Type: AWS::IAM::Role
    Properties:
      Path: /app/
      AssumeRolePolicyDocument: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]}
  Nightly: {Type: AWS::Events::Rule, Properties: {ScheduleExpression: rate(1 day)}}
`
	st := en.deployAs("named", "create", "CREATE", body, role)
	if st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("got %s (%s), want CREATE_COMPLETE", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	creates := map[string]string{
		"AWS::SQS::Queue": "sqs:CreateQueue", "AWS::SNS::Topic": "sns:CreateTopic", "AWS::DynamoDB::Table": "dynamodb:CreateTable",
		"AWS::S3::Bucket": "s3:CreateBucket", "AWS::SSM::Parameter": "ssm:PutParameter", "AWS::IAM::Role": "iam:CreateRole", "AWS::Events::Rule": "events:PutRule",
	}
	en.engine.mu.Lock()
	resources := en.engine.stacks[aws.ToString(st.StackId)].resources
	en.engine.mu.Unlock()
	o := &op{e: en.engine, stackName: "named"}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for logical, r := range resources {
		want := creates[r.Type] + " " + o.ownARN(r.Type, r, false)
		if !slices.Contains(rec.asked, want) {
			t.Errorf("%s: the service role was asked %q, want %q among them", logical, rec.asked, want)
		}
	}
}

// TestServiceRolePermissions: what a handler's change asks of the service
// role, for the change's properties; every action a planner asks for is
// one the type's registry schema lists for the handler.
func TestServiceRolePermissions(t *testing.T) {
	t.Parallel()
	o := &op{e: &Engine{region: "us-east-1", account: DefaultAccountID}, stackName: "app"}
	const account = DefaultAccountID
	fnArn := "arn:aws:lambda:us-east-1:" + account + ":function:app-Fn"
	fn := map[string]any{"Code": map[string]any{"S3Bucket": "artifacts", "S3Key": "fn.zip"}, "Role": "arn:aws:iam::" + account + ":role/app-FnRole",
		"Runtime": "provided.al2023", "Tags": []any{map[string]any{"Key": "lambda:createdBy", "Value": "SAM"}}}
	with := func(p map[string]any, k string, v any) map[string]any {
		c := deepCopy(p).(map[string]any)
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	role := map[string]any{"AssumeRolePolicyDocument": map[string]any{"Statement": []any{}},
		"Policies":          []any{map[string]any{"PolicyName": "p", "PolicyDocument": map[string]any{"Statement": []any{}}}},
		"ManagedPolicyArns": []any{"arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}}
	roleArn := "arn:aws:iam::" + account + ":role/app-Runner"
	tests := []struct {
		name, typ, handler string
		prev, next         map[string]any
		physical           string
		attrs              map[string]any
		want               []string
	}{
		{name: "a function's create", typ: "AWS::Lambda::Function", handler: "create", next: with(fn, "FunctionName", "app-Fn"),
			want: []string{"lambda:CreateFunction " + fnArn, "iam:PassRole arn:aws:iam::" + account + ":role/app-FnRole", "s3:GetObject arn:aws:s3:::artifacts/fn.zip", "lambda:TagResource " + fnArn}},
		{name: "a function's new code", typ: "AWS::Lambda::Function", handler: "update", prev: fn, next: with(fn, "Code", map[string]any{"S3Bucket": "artifacts", "S3Key": "fn2.zip"}),
			physical: "app-Fn", attrs: map[string]any{"Arn": fnArn},
			want: []string{"lambda:UpdateFunctionCode " + fnArn, "s3:GetObject arn:aws:s3:::artifacts/fn2.zip"}},
		{name: "a function's new memory", typ: "AWS::Lambda::Function", handler: "update", prev: fn, next: with(fn, "MemorySize", 256),
			physical: "app-Fn", attrs: map[string]any{"Arn": fnArn},
			want: []string{"lambda:UpdateFunctionConfiguration " + fnArn, "iam:PassRole arn:aws:iam::" + account + ":role/app-FnRole"}},
		{name: "a function's delete", typ: "AWS::Lambda::Function", handler: "delete", prev: fn, physical: "app-Fn", attrs: map[string]any{"Arn": fnArn},
			want: []string{"lambda:DeleteFunction " + fnArn}},
		{name: "a role's create", typ: "AWS::IAM::Role", handler: "create", next: with(role, "RoleName", "app-Runner"),
			want: []string{"iam:CreateRole " + roleArn, "iam:PutRolePolicy " + roleArn, "iam:AttachRolePolicy " + roleArn}},
		{name: "a role's new trust", typ: "AWS::IAM::Role", handler: "update", prev: role, next: with(role, "AssumeRolePolicyDocument", map[string]any{"Statement": []any{"x"}}),
			physical: "app-Runner", attrs: map[string]any{"Arn": roleArn}, want: []string{"iam:UpdateAssumeRolePolicy " + roleArn}},
		{name: "a role's policy removed", typ: "AWS::IAM::Role", handler: "update", prev: role, next: with(role, "Policies", nil),
			physical: "app-Runner", attrs: map[string]any{"Arn": roleArn}, want: []string{"iam:DeleteRolePolicy " + roleArn}},
		{name: "a role's delete", typ: "AWS::IAM::Role", handler: "delete", prev: role, physical: "app-Runner", attrs: map[string]any{"Arn": roleArn},
			want: []string{"iam:ListAttachedRolePolicies " + roleArn, "iam:ListRolePolicies " + roleArn, "iam:DetachRolePolicy " + roleArn, "iam:DeleteRolePolicy " + roleArn, "iam:DeleteRole " + roleArn}},
		{name: "a policy given to one more role", typ: "AWS::IAM::Policy", handler: "update",
			prev: map[string]any{"PolicyName": "p", "Roles": []any{"a"}}, next: map[string]any{"PolicyName": "p", "Roles": []any{"a", "b"}},
			want: []string{"iam:PutRolePolicy arn:aws:iam::" + account + ":role/b"}},
		{name: "a queue's create", typ: "AWS::SQS::Queue", handler: "create", next: map[string]any{"QueueName": "jobs"},
			want: []string{"sqs:CreateQueue arn:aws:sqs:us-east-1:" + account + ":jobs"}},
		{name: "a queue policy's create", typ: "AWS::SQS::QueuePolicy", handler: "create",
			next: map[string]any{"Queues": []any{"http://127.0.0.1:4566/" + account + "/jobs"}, "PolicyDocument": map[string]any{}},
			want: []string{"sqs:SetQueueAttributes arn:aws:sqs:us-east-1:" + account + ":jobs"}},
		{name: "a topic's new name to show", typ: "AWS::SNS::Topic", handler: "update", prev: map[string]any{}, next: map[string]any{"DisplayName": "News"},
			physical: "arn:aws:sns:us-east-1:" + account + ":app-News", want: []string{"sns:SetTopicAttributes arn:aws:sns:us-east-1:" + account + ":app-News"}},
		{name: "a topic's tags only", typ: "AWS::SNS::Topic", handler: "update", prev: map[string]any{}, next: map[string]any{"Tags": []any{map[string]any{"Key": "k", "Value": "v"}}},
			physical: "arn:aws:sns:us-east-1:" + account + ":app-News", want: []string{"sns:TagResource arn:aws:sns:us-east-1:" + account + ":app-News"}},
		{name: "a bucket's create", typ: "AWS::S3::Bucket", handler: "create", next: map[string]any{"BucketName": "uploads", "VersioningConfiguration": map[string]any{"Status": "Enabled"}},
			want: []string{"s3:CreateBucket arn:aws:s3:::uploads", "s3:PutBucketVersioning arn:aws:s3:::uploads"}},
		{name: "an event source mapping's create, of no resource", typ: "AWS::Lambda::EventSourceMapping", handler: "create",
			next: map[string]any{"FunctionName": "app-Fn", "EventSourceArn": "arn:aws:sqs:us-east-1:" + account + ":jobs"},
			want: []string{"lambda:CreateEventSourceMapping *"}},
		{name: "an event source mapping's delete", typ: "AWS::Lambda::EventSourceMapping", handler: "delete",
			prev: map[string]any{"FunctionName": "app-Fn"}, physical: "1234", attrs: map[string]any{"EventSourceMappingArn": "arn:aws:lambda:us-east-1:" + account + ":event-source-mapping:1234"},
			want: []string{"lambda:DeleteEventSourceMapping arn:aws:lambda:us-east-1:" + account + ":event-source-mapping:1234"}},
		{name: "a state machine's create", typ: "AWS::StepFunctions::StateMachine", handler: "create",
			next: map[string]any{"StateMachineName": "flow", "RoleArn": roleArn, "DefinitionS3Location": map[string]any{"Bucket": "artifacts", "Key": "flow.json"}},
			want: []string{"states:CreateStateMachine arn:aws:states:us-east-1:" + account + ":stateMachine:flow", "iam:PassRole " + roleArn, "s3:GetObject arn:aws:s3:::artifacts/flow.json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var prev, next *resource
			if tt.prev != nil {
				prev = &resource{Logical: "X", Type: tt.typ, Physical: tt.physical, Attrs: tt.attrs, Props: tt.prev}
			}
			if tt.next != nil {
				next = &resource{Logical: "X", Type: tt.typ, Physical: tt.physical, Attrs: tt.attrs, Props: tt.next}
			}
			var got []string
			for _, p := range o.serviceRolePermissions(tt.typ, tt.handler, prev, next) {
				got = append(got, p.action+" "+p.resource)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			planner := rolePlanners[tt.typ]
			if planner == nil {
				return
			}
			for _, p := range planner(o, tt.handler, prev, next) {
				if !slices.Contains(handlerPermissions().Types[tt.typ][tt.handler], p.action) {
					t.Errorf("the planner asks for %s, which the schema does not list for %s's %s handler", p.action, tt.typ, tt.handler)
				}
			}
		})
	}
}

// TestARolesCallsCarryItsPermissionsBoundary: the calls that make a role
// with a permissions boundary carry it as iam:PermissionsBoundary, which
// a service role's policy may require (the pipeline's does with
// AppRolePermissionsBoundary); iam:PassRole carries iam:PassedToService.
func TestARolesCallsCarryItsPermissionsBoundary(t *testing.T) {
	t.Parallel()
	o := &op{e: &Engine{region: "us-east-1", account: DefaultAccountID}, stackName: "app"}
	boundary := "arn:aws:iam::" + DefaultAccountID + ":policy/app-boundary"
	role := &resource{Logical: "Runner", Type: "AWS::IAM::Role", Props: map[string]any{"RoleName": "app-Runner", "PermissionsBoundary": boundary,
		"Policies": []any{map[string]any{"PolicyName": "p", "PolicyDocument": map[string]any{}}}}}
	got := o.serviceRolePermissions("AWS::IAM::Role", "create", nil, role)
	if len(got) != 2 {
		t.Fatalf("got %+v, want CreateRole and PutRolePolicy", got)
	}
	for _, p := range got {
		if !slices.Equal(p.context["iam:PermissionsBoundary"], []string{boundary}) {
			t.Errorf("%s: got context %v, want iam:PermissionsBoundary %s", p.action, p.context, boundary)
		}
	}
	fn := &resource{Logical: "Fn", Type: "AWS::Lambda::Function", Props: map[string]any{"FunctionName": "app-Fn", "Role": "arn:aws:iam::" + DefaultAccountID + ":role/app-Runner"}}
	for _, p := range o.serviceRolePermissions("AWS::Lambda::Function", "create", nil, fn) {
		if p.action == "iam:PassRole" && !slices.Equal(p.context["iam:PassedToService"], []string{"lambda.amazonaws.com"}) {
			t.Errorf("iam:PassRole: got context %v, want iam:PassedToService lambda.amazonaws.com", p.context)
		}
	}
}
