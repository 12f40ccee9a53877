package deploy

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/releases"
)

// TestAFrozenEnvironment: on the deploy step's clock (the fake's, at
// 2026-03-01 12:00 UTC), a run that reaches an environment in a freeze
// window waits for its end without touching the lock, or stops; a person's
// --during-freeze goes through, and the release records why; a rollback
// is not held.
func TestAFrozenEnvironment(t *testing.T) {
	t.Parallel()
	f := newFakeCFN()
	svc := withTable(t, newTestService(f))
	ctx := context.Background()
	now := f.clock.Now()
	in := runOf(testInput(), "1111111111111111111111111111111111111111", now.Add(-time.Minute))
	in.Environment.Freeze = []pipeline.FreezeWindow{{Name: "lunch", Start: "2026-03-01T11:30:00Z", End: "2026-03-01T13:00:30Z", TimeZone: "Europe/Berlin"}}

	l, err := lockOf(t, svc, in)
	if err != nil {
		t.Fatal(err)
	}
	want := pipeline.Lock{FrozenUntil: "2026-03-01T13:00:30Z", WaitSeconds: 3630, Announce: true,
		Summary: "staging is frozen until 2026-03-01 14:00:30 Europe/Berlin (lunch): the run waits"}
	if l != want {
		t.Errorf("got %+v, want %+v", l, want)
	}
	// It did not take the lock: another run of another branch may.
	other := runOf(testInput(), "2222222222222222222222222222222222222222", now)
	other.Run.Branch = "hotfix"
	if l, err := lockOf(t, svc, other); err != nil || !l.Held {
		t.Fatalf("another run: got %+v, %v; want the lock a frozen run left alone", l, err)
	}
	in.Lock = l
	if l, _ := lockOf(t, svc, in); l.Announce || l.FrozenUntil == "" {
		t.Errorf("the second look: got %+v, want it waiting, not announced again", l)
	}

	// freeze_action: stop.
	stop := in
	stop.Environment.FreezeAction = pipeline.FreezeStop
	_, err = lockOf(t, svc, stop)
	var frozen *pipeline.Frozen
	if !errors.As(err, &frozen) || !strings.HasPrefix(err.Error(), "staging is frozen until 2026-03-01 14:00:30 Europe/Berlin (lunch) and its freeze_action is stop: stackflow retry hello-main-1111111") {
		t.Errorf("got %v, want Frozen", err)
	}

	// --during-freeze: the run takes the lock, once it is free, and says why.
	during := stop
	during.Run.DuringFreeze = &pipeline.FreezeOverride{By: "ada", Reason: "the fix for the outage"}
	other.Action = pipeline.ActionGiveUp
	if _, err := svc.Invoke(ctx, other); err != nil {
		t.Fatal(err)
	}
	l, err = lockOf(t, svc, during)
	if err != nil || !l.Held {
		t.Fatalf("during the freeze: got %+v, %v; want the lock", l, err)
	}
	note := "ada asked to deploy during the freeze until 2026-03-01 14:00:30 Europe/Berlin (lunch): the fix for the outage"
	if l.DuringFreeze != note || !strings.HasSuffix(l.Summary, note) {
		t.Errorf("got %+v, want the reason kept", l)
	}
	during.Lock = l
	during.Action = pipeline.ActionRecordRelease
	during.Deployment = pipeline.Deployment{Stack: during.Environment.Stack, Done: true}
	if _, err := svc.Invoke(ctx, during); err != nil {
		t.Fatal(err)
	}
	rels, err := svc.Releases.List(ctx, "acme/hello", "staging", 1)
	if err != nil || len(rels) != 1 || rels[0].DuringFreeze != note {
		t.Errorf("got releases %+v, %v; want the reason recorded", rels, err)
	}

	// A rollback is not held by the freeze.
	rollback := stop
	rollback.Run.Rollback = &pipeline.RollbackRequest{Environment: "staging", By: "ada"}
	if l, err := lockOf(t, svc, rollback); err != nil || !l.Held {
		t.Errorf("a rollback: got %+v, %v; want the lock", l, err)
	}

	// After the window, the run goes on.
	f.clock.t = time.Date(2026, 3, 1, 13, 0, 30, 0, time.UTC)
	after := runOf(testInput(), "3333333333333333333333333333333333333333", now)
	after.Environment.Freeze = in.Environment.Freeze
	after.Lock = pipeline.Lock{FrozenUntil: "2026-03-01T13:00:30Z", WaitSeconds: 3630}
	if l, err := lockOf(t, svc, after); err != nil || l.FrozenUntil != "" {
		t.Errorf("after the window: got %+v, %v; want it to try the lock", l, err)
	}
}

