package local

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// previewApp is the hello app with preview stacks on, and a branch
// feature/greeting one commit ahead of main.
func previewApp(t *testing.T, name string) (pipeline.Repository, string) {
	t.Helper()
	repo, dir := app(t, name, map[string]func(string) string{
		"stackflow.yml": func(s string) string { return s + "previews:\n  pull_requests: true\n" },
	})
	ctx := context.Background()
	if _, err := gitIn(ctx, dir, "checkout", "-q", "-b", "feature/greeting"); err != nil {
		t.Fatal(err)
	}
	commitChange(t, dir, "Say where the greeting comes from", map[string]func(string) string{
		"README.md": func(s string) string { return s + "Greets from each stage.\n" },
	})
	return repo, dir
}

// commitChange edits files of dir and commits them to its checked-out
// branch.
func commitChange(t *testing.T, dir, message string, edit map[string]func(string) string) {
	t.Helper()
	for name, change := range edit {
		p := filepath.Join(dir, filepath.FromSlash(name))
		old, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(change(string(old))), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"add", "."}, {"commit", "-q", "-m", message}} {
		if _, err := gitIn(context.Background(), dir, args...); err != nil {
			t.Fatal(err)
		}
	}
}

// awaitPR follows the run ev started until it ends.
func awaitPR(t *testing.T, ev *PullRequestEvent) *Result {
	t.Helper()
	ctx, cancel := runContext(t)
	defer cancel()
	var progress io.Writer
	if *verbose {
		progress = os.Stderr
	}
	res, err := shared.AwaitPullRequest(ctx, ev, progress)
	if err != nil {
		t.Fatalf("await pull request #%d: %v", ev.PullRequest.ID, err)
	}
	return res
}

// prStatus is the status of pull request id's run on its commit.
func prStatus(t *testing.T, res *Result, id int) Status {
	t.Helper()
	key := "stackflow-pr-" + strconv.Itoa(id)
	for _, s := range res.Statuses {
		if s.Key == key {
			return s
		}
	}
	t.Fatalf("got statuses %+v, want one with key %s", res.Statuses, key)
	return Status{}
}

func TestPullRequestPreviewIsDeployedThenUpdated(t *testing.T) {
	t.Parallel()
	repo, dir := previewApp(t, "preview")
	ctx, cancel := runContext(t)
	defer cancel()

	opened, err := shared.OpenPullRequest(ctx, repo, dir, "feature/greeting", "main")
	if err != nil {
		t.Fatal(err)
	}
	id := opened.PullRequest.ID
	if got := opened.Response.Started; len(got) != 1 || got[0].PullRequest != id || got[0].Branch != "feature/greeting" || got[0].Commit != opened.PullRequest.Commit {
		t.Fatalf("got started %+v, want one run of pull request #%d at %s", got, id, opened.PullRequest.Commit)
	}
	res := awaitPR(t, opened)
	if !res.Succeeded() {
		t.Fatalf("open: got %s %s: %s, want SUCCEEDED", res.Status, res.Error, res.Cause)
	}
	preview := env(t, res, "pr-"+strconv.Itoa(id))
	if want := repo.Slug + "-pr-" + strconv.Itoa(id); preview.Stack != want || preview.Status != "CREATE_COMPLETE" {
		t.Fatalf("got preview %s %s, want %s CREATE_COMPLETE", preview.Stack, preview.Status, want)
	}
	// The preview takes staging's settings, and was smoke-tested as staging is.
	if got, want := get(t, preview.Outputs["ApiUrl"]+"hello"), "hello from staging\n"; got != want {
		t.Errorf("preview answers %q, want %q", got, want)
	}
	if s := prStatus(t, res, id); s.State != pipeline.StateSuccessful {
		t.Errorf("got status %+v, want SUCCESSFUL", s)
	}
	// Nothing else was deployed: a pull request deploys its preview only.
	for _, stack := range []string{repo.Slug + "-staging", repo.Slug + "-prod"} {
		if status, _, err := stackOutputs(ctx, shared.cfn, stack); err != nil || status != "" {
			t.Errorf("stack %s: got %q, %v; want none", stack, status, err)
		}
	}

	// A new commit on the branch updates the preview.
	commitChange(t, dir, "Greet again", map[string]func(string) string{
		"hello/handler.go":      func(s string) string { return strings.Replace(s, `"hello from "`, `"hello again from "`, 1) },
		"hello/handler_test.go": func(s string) string { return strings.ReplaceAll(s, `"hello from `, `"hello again from `) },
		"stackflow.yml": func(s string) string {
			return strings.ReplaceAll(s, "contains: hello from", "contains: hello again from")
		},
	})
	updated, err := shared.UpdatePullRequest(ctx, repo, id)
	if err != nil {
		t.Fatal(err)
	}
	if updated.PullRequest.Commit == opened.PullRequest.Commit {
		t.Fatalf("the update is at %s, the commit the pull request was opened at", updated.PullRequest.Commit)
	}
	res = awaitPR(t, updated)
	if !res.Succeeded() {
		t.Fatalf("update: got %s %s: %s, want SUCCEEDED", res.Status, res.Error, res.Cause)
	}
	again := env(t, res, "pr-"+strconv.Itoa(id))
	if again.Status != "UPDATE_COMPLETE" || again.Outputs["ApiUrl"] != preview.Outputs["ApiUrl"] {
		t.Errorf("got preview %s %s at %s, want the same stack UPDATE_COMPLETE at %s", again.Stack, again.Status, again.Outputs["ApiUrl"], preview.Outputs["ApiUrl"])
	}
	if got, want := get(t, again.Outputs["ApiUrl"]+"hello"), "hello again from staging\n"; got != want {
		t.Errorf("updated preview answers %q, want %q", got, want)
	}
	if s := prStatus(t, res, id); s.State != pipeline.StateSuccessful {
		t.Errorf("got status %+v, want SUCCESSFUL", s)
	}
}

