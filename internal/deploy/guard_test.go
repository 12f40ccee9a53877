package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/releases"
)

// sentFailures records SendTaskFailure calls, as Step Functions receives
// them.
type sentFailures struct{ got []sfn.SendTaskFailureInput }

func (s *sentFailures) SendTaskFailure(_ context.Context, in *sfn.SendTaskFailureInput, _ ...func(*sfn.Options)) (*sfn.SendTaskFailureOutput, error) {
	s.got = append(s.got, *in)
	return &sfn.SendTaskFailureOutput{}, nil
}

// runOf is in as the run of commit started at started, for the lock actions.
func runOf(in pipeline.DeployInput, commit string, started time.Time) pipeline.DeployInput {
	in.Run.Commit = commit
	in.Execution = "arn:aws:states:us-east-1:123456789012:execution:pipeline:hello-main-" + commit[:7]
	in.StartedAt = started.Format(time.RFC3339Nano)
	in.Environment.SmokeTimeoutSeconds = 60
	in.Environment.ApprovalTimeoutSeconds = 3600
	return in
}

func lockOf(t *testing.T, svc *Service, in pipeline.DeployInput) (pipeline.Lock, error) {
	t.Helper()
	in.Action = pipeline.ActionLock
	out, err := svc.Invoke(context.Background(), in)
	if err != nil {
		return pipeline.Lock{}, err
	}
	return out.(pipeline.Lock), nil
}

func TestLockOneRunAtATime(t *testing.T) {
	t.Parallel()
	svc := withTable(t, newTestService(newFakeCFN()))
	t0 := time.Now().UTC()
	older := runOf(testInput(), "1111111111111111111111111111111111111111", t0)
	newer := runOf(testInput(), "2222222222222222222222222222222222222222", t0.Add(time.Second))
	newer.Run.Branch = "release/2" // another branch: it waits, it does not supersede

	l, err := lockOf(t, svc, older)
	if err != nil || !l.Held {
		t.Fatalf("got %+v, %v; want the free lock", l, err)
	}
	older.Lock = l
	w, err := lockOf(t, svc, newer)
	if err != nil || w.Held {
		t.Fatalf("got %+v, %v; want to wait", w, err)
	}
	if w.Summary != "waiting for staging (held by 1111111)" || !w.Announce || w.HolderExecution != older.Execution {
		t.Errorf("got %+v, want it waiting for 1111111, announced once", w)
	}
	newer.Lock = w
	if again, _ := lockOf(t, svc, newer); again.Held || again.Announce {
		t.Errorf("got %+v, want it still waiting and not announced again", again)
	}

	older.Action = pipeline.ActionRecordRelease
	older.Deployment = pipeline.Deployment{Stack: older.Environment.Stack, Done: true}
	if _, err := svc.Invoke(context.Background(), older); err != nil {
		t.Fatal(err)
	}
	if l, err := lockOf(t, svc, newer); err != nil || !l.Held {
		t.Errorf("after the release: got %+v, %v; want the lock", l, err)
	}
}

func TestSupersededBeforeTheEnvironment(t *testing.T) {
	t.Parallel()
	svc := withTable(t, newTestService(newFakeCFN()))
	t0 := time.Now().UTC()
	older := runOf(testInput(), "1111111111111111111111111111111111111111", t0)
	newer := runOf(testInput(), "2222222222222222222222222222222222222222", t0.Add(time.Second))
	holder := runOf(testInput(), "0000000000000000000000000000000000000000", t0.Add(-time.Minute))
	holder.Run.Branch = "hotfix"

	if l, _ := lockOf(t, svc, holder); !l.Held {
		t.Fatal("want the free lock")
	}
	if l, err := lockOf(t, svc, older); err != nil || l.Held {
		t.Fatalf("got %+v, %v; want the older run waiting", l, err)
	}
	if l, err := lockOf(t, svc, newer); err != nil || l.Held {
		t.Fatalf("got %+v, %v; want the newer run waiting", l, err)
	}
	_, err := lockOf(t, svc, older)
	var sup *pipeline.Superseded
	if !errors.As(err, &sup) {
		t.Fatalf("got %v, want the older run superseded", err)
	}
	if got := sup.Error(); got != "superseded by 2222222: a newer commit of main has reached staging" {
		t.Errorf("got %q", got)
	}
}

