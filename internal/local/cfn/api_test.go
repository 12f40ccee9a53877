package cfn

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stackflow/stackflow/internal/testaws"
)

func TestCreateChangeSetRefusals(t *testing.T) {
	t.Parallel()
	en := setup(t)
	en.deploy("exists", "create", "CREATE", "Resources:\n  L: {Type: AWS::Logs::LogGroup}", nil)
	tests := []struct {
		name, stack, typ, body string
		caps                   []cfntypes.Capability
		code, msg              string
	}{
		{"IAM needs a capability", "iam", "CREATE", "Resources:\n  R: {Type: AWS::IAM::Role, Properties: {AssumeRolePolicyDocument: {Version: '2012-10-17', Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: 'sts:AssumeRole'}]}}}", nil,
			"InsufficientCapabilitiesException", "Requires capabilities : [CAPABILITY_IAM]"},
		{"named IAM needs its capability", "iam", "CREATE", "Resources:\n  R: {Type: AWS::IAM::Role, Properties: {RoleName: r, AssumeRolePolicyDocument: {Version: '2012-10-17', Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: 'sts:AssumeRole'}]}}}", iam,
			"InsufficientCapabilitiesException", "Requires capabilities : [CAPABILITY_NAMED_IAM]"},
		{"cycle", "cycle", "CREATE", "Resources:\n  A: {Type: AWS::S3::Bucket, DependsOn: B}\n  B: {Type: AWS::S3::Bucket, Properties: {BucketName: !Ref A}}", nil,
			"ValidationError", "Circular dependency between resources: [A, B]"},
		{"unresolved", "unresolved", "CREATE", "Resources:\n  A: {Type: AWS::S3::Bucket, Properties: {BucketName: !Ref Nope}}", nil,
			"ValidationError", "Template format error: Unresolved resource dependencies [Nope] in the Resources block of the template"},
		{"bad attribute", "attr", "CREATE", "Resources:\n  A: {Type: AWS::S3::Bucket}\nOutputs:\n  O: {Value: !GetAtt A.Nope}", nil,
			"ValidationError", "Template error: resource A does not support attribute type Nope in Fn::GetAtt"},
		{"already exists", "exists", "CREATE", "Resources:\n  L: {Type: AWS::Logs::LogGroup}", nil,
			"AlreadyExistsException", "Stack [exists] already exists and cannot be created again with the changeSet [cs]."},
		{"update of nothing", "nothing", "UPDATE", "Resources:\n  L: {Type: AWS::Logs::LogGroup}", nil,
			"ValidationError", "Stack [nothing] does not exist"},
		{"bad stack name", "no_good", "CREATE", "Resources:\n  L: {Type: AWS::Logs::LogGroup}", nil,
			"ValidationError", "1 validation error detected: Value 'no_good' at 'stackName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := en.createChangeSet(tt.stack, "cs", tt.typ, tt.body, nil, tt.caps...)
			if code, msg := apiCode(err); code != tt.code || msg != tt.msg {
				t.Errorf("got %q %q, want %s %q", code, msg, tt.code, tt.msg)
			}
		})
	}
	t.Run("no template", func(t *testing.T) {
		_, err := en.cfn.CreateChangeSet(context.Background(), &cloudformation.CreateChangeSetInput{StackName: aws.String("x"), ChangeSetName: aws.String("cs"), ChangeSetType: cfntypes.ChangeSetTypeCreate})
		if code, msg := apiCode(err); code != "ValidationError" || msg != "Either Template URL or Template Body must be specified." {
			t.Errorf("got %q %q", code, msg)
		}
	})
}

