package runs

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/stackflow/stackflow/internal/pipeline"
)

func name(repo, commit string) string {
	return pipeline.ExecutionName(pipeline.Repository{Workspace: "acme", Slug: repo}, "main", commit)
}

func TestRunsListsTheRunsNewestFirst(t *testing.T) {
	t.Parallel()
	got, err := client.Runs(context.Background(), Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d runs %+v, want 2", len(got), got)
	}
	b, g := got[0], got[1]
	if b.Execution != name("broken", brokenCommit) || g.Execution != name("good", goodCommit) {
		t.Fatalf("got %s then %s, want the broken run, then the good one", b.Execution, g.Execution)
	}
	if g.Repository != "acme/good" || g.Branch != "main" || g.Commit != goodCommit || g.Status != "SUCCEEDED" || g.ARN != good.Execution {
		t.Errorf("good: got %+v, want acme/good main %s SUCCEEDED %s", g, goodCommit, good.Execution)
	}
	if g.Failure != nil || g.Stopped == nil || g.Seconds <= 0 || g.Started.IsZero() {
		t.Errorf("good: got failure %+v, stopped %v, %.1fs from %v; want no failure and a start, a stop and a duration",
			g.Failure, g.Stopped, g.Seconds, g.Started)
	}
	if b.Status != "FAILED" || b.Failure == nil {
		t.Fatalf("broken: got %s %+v, want FAILED with where it stopped", b.Status, b.Failure)
	}
	if f := b.Failure; f.State != "Run the checks" || f.Error != "ChecksFailed" || f.Environment != "" || !strings.Contains(f.Cause, "TestHandle") {
		t.Errorf("broken: got failure %+v, want Run the checks, ChecksFailed naming TestHandle", f)
	}
}