// TestPullRequestPreviewLinksAndIsDeletedOnMerge: the status of a
// successful preview run links to the preview, and a closed pull request's
// run deletes the preview stack without running the checks.
func TestPullRequestPreviewLinksAndIsDeletedOnMerge(t *testing.T) {
	t.Parallel()
	repo, dir := previewApp(t, "preview-merged")
	ctx, cancel := runContext(t)
	defer cancel()

	opened, err := shared.OpenPullRequest(ctx, repo, dir, "feature/greeting", "main")
	if err != nil {
		t.Fatal(err)
	}
	id := opened.PullRequest.ID
	res := awaitPR(t, opened)
	if !res.Succeeded() {
		t.Fatalf("open: got %s %s: %s, want SUCCEEDED", res.Status, res.Error, res.Cause)
	}
	preview := env(t, res, "pr-"+strconv.Itoa(id))
	if s := prStatus(t, res, id); s.URL != preview.Outputs["ApiUrl"] || !strings.Contains(s.Description, preview.Outputs["ApiUrl"]) {
		t.Errorf("got status %+v, want it to link to the preview at %s", s, preview.Outputs["ApiUrl"])
	}

	merged, err := shared.MergePullRequest(ctx, repo, id)
	if err != nil {
		t.Fatal(err)
	}
	if got := merged.Response.Started; len(got) != 1 || !strings.HasSuffix(got[0].Execution, "-pr"+strconv.Itoa(id)+"-closed") {
		t.Fatalf("got started %+v, want the closing run of pull request #%d", got, id)
	}
	res = awaitPR(t, merged)
	if !res.Succeeded() {
		t.Fatalf("merge: got %s %s: %s, want SUCCEEDED", res.Status, res.Error, res.Cause)
	}
	if gone := env(t, res, "pr-"+strconv.Itoa(id)); gone.Status != "" && gone.Status != "DELETE_COMPLETE" {
		t.Errorf("got preview %s %s, want it deleted", gone.Stack, gone.Status)
	}
	if s := prStatus(t, res, id); s.State != pipeline.StateSuccessful {
		t.Errorf("got status %+v, want SUCCESSFUL", s)
	}
}

// TestAPullRequestClosedWhileItsUpdateRunsLeavesNoPreview merges a pull
// request right after an update of it: whichever way the two runs meet at
// the preview, the stack is gone at the end, since the closing run is the
// newest of the branch there and deletes under the preview's lock.
func TestAPullRequestClosedWhileItsUpdateRunsLeavesNoPreview(t *testing.T) {
	t.Parallel()
	repo, dir := previewApp(t, "preview-raced")
	ctx, cancel := runContext(t)
	defer cancel()
	opened, err := shared.OpenPullRequest(ctx, repo, dir, "feature/greeting", "main")
	if err != nil {
		t.Fatal(err)
	}
	id := opened.PullRequest.ID
	if res := awaitPR(t, opened); !res.Succeeded() {
		t.Fatalf("open: got %s %s: %s, want SUCCEEDED", res.Status, res.Error, res.Cause)
	}
	commitChange(t, dir, "Say more", map[string]func(string) string{
		"README.md": func(s string) string { return s + "And more.\n" },
	})
	updated, err := shared.UpdatePullRequest(ctx, repo, id)
	if err != nil {
		t.Fatal(err)
	}
	merged, err := shared.MergePullRequest(ctx, repo, id)
	if err != nil {
		t.Fatal(err)
	}
	closing := awaitPR(t, merged)
	if !closing.Succeeded() {
		t.Fatalf("merge: got %s %s: %s, want SUCCEEDED", closing.Status, closing.Error, closing.Cause)
	}
	update := awaitPR(t, updated)
	if update.Status != "SUCCEEDED" && !(update.Status == "ABORTED" && update.Error == "Superseded") {
		t.Errorf("update: got %s %s: %s, want it delivered before the deletion or superseded by it", update.Status, update.Error, update.Cause)
	}
	t.Logf("the update run ended %s %s", update.Status, update.Error)
	gone := env(t, closing, "pr-"+strconv.Itoa(id))
	stack, err := shared.cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(gone.Stack)})
	if err == nil && len(stack.Stacks) > 0 && stack.Stacks[0].StackStatus != "DELETE_COMPLETE" {
		t.Errorf("got preview %s %s after both runs, want it deleted", gone.Stack, stack.Stacks[0].StackStatus)
	}
}
