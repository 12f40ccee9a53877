package source_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/stackflow/stackflow/internal/pipeline"
)

const mono = "abababababababababababababababababababab"

func init() {
	commits[mono] = map[string]string{
		"stackflow.yml":               "apps:\n  - {name: api, path: services/api}\n  - {name: web, path: services/web, after: [api]}\n  - {name: docs, path: docs, paths_ignore: ['**/*.md']}\n",
		"services/api/stackflow.yml":  "checks: [go test ./...]\nenvironments:\n  - {name: staging, branches: [main], paths_ignore: ['**/README.md']}\n  - {name: prod, tags: ['v*']}\n",
		"services/api/template.yaml":  "Transform: AWS::Serverless-2016-10-31\n",
		"services/web/stackflow.yml":  "environments:\n  - {name: staging, branches: [main]}\n",
		"services/web/samconfig.toml": "version = 0.1\n[staging.deploy.parameters]\nstack_name = \"web-stg\"\n",
		"services/web/template.yaml":  "Transform: AWS::Serverless-2016-10-31\n",
		"docs/stackflow.yml":          "environments:\n  - {name: staging, branches: [main]}\n",
		"docs/template.yaml":          "Transform: AWS::Serverless-2016-10-31\n",
	}
}

// changes is a diffstat that lists files whatever the commits.
type changes struct {
	files []string
	asked []string
}

func (c *changes) ChangedFiles(_ context.Context, _ pipeline.Repository, from, to string) ([]string, error) {
	c.asked = append(c.asked, to[:7]+".."+from[:7])
	return c.files, nil
}

func TestAMonorepoPushStartsARunPerChangedApp(t *testing.T) {
	f := setup(t)
	f.defaults.commit = mono
	diff := &changes{files: []string{"services/api/main.go", "docs/guide.md"}}
	f.svc.Changes = diff
	r := run("main", mono)
	r.Push = &pipeline.Push{Old: good}
	const exec = "arn:aws:states:us-east-1:123456789012:execution:Pipeline:hello-main-ababab"
	got, err := f.svc.Handle(context.Background(), pipeline.SourceInput{Run: r, Execution: exec})
	if err != nil {
		t.Fatal(err)
	}
	if got.ArchiveKey != "" || f.downloads.Load() != 0 {
		t.Errorf("the dispatching run downloaded the archive (%q, %d downloads); it needs none", got.ArchiveKey, f.downloads.Load())
	}
	if want := []string{"abababa..0123456"}; !reflect.DeepEqual(diff.asked, want) {
		t.Errorf("diffstat asked for %v, want %v", diff.asked, want)
	}
	p := got.Plan
	if want := "main: delivering api (a run each); skipped web (no change under services/web/**), docs (only changes under paths_ignore (**/*.md))"; p.Summary != want {
		t.Errorf("summary:\n got %q\nwant %q", p.Summary, want)
	}
	var names []string
	for _, a := range p.Apps {
		names = append(names, a.Name)
	}
	if want := []string{"api", "web", "docs"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("apps %v, want %v", names, want)
	}
	api, web := p.Apps[0], p.Apps[1]
	if !api.Deliver || api.Execution != "hello-api-main-abababa" || api.Reason != "changed services/api/main.go" {
		t.Errorf("api: got %+v", api)
	}
	var in pipeline.ExecutionInput
	if err := json.Unmarshal([]byte(api.Input), &in); err != nil || in.Run.App == nil || in.Run.App.Name != "api" || in.Run.Commit != mono || in.Run.Push == nil {
		t.Errorf("api's input %s: want the run of api at the commit, with the push", api.Input)
	}
	if web.Deliver || web.Run.App.Name != "web" || len(web.Run.App.After) != 0 {
		t.Errorf("web: got %+v, want it skipped", web)
	}

	// When both change, web waits for api's run, named by its ARN.
	diff.files = []string{"services/api/main.go", "services/web/main.go"}
	got, err = f.svc.Handle(context.Background(), pipeline.SourceInput{Run: r, Execution: exec})
	if err != nil {
		t.Fatal(err)
	}
	web = got.Plan.Apps[1]
	if want := []string{"arn:aws:states:us-east-1:123456789012:execution:Pipeline:hello-api-main-abababa"}; !web.Deliver || !reflect.DeepEqual(web.Run.App.After, want) {
		t.Errorf("web: got %+v, want it delivered after %v", web, want)
	}
}

