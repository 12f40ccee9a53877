package local

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestStartCleansUpAfterAFailure: a Start that fails part-way returns an
// error, not a half-made pipeline, and does not panic stopping what it had
// started.
func TestStartCleansUpAfterAFailure(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Start(context.Background(), Options{WorkDir: filepath.Join(file, "work")})
	if err == nil || p != nil {
		t.Fatalf("got %v, %v; want no pipeline and an error", p, err)
	}
}

// TestSecondStartBuildsNothing: the pipeline's ten functions are built
// by the first Start with an empty build cache, and reused by the next
// one, whose kumo and bucket are new; each function's progress is shown.
// After KeepLogs, Close leaves the logs of that run and none of its
// function binaries.
func TestSecondStartBuildsNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cache := t.TempDir()
	start := func() (*Pipeline, string) {
		t.Helper()
		var log syncBuffer
		p, err := Start(ctx, Options{BuildCacheDir: cache, Log: &log})
		if err != nil {
			t.Fatal(err)
		}
		return p, log.String()
	}
	functions := []string{"WebhookFunction", "StatusFunction", "SourceFunction", "GrantFunction", "ChecksFunction",
		"PackageFunction", "PublishFunction", "DeployFunction", "SmokeTestFunction", "ApproveFunction"}

	first, log := start()
	first.Close()
	if !strings.Contains(log, "packaged 10 functions") || !strings.Contains(log, ": 10 built, 0 reused in ") {
		t.Errorf("first Start: the log does not say 10 built, 0 reused:\n%s", log)
	}
	for _, fn := range functions {
		if !regexp.MustCompile(`(?m)^  `+fn+` +building functions/`).MatchString(log) ||
			!regexp.MustCompile(`(?m)^  `+fn+` +built in \d+\.\ds \(\d+\.\d MiB zip\)$`).MatchString(log) {
			t.Errorf("first Start: the log does not show %s building, then built with its time:\n%s", fn, log)
		}
	}

	second, log := start()
	if !strings.Contains(log, ": 0 built, 10 reused in ") || strings.Contains(log, " building ") {
		t.Errorf("second Start: the log does not say 0 built, 10 reused:\n%s", log)
	}
	for _, fn := range functions {
		if !regexp.MustCompile(`(?m)^  ` + fn + ` +reused from the build cache in \d+\.\ds`).MatchString(log) {
			t.Errorf("second Start: the log does not show %s reused from the build cache:\n%s", fn, log)
		}
	}

	// The run failed, say: its logs are kept, its binaries are not.
	work := second.workDir
	second.KeepLogs()
	if err := second.Close(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	var logs, others []string
	err := filepath.WalkDir(work, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(work, path)
		if strings.HasPrefix(rel, "logs"+string(filepath.Separator)) && strings.HasSuffix(rel, ".log") {
			logs = append(logs, filepath.Base(rel))
		} else {
			others = append(others, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(others) > 0 {
		t.Errorf("after KeepLogs and Close, the work directory holds more than logs: %q", others)
	}
	for _, want := range []string{"install.log", "stepfunctions.log"} {
		if !strings.Contains(strings.Join(logs, " "), want) {
			t.Errorf("after KeepLogs and Close, got logs %q, want %s among them", logs, want)
		}
	}
	if !strings.Contains(strings.Join(logs, " "), "function-stackflow-WebhookFunction-") {
		t.Errorf("after KeepLogs and Close, got logs %q, want the functions' among them", logs)
	}
}

// TestKeepLogsKeepsOnlyTheLogs: after KeepLogs, Close removes the work
// directory it made but for its logs; without, all of it.
func TestKeepLogsKeepsOnlyTheLogs(t *testing.T) {
	t.Parallel()
	for _, keep := range []bool{true, false} {
		work := filepath.Join(t.TempDir(), "work")
		files := []string{"logs/install.log", "logs/function-a.log", "functions/a/0123/bootstrap", "toolchains/go1.26/bin/go", "go/build/00/x"}
		for _, f := range files {
			p := filepath.Join(work, filepath.FromSlash(f))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		p := &Pipeline{workDir: work, ownDir: true}
		if keep {
			p.KeepLogs()
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		var left []string
		filepath.WalkDir(work, func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				rel, _ := filepath.Rel(work, path)
				left = append(left, filepath.ToSlash(rel))
			}
			return nil
		})
		want := []string{}
		if keep {
			want = []string{"logs/function-a.log", "logs/install.log"}
		}
		if strings.Join(left, " ") != strings.Join(want, " ") {
			t.Errorf("KeepLogs %v: got %q left, want %q", keep, left, want)
		}
	}
}

// TestPollWaitsNameThePipelinesWaits: the Wait states that Options.PollWait
// shortens are there in the pipeline's state machine, by their SecondsPath:
// the waits for a change set, a stack and a preview's deletion.
func TestPollWaitsNameThePipelinesWaits(t *testing.T) {
	t.Parallel()
	body, err := os.ReadFile(filepath.Join("..", "..", "statemachine", "pipeline.asl.json"))
	if err != nil {
		t.Fatal(err)
	}
	var waits []string
	var walk func(states map[string]json.RawMessage)
	walk = func(states map[string]json.RawMessage) {
		for name, raw := range states {
			var s struct {
				Type          string
				SecondsPath   string
				ItemProcessor *struct{ States map[string]json.RawMessage }
				Iterator      *struct{ States map[string]json.RawMessage }
				Branches      []struct{ States map[string]json.RawMessage }
			}
			if err := json.Unmarshal(raw, &s); err != nil {
				t.Fatal(err)
			}
			if s.Type == "Wait" && s.SecondsPath == pollSecondsPath {
				waits = append(waits, name)
			}
			for _, nested := range []*struct{ States map[string]json.RawMessage }{s.ItemProcessor, s.Iterator} {
				if nested != nil {
					walk(nested.States)
				}
			}
			for _, b := range s.Branches {
				walk(b.States)
			}
		}
	}
	var def struct{ States map[string]json.RawMessage }
	if err := json.Unmarshal(body, &def); err != nil {
		t.Fatal(err)
	}
	walk(def.States)
	slices.Sort(waits)
	if want := []string{"Wait for the change set", "Wait for the deletion", "Wait for the stack"}; !slices.Equal(waits, want) {
		t.Errorf("Wait states with SecondsPath %s: got %q, want %q", pollSecondsPath, waits, want)
	}
}
