package config

import (
	"reflect"
	"strings"
	"testing"

	"github.com/stackflow/stackflow/internal/pipeline"
)

func TestMatchPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"services/api/**", "services/api/main.go", true},
		{"services/api/**", "services/api/internal/x/y.go", true},
		{"services/api/**", "services/apix/main.go", false},
		{"services/api/**", "services/web/main.go", false},
		{"**/*.md", "README.md", true},
		{"**/*.md", "docs/a/b.md", true},
		{"**/*.md", "docs/a/b.mdx", false},
		{"*.md", "README.md", true},
		{"*.md", "docs/README.md", false},
		{"services/*/template.yaml", "services/api/template.yaml", true},
		{"services/*/template.yaml", "services/api/x/template.yaml", false},
		{"a/**/b", "a/b", true},
		{"a/**/b", "a/x/y/b", true},
		{"a/**/b", "a/x/y/c", false},
		{"**", "anything/at/all", true},
		{"go.mod", "go.mod", true},
		{"go.mod", "sub/go.mod", false},
		{"v[0-9]/x", "v1/x", true},
		{"a/**/**/b", "a/b", true},
	}
	for _, tt := range tests {
		if got := MatchPath(tt.pattern, tt.name); got != tt.want {
			t.Errorf("MatchPath(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

func TestValidGlob(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"services/api/**", "**/*.md", "go.mod", "a/**/b", "v[0-9]*"} {
		if p := ValidGlob(ok); p != "" {
			t.Errorf("ValidGlob(%q) = %q, want it valid", ok, p)
		}
	}
	for bad, want := range map[string]string{
		"/abs/**":  "starts with /",
		"a//b":     "empty path segment",
		"a/":       "empty path segment",
		"../x":     ". or ..",
		"a**/b":    "** inside the segment",
		"[a-z":     "malformed segment",
		`a\b`:      `has a \`,
		"   ":      "is empty",
		"./api/**": ". or ..",
	} {
		if p := ValidGlob(bad); !strings.Contains(p, want) {
			t.Errorf("ValidGlob(%q) = %q, want it to say %q", bad, p, want)
		}
	}
}

func TestParseApps(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(`version: 1
apps:
  - name: api
    path: services/api/
  - name: web
    path: services/web
    after: [api]
    paths: [services/web/**, shared/**]
    paths_ignore: ["**/*.md"]
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []App{
		{Name: "api", Path: "services/api", line: 3},
		{Name: "web", Path: "services/web", After: []string{"api"}, Paths: []string{"services/web/**", "shared/**"}, PathsIgnore: []string{"**/*.md"}, line: 5},
	}
	if !reflect.DeepEqual(c.Apps, want) {
		t.Errorf("got apps %+v, want %+v", c.Apps, want)
	}
	if got := c.Apps[0].Watched(); !reflect.DeepEqual(got, []string{"services/api/**"}) {
		t.Errorf("api watches %v, want its folder", got)
	}
}

func TestParseEnvironmentTagsAndPaths(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(`environments:
  - name: staging
    branches: [main]
    paths: [services/api/**]
    paths_ignore: ["**/*.md"]
    stack_tags: {team: web}
  - name: prod
    tags: ["v*"]
  - name: old
    branches: [main]
    tags: {team: web}
`))
	if err != nil {
		t.Fatal(err)
	}
	st, prod, old := c.Environments[0], c.Environments[1], c.Environments[2]
	if !reflect.DeepEqual(st.Paths, []string{"services/api/**"}) || !reflect.DeepEqual(st.PathsIgnore, []string{"**/*.md"}) || st.Tags["team"] != "web" {
		t.Errorf("staging: got %+v", st)
	}
	if !reflect.DeepEqual(prod.GitTags, []string{"v*"}) || prod.Branches != nil {
		t.Errorf("prod: got tags %v branches %v, want [v*] and none", prod.GitTags, prod.Branches)
	}
	if old.Tags["team"] != "web" || old.GitTags != nil {
		t.Errorf("tags as a mapping: got stack tags %v, git tags %v; want the stack tags", old.Tags, old.GitTags)
	}
}

func TestParseAppAndFilterErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, problem, fix string
		line                   int
	}{
		{"app without path", "apps:\n  - name: api\n", `apps[0]: missing "path"`, "path: services/api", 2},
		{"bad app name", "apps:\n  - name: API\n    path: x\n", `apps[0].name: "API" is not a valid app name`, "at most 24", 2},
		{"long app name", "apps:\n  - name: a-very-long-application-name\n    path: x\n", `apps[0].name: "a-very-long-application-name" is not a valid app name`, "at most 24", 2},
		{"duplicate app", "apps:\n  - {name: a, path: x}\n  - {name: a, path: y}\n", `apps[1].name: "a" is already the name of apps[0]`, "its own name", 3},
		{"overlapping paths", "apps:\n  - {name: a, path: svc}\n  - {name: b, path: svc/b}\n", "apps[1].path: svc/b and apps[0]'s svc overlap", "neither inside", 3},
		{"path out of the repository", "apps:\n  - {name: a, path: ../x}\n", `apps[0].path: "../x" is not a folder`, "from the repository root", 2},
		{"unknown after", "apps:\n  - name: a\n    path: x\n    after: [b]\n", `apps[0].after[0]: "b" is not one of the apps`, "(a)", 4},
		{"after itself", "apps:\n  - name: a\n    path: x\n    after: [a]\n", "apps[0].after: a cannot come after itself", "remove it", 4},
		{"after cycle", "apps:\n  - {name: a, path: x, after: [b]}\n  - {name: b, path: y, after: [a]}\n", "apps: a -> b -> a wait for each other in a circle", "one app must be delivered first", 2},
		{"apps beside environments", "apps:\n  - {name: a, path: x}\nenvironments:\n  - {name: s, branches: [main]}\n", "environments: a file with apps lists them and holds nothing else", "into each app's own", 3},
		{"bad app glob", "apps:\n  - name: a\n    path: x\n    paths: [x/**, /abs]\n", `apps[0].paths[1]: "/abs" starts with /`, "from the repository root", 4},
		{"bad env glob", "environments:\n  - name: s\n    branches: [main]\n    paths_ignore:\n      - 'docs**'\n", `environments[0].paths_ignore[0]: "docs**" has ** inside`, "services/api/**", 5},
		{"empty tags", "environments:\n  - name: s\n    tags: []\n", "environments[0].tags: is empty", "at least one tag", 3},
		{"bad tag pattern", "environments:\n  - name: s\n    tags: ['v[1']\n", `environments[0].tags[0]: "v[1" is not a valid tag pattern`, "path.Match", 3},
		{"stack tags twice", "environments:\n  - name: s\n    branches: [main]\n    tags: {a: b}\n    stack_tags: {c: d}\n", "environments[0].tags: a mapping of stack tags beside stack_tags", "into stack_tags", 4},
		{"no branches nor tags", "environments:\n  - name: s\n    paths: [x/**]\n", `environments[0]: missing "branches" or "tags"`, `tags: ["v*"]`, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tt.in))
			wantInvalid(t, err, tt.line, tt.problem, tt.fix)
		})
	}
}

