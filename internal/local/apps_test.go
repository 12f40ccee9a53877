package local

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/runs"
)

// The Python and Node.js examples go the whole way as examples/hello does:
// their checks (pytest; npm test) run on this machine's python3 and node,
// their function is packaged as sam build packages it, for this machine's
// architecture, and each environment's stack answers over HTTP. A second
// push that changes nothing a function depends on (a README) builds
// nothing, and each environment's change set changes no resource.
func TestPythonAndNodeAppsAreDeliveredToStagingThenProd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		example string
		// checks are lines each check's output must show in the checks
		// log the run leaves.
		checks []string
	}{
		{example: "hello-python", checks: []string{"2 passed"}},
		{example: "hello-node", checks: []string{"# pass 2", "# fail 0"}},
	}
	for _, tt := range tests {
		t.Run(tt.example, func(t *testing.T) {
			t.Parallel()
			repo, dir := appOf(t, tt.example, tt.example, nil)
			res := run(t, repo, dir)
			if !res.Succeeded() {
				t.Fatalf("got %s %s: %s, want SUCCEEDED", res.Status, res.Error, res.Cause)
			}
			delivered(t, repo, res, "hello?name=<Ada>", func(stage string) string { return "<p>hello from " + stage + ", &lt;Ada&gt;</p>" })
			if s := status(t, res); s.State != pipeline.StateSuccessful {
				t.Errorf("got status %+v, want SUCCESSFUL", s)
			}
			log := checksLog(t, res)
			for _, want := range tt.checks {
				if !strings.Contains(log, want) {
					t.Errorf("checks log lacks %q:\n%s", want, log)
				}
			}

			ctx := context.Background()
			if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("# "+tt.example+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{{"add", "README.md"}, {"commit", "-q", "-m", "a README"}} {
				if _, err := gitIn(ctx, dir, args...); err != nil {
					t.Fatal(err)
				}
			}
			again := run(t, repo, dir)
			if !again.Succeeded() {
				t.Fatalf("the README's push: got %s %s: %s, want SUCCEEDED", again.Status, again.Error, again.Cause)
			}
			tl, err := client().Show(ctx, again.Execution)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(tl.Package, ": 0 built, 1 reused") {
				t.Errorf("the README's push packaged %q, want 0 built, 1 reused", tl.Package)
			}
			if len(tl.Environments) != 2 {
				t.Fatalf("the README's push reached %+v, want staging and prod", tl.Environments)
			}
			// The change set changes no resource: only the stack's
			// stackflow:commit tag moves to the new commit.
			for _, e := range tl.Environments {
				if e.Status != runs.EnvDelivered || len(e.Changes) != 0 || !strings.HasSuffix(e.ChangeSet, ": no resource changes") {
					t.Errorf("the README's push: %s is %s with change set %q %v, want DELIVERED with no resource changes",
						e.Name, e.Status, e.ChangeSet, e.Changes)
				}
			}
		})
	}
}

// A failing pytest or npm test stops the run at the checks, with the end
// of the test's output (the last assertion that failed, the count) in the
// error and FAILED on the commit; no stack is touched.
func TestFailingPythonAndNodeTestsStopTheRunAtTheChecks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		example string
		file    string
		check   string
		tail    []string
	}{
		{
			example: "hello-python", file: "hello/app.py", check: "pytest",
			tail: []string{"test_greets_from_the_stage", "goodbye from staging", "2 failed"},
		},
		{
			example: "hello-node", file: "hello/src/greeting.ts", check: "npm test",
			tail: []string{"AssertionError", "goodbye from prod", "# fail 2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.example, func(t *testing.T) {
			t.Parallel()
			repo, dir := appOf(t, tt.example, tt.example+"-broken", map[string]func(string) string{
				tt.file: func(s string) string { return strings.Replace(s, "hello from ", "goodbye from ", 1) },
			})
			res := run(t, repo, dir)
			if res.Status != "FAILED" || res.Error != "ChecksFailed" {
				t.Fatalf("got %s %s: %s, want FAILED ChecksFailed", res.Status, res.Error, res.Cause)
			}
			if !strings.Contains(res.Cause, "check \"") || !strings.Contains(res.Cause, tt.check) {
				t.Errorf("cause %q: want it to name the check %q", res.Cause, tt.check)
			}
			for _, want := range tt.tail {
				if !strings.Contains(res.Cause, want) {
					t.Errorf("cause %q: want the test output's %q", res.Cause, want)
				}
			}
			for _, e := range res.Environments {
				if e.Status != "" {
					t.Errorf("%s: stack %s is %s, want it untouched", e.Name, e.Stack, e.Status)
				}
			}
			if s := status(t, res); s.State != pipeline.StateFailed || !strings.Contains(s.Description, "ChecksFailed") {
				t.Errorf("got status %+v, want FAILED naming ChecksFailed", s)
			}
		})
	}
}

// checksLog is the whole output of res's checks, as `stackflow logs
// --step checks` shows it.
func checksLog(t *testing.T, res *Result) string {
	t.Helper()
	l, err := client().Logs(context.Background(), res.Execution, runs.PhaseChecks)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Body.Close()
	b, err := io.ReadAll(l.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