func TestServerlessTemplateProblemsFailTheChangeSet(t *testing.T) {
	t.Parallel()
	en := setup(t)
	tests := []struct {
		name, body, reason string
	}{
		{"cycle", "Transform: AWS::Serverless-2016-10-31\nResources:\n  A: {Type: AWS::Serverless::SimpleTable, DependsOn: B}\n  B: {Type: AWS::Serverless::SimpleTable, DependsOn: A}",
			"Circular dependency between resources: [A, B]"},
		{"other transform", "Transform: [AWS::Serverless-2016-10-31, AWS::LanguageExtensions]\nResources:\n  A: {Type: AWS::Serverless::SimpleTable}",
			"Transform AWS::LanguageExtensions is not supported by stackflow's local engine"},
		{"invalid SAM", "Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn: {Type: AWS::Serverless::Function, Properties: {CodeUri: s3://b/k.zip, Runtime: python3.12}}",
			"Transform AWS::Serverless-2016-10-31 failed with: Invalid Serverless Application Specification document. Number of errors found: 1. Resource with id [Fn] is invalid. Runtime and Handler needs to be present when PackageType is of type `Zip`"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := en.changeSet("sam-"+string(rune('a'+i)), "cs", "CREATE", tt.body, nil)
			if cs.Status != cfntypes.ChangeSetStatusFailed || !strings.Contains(aws.ToString(cs.StatusReason), tt.reason) {
				t.Errorf("got %s %q, want FAILED with %q", cs.Status, aws.ToString(cs.StatusReason), tt.reason)
			}
		})
	}
}

func TestTemplateURLIsReadFromS3(t *testing.T) {
	t.Parallel()
	en := setup(t)
	body := "Resources:\n  L: {Type: AWS::Logs::LogGroup}\nOutputs:\n  O: {Value: from-s3}\n"
	en.put("packages/template.yaml", []byte(body))
	tests := []struct {
		name, url string
	}{
		{"virtual host", "https://" + en.bucket + ".s3.us-east-1.amazonaws.com/packages/template.yaml"},
		{"path style", "https://s3.us-east-1.amazonaws.com/" + en.bucket + "/packages/template.yaml"},
		{"local endpoint", aws.ToString(en.cfg.BaseEndpoint) + "/" + en.bucket + "/packages/template.yaml"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stack := "from-url-" + string(rune('a'+i))
			out, err := en.cfn.CreateChangeSet(context.Background(), &cloudformation.CreateChangeSetInput{
				StackName: aws.String(stack), ChangeSetName: aws.String("cs"), ChangeSetType: cfntypes.ChangeSetTypeCreate, TemplateURL: aws.String(tt.url),
			})
			if err != nil {
				t.Fatal(err)
			}
			st := en.execute(en.waitChangeSet(aws.ToString(out.Id)))
			if got := outputsOf(st)["O"]; got != "from-s3" {
				t.Errorf("got output %q, want from-s3", got)
			}
		})
	}
	t.Run("missing object", func(t *testing.T) {
		_, err := en.cfn.CreateChangeSet(context.Background(), &cloudformation.CreateChangeSetInput{
			StackName: aws.String("nope"), ChangeSetName: aws.String("cs"), ChangeSetType: cfntypes.ChangeSetTypeCreate,
			TemplateURL: aws.String("https://" + en.bucket + ".s3.amazonaws.com/missing.yaml"),
		})
		if code, msg := apiCode(err); code != "ValidationError" || !strings.HasPrefix(msg, "S3 error: ") {
			t.Errorf("got %q %q, want ValidationError \"S3 error: ...\"", code, msg)
		}
	})
}

func TestRetainedResourcesOutliveTheStack(t *testing.T) {
	t.Parallel()
	en := setup(t)
	ctx := context.Background()
	st := en.deploy("keep", "create", "CREATE", "Resources:\n  Kept: {Type: AWS::S3::Bucket, DeletionPolicy: Retain, UpdateReplacePolicy: Retain}\n  Gone: {Type: AWS::S3::Bucket}\n", nil)
	kept, gone := physicalOf(t, en, "keep", "Kept"), physicalOf(t, en, "keep", "Gone")
	if _, err := en.cfn.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String("keep")}); err != nil {
		t.Fatal(err)
	}
	if st = en.waitStack(aws.ToString(st.StackId)); st.StackStatus != cfntypes.StackStatusDeleteComplete {
		t.Fatalf("got %s, want DELETE_COMPLETE", st.StackStatus)
	}
	if _, err := en.s3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(kept)}); err != nil {
		t.Errorf("the retained bucket is gone: %v", err)
	}
	if _, err := en.s3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(gone)}); err == nil {
		t.Error("the other bucket is still there")
	}
	var skipped bool
	for _, ev := range en.events(aws.ToString(st.StackId)) {
		skipped = skipped || (aws.ToString(ev.LogicalResourceId) == "Kept" && ev.ResourceStatus == cfntypes.ResourceStatusDeleteSkipped)
	}
	if !skipped {
		t.Error("got no DELETE_SKIPPED event for the retained bucket")
	}
}

