package local

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/releases"
)

// The end-to-end tests of the trust boundaries: where a commit deploys is
// decided by the default branch, never by the commit.

// git runs git in dir, failing the test on an error, and returns its output.
func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := gitIn(context.Background(), dir, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// stackStatus is the status of stack now, "" when there is none.
func stackStatus(t *testing.T, stack string) string {
	t.Helper()
	status, _, err := stackOutputs(context.Background(), shared.cfn, stack)
	if err != nil {
		t.Fatal(err)
	}
	return status
}

// stackTag is the value of stack's tag key, "" when it has none.
func stackTag(t *testing.T, stack, key string) string {
	t.Helper()
	out, err := shared.cfn.DescribeStacks(context.Background(), &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
	if err != nil || len(out.Stacks) == 0 {
		t.Fatalf("describe stack %s: %v", stack, err)
	}
	for _, tag := range out.Stacks[0].Tags {
		if aws.ToString(tag.Key) == key {
			return aws.ToString(tag.Value)
		}
	}
	return ""
}

// TestAFeatureBranchCannotAddItselfToProd pushes a feature branch whose
// stackflow.yml adds it to prod's branches: it runs its checks only, prod
// is not touched, and its commit status and stackflow show say what was
// ignored. Merged to main, the change takes effect: the branch's next push
// goes to prod.
func TestAFeatureBranchCannotAddItselfToProd(t *testing.T) {
	t.Parallel()
	repo, dir := app(t, "joiner", nil)
	prod := repo.Slug + "-prod"
	git(t, dir, "checkout", "-q", "-b", "feature/x")
	joined := commit(t, dir, map[string]func(string) string{
		"stackflow.yml": func(s string) string {
			return strings.Replace(s, "  - name: prod\n    branches: [main]\n", "  - name: prod\n    branches: [main, feature/x]\n", 1)
		},
	})
	res := run(t, repo, dir)
	if !res.Succeeded() {
		t.Fatalf("got %s %s: %s, want SUCCEEDED (checks only)", res.Status, res.Error, res.Cause)
	}
	if got := stackStatus(t, prod); got != "" {
		t.Errorf("prod's stack %s is %s, want it untouched (no stack)", prod, got)
	}
	want := "feature/x: checks only (no environment deploys this branch); ignored this commit's prod.branches: main's stackflow.yml decides where commits deploy"
	if s := status(t, res); s.State != pipeline.StateSuccessful || s.Description != want {
		t.Errorf("got status %s %q, want SUCCESSFUL %q", s.State, s.Description, want)
	}
	tl, err := client().Show(context.Background(), res.Execution)
	if err != nil {
		t.Fatal(err)
	}
	wantIgnored := pipeline.IgnoredSetting{Setting: "prod.branches", Commit: "[main, feature/x]", Default: "[main]"}
	if len(tl.Ignored) != 1 || tl.Ignored[0] != wantIgnored || tl.DefaultBranch == nil || tl.DefaultBranch.Name != "main" {
		t.Errorf("show: got ignored %+v by %+v, want %+v by main", tl.Ignored, tl.DefaultBranch, wantIgnored)
	}

	// Merged to main, the change is main's: main deploys as before, and
	// from now on so does feature/x, to prod.
	git(t, dir, "checkout", "-q", "main")
	git(t, dir, "merge", "-q", "--ff-only", "feature/x")
	if res := run(t, repo, dir); !res.Succeeded() {
		t.Fatalf("main: got %s %s: %s, want SUCCEEDED", res.Status, res.Error, res.Cause)
	}
	git(t, dir, "checkout", "-q", "feature/x")
	again := commit(t, dir, map[string]func(string) string{"stackflow.yml": func(s string) string { return s + "# again\n" }})
	res = run(t, repo, dir)
	if !res.Succeeded() {
		t.Fatalf("feature/x again: got %s %s: %s, want SUCCEEDED", res.Status, res.Error, res.Cause)
	}
	if got := releasesOf(t, repo, "prod"); len(got) != 2 || got[0] != pipeline.ShortSHA(again) || got[1] != pipeline.ShortSHA(joined) {
		t.Errorf("prod: got releases %v, want %s (feature/x, once main allowed it) over %s (main)", got, pipeline.ShortSHA(again), pipeline.ShortSHA(joined))
	}
	if got := releasesOf(t, repo, "staging"); len(got) != 1 {
		t.Errorf("staging: got releases %v, want main's only: staging does not take feature/x", got)
	}
	if s := status(t, res); strings.Contains(s.Description, "ignored") {
		t.Errorf("got status %q, want nothing ignored", s.Description)
	}
}

// TestABranchCannotMoveStagingOntoProdsStack pushes a branch that staging
// takes, whose samconfig.toml points staging at prod's stack (and prod at
// another): staging is
// deployed to its own stack, prod's stays as main left it, and the commit
// status says what was ignored.
func TestABranchCannotMoveStagingOntoProdsStack(t *testing.T) {
	t.Parallel()
	repo, dir := app(t, "mover", map[string]func(string) string{
		"stackflow.yml": func(s string) string {
			return strings.Replace(s, "  - name: staging\n    branches: [main]\n", "  - name: staging\n    branches: [main, feature/*]\n", 1)
		},
	})
	staging, prod := repo.Slug+"-staging", repo.Slug+"-prod"
	main := git(t, dir, "rev-parse", "HEAD")
	if res := run(t, repo, dir); !res.Succeeded() {
		t.Fatalf("main: got %s %s: %s, want SUCCEEDED", res.Status, res.Error, res.Cause)
	}
	git(t, dir, "checkout", "-q", "-b", "feature/y")
	// Moving prod out of the way too: alone, a file with two environments
	// on one stack is refused.
	moved := commit(t, dir, map[string]func(string) string{
		"samconfig.toml": func(s string) string {
			s = strings.Replace(s, `stack_name = "`+prod+`"`, `stack_name = "`+prod+`-elsewhere"`, 1)
			return strings.Replace(s, `stack_name = "`+staging+`"`, `stack_name = "`+prod+`"`, 1)
		},
	})
	res := run(t, repo, dir)
	if !res.Succeeded() {
		t.Fatalf("feature/y: got %s %s: %s, want SUCCEEDED", res.Status, res.Error, res.Cause)
	}
	if got := releasesOf(t, repo, "prod"); len(got) != 1 || got[0] != pipeline.ShortSHA(main) {
		t.Errorf("prod: got releases %v, want main's %s only", got, pipeline.ShortSHA(main))
	}
	if got := stackTag(t, prod, "stackflow:commit"); got != main {
		t.Errorf("prod's stack %s: got commit %s, want main's %s", prod, got, main)
	}
	if got := stackTag(t, staging, "stackflow:commit"); got != moved {
		t.Errorf("staging's stack %s: got commit %s, want feature/y's %s", staging, got, moved)
	}
	want := "ignored this commit's staging.stack, prod.stack: main's stackflow.yml decides where commits deploy"
	if s := status(t, res); !strings.HasSuffix(s.Description, want) {
		t.Errorf("got status %q, want it to end %q", s.Description, want)
	}
}

// TestAStackStaysWithItsEnvironment changes main itself to point staging
// at prod's stack (and prod at a new one): staging's deploy is refused
// before anything changes, since prod's stack is bound to prod, and the
// commit's status says why.
func TestAStackStaysWithItsEnvironment(t *testing.T) {
	t.Parallel()
	repo, dir := app(t, "binder", nil)
	staging, prod := repo.Slug+"-staging", repo.Slug+"-prod"
	first := git(t, dir, "rev-parse", "HEAD")
	if res := run(t, repo, dir); !res.Succeeded() {
		t.Fatalf("first: got %s %s: %s, want SUCCEEDED", res.Status, res.Error, res.Cause)
	}
	if got := stackTag(t, prod, "stackflow:environment"); got != "prod" {
		t.Fatalf("prod's stack is bound to %q, want prod", got)
	}
	commit(t, dir, map[string]func(string) string{
		"samconfig.toml": func(s string) string {
			s = strings.Replace(s, `stack_name = "`+prod+`"`, `stack_name = "`+prod+`-new"`, 1)
			return strings.Replace(s, `stack_name = "`+staging+`"`, `stack_name = "`+prod+`"`, 1)
		},
	})
	res := run(t, repo, dir)
	want := "refused to deploy staging to stack " + prod + ": it belongs to environment prod of " + repo.FullName()
	if res.Status != "FAILED" || res.Error != "StackRefused" || !strings.Contains(res.Cause, want) {
		t.Fatalf("got %s %s: %s, want FAILED StackRefused: %s", res.Status, res.Error, res.Cause, want)
	}
	if got := stackTag(t, prod, "stackflow:commit"); got != first {
		t.Errorf("prod's stack %s: got commit %s, want the first's %s", prod, got, first)
	}
	if got := stackStatus(t, prod+"-new"); got != "" {
		t.Errorf("%s-new is %s, want it not created: the promotion stopped at staging", prod, got)
	}
	if s := status(t, res); s.State != pipeline.StateFailed || !strings.Contains(s.Description, "StackRefused: "+want) {
		t.Errorf("got status %s %q, want FAILED with the refusal", s.State, s.Description)
	}
}

// TestAZipChangedAfterPackagingIsNotDeployed swaps the function's zip in
// the artifact bucket while prod waits for its approval, as a build of
// another commit holding the bucket could: once approved, prod's deploy
// reads the zip back, finds it changed and stops before its change set is
// executed, and prod keeps no release of it.
func TestAZipChangedAfterPackagingIsNotDeployed(t *testing.T) {
	t.Parallel()
	repo, dir := gated(t, "swapped", "168h")
	sha := git(t, dir, "rev-parse", "HEAD")
	arn := deliver(t, repo, dir)
	awaitApproval(t, repo, dir, sha, arn)
	store := releases.New(dynamodb.NewFromConfig(shared.aws), shared.Outputs()["ReleasesTableName"])
	staged, err := store.List(context.Background(), repo.FullName(), "staging", 0)
	if err != nil || len(staged) != 1 || staged[0].Package == nil || len(staged[0].Package.Functions) == 0 {
		t.Fatalf("got staging's releases %+v, %v; want one with its package", staged, err)
	}
	zip := staged[0].Package.Functions[0].Key
	s3c := s3.NewFromConfig(shared.aws, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(shared.Outputs()["ArtifactBucketName"]), Key: aws.String(zip), Body: strings.NewReader("a miner"),
	}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := client().Approve(context.Background(), arn, "", "prod"); err != nil {
		t.Fatal(err)
	}
	got := await(t, arn)
	want := "artifact changed after packaging: s3://" + shared.Outputs()["ArtifactBucketName"] + "/" + zip
	if got.Status != "FAILED" || aws.ToString(got.Error) != "StackDeployFailed" || !strings.Contains(aws.ToString(got.Cause), want) {
		t.Fatalf("got %s %s: %s, want FAILED StackDeployFailed: %s", got.Status, aws.ToString(got.Error), aws.ToString(got.Cause), want)
	}
	if got := releasesOf(t, repo, "prod"); len(got) != 0 {
		t.Errorf("prod: got releases %v, want none", got)
	}
	if got := stackStatus(t, repo.Slug+"-prod"); got == "CREATE_COMPLETE" {
		t.Errorf("prod's stack is %s, want its change set not executed", got)
	}
	if !said(statusesOf(t, repo, dir, sha), pipeline.StateFailed, "artifact changed after packaging") {
		t.Errorf("got statuses %+v, want FAILED saying the artifact changed", statusesOf(t, repo, dir, sha))
	}
}

// TestOnlyApproversMayApprove: prod's approvers, named on main, do not
// include the caller (the local AWS takes everyone for its account's
// root), so stackflow approve and reject, which go through the approval
// function's AWS_IAM URL, are refused by the function and prod keeps
// waiting; an unsigned request is refused before the function runs. Once
// main names the caller, its next run is approved, as the caller's
// identity that the URL handed the function.
func TestOnlyApproversMayApprove(t *testing.T) {
	t.Parallel()
	const managers = "arn:aws:iam::" + AccountID + ":role/release-managers"
	repo, dir := app(t, "approvers", map[string]func(string) string{
		"stackflow.yml": func(s string) string {
			return strings.Replace(s, "  - name: prod\n", "  - name: prod\n    approval: required\n    approvers: ["+managers+"]\n", 1)
		},
	})
	sha := git(t, dir, "rev-parse", "HEAD")
	first := deliver(t, repo, dir)
	awaitApproval(t, repo, dir, sha, first)
	want := "refused: " + localCaller + " may not answer the approval of " + pipeline.ShortSHA(sha) + "'s deploy to prod: its approvers are " + managers
	if _, _, err := client().Approve(context.Background(), first, "", ""); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("approve: got %v, want %q", err, want)
	}
	if _, _, err := client().Reject(context.Background(), first, "", "", "no"); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("reject: got %v, want %q", err, want)
	}
	unsigned, err := http.Post(shared.Outputs()["ApprovalUrl"], "application/json", strings.NewReader(`{"execution":"`+first+`","answer":"approve"}`))
	if err != nil {
		t.Fatal(err)
	}
	unsigned.Body.Close()
	if unsigned.StatusCode != http.StatusForbidden {
		t.Errorf("an unsigned approval: got HTTP %d, want 403", unsigned.StatusCode)
	}
	if _, pending, err := client().Pending(context.Background(), first); err != nil || len(pending) != 1 {
		t.Errorf("got pending %+v, %v; want prod still waiting", pending, err)
	}

	newer := commit(t, dir, map[string]func(string) string{
		"stackflow.yml": func(s string) string {
			return strings.Replace(s, "approvers: ["+managers+"]", "approvers: ["+managers+", "+localCaller+"]", 1)
		},
	})
	second := deliver(t, repo, dir)
	awaitApproval(t, repo, dir, newer, second)
	if _, by, err := client().Approve(context.Background(), second, "", ""); err != nil || by != localCaller {
		t.Fatalf("approve: got %q, %v; want approved as %s", by, err, localCaller)
	}
	if got := await(t, second); got.Status != "SUCCEEDED" {
		t.Fatalf("got %s %s: %s, want SUCCEEDED", got.Status, aws.ToString(got.Error), aws.ToString(got.Cause))
	}
	tl, err := client().Show(context.Background(), second)
	if err != nil {
		t.Fatal(err)
	}
	if got := tl.Environments[1].Approval; got != "approved by "+localCaller {
		t.Errorf("show: got %q, want approved by %s", got, localCaller)
	}
	if got := await(t, first); got.Status != "ABORTED" {
		t.Errorf("the first run: got %s, want ABORTED (superseded by the newer commit)", got.Status)
	}
}
