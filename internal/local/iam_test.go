package local

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackflow/stackflow/internal/localrepo"
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

// TestThePipelineWithoutADeployPolicyItNeedsFailsWithAccessDenied installs
// the pipeline's own template.yaml without the deploy function's
// DynamoDB statement (its releases and locks table) into a local AWS of
// its own, and delivers examples/hello: the run fails at the lock, with
// AccessDenied naming the deploy role and the DynamoDB action. It is not
// parallel: a second local AWS starting takes the CPU that the shared
// pipeline's runs, waiting on leases and polls, need on two cores.
func TestThePipelineWithoutADeployPolicyItNeedsFailsWithAccessDenied(t *testing.T) {
	ctx, cancel := runContext(t)
	defer cancel()
	src, err := SourceDir(".")
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	copySource(t, ctx, src, dst)
	tmpl := filepath.Join(dst, "template.yaml")
	b, err := os.ReadFile(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	start := strings.Index(string(b), "            - Sid: ReleasesAndLocks\n")
	end := strings.Index(string(b), "              Resource: !GetAtt ReleasesTable.Arn\n")
	if start < 0 || end < start {
		t.Fatal("template.yaml: want the deploy function's ReleasesAndLocks statement, on its ReleasesTable")
	}
	policy := string(b)[start : end+len("              Resource: !GetAtt ReleasesTable.Arn\n")]
	if err := os.WriteFile(tmpl, []byte(strings.Replace(string(b), policy, "", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Start(ctx, Options{SourceDir: dst, FunctionConcurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	repo, dir := app(t, "hello-unlocked", nil)
	res, err := p.Run(ctx, Push{Repo: repo, Dir: dir}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if res.Succeeded() {
		t.Fatal("the run succeeded without the deploy function's DynamoDB policy")
	}
	for _, want := range []string{":assumed-role/stackflow-DeployFunctionRole-", "is not authorized to perform: dynamodb:", "on resource: arn:aws:dynamodb:" + Region + ":" + AccountID + ":table/stackflow-ReleasesTable-", "because no identity-based policy allows the dynamodb:"} {
		if !strings.Contains(res.Cause, want) {
			t.Errorf("cause %q: want it to contain %q", res.Cause, want)
		}
	}
	if e := env(t, res, "staging"); e.Status != "" {
		t.Errorf("staging: got %s, want it untouched", e.Status)
	}
}

// copySource copies the files of the stackflow source tree src that git
// does not ignore (tracked or not, as the local install packages them)
// into dst, but for the examples.
func copySource(t *testing.T, ctx context.Context, src, dst string) {
	t.Helper()
	out, err := localrepo.Git(ctx, src, nil, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range strings.Split(string(out), "\x00") {
		if f == "" || strings.HasPrefix(f, "examples/") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, f))
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted in the work tree
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
