package local

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/releases"
	"github.com/stackflow/stackflow/internal/runs"
)

// The end-to-end tests of repositories of several apps, path filters and
// tags, through the real webhook, state machine and handlers.

// monorepo makes a git repository of two copies of examples/hello,
// services/api and services/web (web after api), each with its own
// stackflow.yml and samconfig.toml naming its stacks <slug>-<app>-<env>
// (web's prod takes promotions only), and a root stackflow.yml listing
// them.
func monorepo(t *testing.T, name string) (pipeline.Repository, string) {
	t.Helper()
	name = appName(t, name)
	dir := t.TempDir()
	src := filepath.Join("..", "..", "examples", "hello")
	for _, app := range []string{"api", "web"} {
		dst := filepath.Join(dir, "services", app)
		err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			if d.IsDir() {
				return os.MkdirAll(filepath.Join(dst, rel), 0o755)
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if rel == "samconfig.toml" {
				data = []byte(strings.ReplaceAll(string(data), `"hello-`, `"`+name+"-"+app+"-"))
			}
			if rel == "stackflow.yml" && app == "web" {
				data = []byte(strings.Replace(string(data), "  - name: prod\n", "  - name: prod\n    promotion: manual\n", 1))
			}
			return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	root := "apps:\n  - name: api\n    path: services/api\n  - name: web\n    path: services/web\n    after: [api]\n    paths_ignore: ['**/*.md']\n"
	if err := os.WriteFile(filepath.Join(dir, "stackflow.yml"), []byte(root), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "services", "web", "README.md"), []byte("# web\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "."}, {"commit", "-q", "-m", "two apps"}} {
		if _, err := gitIn(context.Background(), dir, args...); err != nil {
			t.Fatal(err)
		}
	}
	return pipeline.Repository{Workspace: "acme", Slug: name}, dir
}

// appRun is the ARN of app's run of commit on main, started by the push
// whose run is dispatcher.
func appRun(dispatcher string, repo pipeline.Repository, app, commit string) string {
	name := pipeline.RunExecutionName(pipeline.Run{Repository: repo, Branch: "main", Commit: commit, App: &pipeline.AppRun{Name: app}})
	return dispatcher[:strings.LastIndex(dispatcher, ":")+1] + name
}

// TestAPushToTwoAppsDeliversOnlyTheOneItChanged: a push that changes api
// alone delivers api, and web's status says why it was skipped; Run (what
// stackflow local does) follows api's run and reports each app. A push
// that changes both deploys web after api; web's prod takes promotions
// only, so its run ends with the command that promotes it (naming the
// repository and --app web), and that promotion deploys web's staging
// package to web's prod.
func TestAPushToTwoAppsDeliversOnlyTheOneItChanged(t *testing.T) {
	t.Parallel()
	repo, dir := monorepo(t, "mono")
	sha := commit(t, dir, map[string]func(string) string{
		"services/api/hello/handler.go": func(s string) string { return strings.Replace(s, "hello from ", "hello from the api in ", 1) },
		"services/api/hello/handler_test.go": func(s string) string {
			return strings.ReplaceAll(s, `"hello from `, `"hello from the api in `)
		},
		"services/api/stackflow.yml": func(s string) string {
			return strings.ReplaceAll(s, "contains: hello from", "contains: hello from the api in")
		},
		"services/web/README.md": func(s string) string { return s + "More.\n" }, // paths_ignore: web is not delivered
	})
	res := run(t, repo, dir)
	dispatcher := res.Execution
	api := appRun(dispatcher, repo, "api", sha)
	if !res.Succeeded() {
		explain(t, api)
		t.Fatalf("the push: got %s %s: %s, want SUCCEEDED", res.Status, res.Error, res.Cause)
	}
	wantApps := []AppResult{
		{Name: "api", Delivered: true, Reason: "changed services/api/", Status: "SUCCEEDED", Execution: api},
		{Name: "web", Reason: "skipped: only changes under paths_ignore (**/*.md)"},
	}
	if len(res.Apps) == 2 && strings.HasPrefix(res.Apps[0].Reason, wantApps[0].Reason) {
		wantApps[0].Reason = res.Apps[0].Reason // which of the changed files it names
	}
	if !reflect.DeepEqual(res.Apps, wantApps) {
		t.Errorf("got apps %+v\nwant %+v", res.Apps, wantApps)
	}
	if len(res.Environments) != 2 {
		t.Errorf("got environments %+v, want api's staging and prod", res.Environments)
	}
	for i, env := range []string{"staging", "prod"} {
		s := describeStack(t, repo.Slug+"-api-"+env)
		if s.StackStatus != "CREATE_COMPLETE" {
			t.Errorf("api's %s stack is %s, want CREATE_COMPLETE", env, s.StackStatus)
		}
		if i < len(res.Environments) {
			if e := res.Environments[i]; e.App != "api" || e.Name != env || e.Stack != repo.Slug+"-api-"+env || e.Status != "CREATE_COMPLETE" || e.Outputs["ApiUrl"] == "" {
				t.Errorf("got environment %+v, want api's %s, CREATE_COMPLETE, with its ApiUrl", e, env)
			}
		}
		if got := releasesOf(t, repo, "api/"+env); len(got) != 1 || got[0] != pipeline.ShortSHA(sha) {
			t.Errorf("api's %s releases %v, want %s", env, got, pipeline.ShortSHA(sha))
		}
	}
	if _, err := shared.History(context.Background(), appRun(dispatcher, repo, "web", sha)); err == nil {
		t.Error("web's run was started; the push changed nothing of web's but a README its paths_ignore leaves out")
	}
	statuses := statusesOf(t, repo, dir, sha)
	byKey := map[string]Status{}
	for _, s := range statuses {
		byKey[s.Key] = s
	}
	if s := byKey["stackflow-api"]; s.State != pipeline.StateSuccessful || !strings.Contains(s.Description, "api main: checks, then staging -> prod") {
		t.Errorf("api's status %+v, want SUCCESSFUL, checks then staging -> prod", s)
	}
	if s := byKey["stackflow-web"]; s.State != pipeline.StateSuccessful || s.Description != "skipped: only changes under paths_ignore (**/*.md)" {
		t.Errorf("web's status %+v, want SUCCESSFUL saying why it was skipped", s)
	}
	if s := byKey["stackflow"]; s.State != pipeline.StateSuccessful || !strings.Contains(s.Description, "delivering api (a run each); skipped web") {
		t.Errorf("the push's status %+v, want SUCCESSFUL naming what was delivered and skipped", s)
	}

	// A change to both: web's run waits for api's to succeed, then deploys
	// to staging, and stops before prod, which takes promotions only.
	note := func(s string) string { return s + "\n// Touched.\n" }
	sha = commit(t, dir, map[string]func(string) string{"services/api/hello/handler.go": note, "services/web/hello/handler.go": note})
	dispatcher = deliver(t, repo, dir)
	awaitSuccess(t, dispatcher, "the push's run")
	web := appRun(dispatcher, repo, "web", sha)
	awaitSuccess(t, web, "web's run")
	if got := await(t, appRun(dispatcher, repo, "api", sha)); got.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("api's run ended %s, want SUCCEEDED", got.Status)
	}
	if !visited(t, web, "Look at the earlier app's run") {
		t.Error("web's run did not look at api's run before it deployed")
	}
	ready := "ready to promote to prod (stackflow promote " + repo.FullName() + " prod --app web --from staging)"
	if !said(statusesOf(t, repo, dir, sha), pipeline.StateSuccessful, ready) {
		t.Errorf("statuses %+v, want web's SUCCESSFUL saying %q", statusesOf(t, repo, dir, sha), ready)
	}
	if got := releasesOf(t, repo, "web/prod"); len(got) != 0 {
		t.Errorf("web's prod releases %v after a push, want none: it takes promotions only", got)
	}
	// The command of the hint, as the command line runs it: --app web,
	// and no --from (the newest run of web reached staging before prod).
	promotion, r, err := client().Promote(context.Background(), runs.PromoteRequest{Repository: repo, App: "web", Environment: "prod", By: "ada"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Commit != sha || r.Environment != "staging" || r.App != "web" {
		t.Errorf("promote --app web chose %s of %s/%s, want web's staging release %s", pipeline.ShortSHA(r.Commit), r.App, r.Environment, pipeline.ShortSHA(sha))
	}
	awaitSuccess(t, promotion, "web's promotion")
	if got := releasesOf(t, repo, "web/prod"); len(got) != 1 || got[0] != pipeline.ShortSHA(sha) {
		t.Errorf("web's prod releases %v, want %s", got, pipeline.ShortSHA(sha))
	}
	if s := describeStack(t, repo.Slug+"-web-prod"); s.StackStatus != "CREATE_COMPLETE" {
		t.Errorf("web's prod stack is %s, want CREATE_COMPLETE", s.StackStatus)
	}
	if _, _, err := client().Promote(context.Background(), runs.PromoteRequest{Repository: repo, Environment: "prod", By: "ada"}); err == nil ||
		!strings.Contains(err.Error(), "name the one to promote with --app APP") {
		t.Errorf("promote without --app: got %v, want it to ask for the app", err)
	}
	// web deployed after api had released prod: its release is the later.
	apiProd, webStaging := releasesAt(t, repo, "api/prod"), releasesAt(t, repo, "web/staging")
	if len(apiProd) == 0 || len(webStaging) == 0 || !webStaging[0].After(apiProd[0]) {
		t.Errorf("api's prod released at %v, web's staging at %v: want web after api", apiProd, webStaging)
	}
}

// A tag that prod takes delivers the tagged commit to prod alone; a
// branch push of the same app reaches staging alone, and a tag that no
// environment takes starts nothing.
func TestATagReachesProd(t *testing.T) {
	t.Parallel()
	repo, dir := app(t, "tagged", map[string]func(string) string{
		"stackflow.yml": func(s string) string {
			i := strings.Index(s, "  - name: prod\n    branches: [main]\n")
			return s[:i] + "  - name: prod\n    tags: [\"v*\"]\n" + s[i+len("  - name: prod\n    branches: [main]\n"):]
		},
	})
	ctx := context.Background()
	resp, err := shared.Deliver(ctx, &Push{Repo: repo, Dir: dir, Tag: "nightly"})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Started) != 0 || len(resp.Ignored) != 1 || !strings.Contains(resp.Ignored[0].Reason, "no environment takes it") {
		t.Errorf("tag nightly: got %+v, want it ignored: no environment takes it", resp)
	}
	resp, err = shared.Deliver(ctx, &Push{Repo: repo, Dir: dir, Tag: "v1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Started) != 1 || resp.Started[0].Tag != "v1.0.0" {
		t.Fatalf("tag v1.0.0: got %+v, want its run started", resp)
	}
	arn := resp.Started[0].Execution
	awaitSuccess(t, arn, "the tag's run")
	if s := describeStack(t, repo.Slug+"-prod"); s.StackStatus != "CREATE_COMPLETE" {
		t.Errorf("prod is %s, want CREATE_COMPLETE", s.StackStatus)
	}
	if got := releasesOf(t, repo, "staging"); len(got) != 0 {
		t.Errorf("staging has releases %v; a tag it does not take must leave it alone", got)
	}
	head, err := gitIn(ctx, dir, "rev-parse", "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	if got := releasesOf(t, repo, "prod"); len(got) != 1 || got[0] != pipeline.ShortSHA(head) {
		t.Errorf("prod releases %v, want the tagged commit %s", got, pipeline.ShortSHA(head))
	}
	if !said(statusesOf(t, repo, dir, head), pipeline.StateSuccessful, "tag v1.0.0: checks, then prod") {
		t.Errorf("statuses %+v, want SUCCESSFUL: tag v1.0.0: checks, then prod", statusesOf(t, repo, dir, head))
	}
}

// releasesAt are the times of the releases of repo's environment env
// (releases.EnvKey's), newest first.
func releasesAt(t *testing.T, repo pipeline.Repository, env string) []time.Time {
	t.Helper()
	store := releases.New(dynamodb.NewFromConfig(shared.aws), shared.Outputs()["ReleasesTableName"])
	list, err := store.List(context.Background(), repo.FullName(), env, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []time.Time
	for _, r := range list {
		out = append(out, r.DeployedAt)
	}
	return out
}

// When the app another comes after fails, the other deploys nothing and
// says why.
func TestAnAppAfterAFailedOneIsNotDeployed(t *testing.T) {
	t.Parallel()
	repo, dir := monorepo(t, "mono-broken")
	sha := commit(t, dir, map[string]func(string) string{
		"services/api/hello/handler.go": func(s string) string { return strings.Replace(s, "hello from ", "goodbye from ", 1) },
		"services/web/hello/handler.go": func(s string) string { return s + "\n// Touched.\n" },
	})
	// Run (stackflow local) follows both apps' runs: the push failed, as
	// api's run did first.
	res := run(t, repo, dir)
	dispatcher := res.Execution
	if res.Status != "FAILED" || res.Error != "ChecksFailed" || !strings.HasPrefix(res.Cause, "app api: ") {
		t.Errorf("the push: got %s %s: %s; want FAILED ChecksFailed, app api's", res.Status, res.Error, res.Cause)
	}
	if len(res.Apps) != 2 || res.Apps[0].Status != "FAILED" || res.Apps[0].Error != "ChecksFailed" ||
		res.Apps[1].Name != "web" || res.Apps[1].Status != "FAILED" || res.Apps[1].Error != "DependencyFailed" {
		t.Errorf("got apps %+v, want api FAILED ChecksFailed and web FAILED DependencyFailed", res.Apps)
	}
	if got := await(t, appRun(dispatcher, repo, "api", sha)); got.Status != types.ExecutionStatusFailed || aws.ToString(got.Error) != "ChecksFailed" {
		t.Fatalf("api's run ended %s %s, want FAILED ChecksFailed", got.Status, aws.ToString(got.Error))
	}
	web := appRun(dispatcher, repo, "web", sha)
	got := await(t, web)
	if got.Status != types.ExecutionStatusFailed || aws.ToString(got.Error) != "DependencyFailed" ||
		!strings.Contains(aws.ToString(got.Cause), repo.Slug+"-api-main-"+pipeline.ShortSHA(sha)+" ended FAILED") {
		explain(t, web)
		t.Fatalf("web's run ended %s %s: %s; want FAILED DependencyFailed naming api's run", got.Status, aws.ToString(got.Error), aws.ToString(got.Cause))
	}
	if visited(t, web, "Take the environment's lock") {
		t.Error("web's run went on to its environments")
	}
	if !said(statusesOf(t, repo, dir, sha), pipeline.StateFailed, "DependencyFailed") {
		t.Errorf("statuses %+v, want web's FAILED with DependencyFailed", statusesOf(t, repo, dir, sha))
	}

	// stackflow retry: the commit with --app names that app's run (api's
	// stopped at its checks: nothing to resume with), and the push's own
	// run is no run to retry.
	ctx := context.Background()
	if _, _, err := client().Retry(ctx, pipeline.ShortSHA(sha), "api", "ada", nil); err == nil ||
		!strings.Contains(err.Error(), repo.Slug+"-api-main-"+pipeline.ShortSHA(sha)+" stopped at Run the checks") {
		t.Errorf("retry %s --app api: got %v, want api's run refused: it stopped at its checks", pipeline.ShortSHA(sha), err)
	}
	if _, _, err := client().Retry(ctx, dispatcher, "", "ada", nil); err == nil || !strings.Contains(err.Error(), "is the push's run, which started its apps' runs (api, web)") {
		t.Errorf("retry of the push's run: got %v, want it refused, naming the apps' runs", err)
	}
}
