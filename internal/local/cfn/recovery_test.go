package cfn

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// versioned is a bucket with versioning on and a parameter; its update
// (versionedV2) changes both and adds a parameter.
const versioned = `
Resources:
  Setting:
    Type: AWS::SSM::Parameter
    Properties: {Type: String, Value: one}
  Files:
    Type: AWS::S3::Bucket
    DependsOn: Setting
    Properties:
      VersioningConfiguration: {Status: Enabled}
Outputs:
  Value: {Value: !GetAtt Setting.Value}
`

const versionedV2 = `
Resources:
  Setting:
    Type: AWS::SSM::Parameter
    Properties: {Type: String, Value: two}
  Extra:
    Type: AWS::SSM::Parameter
    DependsOn: Setting
    Properties: {Type: String, Value: extra}
  Files:
    Type: AWS::S3::Bucket
    DependsOn: Extra
    Properties:
      VersioningConfiguration: {Status: Suspended}
Outputs:
  Value: {Value: !GetAtt Setting.Value}
`

// failRollback deploys versioned as stack, deletes its bucket behind
// CloudFormation's back and updates it to versionedV2: the update of the
// bucket fails, and so does its rollback, which leaves the stack in
// UPDATE_ROLLBACK_FAILED. It returns the bucket's name.
func failRollback(t *testing.T, en *env, stack string) string {
	t.Helper()
	ctx := context.Background()
	if st := en.deploy(stack, "v1", "CREATE", versioned, nil); st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("create: got %s, want CREATE_COMPLETE", st.StackStatus)
	}
	bucket := physicalOf(t, en, stack, "Files")
	if _, err := en.s3.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	cs := en.changeSet(stack, "v2", "UPDATE", versionedV2, nil)
	if got := changesOf(cs); !slices.Contains(got, "Modify Files AWS::S3::Bucket False") {
		t.Fatalf("got changes %v, want the bucket modified in place", got)
	}
	st := en.execute(cs)
	if st.StackStatus != cfntypes.StackStatusUpdateRollbackFailed {
		t.Fatalf("update: got %s (%s), want UPDATE_ROLLBACK_FAILED", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	return bucket
}

func TestARollbackThatFailsIsContinued(t *testing.T) {
	t.Parallel()
	en := setup(t)
	ctx := context.Background()
	tests := []struct {
		name string
		// fix mends what made the rollback fail, and returns the
		// resources to skip.
		fix func(t *testing.T, bucket string) []string
		// wantVersioning is the bucket's versioning afterwards; empty
		// means the bucket is gone.
		wantVersioning s3types.BucketVersioningStatus
		wantFiles      cfntypes.ResourceStatus
	}{
		{
			name: "the bucket made again",
			fix: func(t *testing.T, bucket string) []string {
				if _, err := en.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
					t.Fatal(err)
				}
				return nil
			},
			wantVersioning: s3types.BucketVersioningStatusEnabled,
			wantFiles:      cfntypes.ResourceStatusUpdateComplete,
		},
		{
			name:      "the bucket skipped",
			fix:       func(*testing.T, string) []string { return []string{"Files"} },
			wantFiles: cfntypes.ResourceStatusUpdateComplete,
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stack := fmt.Sprintf("stuck-%d", i)
			bucket := failRollback(t, en, stack)

			// What the update did elsewhere is put back; what it added
			// waits for the rollback to finish.
			if got, err := en.engine.ssm.GetParameter(ctx, physicalOf(t, en, stack, "Setting")); err != nil || got != "one" {
				t.Errorf("got the parameter %q, %v; want it put back to one", got, err)
			}
			extra := physicalOf(t, en, stack, "Extra")
			var rollbackFailures []string
			inRollback := false
			for _, ev := range en.events(stack) {
				if aws.ToString(ev.LogicalResourceId) == stack {
					inRollback = ev.ResourceStatus == cfntypes.ResourceStatusUpdateRollbackInProgress
				}
				if inRollback && ev.ResourceStatus == cfntypes.ResourceStatusUpdateFailed {
					rollbackFailures = append(rollbackFailures, aws.ToString(ev.LogicalResourceId)+": "+aws.ToString(ev.ResourceStatusReason))
				}
			}
			if len(rollbackFailures) != 1 || !strings.HasPrefix(rollbackFailures[0], "Files: ") || !strings.Contains(rollbackFailures[0], "NoSuchBucket") {
				t.Errorf("got failures in the rollback %q, want Files failing with NoSuchBucket", rollbackFailures)
			}

			// The stack takes no update until its rollback is finished.
			_, err := en.createChangeSet(stack, "v3", "UPDATE", versioned, nil)
			if code, msg := apiCode(err); code != "ValidationError" || !strings.HasSuffix(msg, "is in UPDATE_ROLLBACK_FAILED state and can not be updated.") {
				t.Errorf("update while stuck: got %q %q, want ValidationError ... UPDATE_ROLLBACK_FAILED state and can not be updated.", code, msg)
			}

			// Continued with nothing mended, the rollback fails again.
			if _, err := en.cfn.ContinueUpdateRollback(ctx, &cloudformation.ContinueUpdateRollbackInput{StackName: aws.String(stack)}); err != nil {
				t.Fatal(err)
			}
			if st := en.waitStack(stack); st.StackStatus != cfntypes.StackStatusUpdateRollbackFailed {
				t.Fatalf("continued unmended: got %s, want UPDATE_ROLLBACK_FAILED", st.StackStatus)
			}

			skip := tt.fix(t, bucket)
			_, err = en.cfn.ContinueUpdateRollback(ctx, &cloudformation.ContinueUpdateRollbackInput{
				StackName: aws.String(stack), ResourcesToSkip: skip, RoleARN: aws.String("arn:aws:iam::000000000000:role/cfn"),
			})
			if err != nil {
				t.Fatal(err)
			}
			st := en.waitStack(stack)
			if st.StackStatus != cfntypes.StackStatusUpdateRollbackComplete {
				t.Fatalf("continued: got %s (%s), want UPDATE_ROLLBACK_COMPLETE", st.StackStatus, aws.ToString(st.StackStatusReason))
			}
			if got := aws.ToString(st.RoleARN); got != "arn:aws:iam::000000000000:role/cfn" {
				t.Errorf("got the stack's role %q, want the one ContinueUpdateRollback named", got)
			}
			if _, err := en.engine.ssm.GetParameter(ctx, extra); err == nil {
				t.Errorf("the parameter %s the failed update added is still there", extra)
			}
			res, err := en.cfn.DescribeStackResource(ctx, &cloudformation.DescribeStackResourceInput{StackName: aws.String(stack), LogicalResourceId: aws.String("Files")})
			if err != nil {
				t.Fatal(err)
			}
			if got := res.StackResourceDetail.ResourceStatus; got != tt.wantFiles {
				t.Errorf("got Files %s, want %s", got, tt.wantFiles)
			}
			v, err := en.s3.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(bucket)})
			switch {
			case tt.wantVersioning == "" && err == nil:
				t.Errorf("the skipped bucket %s exists, want it left as it was: gone", bucket)
			case tt.wantVersioning != "" && (err != nil || v.Status != tt.wantVersioning):
				t.Errorf("got the bucket's versioning %v, %v; want %s", v, err, tt.wantVersioning)
			}

			// Once rolled back, the stack is updated again.
			if tt.wantVersioning != "" {
				st = en.deploy(stack, "v4", "UPDATE", strings.Replace(versioned, "Value: one", "Value: four", 1), nil)
				if st.StackStatus != cfntypes.StackStatusUpdateComplete || outputsOf(st)["Value"] != "four" {
					t.Errorf("update after the rollback: got %s %v, want UPDATE_COMPLETE with Value four", st.StackStatus, outputsOf(st))
				}
			}
		})
	}
}