func TestApprovalWaitIsTakenOver(t *testing.T) {
	t.Parallel()
	tasks := &sentFailures{}
	var logs bytes.Buffer
	svc := withTable(t, newTestService(newFakeCFN()))
	svc.Tasks = tasks
	svc.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	t0 := time.Now().UTC()
	older := runOf(testInput(), "1111111111111111111111111111111111111111", t0)
	newer := runOf(testInput(), "2222222222222222222222222222222222222222", t0.Add(time.Second))
	older.Environment.ApprovalRequired = true
	newer.Environment.ApprovalRequired = true

	l, _ := lockOf(t, svc, older)
	older.Lock = l
	older.Action = pipeline.ActionRequestApproval
	older.TaskToken = "token-that-resumes-the-older-run"
	older.Deployment = pipeline.Deployment{Stack: older.Environment.Stack, Done: true,
		Changes: []string{"Add Table (AWS::DynamoDB::Table)", "Modify HelloFunction (AWS::Lambda::Function)", "Modify Api (AWS::ApiGatewayV2::Api) (replacement: True)"}}
	if _, err := svc.Invoke(context.Background(), older); err != nil {
		t.Fatal(err)
	}
	pending, err := svc.Approvals.Pending(context.Background(), older.Execution)
	if err != nil || len(pending) != 1 {
		t.Fatalf("got %+v, %v; want one request", pending, err)
	}
	if got := pending[0].Summary; got != "1 to add, 1 to modify, 1 to replace, 0 to remove" {
		t.Errorf("got summary %q", got)
	}

	// The newer commit arrives while the older one waits: it takes over.
	if l, err := lockOf(t, svc, newer); err != nil || !l.Held {
		t.Fatalf("got %+v, %v; want the newer run to take the lock over", l, err)
	}
	if len(tasks.got) != 1 || aws.ToString(tasks.got[0].TaskToken) != older.TaskToken || aws.ToString(tasks.got[0].Error) != "Superseded" ||
		!strings.Contains(aws.ToString(tasks.got[0].Cause), "superseded by 2222222") {
		t.Errorf("got %+v, want the older run's approval failed as superseded", tasks.got)
	}
	if pending, _ := svc.Approvals.Pending(context.Background(), older.Execution); len(pending) != 0 {
		t.Errorf("got %+v, want the void request forgotten", pending)
	}
	// Were it approved anyway, the older run could not deploy.
	older.Action = pipeline.ActionExecuteChangeSet
	if _, err := svc.Invoke(context.Background(), older); !errors.As(err, new(*pipeline.Superseded)) {
		t.Errorf("got %v, want the older run superseded at its next step", err)
	}
	if strings.Contains(logs.String(), older.TaskToken) {
		t.Errorf("the task token is in the logs:\n%s", logs.String())
	}
}

