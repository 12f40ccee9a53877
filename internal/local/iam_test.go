package local

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAFunctionWithItsTablesPolicyIsDelivered: with IAM enforced, the
// function whose role may read its table answers at both stages.
func TestAFunctionWithItsTablesPolicyIsDelivered(t *testing.T) {
	t.Parallel()
	repo, dir := appAt(t, filepath.Join("testdata", "visits"), "visits", "visits", nil)
	res := run(t, repo, dir)
	if !res.Succeeded() {
		t.Fatalf("got %s %s: %s, want SUCCEEDED", res.Status, res.Error, res.Cause)
	}
	delivered(t, repo, res, "hello", func(stage string) string { return "hello from " + stage + ", 0 items recorded\n" })
}

// TestAFunctionWithoutItsTablesPolicyFailsItsSmokeTest: the same app
// whose function's role lacks the table's policy answers 500 at staging's
// smoke test, and the function's log has the denial as AWS words it.
func TestAFunctionWithoutItsTablesPolicyFailsItsSmokeTest(t *testing.T) {
	t.Parallel()
	repo, dir := appAt(t, filepath.Join("testdata", "visits"), "visits", "visits-denied", map[string]func(string) string{
		"template.yaml": func(s string) string {
			return strings.Replace(s, "      Policies:\n        - DynamoDBReadPolicy:\n            TableName: !Ref VisitsTable\n", "", 1)
		},
	})
	res := run(t, repo, dir)
	if res.Status != "FAILED" || res.Error != "SmokeTestFailed" {
		t.Fatalf("got %s %s: %s, want FAILED SmokeTestFailed", res.Status, res.Error, res.Cause)
	}
	if !strings.Contains(res.Cause, "500") {
		t.Errorf("cause %q: want the 500 the API answered", res.Cause)
	}
	if e := env(t, res, "prod"); e.Status != "" {
		t.Errorf("prod: got %s, want it untouched", e.Status)
	}
	logs, err := filepath.Glob(filepath.Join(shared.LogDir(), "function-"+repo.Slug+"-staging-VisitsFunction-*.log"))
	if err != nil || len(logs) != 1 {
		t.Fatalf("the staging function's log: got %v %v, want one file", logs, err)
	}
	b, err := os.ReadFile(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	want := ":assumed-role/" + repo.Slug + "-staging-VisitsFunctionRole-"
	denial := "is not authorized to perform: dynamodb:GetItem on resource: arn:aws:dynamodb:" + Region + ":" + AccountID + ":table/" + repo.Slug + "-staging-VisitsTable-"
	if !strings.Contains(string(b), want) || !strings.Contains(string(b), denial) || !strings.Contains(string(b), "because no identity-based policy allows the dynamodb:GetItem action") {
		t.Errorf("the function's log does not show the denial of its role (%q ... %q):\n%s", want, denial, b)
	}
}