func TestReaches(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(`environments:
  - name: staging
    branches: [main]
    paths_ignore: ["**/*.md"]
  - name: prod
    branches: [main]
    tags: ["v*"]
    paths: [api/**]
`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		ch   Change
		want []Reach
	}{
		{"code change", Change{Branch: "main", Files: []string{"api/main.go"}}, []Reach{
			{Name: "staging", Deploys: true, Why: "branch main matches [main]; changed api/main.go"},
			{Name: "prod", Deploys: true, Why: "branch main matches [main]; changed api/main.go"},
		}},
		{"docs only", Change{Branch: "main", Files: []string{"api/README.md"}}, []Reach{
			{Name: "staging", Filtered: true, Why: "branch main matches [main]; only changes under paths_ignore (**/*.md)"},
			{Name: "prod", Deploys: true, Why: "branch main matches [main]; changed api/README.md"},
		}},
		{"outside api", Change{Branch: "main", Files: []string{"web/x.go"}}, []Reach{
			{Name: "staging", Deploys: true, Why: "branch main matches [main]; changed web/x.go"},
			{Name: "prod", Filtered: true, Why: "branch main matches [main]; no change under api/**"},
		}},
		{"forced push", Change{Branch: "main", Files: []string{"web/x.go"}, Everything: "a forced push"}, []Reach{
			{Name: "staging", Deploys: true, Why: "branch main matches [main]; a forced push"},
			{Name: "prod", Deploys: true, Why: "branch main matches [main]; a forced push"},
		}},
		{"other branch", Change{Branch: "feature/x", Files: []string{"api/x.go"}}, []Reach{
			{Name: "staging", Why: "branch feature/x matches none of [main]"},
			{Name: "prod", Why: "branch feature/x matches none of [main]"},
		}},
		{"tag", Change{Tag: "v1.2.0"}, []Reach{
			{Name: "staging", Why: "takes no tags"},
			{Name: "prod", Deploys: true, Why: "tag v1.2.0 matches [v*]"},
		}},
		{"other tag", Change{Tag: "nightly"}, []Reach{
			{Name: "staging", Why: "takes no tags"},
			{Name: "prod", Why: "tag nightly matches none of [v*]"},
		}},
	}
	for _, tt := range tests {
		if got := withoutPaths(c.Reaches(tt.ch)); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got\n%+v\nwant\n%+v", tt.name, got, tt.want)
		}
	}
}

