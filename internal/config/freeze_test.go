package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/stackflow/stackflow/internal/pipeline"
)

func TestParsePromotionAndFreeze(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(`environments:
  - name: staging
    branches: [main]
  - name: prod
    branches: [main]
    promotion: manual
    freeze_action: stop
    freeze:
      - name: holidays
        start: 2026-12-24
        end: "2027-01-02 09:00"
        timezone: Europe/Berlin
      - cron: 0 17 * * FRI
        duration: 62h
        timezone: America/New_York
      - start: 2026-11-01T00:00:00Z
        end: 2026-11-02T12:00:00+01:00
`))
	if err != nil {
		t.Fatal(err)
	}
	prod := c.Environments[1]
	if !prod.ManualPromotion || prod.FreezeAction != pipeline.FreezeStop || c.Environments[0].ManualPromotion {
		t.Errorf("got promotion manual %v, freeze_action %q; want prod manual, stop", prod.ManualPromotion, prod.FreezeAction)
	}
	want := []pipeline.FreezeWindow{
		{Name: "holidays", Start: "2026-12-24T00:00:00+01:00", End: "2027-01-02T09:00:00+01:00", TimeZone: "Europe/Berlin"},
		{Cron: "0 17 * * FRI", DurationSeconds: 62 * 3600, TimeZone: "America/New_York"},
		{Start: "2026-11-01T00:00:00Z", End: "2026-11-02T12:00:00+01:00"},
	}
	if !reflect.DeepEqual(prod.Freeze, want) {
		t.Errorf("got windows %+v, want %+v", prod.Freeze, want)
	}
	plan, err := c.Plan(pipeline.Repository{Workspace: "acme", Slug: "hello"}, "main", nil)
	if err != nil {
		t.Fatal(err)
	}
	if names := names(plan.Environments); !reflect.DeepEqual(names, []string{"staging@hello-staging"}) {
		t.Errorf("got environments %v, want staging only: a push stops before prod", names)
	}
	wantReady := &pipeline.ReadyToPromote{Environment: "prod", From: "staging", Command: "stackflow promote acme/hello prod --from staging"}
	if !reflect.DeepEqual(plan.Ready, wantReady) {
		t.Errorf("got ready %+v, want %+v", plan.Ready, wantReady)
	}
	if want := "main: checks, then staging; ready to promote to prod (stackflow promote acme/hello prod --from staging)"; plan.Summary != want {
		t.Errorf("got summary %q, want %q", plan.Summary, want)
	}
}

func TestParsePromotionAndFreezeErrors(t *testing.T) {
	t.Parallel()
	env := func(extra string) string {
		return "environments:\n  - name: staging\n    branches: [main]\n  - name: prod\n    branches: [main]\n" + extra
	}
	window := func(lines string) string { return env("    freeze:\n      - " + lines) }
	tests := []struct {
		name        string
		in          string
		wantLine    int
		wantProblem string
		wantFix     string
	}{
		{"promotion misspelt", env("    promotion: by hand\n"), 6,
			`environments[1].promotion: "by hand" is not a promotion setting`, "promotion: manual"},
		{"the first environment manual", "environments:\n  - name: prod\n    branches: [main]\n    promotion: manual\n", 4,
			"environments[0].promotion: the first environment has none before it to be promoted from", "remove promotion: manual"},
		{"freeze_action misspelt", env("    freeze_action: pause\n"), 6,
			`environments[1].freeze_action: "pause" is not a freeze action`, "freeze_action: stop"},
		{"freeze is not a list", env("    freeze: holidays\n"), 6,
			"environments[1].freeze: want a list", ""},
		{"unknown window key", window("from: 2026-12-24\n        end: 2027-01-02\n"), 7,
			`unknown key "from" in environments[1].freeze[0]`, ""},
		{"a window without an end", window("start: 2026-12-24\n"), 7,
			"environments[1].freeze[0]: want start and end, or cron and duration", "cron: 0 17 * * FRI, duration: 62h"},
		{"a window with both", window("start: 2026-12-24\n        cron: 0 17 * * FRI\n"), 7,
			"environments[1].freeze[0]: has both cron and start/end", ""},
		{"a start that is no time", window("start: Christmas\n        end: 2027-01-02\n"), 7,
			`environments[1].freeze[0].start: "Christmas" is not a time such as 2026-12-24 00:00`, "in the window's timezone"},
		{"an end before the start", window("start: 2026-12-24\n        end: 2026-12-23\n"), 8,
			"environments[1].freeze[0].end: 2026-12-23T00:00:00Z is not after the start, 2026-12-24T00:00:00Z", "an end after the start"},
		{"a time zone that is none", window("start: 2026-12-24\n        end: 2027-01-02\n        timezone: CET+1\n"), 9,
			`environments[1].freeze[0].timezone: "CET+1" is not an IANA time zone`, "Europe/Berlin"},
		{"a cron of six fields", window("cron: 0 0 17 * * FRI\n        duration: 62h\n"), 7,
			`environments[1].freeze[0].cron: "0 0 17 * * FRI" is not a cron expression of five fields`, "0 17 * * FRI"},
		{"a cron without a duration", window("cron: 0 17 * * FRI\n"), 7,
			"environments[1].freeze[0]: a cron window needs a duration", "duration: 62h"},
		{"a duration without a unit", window("cron: 0 17 * * FRI\n        duration: 62\n"), 8,
			`environments[1].freeze[0].duration: want a duration such as 62h, got "62"`, "at most 8760h"},
		{"a duration with start and end", window("start: 2026-12-24\n        end: 2027-01-02\n        duration: 1h\n"), 9,
			"environments[1].freeze[0].duration: goes with cron, not with start and end", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tt.in))
			wantInvalid(t, err, tt.wantLine, tt.wantProblem, tt.wantFix)
		})
	}
}

