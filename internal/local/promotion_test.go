package local

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/stackflow/stackflow/internal/freeze"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/releases"
	"github.com/stackflow/stackflow/internal/runs"
)

// The end-to-end tests of stackflow promote, stackflow retry and freeze
// windows, through the real state machine and handlers.

// manualProd is an app whose prod takes promotions only, with extra
// settings for prod.
func manualProd(t *testing.T, name, prodSettings string) (pipeline.Repository, string) {
	t.Helper()
	return app(t, name, map[string]func(string) string{
		"stackflow.yml": func(s string) string {
			return strings.Replace(s, "  - name: prod\n", "  - name: prod\n    promotion: manual\n"+prodSettings, 1)
		},
	})
}

// newestRelease is repo's environment's newest release.
func newestRelease(t *testing.T, repo pipeline.Repository, env string) releases.Release {
	t.Helper()
	store := releases.New(dynamodb.NewFromConfig(shared.aws), shared.Outputs()["ReleasesTableName"])
	list, err := store.List(context.Background(), repo.FullName(), env, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) == 0 {
		t.Fatalf("%s has no release", env)
	}
	return list[0]
}

// zips are a package's function zips, as key and SHA-256.
func zips(p *pipeline.Package) []string {
	if p == nil {
		return nil
	}
	var out []string
	for _, f := range p.Functions {
		out = append(out, f.Key+" "+f.SHA256)
	}
	return out
}

// TestAPromotionDeploysStagingsPackageToProd: a push of main stops before
// prod (promotion: manual), saying how to promote on the commit and in
// stackflow show; stackflow promote then deploys the zips staging released
// to prod, without checks and without a build, and prod answers.
func TestAPromotionDeploysStagingsPackageToProd(t *testing.T) {
	t.Parallel()
	repo, dir := manualProd(t, "promoted", "")
	res := run(t, repo, dir)
	if !res.Succeeded() {
		t.Fatalf("push: got %s %s: %s, want SUCCEEDED", res.Status, res.Error, res.Cause)
	}
	ready := "ready to promote to prod (stackflow promote " + repo.FullName() + " prod --from staging)"
	if s := status(t, res); s.State != pipeline.StateSuccessful || !strings.Contains(s.Description, ready) {
		t.Errorf("got status %+v, want SUCCESSFUL saying %q", s, ready)
	}
	if got := releasesOf(t, repo, "prod"); len(got) != 0 {
		t.Fatalf("prod: got releases %v after a push, want none", got)
	}
	c := client()
	tl, err := c.Show(context.Background(), res.Execution)
	if err != nil {
		t.Fatal(err)
	}
	if tl.Ready == nil || tl.Ready.Environment != "prod" || tl.Ready.From != "staging" {
		t.Errorf("show: got ready %+v, want prod from staging", tl.Ready)
	}

	// No --from, no --commit: staging's newest release, as the push's
	// plan has staging before prod. As stackflow promote asks it: through
	// the approval function, as the caller AWS names (the By given is
	// not sent).
	arn, r, by, err := c.PromoteAsCaller(context.Background(), runs.PromoteRequest{Repository: repo, Environment: "prod", By: "ada"})
	if err != nil {
		t.Fatal(err)
	}
	if by != localCaller {
		t.Errorf("promoted as %q, want the caller AWS names, %s", by, localCaller)
	}
	staging := newestRelease(t, repo, "staging")
	if r.Commit != staging.Commit || r.Environment != "staging" {
		t.Errorf("promote chose %s of %s, want staging's newest release %s", pipeline.ShortSHA(r.Commit), r.Environment, pipeline.ShortSHA(staging.Commit))
	}
	awaitSuccess(t, arn, "promotion")
	prod := newestRelease(t, repo, "prod")
	if prod.Commit != staging.Commit || prod.PromotedFrom != "staging" || prod.By != localCaller || prod.Execution != arn {
		t.Errorf("prod: got release %+v, want staging's commit promoted by %s", prod, localCaller)
	}
	if got, want := zips(prod.Package), zips(staging.Package); len(want) == 0 || !reflect.DeepEqual(got, want) {
		t.Errorf("prod got the zips %v, want staging's %v", got, want)
	}
	for _, state := range []string{"Run the checks", "Package the app once"} {
		if visited(t, arn, state) {
			t.Errorf("the promotion entered %q", state)
		}
	}
	if got := get(t, prod.Outputs["ApiUrl"]+"hello"); got != "hello from prod\n" {
		t.Errorf("prod answers %q, want hello from prod", got)
	}
	want := "promoted " + pipeline.ShortSHA(staging.Commit) + " from staging to prod (asked by " + localCaller + ")"
	if !said(statusesOf(t, repo, dir, staging.Commit), pipeline.StateSuccessful, want) {
		t.Errorf("got statuses %+v, want SUCCESSFUL %q", statusesOf(t, repo, dir, staging.Commit), want)
	}
	if tl, err := c.Show(context.Background(), arn); err != nil || tl.PromotedTo != "prod" || tl.PromotedFrom != "staging" {
		t.Errorf("show of the promotion: got %+v, %v", tl, err)
	}
}