func TestRunsFilters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		filter Filter
		want   []string
	}{
		{name: "a repository", filter: Filter{Repository: "acme/good"}, want: []string{name("good", goodCommit)}},
		{name: "a repository and branch", filter: Filter{Repository: "acme/broken", Branch: "main"}, want: []string{name("broken", brokenCommit)}},
		{name: "a branch", filter: Filter{Branch: "main"}, want: []string{name("broken", brokenCommit), name("good", goodCommit)}},
		{name: "a branch nothing was pushed to", filter: Filter{Branch: "feature/x"}, want: []string{}},
		{name: "another workspace", filter: Filter{Repository: "other/good"}, want: []string{}},
		{name: "a limit", filter: Filter{Limit: 1}, want: []string{name("broken", brokenCommit)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			runs, err := client.Runs(context.Background(), tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			got := []string{}
			for _, r := range runs {
				got = append(got, r.Execution)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	if _, err := client.Runs(context.Background(), Filter{Repository: "good"}); err == nil {
		t.Errorf("a repository without a workspace: got no error, want one")
	}
}

func TestShowFindsARunByNameARNOrCommit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, ref, want string
	}{
		{name: "execution name", ref: name("good", goodCommit), want: good.Execution},
		{name: "execution ARN", ref: broken.Execution, want: broken.Execution},
		{name: "whole commit", ref: brokenCommit, want: broken.Execution},
		{name: "seven characters of the commit", ref: goodCommit[:7], want: good.Execution},
		{name: "ten upper-case characters of the commit", ref: strings.ToUpper(goodCommit[:10]), want: good.Execution},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tl, err := client.Show(context.Background(), tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			if tl.ARN != tt.want || tl.Note != "" {
				t.Errorf("got %s (note %q), want %s", tl.ARN, tl.Note, tt.want)
			}
		})
	}
}

func TestShowTellsWhereAndWhyARunFailed(t *testing.T) {
	t.Parallel()
	tl, err := client.Show(context.Background(), name("broken", brokenCommit))
	if err != nil {
		t.Fatal(err)
	}
	if tl.Status != "FAILED" || tl.Failure == nil || tl.Failure.State != "Run the checks" || tl.Failure.Error != "ChecksFailed" {
		t.Fatalf("got %s %+v, want FAILED at Run the checks with ChecksFailed", tl.Status, tl.Failure)
	}
	var names []string
	var checks *Step
	for i, s := range tl.Steps {
		names = append(names, s.Name)
		if s.Name == "Run the checks" {
			checks = &tl.Steps[i]
		}
	}
	want := []string{"Report the run started", "What does this run do?", "Fetch the source and read the plan", "Several apps, or a preview to close?", "Hand the checks their URLs", "Run the checks", "Report the failure", "Run failed"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("got states %q, want %q", names, want)
	}
	if checks == nil || checks.Status != StepFailed || checks.Error != "ChecksFailed" || checks.Phase != PhaseChecks {
		t.Fatalf("got the checks' step %+v, want FAILED with ChecksFailed", checks)
	}
	for _, want := range []string{`check "go test ./..." failed`, "--- FAIL: TestHandle", `want "hello from staging\n"`} {
		if !strings.Contains(checks.Cause, want) {
			t.Errorf("got cause %q, want it to contain %q", checks.Cause, want)
		}
	}
	if checks.Seconds <= 0 || checks.StartSeconds < 0 || checks.Retries != 0 {
		t.Errorf("got the checks at +%.3fs for %.3fs with %d retries, want a positive duration and no retries",
			checks.StartSeconds, checks.Seconds, checks.Retries)
	}
	if last := tl.Steps[len(tl.Steps)-1]; last.Type != "Fail" || last.Status != StepFailed || last.Error != "ChecksFailed" {
		t.Errorf("got the last step %+v, want the Fail state with ChecksFailed", last)
	}
	if len(tl.Environments) != 2 {
		t.Fatalf("got environments %+v, want staging and prod", tl.Environments)
	}
	for i, name := range []string{"staging", "prod"} {
		e := tl.Environments[i]
		if e.Name != name || e.Stack != "broken-"+name || e.Status != EnvNotReached || e.URL != "" {
			t.Errorf("got %+v, want %s (broken-%s) NOT_REACHED", e, name, name)
		}
	}
	wantLog := "s3://" + pipe.Bucket + "/logs/acme/broken/" + name("broken", brokenCommit) + "/checks.log"
	if got := tl.Links.Logs[PhaseChecks]; got != wantLog {
		t.Errorf("got the checks' log %q, want %q", got, wantLog)
	}
	if got, ok := tl.Links.Logs[PhasePackage]; ok {
		t.Errorf("got a package log %q of a run that did not package", got)
	}
	if want := "https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/" + broken.Execution; tl.Links.Console != want {
		t.Errorf("got console link %q, want %q", tl.Links.Console, want)
	}
}

func TestShowTellsWhatARunDelivered(t *testing.T) {
	t.Parallel()
	tl, err := client.Show(context.Background(), goodCommit[:7])
	if err != nil {
		t.Fatal(err)
	}
	if tl.Status != "SUCCEEDED" || tl.Failure != nil {
		t.Fatalf("got %s %+v, want SUCCEEDED", tl.Status, tl.Failure)
	}
	// Every state of the definition but the failure's is entered.
	entered := map[string]int{}
	for _, s := range tl.Steps {
		entered[s.Name]++
		if s.Status != StepSucceeded {
			t.Errorf("%s: got %s, want SUCCEEDED", s.Name, s.Status)
		}
	}
	// The states of failures, stops, rollbacks, approvals, waits for a
	// taken environment and preview deletions are off a plain delivery's
	// path.
	offPath := map[string]bool{}
	for _, n := range []string{"Report the failure", "Run failed", "Failed or stopped?", "Report the run stopped", "Stop the run",
		"Plan the rollback", "Read the plan to redeploy", "Find the package to deploy", "Take the preview's lock", "Is the preview free?", "Wait for the preview", "Delete the preview stack", "Wait for the deletion", "Check the deletion", "Is the preview deleted?",
		"Report the preview deleted", "Say the run waits for the environment", "Wait for the environment", "Ask for approval",
		"Wait for approval", "The approval timed out", "Find the last good release", "Is there a release to go back to?",
		"Deploy the last good release", "Give up the environment", "Environment failed", "No environment to deliver",
		// A push to several apps' runs, and an app's wait for those it comes after.
		"Start the apps' runs", "Deliver this app?", "Start the app's run", "The app's run was started before", "Report the app skipped",
		"The app's status was not posted", "Report the apps' runs", "Wait for the apps it comes after", "Look at the earlier app's run",
		"Has it succeeded?", "Wait for the earlier app", "The earlier app is delivered", "Say why the earlier app failed", "The earlier app failed"} {
		offPath[n] = true
	}
	for _, st := range definitionStates(t) {
		if offPath[st.name] {
			if entered[st.name] > 0 {
				t.Errorf("%s: entered by a plain run that succeeded", st.name)
			}
			delete(offPath, st.name)
			continue
		}
		if entered[st.name] == 0 {
			t.Errorf("%s: not in the timeline", st.name)
		}
	}
	for n := range offPath {
		t.Errorf("%s: not a state of the definition", n)
	}
	if n := entered["Smoke test the environment"]; n != 2 {
		t.Errorf("got %d smoke tests, want one per environment", n)
	}
	for _, s := range tl.Steps {
		if s.Name == "Smoke test the environment" && s.Environment != "staging" && s.Environment != "prod" {
			t.Errorf("got a smoke test of environment %q, want staging or prod", s.Environment)
		}
		if s.Name == "Run the checks" && !strings.HasPrefix(s.Summary, "2 checks passed in ") {
			t.Errorf("got the checks' summary %q, want 2 checks passed", s.Summary)
		}
		if s.Name == "Record the release" && s.Summary != s.Environment+": released "+goodCommit[:7] {
			t.Errorf("got the release's summary %q, want %s: released %s", s.Summary, s.Environment, goodCommit[:7])
		}
	}
	if len(tl.Checks) != 2 || tl.Checks[1].Command != "go test ./..." || !tl.Checks[1].Passed {
		t.Errorf("got checks %+v, want go vet and go test, passed", tl.Checks)
	}
	if !strings.HasPrefix(tl.Package, "packaged 1 function") {
		t.Errorf("got package summary %q, want packaged 1 function", tl.Package)
	}
	if len(tl.Environments) != 2 {
		t.Fatalf("got environments %+v, want staging and prod", tl.Environments)
	}
	for i, name := range []string{"staging", "prod"} {
		e := tl.Environments[i]
		if e.Name != name || e.Stack != "good-"+name || e.Status != EnvDelivered || e.Failure != nil {
			t.Errorf("got %s %s %s %+v, want %s good-%s DELIVERED", e.Name, e.Stack, e.Status, e.Failure, name, name)
		}
		if !strings.HasPrefix(e.URL, "http://127.0.0.1:") || e.Outputs["ApiUrl"] != e.URL {
			t.Errorf("%s: got URL %q and outputs %v, want the ApiUrl output", name, e.URL, e.Outputs)
		}
		if !strings.HasPrefix(e.ChangeSet, "good-"+name+": ") || !strings.Contains(e.ChangeSet, "to add") {
			t.Errorf("%s: got change set %q, want a summary of good-%s's", name, e.ChangeSet, name)
		}
		if len(e.Changes) == 0 || !strings.Contains(strings.Join(e.Changes, "\n"), "HelloFunction") {
			t.Errorf("%s: got changes %q, want HelloFunction among them", name, e.Changes)
		}
		if e.Smoke != name+": 1/1 smoke checks passed" || len(e.SmokeChecks) != 1 || !e.SmokeChecks[0].Passed {
			t.Errorf("%s: got smoke %q %+v, want 1/1 passed", name, e.Smoke, e.SmokeChecks)
		}
		if e.Deploy != "good-"+name+" CREATE_COMPLETE" || e.StackStatus != "CREATE_COMPLETE" {
			t.Errorf("%s: got deploy %q (%s), want good-%s CREATE_COMPLETE", name, e.Deploy, e.StackStatus, name)
		}
	}
	for _, phase := range []Phase{PhaseChecks, PhasePackage} {
		want := "s3://" + pipe.Bucket + "/logs/acme/good/" + name("good", goodCommit) + "/" + string(phase) + ".log"
		if got := tl.Links.Logs[phase]; got != want {
			t.Errorf("%s log: got %q, want %q", phase, got, want)
		}
	}
}

func TestShowJSONRoundTrips(t *testing.T) {
	t.Parallel()
	tl, err := client.Show(context.Background(), good.Execution)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(tl)
	if err != nil {
		t.Fatal(err)
	}
	var back Timeline
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back.Execution != tl.Execution || back.Commit != goodCommit || len(back.Steps) != len(tl.Steps) ||
		!reflect.DeepEqual(back.Environments, tl.Environments) || !reflect.DeepEqual(back.Links, tl.Links) {
		t.Errorf("got back %+v, want %+v", back, tl)
	}
	var raw map[string]any
	json.Unmarshal(data, &raw) //nolint:errcheck // decoded above
	for _, key := range []string{"execution", "arn", "repository", "branch", "commit", "status", "started", "seconds", "steps", "environments", "links"} {
		if _, ok := raw[key]; !ok {
			t.Errorf("the JSON has no %q: %s", key, data)
		}
	}
}

func TestLogs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		ref      string
		phase    Phase
		wantFrom string
		want     []string
	}{
		{name: "checks that failed, by default", ref: name("broken", brokenCommit), wantFrom: "s3://",
			want: []string{"$ go vet ./...", "$ go test ./...", "--- FAIL: TestHandle", "[failed after"}},
		{name: "checks that passed, by default", ref: goodCommit, wantFrom: "s3://",
			want: []string{"$ go test ./...", "[passed in"}},
		{name: "package", ref: good.Execution, phase: PhasePackage, wantFrom: "s3://",
			want: []string{"# package of acme/good at " + goodCommit}},
		{name: "deploy", ref: good.Execution, phase: PhaseDeploy, wantFrom: HistoryLocation,
			want: []string{"[staging] Create the change set: SUCCEEDED", "[prod] Check the stack: SUCCEEDED", "good-prod CREATE_COMPLETE", "ApiUrl = http://127.0.0.1:"}},
		{name: "smoke", ref: good.Execution, phase: PhaseSmoke, wantFrom: HistoryLocation,
			want: []string{"[staging] Smoke test the environment: SUCCEEDED", "✓ greets: http://127.0.0.1:", "answered 200 after 1 attempt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			log, err := client.Logs(context.Background(), tt.ref, tt.phase)
			if err != nil {
				t.Fatal(err)
			}
			defer log.Body.Close()
			body, err := io.ReadAll(log.Body)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(log.Location, tt.wantFrom) {
				t.Errorf("got output from %q, want from %s", log.Location, tt.wantFrom)
			}
			for _, want := range tt.want {
				if !strings.Contains(string(body), want) {
					t.Errorf("got\n%s\nwant it to contain %q", body, want)
				}
			}
		})
	}
}