// TestFreezeAndPromotionComeFromMain: a commit cannot lift prod's freeze
// or make it reachable by pushes; the default branch decides both.
func TestFreezeAndPromotionComeFromMain(t *testing.T) {
	t.Parallel()
	mainFile := edit(t, mainYML, "    protected: true\n", "    protected: true\n    promotion: manual\n    freeze_action: stop\n    freeze:\n      - {name: holidays, start: 2026-12-24, end: 2027-01-02}\n")
	trusted := mustTrust(t, mainFile, mainSAM)
	mine, err := Parse([]byte(edit(t, mainFile, "    promotion: manual\n    freeze_action: stop\n    freeze:\n      - {name: holidays, start: 2026-12-24, end: 2027-01-02}\n", "")))
	if err != nil {
		t.Fatal(err)
	}
	repo := pipeline.Repository{Workspace: "acme", Slug: "hello"}
	plan, err := mine.PlanTrusted(trusted, repo, "main", trusted.SAM)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(plan.Environments); !reflect.DeepEqual(got, []string{"staging@hello-staging"}) {
		t.Errorf("got %v, want staging only: main's prod takes promotions only", got)
	}
	if got := settings(plan.Ignored); !reflect.DeepEqual(got, []string{"prod.promotion", "prod.freeze", "prod.freeze_action"}) {
		t.Errorf("got ignored %v, want prod's promotion, freeze and freeze_action", got)
	}

	// A promotion to prod takes main's freeze, and the commit's smoke
	// checks.
	mine.Environments[1].Smoke = []SmokeCheck{{Name: "mine", URL: "${ApiUrl}mine", Method: "GET", Status: 200}}
	promo, err := mine.PromotePlanTrusted(trusted, repo, "main", "prod", trusted.SAM)
	if err != nil {
		t.Fatal(err)
	}
	prod := promo.Environments[0]
	if len(promo.Environments) != 1 || prod.Name != "prod" || prod.FreezeAction != pipeline.FreezeStop || len(prod.Freeze) != 1 || prod.Freeze[0].Name != "holidays" {
		t.Errorf("got %+v, want prod alone with main's freeze", promo.Environments)
	}
	if len(prod.Smoke) != 1 || prod.Smoke[0].Name != "mine" || len(promo.Checks) != 0 {
		t.Errorf("got smoke %+v and checks %v, want the commit's smoke checks and no checks", prod.Smoke, promo.Checks)
	}

	// A branch prod does not take, and an environment main does not have.
	for _, tt := range []struct{ branch, env, want string }{
		{"feature/x", "prod", "refused to promote to prod: prod takes the branches [main], and the commit was released from feature/x"},
		{"main", "qa", "refused to promote to qa: qa is not an environment of acme/hello on main (its environments: [staging, prod])"},
	} {
		_, err := mine.PromotePlanTrusted(trusted, repo, tt.branch, tt.env, trusted.SAM)
		var refused *pipeline.Refused
		if !errors.As(err, &refused) || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("promote %s of %s: got %v, want Refused: %s", tt.env, tt.branch, err, tt.want)
		}
	}
}

func TestResumeAt(t *testing.T) {
	t.Parallel()
	plan := pipeline.Plan{Checks: []string{"go test ./..."}, Environments: []pipeline.Environment{{Name: "staging"}, {Name: "prod"}}}
	got, ok := ResumeAt(plan, "prod")
	if !ok || len(got.Environments) != 1 || got.Environments[0].Name != "prod" || len(got.Checks) != 0 || !got.Deploy {
		t.Errorf("got %+v, %v; want prod alone, no checks", got, ok)
	}
	if _, ok := ResumeAt(plan, "qa"); ok {
		t.Error("resumed at an environment the plan does not have")
	}
}