func TestContinueUpdateRollbackRefusals(t *testing.T) {
	t.Parallel()
	en := setup(t)
	ctx := context.Background()
	en.deploy("fine", "v1", "CREATE", "Resources:\n  Files: {Type: AWS::S3::Bucket}\n", nil)
	failRollback(t, en, "stuck")
	tests := []struct {
		name, stack string
		skip        []string
		want        string
	}{
		{name: "a stack that did not fail", stack: "fine", want: "ContinueUpdateRollback cannot be called from current stack status"},
		{name: "no such stack", stack: "never-was", want: "Stack [never-was] does not exist"},
		{name: "a resource that did not fail to roll back", stack: "stuck", skip: []string{"Setting"},
			want: "ResourcesToSkip: resource [Setting] did not fail to roll back; only resources in UPDATE_FAILED after a failed rollback can be skipped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := en.cfn.ContinueUpdateRollback(ctx, &cloudformation.ContinueUpdateRollbackInput{StackName: aws.String(tt.stack), ResourcesToSkip: tt.skip})
			if code, msg := apiCode(err); code != "ValidationError" || msg != tt.want {
				t.Errorf("got %q %q, want ValidationError %q", code, msg, tt.want)
			}
		})
	}
	if st := en.waitStack("stuck"); st.StackStatus != cfntypes.StackStatusUpdateRollbackFailed {
		t.Errorf("after the refusals: got %s, want the stack still UPDATE_ROLLBACK_FAILED", st.StackStatus)
	}
	// A stack stuck in UPDATE_ROLLBACK_FAILED can still be deleted.
	if _, err := en.cfn.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String("stuck")}); err != nil {
		t.Fatal(err)
	}
	out, err := en.cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range out.Stacks {
		if aws.ToString(s.StackName) == "stuck" && s.StackStatus != cfntypes.StackStatusDeleteInProgress {
			t.Errorf("got stuck %s after DeleteStack, want DELETE_IN_PROGRESS or gone", s.StackStatus)
		}
	}
}