func TestLogsOfAStepThatDidNotRun(t *testing.T) {
	t.Parallel()
	for _, phase := range []Phase{PhasePackage, PhaseDeploy, PhaseSmoke} {
		_, err := client.Logs(context.Background(), brokenCommit[:8], phase)
		var noLog *NoLogError
		if !errors.As(err, &noLog) || noLog.Phase != phase ||
			!strings.Contains(err.Error(), `the run stopped at "Run the checks" with ChecksFailed: check "go test ./..." failed`) {
			t.Errorf("%s: got %v, want that the run stopped at the checks", phase, err)
		}
	}
	if _, err := client.Logs(context.Background(), good.Execution, "build"); err == nil || !strings.Contains(err.Error(), "checks, package, deploy, smoke") {
		t.Errorf("an unknown step: got %v, want the steps there are", err)
	}
}

func TestWrongReferences(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name, ref string
		want      string
	}{
		{name: "a name", ref: "good-main-0000000", want: `no run "good-main-0000000" in state machine ` + pipe.StateMachineARN},
		{name: "a name with unsafe characters", ref: "good main", want: `no run "good main" in state machine`},
		{name: "an ARN", ref: strings.Replace(good.Execution, "good-main", "bad-main", 1), want: "no run \"arn:aws:states:"},
		{name: "a commit", ref: "abcdef0", want: "no run of commit abcdef0 among the newest 2 runs of state machine " + pipe.StateMachineARN},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := client.Show(ctx, tt.ref)
			var notFound *ExecutionNotFoundError
			if !errors.As(err, &notFound) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}

