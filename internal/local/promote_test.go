package local

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/stackflow/stackflow/internal/approvals"
	"github.com/stackflow/stackflow/internal/locks"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/releases"
	"github.com/stackflow/stackflow/internal/runs"
)

// The end-to-end tests of safe promotion: locks, superseded runs,
// approvals and rollbacks, through the real state machine and handlers.

// commit changes files of the repository in dir (path -> a function of
// the old content) and commits them; it returns the new commit.
func commit(t *testing.T, dir string, edit map[string]func(string) string) string {
	t.Helper()
	ctx := context.Background()
	for name, change := range edit {
		p := filepath.Join(dir, filepath.FromSlash(name))
		old, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(change(string(old))), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := gitIn(ctx, dir, "commit", "-q", "-am", "a change"); err != nil {
		t.Fatal(err)
	}
	sha, err := gitIn(ctx, dir, "rev-parse", "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	return sha
}

// deliver pushes dir's HEAD and returns the execution it started.
func deliver(t *testing.T, repo pipeline.Repository, dir string) string {
	t.Helper()
	resp, err := shared.Deliver(context.Background(), &Push{Repo: repo, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Started) != 1 {
		t.Fatalf("got %+v, want one execution started", resp)
	}
	return resp.Started[0].Execution
}

// await waits for the execution arn to end and returns how.
func await(t *testing.T, arn string) *awssfn.DescribeExecutionOutput {
	t.Helper()
	ctx, cancel := runContext(t)
	defer cancel()
	desc, err := follow(ctx, shared.sfn, arn, 100*time.Millisecond, func(types.HistoryEvent) {})
	if err != nil {
		t.Fatal(err)
	}
	return desc
}

// awaitSuccess waits for the execution arn (what: the run, as the message
// names it) to end and fails the test, with the states it went through,
// unless it SUCCEEDED.
func awaitSuccess(t *testing.T, arn, what string) {
	t.Helper()
	if got := await(t, arn); got.Status != types.ExecutionStatusSucceeded {
		explain(t, arn)
		t.Fatalf("%s: got %s %s: %s, want SUCCEEDED", what, got.Status, aws.ToString(got.Error), aws.ToString(got.Cause))
	}
}

// explain logs the states arn went through, with each one's output, for
// a test that failed on it.
func explain(t *testing.T, arn string) {
	t.Helper()
	events, err := shared.History(context.Background(), arn)
	if err != nil {
		t.Logf("history of %s: %v", arn, err)
		return
	}
	for _, e := range events {
		switch {
		case e.StateEnteredEventDetails != nil:
			t.Logf("entered %s", aws.ToString(e.StateEnteredEventDetails.Name))
		case e.StateExitedEventDetails != nil:
			t.Logf("exited %s: %.300s", aws.ToString(e.StateExitedEventDetails.Name), aws.ToString(e.StateExitedEventDetails.Output))
		case e.ExecutionFailedEventDetails != nil:
			t.Logf("failed: %s: %s", aws.ToString(e.ExecutionFailedEventDetails.Error), aws.ToString(e.ExecutionFailedEventDetails.Cause))
		}
	}
}

// until polls cond every 100 ms until it holds, failing the test after a
// few minutes with what it was waiting for.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// statusesOf are the statuses posted on commit of repo, oldest first.
func statusesOf(t *testing.T, repo pipeline.Repository, dir, commit string) []Status {
	t.Helper()
	srv, err := shared.Repository(repo, dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []Status
	for _, s := range srv.History() {
		if s.Commit == commit {
			out = append(out, Status{Key: s.Key, State: s.State, Description: s.Description, URL: s.URL})
		}
	}
	return out
}

func said(statuses []Status, state, text string) bool {
	for _, s := range statuses {
		if s.State == state && strings.Contains(s.Description, text) {
			return true
		}
	}
	return false
}

func visited(t *testing.T, arn, state string) bool {
	t.Helper()
	events, err := shared.History(context.Background(), arn)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if d := e.StateEnteredEventDetails; d != nil && aws.ToString(d.Name) == state {
			return true
		}
	}
	return false
}

func releasesOf(t *testing.T, repo pipeline.Repository, env string) []string {
	t.Helper()
	store := releases.New(dynamodb.NewFromConfig(shared.aws), shared.Outputs()["ReleasesTableName"])
	list, err := store.List(context.Background(), repo.FullName(), env, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range list {
		out = append(out, pipeline.ShortSHA(r.Commit))
	}
	return out
}

// localCaller is who the local AWS takes every caller for, as its STS
// GetCallerIdentity reports it: approvals are recorded as it.
const localCaller = "arn:aws:iam::" + AccountID + ":root"

// client is the client of runs that stackflow's commands use, reaching the
// local services.
func client() *runs.Client {
	return runs.NewFromClients(runs.Pipeline{
		StateMachineARN: shared.Outputs()["StateMachineArn"],
		Bucket:          shared.Outputs()["ArtifactBucketName"],
		ReleasesTable:   shared.Outputs()["ReleasesTableName"],
		ApprovalURL:     shared.Outputs()["ApprovalUrl"],
	}, shared.sfn, s3.NewFromConfig(shared.aws, func(o *s3.Options) { o.UsePathStyle = true }), dynamodb.NewFromConfig(shared.aws), sts.NewFromConfig(shared.aws)).SignWith(shared.aws)
}

// TestANewerPushSupersedesAnOlderOne pushes two commits of main in quick
// succession; the older one's checks take longer (they wait until the newer
// run has reached staging's lock: a fixed sleep raced the newer run's start,
// which a busy local Step Functions may hold back for seconds), so the newer
// one reaches staging first, and the older one stops before it rather than
// deploy an older commit over a newer one.
func TestANewerPushSupersedesAnOlderOne(t *testing.T) {
	t.Parallel()
	gate := filepath.Join(t.TempDir(), "newer-reached-staging")
	wait := "  - while [ ! -e '" + gate + "' ]; do sleep 0.1; done\n"
	repo, dir := app(t, "twopush", map[string]func(string) string{
		"stackflow.yml": func(s string) string { return strings.Replace(s, "checks:\n", "checks:\n"+wait, 1) },
	})
	older := deliver(t, repo, dir)
	olderSHA, _ := gitIn(context.Background(), dir, "rev-parse", "HEAD")
	newerSHA := commit(t, dir, map[string]func(string) string{
		"stackflow.yml": func(s string) string { return strings.Replace(s, wait, "", 1) },
	})
	newer := deliver(t, repo, dir)
	until(t, "the newer run to reach staging's lock", func() bool { return visited(t, newer, "Take the environment's lock") })
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	if got := await(t, newer); got.Status != "SUCCEEDED" {
		t.Fatalf("newer: got %s %s: %s, want SUCCEEDED", got.Status, aws.ToString(got.Error), aws.ToString(got.Cause))
	}
	got := await(t, older)
	want := "superseded by " + pipeline.ShortSHA(newerSHA)
	if got.Status != "ABORTED" || aws.ToString(got.Error) != "Superseded" || !strings.Contains(aws.ToString(got.Cause), want) {
		t.Errorf("older: got %s %s: %s, want ABORTED Superseded: %s", got.Status, aws.ToString(got.Error), aws.ToString(got.Cause), want)
	}
	if visited(t, older, "Create the change set") {
		t.Error("the superseded run made a change set")
	}
	if !said(statusesOf(t, repo, dir, olderSHA), pipeline.StateStopped, want) {
		t.Errorf("older commit's statuses %+v: want STOPPED %q", statusesOf(t, repo, dir, olderSHA), want)
	}
	for _, env := range []string{"staging", "prod"} {
		if got := releasesOf(t, repo, env); len(got) != 1 || got[0] != pipeline.ShortSHA(newerSHA) {
			t.Errorf("%s: got releases %v, want only the newer commit %s", env, got, pipeline.ShortSHA(newerSHA))
		}
	}
}

// TestALockOfARunThatDiedLapses stops a run while it holds staging's lock,
// as a crashed handler or a stopped execution leaves it: the next run
// waits for the environment, says so on its commit, and goes on once the
// lease has lapsed. The lease is the pipeline's 10 s plus staging's
// smoke_timeout of 30 s: time enough for the next run to reach staging
// while the lock is still held.
func TestALockOfARunThatDiedLapses(t *testing.T) {
	t.Parallel()
	repo, dir := app(t, "deadlock", map[string]func(string) string{
		"stackflow.yml": func(s string) string {
			return strings.Replace(s, "  - name: staging\n", "  - name: staging\n    smoke_timeout: 30s\n", 1)
		},
	})
	deadSHA, _ := gitIn(context.Background(), dir, "rev-parse", "HEAD")
	dead := deliver(t, repo, dir)
	until(t, "the first run to take staging's lock", func() bool { return visited(t, dead, "Create the change set") })
	if err := shared.Stop(context.Background(), dead, "killed while it held the lock"); err != nil {
		t.Fatal(err)
	}
	// The dead run's lease would lapse on its own 40 s after its last
	// renewal; on a loaded machine the next run may take longer than that
	// to reach staging, and would then never wait. So the test keeps the
	// lease alive until the next run says it waits, then lets it lapse in
	// a second, as a dead holder's lease lapses.
	ctx := context.Background()
	store := locks.New(dynamodb.NewFromConfig(shared.aws), shared.Outputs()["ReleasesTableName"])
	const region = "eu-west-1" // examples/hello's samconfig.toml
	held, err := store.Holder(ctx, locks.Claim{Region: region, Stack: repo.Slug + "-staging"})
	if err != nil || held.Execution != dead {
		t.Fatalf("got staging's lock held by %+v (%v), want the dead run %s", held, err, dead)
	}
	claim := locks.Claim{Region: region, Stack: repo.Slug + "-staging", Repository: held.Repository, Branch: held.Branch,
		Environment: "staging", Execution: held.Execution, Commit: held.Commit, StartedAt: held.StartedAt}
	if err := store.Renew(ctx, claim, time.Hour, false); err != nil {
		t.Fatal(err)
	}
	nextSHA := commit(t, dir, map[string]func(string) string{"stackflow.yml": func(s string) string { return s + "\n# again\n" }})
	next := deliver(t, repo, dir)
	want := "waiting for staging (held by " + pipeline.ShortSHA(deadSHA) + ")"
	until(t, "the next run to wait for staging", func() bool {
		return said(statusesOf(t, repo, dir, nextSHA), pipeline.StateInProgress, want)
	})
	if err := store.Renew(ctx, claim, time.Second, false); err != nil {
		t.Fatal(err)
	}
	if got := await(t, next); got.Status != "SUCCEEDED" {
		t.Fatalf("got %s %s: %s, want SUCCEEDED", got.Status, aws.ToString(got.Error), aws.ToString(got.Cause))
	}
	if got := releasesOf(t, repo, "staging"); len(got) != 1 || got[0] != pipeline.ShortSHA(nextSHA) {
		t.Errorf("staging: got releases %v, want %s", got, pipeline.ShortSHA(nextSHA))
	}
}

// gated is an app whose prod needs approval, within timeout.
func gated(t *testing.T, name, timeout string) (pipeline.Repository, string) {
	t.Helper()
	return app(t, name, map[string]func(string) string{
		"stackflow.yml": func(s string) string {
			return strings.Replace(s, "  - name: prod\n", "  - name: prod\n    approval: required\n    approval_timeout: "+timeout+"\n", 1)
		},
	})
}

// awaitApproval waits until the run arn of commit asks for prod's approval
// on the commit, and returns the request as the table keeps it.
func awaitApproval(t *testing.T, repo pipeline.Repository, dir, commit, arn string) approvals.Request {
	t.Helper()
	until(t, "prod to await approval", func() bool {
		return said(statusesOf(t, repo, dir, commit), pipeline.StateInProgress, "prod awaits approval")
	})
	store := approvals.New(dynamodb.NewFromConfig(shared.aws), shared.Outputs()["ReleasesTableName"])
	var pending []approvals.Request
	until(t, "the approval request", func() bool {
		var err error
		pending, err = store.Pending(context.Background(), arn)
		return err == nil && len(pending) == 1
	})
	return pending[0]
}

// TestApprovalApproved: prod waits for approval with its change set on
// the commit and in stackflow show, is approved, and is delivered; the
// approval's token appears in no status, log or show output.
func TestApprovalApproved(t *testing.T) {
	t.Parallel()
	repo, dir := gated(t, "approved", "168h")
	sha, _ := gitIn(context.Background(), dir, "rev-parse", "HEAD")
	arn := deliver(t, repo, dir)
	req := awaitApproval(t, repo, dir, sha, arn)
	if !said(statusesOf(t, repo, dir, sha), pipeline.StateInProgress, "prod awaits approval: 5 to add, 0 to modify, 0 to replace, 0 to remove") {
		t.Errorf("got statuses %+v, want prod's change set counted", statusesOf(t, repo, dir, sha))
	}
	c := client()
	tl, err := c.Show(context.Background(), arn)
	if err != nil {
		t.Fatal(err)
	}
	prod := tl.Environments[1]
	if !strings.Contains(prod.Approval, "stackflow approve") || len(prod.Changes) == 0 || !strings.HasPrefix(prod.Changes[0], "Add ") {
		t.Errorf("show: got prod %+v, want it waiting with its change set", prod)
	}
	if _, _, err := c.Approve(context.Background(), arn, "", ""); err != nil {
		t.Fatal(err)
	}
	if got := await(t, arn); got.Status != "SUCCEEDED" {
		t.Fatalf("got %s %s: %s, want SUCCEEDED", got.Status, aws.ToString(got.Error), aws.ToString(got.Cause))
	}
	if got := releasesOf(t, repo, "prod"); len(got) != 1 || got[0] != pipeline.ShortSHA(sha) {
		t.Errorf("prod: got releases %v, want %s", got, pipeline.ShortSHA(sha))
	}
	tl, _ = c.Show(context.Background(), arn)
	if got := tl.Environments[1].Approval; got != "approved by "+localCaller {
		t.Errorf("show: got approval %q, want approved by the caller's identity %s", got, localCaller)
	}
	// The token never leaves the table and Step Functions.
	seen := []string{}
	for _, s := range statusesOf(t, repo, dir, sha) {
		seen = append(seen, s.Description, s.URL)
	}
	logs, _ := os.ReadDir(shared.LogDir())
	for _, e := range logs {
		data, _ := os.ReadFile(filepath.Join(shared.LogDir(), e.Name()))
		seen = append(seen, string(data))
	}
	shown, _ := json.Marshal(tl)
	seen = append(seen, string(shown))
	for _, s := range seen {
		if strings.Contains(s, req.Token) {
			t.Fatalf("the approval token appears in %.200q", s)
		}
	}
}

// TestApprovalRejected: a rejected deploy fails the run with the reason
// on the commit, and prod keeps serving what it had.
func TestApprovalRejected(t *testing.T) {
	t.Parallel()
	repo, dir := gated(t, "rejected", "168h")
	sha, _ := gitIn(context.Background(), dir, "rev-parse", "HEAD")
	arn := deliver(t, repo, dir)
	awaitApproval(t, repo, dir, sha, arn)
	if _, _, err := client().Reject(context.Background(), arn, "", "prod", "not on a Friday"); err != nil {
		t.Fatal(err)
	}
	got := await(t, arn)
	if got.Status != "FAILED" || aws.ToString(got.Error) != pipeline.ErrApprovalRejected || !strings.Contains(aws.ToString(got.Cause), "rejected by "+localCaller+": not on a Friday") {
		t.Errorf("got %s %s: %s, want FAILED ApprovalRejected with the reason", got.Status, aws.ToString(got.Error), aws.ToString(got.Cause))
	}
	if !said(statusesOf(t, repo, dir, sha), pipeline.StateFailed, "rejected by "+localCaller+": not on a Friday") {
		t.Errorf("got statuses %+v, want FAILED with the reason", statusesOf(t, repo, dir, sha))
	}
	if got := releasesOf(t, repo, "prod"); len(got) != 0 {
		t.Errorf("prod: got releases %v, want none", got)
	}
	if got := releasesOf(t, repo, "staging"); len(got) != 1 {
		t.Errorf("staging: got releases %v, want this commit", got)
	}
}

// TestApprovalTimedOut: nobody approves within approval_timeout, and the
// run stops.
func TestApprovalTimedOut(t *testing.T) {
	t.Parallel()
	repo, dir := gated(t, "unanswered", "3s")
	sha, _ := gitIn(context.Background(), dir, "rev-parse", "HEAD")
	arn := deliver(t, repo, dir)
	got := await(t, arn)
	if got.Status != "ABORTED" || aws.ToString(got.Error) != pipeline.ErrApprovalTimedOut || !strings.Contains(aws.ToString(got.Cause), "nobody approved the deploy of "+pipeline.ShortSHA(sha)+" to prod within 3s") {
		t.Errorf("got %s %s: %s, want ABORTED ApprovalTimedOut", got.Status, aws.ToString(got.Error), aws.ToString(got.Cause))
	}
	if !said(statusesOf(t, repo, dir, sha), pipeline.StateStopped, "nobody approved") {
		t.Errorf("got statuses %+v, want STOPPED", statusesOf(t, repo, dir, sha))
	}
	if _, _, err := client().Approve(context.Background(), arn, "", ""); err == nil {
		t.Error("approved a run that had stopped")
	}
}

// TestAFailedProdSmokeTestRollsProdBack delivers a commit, then one whose
// prod answers 503: prod is put back to the first commit, which answers
// its smoke check again, and the run fails saying so. Then stackflow
// rollback puts staging back on demand.
func TestAFailedProdSmokeTestRollsProdBack(t *testing.T) {
	t.Parallel()
	repo, dir := app(t, "rollback", map[string]func(string) string{
		"stackflow.yml": func(s string) string {
			return strings.Replace(s, "  - name: prod\n", "  - name: prod\n    smoke_timeout: 3s\n", 1)
		},
	})
	good, _ := gitIn(context.Background(), dir, "rev-parse", "HEAD")
	if got := await(t, deliver(t, repo, dir)); got.Status != "SUCCEEDED" {
		t.Fatalf("first: got %s %s: %s", got.Status, aws.ToString(got.Error), aws.ToString(got.Cause))
	}
	bad := commit(t, dir, map[string]func(string) string{
		"hello/handler.go": func(s string) string {
			return strings.Replace(s, "\tstage := g.Stage\n", "\tstage := g.Stage\n\tif stage == \"prod\" {\n\t\treturn events.APIGatewayV2HTTPResponse{StatusCode: http.StatusServiceUnavailable}, nil\n\t}\n", 1)
		},
	})
	arn := deliver(t, repo, dir)
	got := await(t, arn)
	want := "rolled back prod to " + pipeline.ShortSHA(good)
	if got.Status != "FAILED" || aws.ToString(got.Error) != "RolledBack" || !strings.Contains(aws.ToString(got.Cause), want) || !strings.Contains(aws.ToString(got.Cause), "status 503") {
		t.Fatalf("got %s %s: %s, want FAILED RolledBack: %s after the 503", got.Status, aws.ToString(got.Error), aws.ToString(got.Cause), want)
	}
	if !said(statusesOf(t, repo, dir, bad), pipeline.StateFailed, want) {
		t.Errorf("got statuses %+v, want FAILED %q", statusesOf(t, repo, dir, bad), want)
	}
	res, err := shared.environments(context.Background(), Push{Repo: repo, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range res {
		if e.Name == "prod" {
			if got := get(t, e.Outputs["ApiUrl"]+"hello"); got != "hello from prod\n" {
				t.Errorf("prod answers %q after the rollback, want hello from prod", got)
			}
		}
	}
	if got := releasesOf(t, repo, "prod"); len(got) != 2 || got[0] != pipeline.ShortSHA(good) {
		t.Errorf("prod: got releases %v, want the rollback to %s on top", got, pipeline.ShortSHA(good))
	}

	// On demand: staging runs the bad commit (its smoke test passed there).
	roll, r, by, err := client().RollbackAsCaller(context.Background(), repo, "", "staging", "")
	if err != nil {
		t.Fatal(err)
	}
	if by != localCaller {
		t.Errorf("rollback asked by %q, want the caller AWS names, %s", by, localCaller)
	}
	if r.Commit != good {
		t.Errorf("rollback chose %s, want the release before the current one, %s", pipeline.ShortSHA(r.Commit), pipeline.ShortSHA(good))
	}
	awaitSuccess(t, roll, "rollback")
	if got := releasesOf(t, repo, "staging"); len(got) != 3 || got[0] != pipeline.ShortSHA(good) {
		t.Errorf("staging: got releases %v, want %s on top", got, pipeline.ShortSHA(good))
	}
	if !said(statusesOf(t, repo, dir, good), pipeline.StateSuccessful, "rolled back staging to "+pipeline.ShortSHA(good)+" (asked by "+localCaller+")") {
		t.Errorf("got statuses %+v, want the rollback reported on its commit", statusesOf(t, repo, dir, good))
	}
}

// TestApproveAsAsked is stackflow local --approve: the run it follows is
// approved as it asks, and goes through.
func TestApproveAsAsked(t *testing.T) {
	t.Parallel()
	repo, dir := gated(t, "autoapproved", "168h")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var said syncBuffer
	go shared.ApproveAsAsked(ctx, &said)
	res := run(t, repo, dir)
	if !res.Succeeded() {
		t.Fatalf("got %s %s: %s, want SUCCEEDED", res.Status, res.Error, res.Cause)
	}
	if !strings.Contains(said.String(), " to prod (5 to add, 0 to modify, 0 to replace, 0 to remove) as "+localCaller) {
		t.Errorf("got %q, want the approval said", said.String())
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestANewerCommitTakesAnApprovalWaitOver pushes a commit while an older
// one waits for prod's approval: the newer one takes the older one's place
// (the older run stops, superseded) and is the one approved and released.
func TestANewerCommitTakesAnApprovalWaitOver(t *testing.T) {
	t.Parallel()
	repo, dir := gated(t, "takeover", "168h")
	olderSHA, _ := gitIn(context.Background(), dir, "rev-parse", "HEAD")
	older := deliver(t, repo, dir)
	awaitApproval(t, repo, dir, olderSHA, older)
	newerSHA := commit(t, dir, map[string]func(string) string{"stackflow.yml": func(s string) string { return s + "\n# newer\n" }})
	newer := deliver(t, repo, dir)
	got := await(t, older)
	want := "superseded by " + pipeline.ShortSHA(newerSHA)
	if got.Status != "ABORTED" || aws.ToString(got.Error) != "Superseded" || !strings.Contains(aws.ToString(got.Cause), want) {
		t.Fatalf("older: got %s %s: %s, want ABORTED Superseded: %s", got.Status, aws.ToString(got.Error), aws.ToString(got.Cause), want)
	}
	awaitApproval(t, repo, dir, newerSHA, newer)
	if _, _, err := client().Approve(context.Background(), newer, "", "prod"); err != nil {
		t.Fatal(err)
	}
	if got := await(t, newer); got.Status != "SUCCEEDED" {
		t.Fatalf("newer: got %s %s: %s, want SUCCEEDED", got.Status, aws.ToString(got.Error), aws.ToString(got.Cause))
	}
	if got := releasesOf(t, repo, "prod"); len(got) != 1 || got[0] != pipeline.ShortSHA(newerSHA) {
		t.Errorf("prod: got releases %v, want only %s", got, pipeline.ShortSHA(newerSHA))
	}
}