// dependency is a service a smoke check calls, failing until it is told
// to answer.
func dependency(t *testing.T) (url string, up *atomic.Bool) {
	t.Helper()
	up = &atomic.Bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !up.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok")) //nolint:errcheck // a test server
	}))
	t.Cleanup(srv.Close)
	return srv.URL, up
}

// TestARetryAfterAFailedProdSmokeTest: prod's smoke test fails because a
// service it checks is down (and prod has no release to go back to); once
// it is back, stackflow retry resumes the run at prod with its package,
// with no checks and no build, and staging is left as it was.
func TestARetryAfterAFailedProdSmokeTest(t *testing.T) {
	t.Parallel()
	url, up := dependency(t)
	repo, dir := app(t, "retried", map[string]func(string) string{
		"stackflow.yml": func(s string) string {
			return strings.Replace(s, "  - name: prod\n", "  - name: prod\n    smoke_timeout: 2s\n", 1) +
				"      - name: dependency\n        url: " + url + "/health\n        contains: ok\n"
		},
	})
	sha, _ := gitIn(context.Background(), dir, "rev-parse", "HEAD")
	first := run(t, repo, dir)
	if first.Status != "FAILED" || first.Error != "SmokeTestFailed" || !strings.Contains(first.Cause, "status 503") {
		t.Fatalf("push: got %s %s: %s, want FAILED SmokeTestFailed with the 503", first.Status, first.Error, first.Cause)
	}
	up.Store(true)
	// As stackflow retry asks it: through the approval function, as the
	// caller AWS names.
	arn, env, by, err := client().RetryAsCaller(context.Background(), first.Execution, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if env != "prod" || by != localCaller {
		t.Errorf("the retry resumes at %s as %q, want prod as %s", env, by, localCaller)
	}
	awaitSuccess(t, arn, "retry")
	prod := newestRelease(t, repo, "prod")
	if prod.Commit != sha || prod.RetryOf != first.Execution || prod.Execution != arn || prod.By != localCaller {
		t.Errorf("prod: got release %+v, want %s by the retry of %s, asked by %s", prod, pipeline.ShortSHA(sha), first.Execution, localCaller)
	}
	staging := newestRelease(t, repo, "staging")
	if got := releasesOf(t, repo, "staging"); len(got) != 1 {
		t.Errorf("staging: got releases %v, want the first run's only", got)
	}
	if got, want := zips(prod.Package), zips(staging.Package); len(want) == 0 || !reflect.DeepEqual(got, want) {
		t.Errorf("prod got the zips %v, want the first run's %v", got, want)
	}
	for _, state := range []string{"Run the checks", "Package the app once"} {
		if visited(t, arn, state) {
			t.Errorf("the retry entered %q", state)
		}
	}
	if !said(statusesOf(t, repo, dir, sha), pipeline.StateSuccessful, "retried "+pipeline.ExecutionNameOf(first.Execution)+" from prod on") {
		t.Errorf("got statuses %+v, want the retry's success on the commit", statusesOf(t, repo, dir, sha))
	}
	tl, err := client().Show(context.Background(), arn)
	if err != nil || tl.RetryOf != pipeline.ExecutionNameOf(first.Execution) {
		t.Errorf("show: got %+v, %v; want it linked to %s", tl, err, first.Execution)
	}
	// It succeeded: there is nothing more to retry, and the function
	// says why.
	if _, _, _, err := client().RetryAsCaller(context.Background(), arn, "", nil); err == nil || !strings.Contains(err.Error(), "succeeded: there is nothing to retry") {
		t.Errorf("retry of a run that succeeded: got %v, want it refused", err)
	}
}

// freezeWindow is a freeze window of prod from an hour before now to
// length after it, in UTC, as stackflow.yml gives it.
func freezeWindow(now time.Time, length time.Duration, action string) string {
	f := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }
	return "    freeze_action: " + action + "\n    freeze:\n      - name: release party\n" +
		"        start: " + f(now.Add(-time.Hour)) + "\n        end: " + f(now.Add(length)) + "\n"
}

// setFreeze commits window as prod's freeze on main, which decides it.
func setFreeze(t *testing.T, dir, window string) {
	t.Helper()
	commit(t, dir, map[string]func(string) string{
		"stackflow.yml": func(s string) string {
			if i := strings.Index(s, "    freeze_action: "); i >= 0 {
				end := strings.Index(s[i:], "    branches: ")
				s = s[:i] + s[i+end:]
			}
			return strings.Replace(s, "    promotion: manual\n", "    promotion: manual\n"+window, 1)
		},
	})
}

