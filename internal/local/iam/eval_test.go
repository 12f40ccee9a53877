package iam

import (
	"encoding/json"
	"os"
	"testing"
)

// evalCase is one row of the evaluator's table, in testdata/cases.json so
// that the oracle test gives the same rows to iam-simulate.
type evalCase struct {
	Name string `json:"name"`
	// Principal is a role session's ARN, or a service principal.
	Principal string              `json:"principal"`
	Action    string              `json:"action"`
	Resource  string              `json:"resource"`
	Account   string              `json:"resourceAccount"`
	Context   map[string][]string `json:"context"`
	Identity  []json.RawMessage   `json:"identity"`
	ResPolicy json.RawMessage     `json:"resourcePolicy"`
	Want      Outcome             `json:"want"`
}

func loadCases(t *testing.T) []evalCase {
	t.Helper()
	b, err := os.ReadFile("testdata/cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []evalCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatalf("testdata/cases.json: %v", err)
	}
	return cases
}

func (c evalCase) input(t *testing.T) Input {
	t.Helper()
	p, err := PrincipalFromARN(c.Principal)
	if err != nil {
		t.Fatal(err)
	}
	in := Input{Request: Request{Principal: p, Action: c.Action, Resource: c.Resource, ResourceAccount: c.Account, Context: c.Context}}
	for _, doc := range c.Identity {
		pol, err := ParsePolicy(doc)
		if err != nil {
			t.Fatal(err)
		}
		in.Identity = append(in.Identity, pol)
	}
	if len(c.ResPolicy) > 0 {
		pol, err := ParsePolicy(c.ResPolicy)
		if err != nil {
			t.Fatal(err)
		}
		in.Resource = pol
	}
	return in
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	for _, c := range loadCases(t) {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			in := c.input(t)
			got := Evaluate(in)
			if got.Outcome != c.Want {
				t.Errorf("got %s (%s), want %s", got.Outcome, got.Reason, c.Want)
			}
		})
	}
}

func TestDenialMessageIsAWSs(t *testing.T) {
	t.Parallel()
	p, err := PrincipalFromARN("arn:aws:sts::123456789012:assumed-role/R/S")
	if err != nil {
		t.Fatal(err)
	}
	r := Request{Principal: p, Action: "dynamodb:GetItem", Resource: "arn:aws:dynamodb:us-east-1:123456789012:table/T"}
	d := Evaluate(Input{Request: r})
	want := "User: arn:aws:sts::123456789012:assumed-role/R/S is not authorized to perform: dynamodb:GetItem on resource: arn:aws:dynamodb:us-east-1:123456789012:table/T because no identity-based policy allows the dynamodb:GetItem action"
	if got := d.Message(r); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestParsePolicyRefusesWhatIAMRefuses(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{
		`{"Version":"2012-10-17"}`,
		`{"Statement":[{"Effect":"Permit","Action":"s3:*","Resource":"*"}]}`,
		`{"Statement":[{"Effect":"Allow","Resource":"*"}]}`,
		`{"Statement":[{"Effect":"Allow","Action":"s3:*","NotAction":"s3:Get*","Resource":"*"}]}`,
		`{"Statement":[{"Effect":"Allow","Principal":"me","Action":"s3:*","Resource":"*"}]}`,
	} {
		if _, err := ParsePolicy([]byte(doc)); err == nil {
			t.Errorf("ParsePolicy(%s): got no error, want one", doc)
		}
	}
}