func TestFindPipeline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg, err := LoadConfig(ctx, "", "")
	if err != nil {
		t.Fatal(err)
	}
	got, err := FindPipeline(ctx, cfg, "", Pipeline{})
	if err != nil {
		t.Fatal(err)
	}
	if got != pipe || !strings.Contains(got.StateMachineARN, ":stateMachine:") || got.Bucket == "" || got.Stack != DefaultStack {
		t.Errorf("got %+v, want the stack's outputs %+v", got, pipe)
	}
	given := Pipeline{StateMachineARN: "arn:aws:states:us-east-1:000000000000:stateMachine:other", Bucket: "other"}
	if got, err := FindPipeline(ctx, cfg, "nope", given); err != nil || got != given {
		t.Errorf("both given: got %+v, %v; want them as given", got, err)
	}
	only := Pipeline{StateMachineARN: "arn:aws:states:us-east-1:000000000000:stateMachine:other"}
	if got, err := FindPipeline(ctx, cfg, "nope", only); err != nil || got != only {
		t.Errorf("the state machine given, no stack: got %+v, %v; want it and no bucket", got, err)
	}
	_, err = FindPipeline(ctx, cfg, "nope", Pipeline{})
	var notFound *StackNotFoundError
	if !errors.As(err, &notFound) || !strings.Contains(err.Error(), `no stack "nope" in us-east-1`) {
		t.Errorf("a stack that does not exist: got %v, want StackNotFoundError", err)
	}
}