func TestSSMParameterTypesAreResolved(t *testing.T) {
	t.Parallel()
	en := setup(t)
	name := "/" + testaws.Name("app") + "/greeting"
	if err := en.engine.ssm.PutParameter(context.Background(), name, "String", "bonjour", "", false); err != nil {
		t.Fatal(err)
	}
	body := "Parameters:\n  G: {Type: 'AWS::SSM::Parameter::Value<String>', Default: " + name + "}\nResources:\n  L: {Type: AWS::Logs::LogGroup}\nOutputs:\n  O: {Value: !Ref G}\n"
	st := en.deploy("ssm-param", "create", "CREATE", body, nil)
	if got := outputsOf(st)["O"]; got != "bonjour" {
		t.Errorf("got %q, want the parameter's value bonjour", got)
	}
	if len(st.Parameters) != 1 || aws.ToString(st.Parameters[0].ParameterValue) != name || aws.ToString(st.Parameters[0].ResolvedValue) != "bonjour" {
		t.Errorf("got parameters %+v, want %s resolved to bonjour", st.Parameters, name)
	}
	_, err := en.createChangeSet("ssm-missing", "cs", "CREATE", body, map[string]string{"G": "/app/none"})
	if code, _ := apiCode(err); code != "ValidationError" {
		t.Errorf("a missing SSM parameter: got %q, want ValidationError", code)
	}
}

func TestListingsAndLookups(t *testing.T) {
	t.Parallel()
	en := setup(t)
	ctx := context.Background()
	body := "Transform: AWS::Serverless-2016-10-31\nResources:\n  Table: {Type: AWS::Serverless::SimpleTable}\n  Files: {Type: AWS::S3::Bucket}\n"
	cs := en.changeSet("lists", "first", "CREATE", body, nil)
	// A change set is found by name with its stack, too.
	byName, err := en.cfn.DescribeChangeSet(ctx, &cloudformation.DescribeChangeSetInput{ChangeSetName: aws.String("first"), StackName: aws.String("lists")})
	if err != nil || aws.ToString(byName.ChangeSetId) != aws.ToString(cs.ChangeSetId) {
		t.Errorf("describe by name: got %v, %v", byName, err)
	}
	sets, err := en.cfn.ListChangeSets(ctx, &cloudformation.ListChangeSetsInput{StackName: aws.String("lists")})
	if err != nil || len(sets.Summaries) != 1 || aws.ToString(sets.Summaries[0].ChangeSetName) != "first" {
		t.Errorf("list change sets: got %+v, %v", sets, err)
	}
	tmpl, err := en.cfn.GetTemplate(ctx, &cloudformation.GetTemplateInput{ChangeSetName: cs.ChangeSetId})
	if err != nil || aws.ToString(tmpl.TemplateBody) != body {
		t.Errorf("get the change set's template: got %v, %v", tmpl, err)
	}
	// The same ClientToken gives the same change set.
	again, err := en.cfn.CreateChangeSet(ctx, &cloudformation.CreateChangeSetInput{StackName: aws.String("lists"), ChangeSetName: aws.String("tok"),
		ChangeSetType: cfntypes.ChangeSetTypeCreate, TemplateBody: aws.String(body), ClientToken: aws.String("t1")})
	if err != nil {
		t.Fatal(err)
	}
	twice, err := en.cfn.CreateChangeSet(ctx, &cloudformation.CreateChangeSetInput{StackName: aws.String("lists"), ChangeSetName: aws.String("tok"),
		ChangeSetType: cfntypes.ChangeSetTypeCreate, TemplateBody: aws.String(body), ClientToken: aws.String("t1")})
	if err != nil || aws.ToString(twice.Id) != aws.ToString(again.Id) {
		t.Errorf("repeat with the same ClientToken: got %v, %v; want %s", twice, err, aws.ToString(again.Id))
	}
	en.waitChangeSet(aws.ToString(again.Id))

	st := en.execute(cs)
	// Executing one change set deletes the stack's others.
	if _, err := en.cfn.DescribeChangeSet(ctx, &cloudformation.DescribeChangeSetInput{ChangeSetName: again.Id}); err == nil {
		t.Error("the other change set is still there after an execution")
	}
	res, err := en.cfn.DescribeStackResources(ctx, &cloudformation.DescribeStackResourcesInput{StackName: aws.String("lists")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range res.StackResources {
		got = append(got, aws.ToString(r.LogicalResourceId)+" "+aws.ToString(r.ResourceType)+" "+string(r.ResourceStatus))
	}
	// SAM's translator puts what it makes after the template's own
	// CloudFormation resources, as AWS's processed template has them.
	if want := []string{"Files AWS::S3::Bucket CREATE_COMPLETE", "Table AWS::DynamoDB::Table CREATE_COMPLETE"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got resources %q, want %q", got, want)
	}
	sum, err := en.cfn.ListStackResources(ctx, &cloudformation.ListStackResourcesInput{StackName: st.StackId})
	if err != nil || len(sum.StackResourceSummaries) != 2 || sum.StackResourceSummaries[0].LastUpdatedTimestamp == nil {
		t.Errorf("list stack resources: got %+v, %v", sum, err)
	}
	stacks, err := en.cfn.ListStacks(ctx, &cloudformation.ListStacksInput{StackStatusFilter: []cfntypes.StackStatus{cfntypes.StackStatusCreateComplete}})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range stacks.StackSummaries {
		found = found || aws.ToString(s.StackName) == "lists"
	}
	if !found {
		t.Error("ListStacks does not list the stack")
	}
	if _, err := en.cfn.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String("never-was")}); err != nil {
		t.Errorf("delete a stack that does not exist: got %v, want nil as on AWS", err)
	}
	_, err = en.cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("never-was")})
	if code, msg := apiCode(err); code != "ValidationError" || msg != "Stack with id never-was does not exist" {
		t.Errorf("got %q %q", code, msg)
	}
}