// TestAFreezeStopsAPromotionUnlessToldWhy: prod in a freeze with
// freeze_action: stop stops a promotion, which says so on the commit;
// --during-freeze --reason goes through, and the release records why.
func TestAFreezeStopsAPromotionUnlessToldWhy(t *testing.T) {
	t.Parallel()
	repo, dir := manualProd(t, "frozen", "")
	if res := run(t, repo, dir); !res.Succeeded() {
		t.Fatalf("push: got %s %s: %s, want SUCCEEDED", res.Status, res.Error, res.Cause)
	}
	staging := newestRelease(t, repo, "staging")
	setFreeze(t, dir, freezeWindow(time.Now(), time.Hour, "stop"))
	c := client()
	arn, _, err := c.Promote(context.Background(), runs.PromoteRequest{Repository: repo, Environment: "prod", From: "staging", By: "ada"})
	if err != nil {
		t.Fatal(err)
	}
	got := await(t, arn)
	if got.Status != "ABORTED" || aws.ToString(got.Error) != "Frozen" || !strings.Contains(aws.ToString(got.Cause), "prod is frozen until") {
		explain(t, arn)
		t.Fatalf("got %s %s: %s, want ABORTED Frozen", got.Status, aws.ToString(got.Error), aws.ToString(got.Cause))
	}
	if !said(statusesOf(t, repo, dir, staging.Commit), pipeline.StateStopped, "prod is frozen until") {
		t.Errorf("got statuses %+v, want STOPPED saying prod is frozen", statusesOf(t, repo, dir, staging.Commit))
	}
	if got := releasesOf(t, repo, "prod"); len(got) != 0 {
		t.Fatalf("prod: got releases %v in its freeze, want none", got)
	}

	arn, _, err = c.Promote(context.Background(), runs.PromoteRequest{Repository: repo, Environment: "prod", From: "staging", By: "ada",
		DuringFreeze: &pipeline.FreezeOverride{By: "ada", Reason: "the fix for the outage"}})
	if err != nil {
		t.Fatal(err)
	}
	awaitSuccess(t, arn, "during the freeze")
	prod := newestRelease(t, repo, "prod")
	if !strings.HasPrefix(prod.DuringFreeze, "ada asked to deploy during the freeze until ") || !strings.HasSuffix(prod.DuringFreeze, "(release party): the fix for the outage") {
		t.Errorf("prod: got release %+v, want the reason recorded", prod)
	}
}

// TestARunWaitsOutAFreezeWindow: a promotion reaches prod during a freeze
// window a few seconds from its end, says so on the commit, waits in the
// state machine, and deploys once the window is over. The window is
// written relative to the test's clock; should a loaded machine bring the
// run to prod after the window already ended, the test tries again with a
// window twice as long, so that it never depends on the machine's speed.
func TestARunWaitsOutAFreezeWindow(t *testing.T) {
	t.Parallel()
	repo, dir := manualProd(t, "thawed", "")
	if res := run(t, repo, dir); !res.Succeeded() {
		t.Fatalf("push: got %s %s: %s, want SUCCEEDED", res.Status, res.Error, res.Cause)
	}
	staging := newestRelease(t, repo, "staging")
	for length := 4 * time.Second; ; length *= 2 {
		end := time.Now().Add(length).Truncate(time.Second)
		setFreeze(t, dir, freezeWindow(time.Now(), length, "wait"))
		arn, _, err := client().Promote(context.Background(), runs.PromoteRequest{Repository: repo, Environment: "prod", From: "staging", By: "ada"})
		if err != nil {
			t.Fatal(err)
		}
		got := await(t, arn)
		if got.Status != "SUCCEEDED" {
			explain(t, arn)
			t.Fatalf("got %s %s: %s, want SUCCEEDED", got.Status, aws.ToString(got.Error), aws.ToString(got.Cause))
		}
		if !visited(t, arn, "Wait for the environment") {
			if length >= time.Minute {
				t.Fatalf("the run never reached prod within a window of %s", length)
			}
			t.Logf("the run reached prod after a window of %s had ended: again with a longer one", length)
			continue
		}
		want := "prod is frozen until " + freeze.Format(end, pipeline.FreezeWindow{}) + " (release party): the run waits"
		if !said(statusesOf(t, repo, dir, staging.Commit), pipeline.StateInProgress, want) {
			t.Errorf("got statuses %+v, want INPROGRESS %q", statusesOf(t, repo, dir, staging.Commit), want)
		}
		prod := newestRelease(t, repo, "prod")
		if prod.Execution != arn || prod.DeployedAt.Before(end) {
			t.Errorf("prod: got release %+v, want this run's, deployed after the window ended at %s", prod, end)
		}
		return
	}
}