func TestAMonorepoTagReachesTheAppsWhoseEnvironmentsTakeIt(t *testing.T) {
	f := setup(t)
	f.defaults.commit = mono
	diff := &changes{}
	f.svc.Changes = diff
	r := pipeline.Run{Repository: repo, Tag: "v1.0.0", Commit: mono}
	got, err := f.svc.Handle(context.Background(), pipeline.SourceInput{Run: r})
	if err != nil {
		t.Fatal(err)
	}
	if len(diff.asked) != 0 {
		t.Errorf("a tag read the diffstat (%v); path filters do not apply to tags", diff.asked)
	}
	if want := "tag v1.0.0: delivering api (a run each); skipped web (no environment of web takes tag v1.0.0), docs (no environment of docs takes tag v1.0.0)"; got.Plan.Summary != want {
		t.Errorf("summary:\n got %q\nwant %q", got.Plan.Summary, want)
	}
	if a := got.Plan.Apps[0]; a.Execution != "hello-api-tag-v1-0-0-abababa" {
		t.Errorf("api's execution %q", a.Execution)
	}
}

func TestAnAppRunPlansFromItsFolder(t *testing.T) {
	f := setup(t)
	f.defaults.commit = mono
	diff := &changes{files: []string{"services/api/README.md"}}
	f.svc.Changes = diff
	r := run("main", mono)
	r.Push = &pipeline.Push{Old: good}
	r.App = &pipeline.AppRun{Name: "web"}
	got, err := f.svc.Handle(context.Background(), pipeline.SourceInput{Run: r})
	if err != nil {
		t.Fatal(err)
	}
	p := got.Plan
	if p.Dir != "services/web" || p.Template != "services/web/template.yaml" || len(p.Environments) != 1 {
		t.Fatalf("got plan %+v, want web's staging from services/web", p)
	}
	if e := p.Environments[0]; e.Stack != "web-stg" || e.App != "web" {
		t.Errorf("got environment %+v, want web's samconfig stack web-stg", e)
	}

	// api's staging ignores README changes: its run runs the checks only.
	r.App = &pipeline.AppRun{Name: "api"}
	got, err = f.svc.Handle(context.Background(), pipeline.SourceInput{Run: r})
	if err != nil {
		t.Fatal(err)
	}
	p = got.Plan
	if p.Deploy || len(p.Skipped) != 1 || !strings.Contains(p.Summary, "skipped staging (only changes under paths_ignore (**/README.md))") {
		t.Errorf("got plan %+v, want staging skipped by its paths_ignore", p)
	}
	if len(p.Checks) != 1 || p.Checks[0] != "go test ./..." {
		t.Errorf("checks %v, want api's own", p.Checks)
	}

	// A default stack name is <slug>-<app>-<env>.
	r.App = &pipeline.AppRun{Name: "docs"}
	diff.files = []string{"docs/x.txt"}
	got, err = f.svc.Handle(context.Background(), pipeline.SourceInput{Run: r})
	if err != nil {
		t.Fatal(err)
	}
	if e := got.Plan.Environments; len(e) != 1 || e[0].Stack != "hello-docs-staging" {
		t.Errorf("docs: got %+v, want stack hello-docs-staging", e)
	}

	r.App = &pipeline.AppRun{Name: "gone"}
	_, err = f.svc.Handle(context.Background(), pipeline.SourceInput{Run: r})
	if err == nil || !strings.Contains(err.Error(), "lists no app gone") {
		t.Errorf("got %v, want ConfigInvalid: no app gone", err)
	}
}