func TestValidateTemplate(t *testing.T) {
	t.Parallel()
	en := setup(t)
	body := "Description: d\nParameters:\n  P: {Type: String, Default: x, Description: the p}\n  S: {Type: String, NoEcho: true}\nResources:\n  R: {Type: AWS::IAM::Role, Properties: {Description: !Ref P, Tags: [{Key: s, Value: !Ref S}], AssumeRolePolicyDocument: {Version: '2012-10-17', Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: 'sts:AssumeRole'}]}}}\n"
	out, err := en.cfn.ValidateTemplate(context.Background(), &cloudformation.ValidateTemplateInput{TemplateBody: aws.String(body)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.Description) != "d" || len(out.Parameters) != 2 || aws.ToString(out.Parameters[0].DefaultValue) != "x" ||
		!aws.ToBool(out.Parameters[1].NoEcho) || !reflect.DeepEqual(out.Capabilities, []cfntypes.Capability{cfntypes.CapabilityCapabilityIam}) {
		t.Errorf("got %+v", out)
	}
	_, err = en.cfn.ValidateTemplate(context.Background(), &cloudformation.ValidateTemplateInput{TemplateBody: aws.String("Resources:\n  A: {Type: T, Properties: {X: !Ref B}}")})
	if code, _ := apiCode(err); code != "ValidationError" {
		t.Errorf("an unresolved reference: got %q, want ValidationError", code)
	}
}

func TestQueryProtocolErrors(t *testing.T) {
	t.Parallel()
	e := &Engine{}
	srv := httptest.NewServer(http.HandlerFunc(e.serveHTTP))
	t.Cleanup(srv.Close)
	resp, err := http.PostForm(srv.URL, url.Values{"Action": {"CreateStack"}, "Version": {"2010-05-15"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(b)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "<ErrorResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\">") ||
		!strings.Contains(body, "<Code>InvalidAction</Code>") || !strings.Contains(body, "<Type>Sender</Type>") {
		t.Errorf("got %d %s, want a 400 ErrorResponse with InvalidAction", resp.StatusCode, body)
	}
}
