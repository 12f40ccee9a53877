package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/smithy-go"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// TestARoleThatCannotBeAssumed checks the error of a CloudFormation call
// whose credentials could not be had, as aws-sdk-go-v2 wraps it: the
// CloudFormation operation's error, the credentials cache's, then STS's.
func TestARoleThatCannotBeAssumed(t *testing.T) {
	t.Parallel()
	denied := &smithy.GenericAPIError{Code: "AccessDenied", Message: "User: arn:aws:sts::111111111111:assumed-role/deploy/x is not authorized to perform: sts:AssumeRole"}
	tests := []struct {
		name     string
		err      error
		want     []string
		wantRole bool
	}{
		{
			name: "STS refused",
			err: &smithy.OperationError{ServiceID: "CloudFormation", OperationName: "DescribeStacks",
				Err: fmt.Errorf("failed to refresh cached credentials, %w",
					&smithy.OperationError{ServiceID: "STS", OperationName: "AssumeRole", Err: denied})},
			want:     []string{"describe stack hello-prod: the environment's role_arn could not be assumed", "AccessDenied", "trust policy", "sts:AssumeRole"},
			wantRole: true,
		},
		{
			name: "CloudFormation refused",
			err:  &smithy.OperationError{ServiceID: "CloudFormation", OperationName: "DescribeStacks", Err: denied},
			want: []string{"describe stack hello-prod: operation error CloudFormation: DescribeStacks"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := awsError("describe stack hello-prod", tt.err).Error()
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("got %q, want it to contain %q", got, w)
				}
			}
			if role := strings.Contains(got, "role_arn"); role != tt.wantRole {
				t.Errorf("got %q: mentions the role %v, want %v", got, role, tt.wantRole)
			}
			if !errors.Is(awsError("x", tt.err), denied) {
				t.Error("the AWS error is no longer in the chain")
			}
		})
	}
}

// TestRolesOutsideEnvironmentRoleArnsAreRefused: an environment may name
// only roles the pipeline's EnvironmentRoleArns allows, and is told so
// before any AWS call.
func TestRolesOutsideEnvironmentRoleArnsAreRefused(t *testing.T) {
	t.Parallel()
	allowed := []string{"arn:aws:iam::*:role/stackflow/*", "arn:aws:iam::111111111111:role/legacy-cfn"}
	tests := []struct {
		name      string
		role, cfn string
		want      string // the refusal; "" means let through
	}{
		{name: "no roles"},
		{name: "an allowed role", role: "arn:aws:iam::210987654321:role/stackflow/deploy"},
		{name: "an allowed role passing any service role of its account", role: "arn:aws:iam::210987654321:role/stackflow/deploy", cfn: "arn:aws:iam::210987654321:role/anything"},
		{name: "an allowed service role", cfn: "arn:aws:iam::111111111111:role/legacy-cfn"},
		{name: "a role outside", role: "arn:aws:iam::210987654321:role/admin",
			want: "its role_arn arn:aws:iam::210987654321:role/admin is not a role the pipeline may assume (EnvironmentRoleArns: arn:aws:iam::*:role/stackflow/*, arn:aws:iam::111111111111:role/legacy-cfn)"},
		{name: "a service role outside", cfn: "arn:aws:iam::111111111111:role/admin",
			want: "its cloudformation_role_arn arn:aws:iam::111111111111:role/admin is not a role the pipeline may pass to CloudFormation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeCFN()
			svc := newTestService(f)
			svc.AllowedRoles = allowed
			in := testInput()
			in.Action = pipeline.ActionCreateChangeSet
			in.Environment.RoleARN, in.Environment.CloudFormationRoleARN = tt.role, tt.cfn
			_, err := svc.Handle(context.Background(), in)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got %v, want the roles let through", err)
				}
				return
			}
			var refused *pipeline.StackRefused
			if !errors.As(err, &refused) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want StackRefused: ...%s...", err, tt.want)
			}
			if len(f.calls) != 0 {
				t.Errorf("got calls %v, want none", f.calls)
			}
		})
	}
}