func TestLostLockStopsTheDeploy(t *testing.T) {
	t.Parallel()
	svc := withTable(t, newTestService(newFakeCFN()))
	t0 := time.Now().UTC()
	dead := runOf(testInput(), "1111111111111111111111111111111111111111", t0)
	dead.Run.Settings.LockLeaseSeconds = 1
	dead.Environment.SmokeTimeoutSeconds = 0
	l, _ := lockOf(t, svc, dead)
	dead.Lock = l
	// Another branch's run takes the lock once the lease has lapsed.
	other := runOf(testInput(), "3333333333333333333333333333333333333333", t0.Add(time.Second))
	other.Run.Branch = "hotfix"
	for {
		if l, err := lockOf(t, svc, other); err != nil {
			t.Fatal(err)
		} else if l.Held {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	dead.Action = pipeline.ActionDescribeStack
	_, err := svc.Invoke(context.Background(), dead)
	if err == nil || !strings.Contains(err.Error(), "lost the lock of staging") || !strings.Contains(err.Error(), "3333333 holds it now") {
		t.Errorf("got %v, want the deploy stopped for a lost lock", err)
	}
}

func TestPrepareRollback(t *testing.T) {
	t.Parallel()
	svc := withTable(t, newTestService(newFakeCFN()))
	ctx := context.Background()
	in := testInput()
	in.Action = pipeline.ActionPrepareRollback
	smoke := &pipeline.SmokeTestFailed{Environment: "staging", Check: "greets", URL: "http://x/hello", Got: "status 500", Want: "status 200"}
	cause, _ := json.Marshal(map[string]string{"errorType": "SmokeTestFailed", "errorMessage": smoke.Error()})
	in.Failure = &pipeline.StateError{Error: "SmokeTestFailed", Cause: string(cause)}

	// A first deploy has nothing to go back to.
	out, err := svc.Invoke(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if rb := out.(pipeline.Rollback); rb.Active() || rb.Summary != "staging has no earlier release to roll back to" {
		t.Errorf("got %+v, want no rollback, said so", rb)
	}

	env := in.Environment
	pkg := pipeline.Package{TemplateURL: "https://b/old.yaml"}
	for i, c := range []string{"aaaaaaa", "bbbbbbb"} {
		err := svc.Releases.Record(ctx, releases.Release{Repository: "acme/hello", Environment: "staging", Stack: env.Stack,
			Commit: c + strings.Repeat("0", 33), Branch: "main", DeployedAt: svc.now().Add(time.Duration(i-5) * time.Minute),
			Deployed: &env, Package: &pkg})
		if err != nil {
			t.Fatal(err)
		}
	}
	// The failed commit released once before (a redeploy): skip it too.
	if err := svc.Releases.Record(ctx, releases.Release{Repository: "acme/hello", Environment: "staging", Stack: env.Stack,
		Commit: in.Run.Commit, DeployedAt: svc.now().Add(-time.Minute), Deployed: &env, Package: &pkg}); err != nil {
		t.Fatal(err)
	}
	out, err = svc.Invoke(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	rb := out.(pipeline.Rollback)
	if !rb.Active() || rb.Commit[:7] != "bbbbbbb" || rb.Package.TemplateURL != pkg.TemplateURL || rb.Reason != smoke.Error() || rb.FailedCommit != in.Run.Commit {
		t.Errorf("got %+v, want bbbbbbb, the newest release of another commit", rb)
	}

	// Its smoke test fails too: give up.
	in.Rollback = rb
	if _, err := svc.Invoke(ctx, in); !errors.As(err, new(*pipeline.RollbackFailed)) {
		t.Errorf("got %v, want RollbackFailed", err)
	}

	// The rollback passes: the release is recorded and the run ends RolledBack.
	in.Action = pipeline.ActionRecordRelease
	_, err = svc.Invoke(ctx, in)
	var rolled *pipeline.RolledBack
	if !errors.As(err, &rolled) || !strings.HasPrefix(rolled.Error(), "rolled back staging to bbbbbbb after smoke test") {
		t.Fatalf("got %v, want RolledBack", err)
	}
	latest, _ := svc.Releases.List(ctx, "acme/hello", "staging", 1)
	if latest[0].Commit[:7] != "bbbbbbb" || latest[0].RollbackOf != in.Run.Commit {
		t.Errorf("got newest release %+v, want bbbbbbb as a rollback of %s", latest[0], in.Run.Short())
	}
}

func TestPlanRollback(t *testing.T) {
	t.Parallel()
	svc := withTable(t, newTestService(newFakeCFN()))
	ctx := context.Background()
	env := testInput().Environment
	pkg := pipeline.Package{TemplateURL: "https://b/old.yaml"}
	commit := "abcdef0" + strings.Repeat("1", 33)
	if err := svc.Releases.Record(ctx, releases.Release{Repository: "acme/hello", Environment: "staging", Stack: env.Stack,
		Commit: commit, Branch: "main", DeployedAt: time.Now(), Deployed: &env, Package: &pkg}); err != nil {
		t.Fatal(err)
	}
	in := pipeline.DeployInput{Action: pipeline.ActionPlanRollback, Run: testRun}
	in.Run.Commit = commit
	in.Run.Rollback = &pipeline.RollbackRequest{Environment: "staging", By: "ada"}
	out, err := svc.Invoke(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	plan := out.(pipeline.RollbackPlan)
	if len(plan.Source.Plan.Environments) != 1 || plan.Source.Plan.Environments[0].Stack != env.Stack || plan.Package.TemplateURL != pkg.TemplateURL ||
		plan.Source.Plan.Summary != "rolled back staging to abcdef0 (asked by ada)" || !plan.Source.Plan.Deploy {
		t.Errorf("got %+v", plan)
	}
	in.Run.Commit = "9999999" + strings.Repeat("1", 33)
	if _, err := svc.Invoke(ctx, in); err == nil || !strings.Contains(err.Error(), "was never released at 9999999") {
		t.Errorf("got %v, want an error naming the unreleased commit", err)
	}
}

func TestGiveUp(t *testing.T) {
	t.Parallel()
	svc := withTable(t, newTestService(newFakeCFN()))
	t0 := time.Now().UTC()
	in := runOf(testInput(), "1111111111111111111111111111111111111111", t0)
	in.Environment.ApprovalTimeoutSeconds = 7 * 24 * 3600
	l, _ := lockOf(t, svc, in)
	in.Lock = l
	tests := []struct {
		name    string
		failure *pipeline.StateError
		want    pipeline.StateError
	}{
		{name: "a handler's error", failure: &pipeline.StateError{Error: "StackDeployFailed", Cause: `{"errorType":"StackDeployFailed","errorMessage":"deploy hello-staging: boom"}`},
			want: pipeline.StateError{Error: "StackDeployFailed", Cause: "deploy hello-staging: boom"}},
		{name: "approval timed out", failure: &pipeline.StateError{Error: pipeline.ErrApprovalTimedOut, Cause: "the approval timed out"},
			want: pipeline.StateError{Error: pipeline.ErrApprovalTimedOut, Cause: "nobody approved the deploy of 1111111 to staging within 168h0m0s"}},
		{name: "rejected", failure: &pipeline.StateError{Error: pipeline.ErrApprovalRejected, Cause: "rejected by ada: not on a Friday"},
			want: pipeline.StateError{Error: pipeline.ErrApprovalRejected, Cause: "rejected by ada: not on a Friday"}},
	}
	for _, tt := range tests {
		in.Action, in.Failure = pipeline.ActionGiveUp, tt.failure
		out, err := svc.Invoke(context.Background(), in)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := out.(pipeline.StateError); got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
	other := runOf(testInput(), "2222222222222222222222222222222222222222", t0.Add(time.Second))
	other.Run.Branch = "hotfix"
	if l, _ := lockOf(t, svc, other); !l.Held {
		t.Error("the lock was not released by giving up")
	}
}

func TestAnOlderHolderStopsBeforeExecuting(t *testing.T) {
	t.Parallel()
	svc := withTable(t, newTestService(newFakeCFN()))
	t0 := time.Now().UTC()
	older := runOf(testInput(), "1111111111111111111111111111111111111111", t0)
	newer := runOf(testInput(), "2222222222222222222222222222222222222222", t0.Add(time.Second))
	l, _ := lockOf(t, svc, older)
	older.Lock = l
	if w, err := lockOf(t, svc, newer); err != nil || w.Held {
		t.Fatalf("got %+v, %v; want the newer run waiting", w, err)
	}
	older.Action = pipeline.ActionExecuteChangeSet
	older.Deployment = pipeline.Deployment{Stack: older.Environment.Stack, ChangeSetID: "cs", Done: true}
	_, err := svc.Invoke(context.Background(), older)
	var sup *pipeline.Superseded
	if !errors.As(err, &sup) || sup.By != newer.Run.Commit {
		t.Fatalf("got %v, want the older run superseded before it executes its change set", err)
	}
}

func TestTheWaitForALockBacksOff(t *testing.T) {
	t.Parallel()
	svc := withTable(t, newTestService(newFakeCFN()))
	t0 := time.Now().UTC()
	holder := runOf(testInput(), "1111111111111111111111111111111111111111", t0)
	waiter := runOf(testInput(), "2222222222222222222222222222222222222222", t0.Add(time.Second))
	waiter.Run.Branch = "hotfix"
	waiter.Run.Settings.LockPollSeconds = 20
	lockOf(t, svc, holder)
	var got []int
	for range 6 {
		l, err := lockOf(t, svc, waiter)
		if err != nil || l.Held {
			t.Fatalf("got %+v, %v; want a wait", l, err)
		}
		got = append(got, l.WaitSeconds)
		waiter.Lock = l
	}
	want := []int{20, 40, 80, 160, 300, 300}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got waits %v, want %v", got, want)
		}
	}
	waiter.Lock.WaitingSince = svc.now().Add(-8 * 24 * time.Hour).Format(time.RFC3339)
	if _, err := lockOf(t, svc, waiter); err == nil || !strings.Contains(err.Error(), "gave up waiting for staging after 192h0m0s: 1111111 holds it") {
		t.Errorf("got %v, want the run to give up after days", err)
	}
}

// TestTheWaitForALockEndsWhenItsLeaseLapses: a waiter looks again just
// after the holder's lease lapses instead of doubling past it, so a run
// that died frees its environment within a second of its lease.
func TestTheWaitForALockEndsWhenItsLeaseLapses(t *testing.T) {
	t.Parallel()
	svc := withTable(t, newTestService(newFakeCFN()))
	svc.now = time.Now // the locks' clock: the lease lapses in real time
	t0 := time.Now().UTC()
	holder := runOf(testInput(), "1111111111111111111111111111111111111111", t0)
	holder.Run.Settings.LockLeaseSeconds, holder.Environment.SmokeTimeoutSeconds = 30, 0
	waiter := runOf(testInput(), "2222222222222222222222222222222222222222", t0.Add(time.Second))
	waiter.Run.Branch = "hotfix"
	waiter.Run.Settings.LockPollSeconds = 4
	lockOf(t, svc, holder)
	var got []int
	for range 5 {
		l, err := lockOf(t, svc, waiter)
		if err != nil || l.Held {
			t.Fatalf("got %+v, %v; want a wait", l, err)
		}
		got = append(got, l.WaitSeconds)
		waiter.Lock = l
	}
	// 4, 8, 16, then no later than a second after the 30 s lease (less
	// the time this test took so far), never less than the poll.
	if got[0] != 4 || got[1] != 8 || got[2] != 16 {
		t.Fatalf("got waits %v, want 4, 8, 16 first", got)
	}
	for _, w := range got[3:] {
		if w >= 32 || w < 4 {
			t.Errorf("got waits %v, want the 4th and 5th at most 31 s (the lease lapses) and at least the poll", got)
		}
	}
}

func TestARunThatLostItsLockRecordsNoRelease(t *testing.T) {
	t.Parallel()
	svc := withTable(t, newTestService(newFakeCFN()))
	t0 := time.Now().UTC()
	dead := runOf(testInput(), "1111111111111111111111111111111111111111", t0)
	dead.Run.Settings.LockLeaseSeconds, dead.Environment.SmokeTimeoutSeconds = 1, 0
	l, _ := lockOf(t, svc, dead)
	dead.Lock = l
	other := runOf(testInput(), "3333333333333333333333333333333333333333", t0.Add(time.Second))
	other.Run.Branch = "hotfix"
	for {
		if l, _ := lockOf(t, svc, other); l.Held {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	dead.Action = pipeline.ActionRecordRelease
	dead.Deployment = pipeline.Deployment{Stack: dead.Environment.Stack, Done: true}
	if _, err := svc.Invoke(context.Background(), dead); err == nil || !strings.Contains(err.Error(), "lost the lock of staging") {
		t.Errorf("got %v, want the release refused", err)
	}
	if got, _ := svc.Releases.List(context.Background(), "acme/hello", "staging", 0); len(got) != 0 {
		t.Errorf("got releases %+v, want none", got)
	}
}

func TestLocksAreOneAccountEach(t *testing.T) {
	t.Parallel()
	svc := withTable(t, newTestService(newFakeCFN()))
	t0 := time.Now().UTC()
	a := runOf(testInput(), "1111111111111111111111111111111111111111", t0)
	b := runOf(testInput(), "2222222222222222222222222222222222222222", t0.Add(time.Second))
	b.Run.Branch = "hotfix"
	b.Environment.RoleARN = "arn:aws:iam::210987654321:role/deploy" // the same stack name in another account
	if l, _ := lockOf(t, svc, a); !l.Held {
		t.Fatal("want the lock")
	}
	if l, err := lockOf(t, svc, b); err != nil || !l.Held {
		t.Errorf("got %+v, %v; want the other account's stack free", l, err)
	}
}
