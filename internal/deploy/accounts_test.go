package deploy

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/smithy-go"
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