func TestReachApps(t *testing.T) {
	t.Parallel()
	root, err := Parse([]byte("apps:\n  - {name: api, path: services/api}\n  - {name: web, path: services/web, paths: [services/web/**, shared/**], paths_ignore: ['**/*.md']}\n"))
	if err != nil {
		t.Fatal(err)
	}
	apiCfg, err := Parse([]byte("environments:\n  - {name: prod, tags: ['v*']}\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfgs := func(a App) *Config {
		if a.Name == "api" {
			return apiCfg
		}
		return nil
	}
	tests := []struct {
		name string
		ch   Change
		want []Reach
	}{
		{"api changed", Change{Branch: "main", Files: []string{"services/api/main.go"}}, []Reach{
			{Name: "api", Deploys: true, Why: "changed services/api/main.go"},
			{Name: "web", Filtered: true, Why: "skipped: no change under services/web/**, shared/**"},
		}},
		{"shared changed", Change{Branch: "main", Files: []string{"shared/lib.go", "services/web/README.md"}}, []Reach{
			{Name: "api", Filtered: true, Why: "skipped: no change under services/api/**"},
			{Name: "web", Deploys: true, Why: "changed shared/lib.go"},
		}},
		{"docs of web", Change{Branch: "main", Files: []string{"services/web/README.md"}}, []Reach{
			{Name: "api", Filtered: true, Why: "skipped: no change under services/api/**"},
			{Name: "web", Filtered: true, Why: "skipped: only changes under paths_ignore (**/*.md)"},
		}},
		{"nothing changed", Change{Branch: "feature/x", Files: []string{}}, []Reach{
			{Name: "api", Filtered: true, Why: "skipped: no file changed"},
			{Name: "web", Filtered: true, Why: "skipped: no file changed"},
		}},
		{"truncated", Change{Branch: "main", Everything: "Bitbucket truncated the push"}, []Reach{
			{Name: "api", Deploys: true, Why: "Bitbucket truncated the push"},
			{Name: "web", Deploys: true, Why: "Bitbucket truncated the push"},
		}},
		{"tag", Change{Tag: "v2"}, []Reach{
			{Name: "api", Deploys: true, Why: "tag v2 deploys to prod"},
			{Name: "web", Why: "skipped: no environment of web takes tag v2"},
		}},
	}
	for _, tt := range tests {
		if got := withoutPaths(root.ReachApps(tt.ch, cfgs)); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got\n%+v\nwant\n%+v", tt.name, got, tt.want)
		}
	}
	if !root.TakesTag("v1", cfgs) || root.TakesTag("nightly", cfgs) {
		t.Error("TakesTag: want v1 taken (api's prod) and nightly not")
	}
}