func TestTerminationProtection(t *testing.T) {
	t.Parallel()
	en := setup(t)
	ctx := context.Background()
	body := "Resources:\n  Setting:\n    Type: AWS::SSM::Parameter\n    Properties: {Type: String, Value: one}\n"
	st := en.deploy("guarded", "v1", "CREATE", body, nil)
	protection := func() bool {
		t.Helper()
		out, err := en.cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("guarded")})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToBool(out.Stacks[0].EnableTerminationProtection)
	}
	setProtection := func(on bool) {
		t.Helper()
		out, err := en.cfn.UpdateTerminationProtection(ctx, &cloudformation.UpdateTerminationProtectionInput{
			StackName: aws.String("guarded"), EnableTerminationProtection: aws.Bool(on),
		})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(out.StackId) != aws.ToString(st.StackId) {
			t.Errorf("got stack ID %q, want %q", aws.ToString(out.StackId), aws.ToString(st.StackId))
		}
	}
	if protection() {
		t.Fatal("a new stack is protected, want termination protection off")
	}
	setProtection(true)
	setProtection(true) // again: no harm
	if !protection() {
		t.Fatal("got termination protection off, want it on")
	}
	_, err := en.cfn.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String("guarded")})
	if code, msg := apiCode(err); code != "ValidationError" || msg != "Stack [guarded] cannot be deleted while TerminationProtection is enabled" {
		t.Errorf("delete: got %q %q, want ValidationError Stack [guarded] cannot be deleted while TerminationProtection is enabled", code, msg)
	}
	// Protection does not stop updates.
	if st := en.deploy("guarded", "v2", "UPDATE", strings.Replace(body, "one", "two", 1), nil); st.StackStatus != cfntypes.StackStatusUpdateComplete || !aws.ToBool(st.EnableTerminationProtection) {
		t.Errorf("update: got %s, protected %v; want UPDATE_COMPLETE, still protected", st.StackStatus, aws.ToBool(st.EnableTerminationProtection))
	}
	setProtection(false)
	if _, err := en.cfn.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String("guarded")}); err != nil {
		t.Fatal(err)
	}
	if st := en.waitStack(aws.ToString(st.StackId)); st.StackStatus != cfntypes.StackStatusDeleteComplete {
		t.Errorf("got %s after the protection was turned off, want DELETE_COMPLETE", st.StackStatus)
	}
	_, err = en.cfn.UpdateTerminationProtection(ctx, &cloudformation.UpdateTerminationProtectionInput{StackName: aws.String("guarded"), EnableTerminationProtection: aws.Bool(true)})
	if code, msg := apiCode(err); code != "ValidationError" || msg != "Stack with id guarded does not exist" {
		t.Errorf("a deleted stack: got %q %q, want ValidationError Stack with id guarded does not exist", code, msg)
	}
}

func TestTheServiceRoleIsTheStacks(t *testing.T) {
	t.Parallel()
	en := setup(t)
	ctx := context.Background()
	body := "Resources:\n  Setting:\n    Type: AWS::SSM::Parameter\n    Properties: {Type: String, Value: one}\n"
	for _, step := range []struct {
		typ, body, role string
	}{
		{"CREATE", body, "arn:aws:iam::111111111111:role/first"},
		{"UPDATE", strings.Replace(body, "one", "two", 1), "arn:aws:iam::111111111111:role/second"},
	} {
		out, err := en.cfn.CreateChangeSet(ctx, &cloudformation.CreateChangeSetInput{
			StackName: aws.String("roled"), ChangeSetName: aws.String("cs-" + strings.ToLower(step.typ)),
			ChangeSetType: cfntypes.ChangeSetType(step.typ), TemplateBody: aws.String(step.body), RoleARN: aws.String(step.role),
		})
		if err != nil {
			t.Fatal(err)
		}
		st := en.execute(en.waitChangeSet(aws.ToString(out.Id)))
		if got := aws.ToString(st.RoleARN); got != step.role {
			t.Errorf("%s: got RoleARN %q, want %q", step.typ, got, step.role)
		}
	}
}