func TestFindPackage(t *testing.T) {
	t.Parallel()
	f := newFakeCFN()
	svc := withTable(t, newTestService(f))
	ctx := context.Background()
	env := testInput().Environment
	pkg := pipeline.Package{TemplateURL: "https://b/released.yaml"}
	commit := "abcdef0" + strings.Repeat("1", 33)
	if err := svc.Releases.Record(ctx, releases.Release{Repository: "acme/hello", Environment: "staging", Stack: env.Stack,
		Commit: commit, Branch: "main", DeployedAt: f.clock.Now(), Deployed: &env, Package: &pkg}); err != nil {
		t.Fatal(err)
	}
	src := &pipeline.Source{Plan: pipeline.Plan{Summary: "promoted"}}
	promote := pipeline.DeployInput{Action: pipeline.ActionFindPackage, Run: testRun, Source: src}
	promote.Run.Commit = commit
	promote.Run.Promote = &pipeline.PromoteRequest{Environment: "prod", From: "staging", By: "ada"}
	out, err := svc.Invoke(ctx, promote)
	if err != nil {
		t.Fatal(err)
	}
	if p := out.(pipeline.RollbackPlan); p.Package.TemplateURL != pkg.TemplateURL || p.Source.Plan.Summary != "promoted" {
		t.Errorf("got %+v, want staging's package and the plan", p)
	}
	for _, tt := range []struct {
		name string
		edit func(*pipeline.DeployInput)
		want string
	}{
		{"a commit staging never released", func(in *pipeline.DeployInput) { in.Run.Commit = "9999999" + strings.Repeat("1", 33) },
			"refused to promote 9999999 from staging to prod: staging of acme/hello was never released at 9999999"},
		{"another branch than the release's", func(in *pipeline.DeployInput) { in.Run.Branch = "release/1" },
			"refused to promote abcdef0 from staging to prod: staging released abcdef0 of main, not abcdef0 of release/1"},
	} {
		in := promote
		r := *promote.Run.Promote
		in.Run.Promote = &r
		tt.edit(&in)
		if _, err := svc.Invoke(ctx, in); err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want %s", tt.name, err, tt.want)
		}
	}

	// A retry resumes with what the lock step recorded of the run.
	old := runOf(testInput(), commit, f.clock.Now().Add(-time.Hour))
	old.Package = pipeline.Package{TemplateURL: "https://b/packaged.yaml"}
	if _, err := lockOf(t, svc, old); err != nil {
		t.Fatal(err)
	}
	retry := pipeline.DeployInput{Action: pipeline.ActionFindPackage, Run: testRun, Source: src}
	retry.Run.Commit = commit
	retry.Run.Retry = &pipeline.RetryRequest{Of: old.Execution, Environment: "staging", StartedAt: "2099-01-01T00:00:00Z"}
	out, err = svc.Invoke(ctx, retry)
	if err != nil {
		t.Fatal(err)
	}
	p := out.(pipeline.RollbackPlan)
	if p.Package.TemplateURL != "https://b/packaged.yaml" || p.Run.Retry.StartedAt != old.StartedAt {
		t.Errorf("got package %q, start %q; want the old run's package and its start %s", p.Package.TemplateURL, p.Run.Retry.StartedAt, old.StartedAt)
	}
	retry.Run.Retry.Of = "arn:aws:states:us-east-1:123456789012:execution:pipeline:hello-main-never"
	if _, err := svc.Invoke(ctx, retry); err == nil || !strings.Contains(err.Error(), "it never reached an environment") {
		t.Errorf("a run never recorded: got %v, want Refused", err)
	}
}