func TestPlanChangeSkipsFilteredEnvironments(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte("environments:\n  - {name: staging, branches: [main]}\n  - {name: prod, branches: [main], tags: ['v*'], paths: [api/**]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	repo := pipeline.Repository{Workspace: "acme", Slug: "hello"}
	plan, err := c.PlanChange(repo, Change{Branch: "main", Files: []string{"web/x.go"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Environments) != 1 || plan.Environments[0].Name != "staging" {
		t.Errorf("got environments %+v, want staging alone", plan.Environments)
	}
	if want := []pipeline.Skipped{{Name: "prod", Reason: "no change under api/**"}}; !reflect.DeepEqual(plan.Skipped, want) {
		t.Errorf("got skipped %+v, want %+v", plan.Skipped, want)
	}
	if want := "main: checks, then staging; skipped prod (no change under api/**)"; plan.Summary != want {
		t.Errorf("got summary %q, want %q", plan.Summary, want)
	}
	plan, err = c.PlanChange(repo, Change{Tag: "v3"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Environments) != 1 || plan.Environments[0].Name != "prod" || plan.Summary != "tag v3: checks, then prod" {
		t.Errorf("tag v3: got %+v (%q), want prod alone", plan.Environments, plan.Summary)
	}
}

// withoutPaths is rs without their Paths, which TestPlanChangeSkipsFilteredEnvironments checks.
func withoutPaths(rs []Reach) []Reach {
	for i := range rs {
		rs[i].Paths = ""
	}
	return rs
}

// A commit cannot widen where it deploys through tags or path filters:
// the default branch's decide, and the commit's are listed as ignored.
func TestTagsAndPathsAreTheDefaultBranchs(t *testing.T) {
	t.Parallel()
	trusted, err := ParseTrusted("main", strings.Repeat("a", 40),
		[]byte("environments:\n  - {name: staging, branches: [main], paths: [api/**]}\n  - {name: prod, tags: ['v*']}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	commit, err := Parse([]byte("environments:\n  - {name: staging, branches: [main]}\n  - {name: prod, tags: ['*']}\n"))
	if err != nil {
		t.Fatal(err)
	}
	repo := pipeline.Repository{Workspace: "acme", Slug: "hello"}
	plan, err := commit.PlanTrustedChange(trusted, repo, Change{Tag: "nightly"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Deploy {
		t.Errorf("tag nightly: got %+v, want no environment: main's prod takes v* only", plan.Environments)
	}
	plan, err = commit.PlanTrustedChange(trusted, repo, Change{Branch: "main", Files: []string{"web/x.go"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Deploy || len(plan.Skipped) != 1 {
		t.Errorf("main changing web/x.go: got %+v, want staging skipped by main's paths", plan)
	}
	var ignored []string
	for _, s := range plan.Ignored {
		ignored = append(ignored, s.Setting)
	}
	if want := []string{"staging.paths", "prod.tags"}; !reflect.DeepEqual(ignored, want) {
		t.Errorf("ignored %v, want %v", ignored, want)
	}
}

// An app's plan names its stacks <slug>-<app>-<environment>, and the
// command that promotes it names the repository and the app, as
// stackflow promote takes them.
func TestAnAppsPlanNamesItsStacksAndItsPromotion(t *testing.T) {
	t.Parallel()
	yml := "environments:\n  - {name: staging, branches: [main]}\n  - {name: prod, branches: [main], promotion: manual}\n"
	c, err := Parse([]byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	trusted, err := ParseTrusted("main", strings.Repeat("a", 40), []byte(yml), nil)
	if err != nil {
		t.Fatal(err)
	}
	repo := pipeline.Repository{Workspace: "acme", Slug: "platform"}
	for _, tt := range []struct {
		name string
		plan func() (pipeline.Plan, error)
	}{
		{"PlanChange", func() (pipeline.Plan, error) { return c.PlanChange(repo, Change{Branch: "main", App: "api"}, nil) }},
		{"PlanTrustedChange", func() (pipeline.Plan, error) {
			return c.PlanTrustedChange(trusted, repo, Change{Branch: "main", App: "api"}, nil)
		}},
	} {
		plan, err := tt.plan()
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := names(plan.Environments); !reflect.DeepEqual(got, []string{"staging@platform-api-staging"}) {
			t.Errorf("%s: got environments %v, want staging@platform-api-staging", tt.name, got)
		}
		want := &pipeline.ReadyToPromote{Environment: "prod", From: "staging", Command: "stackflow promote acme/platform prod --app api --from staging"}
		if !reflect.DeepEqual(plan.Ready, want) {
			t.Errorf("%s: got ready %+v, want %+v", tt.name, plan.Ready, want)
		}
		if !strings.HasSuffix(plan.Summary, "; ready to promote to prod (stackflow promote acme/platform prod --app api --from staging)") {
			t.Errorf("%s: got summary %q, want it to end with the promotion's command", tt.name, plan.Summary)
		}
		if len(plan.Ignored) != 0 {
			t.Errorf("%s: got ignored %+v, want none: the commit's files are the default branch's", tt.name, plan.Ignored)
		}
	}
	run := pipeline.Run{Repository: repo, Branch: "main", Commit: strings.Repeat("b", 40), App: &pipeline.AppRun{Name: "api"},
		Promote: &pipeline.PromoteRequest{Environment: "prod", From: "staging"}}
	plan, err := c.PromoteRunPlanTrusted(trusted, run, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(plan.Environments); !reflect.DeepEqual(got, []string{"prod@platform-api-prod"}) {
		t.Errorf("promotion: got environments %v, want prod@platform-api-prod", got)
	}
	run.Promote.Environment = "qa"
	if _, err := c.PromoteRunPlanTrusted(trusted, run, nil); err == nil || !strings.Contains(err.Error(), "qa is not an environment of app api of acme/platform") {
		t.Errorf("promotion to qa: got %v, want it refused naming the app", err)
	}
}
