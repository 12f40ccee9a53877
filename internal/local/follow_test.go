package local

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	localbb "github.com/stackflow/stackflow/internal/local/bitbucket"
)

// t0 is when the histories of these tests start. The printers read the
// time from a clock the test gives them, never from the machine's.
var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// clock is a printer's clock that a test moves by hand.
type clock struct{ at time.Time }

func (c *clock) now() time.Time { return c.at }

func entered(typ types.HistoryEventType, name string, at time.Duration) types.HistoryEvent {
	return types.HistoryEvent{Type: typ, Timestamp: aws.Time(t0.Add(at)), StateEnteredEventDetails: &types.StateEnteredEventDetails{Name: aws.String(name)}}
}

func exited(typ types.HistoryEventType, name, output string, at time.Duration) types.HistoryEvent {
	return types.HistoryEvent{Type: typ, Timestamp: aws.Time(t0.Add(at)), StateExitedEventDetails: &types.StateExitedEventDetails{Name: aws.String(name), Output: aws.String(output)}}
}

func TestPrinterShowsStatesOutputAndStatusesInOrder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	checksLog := filepath.Join(dir, "function-stackflow-ChecksFunction-X.log")
	packageLog := filepath.Join(dir, "function-stackflow-PackageFunction-Y.log")
	if err := os.WriteFile(checksLog, []byte("old output of an earlier run\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	p := newPrinter(&b, (&clock{t0}).now)
	p.output = newStreamer(dir)
	p.statuses = &statusQueue{}
	p.statuses.add(localbb.Status{Key: "stackflow", State: "INPROGRESS", Description: "Delivering abc", Updated: t0.Add(50 * time.Millisecond)})

	// The logs are read before the history shows the states that wrote them.
	appendTo(t, checksLog, "{\"level\":\"INFO\",\"msg\":\"check\"}\n$ go test ./...\nok  \texample.com/hello\n")
	appendTo(t, packageLog, "$ go build\n")
	plan := `{"source":{"plan":{"environments":[{"name":"staging"},{"name":"prod"}]}}}`
	for _, e := range []types.HistoryEvent{
		entered(types.HistoryEventTypeTaskStateEntered, "Report the run started", 0),
		exited(types.HistoryEventTypeTaskStateExited, "Report the run started", "{}", 100*time.Millisecond),
		entered(types.HistoryEventTypeTaskStateEntered, "Fetch the source and read the plan", 100*time.Millisecond),
		exited(types.HistoryEventTypeTaskStateExited, "Fetch the source and read the plan", plan, 200*time.Millisecond),
		entered(types.HistoryEventTypeTaskStateEntered, "Run the checks", 200*time.Millisecond),
		exited(types.HistoryEventTypeTaskStateExited, "Run the checks", "{}", 2200*time.Millisecond),
		entered(types.HistoryEventTypeTaskStateEntered, "Package the app once", 2200*time.Millisecond),
		exited(types.HistoryEventTypeTaskStateExited, "Package the app once", "{}", 2700*time.Millisecond),
		{Type: types.HistoryEventTypeMapIterationStarted, Timestamp: aws.Time(t0.Add(2800 * time.Millisecond)), MapIterationStartedEventDetails: &types.MapIterationEventDetails{Index: 1}},
		entered(types.HistoryEventTypeTaskStateEntered, "Smoke test the environment", 2800*time.Millisecond),
		entered(types.HistoryEventTypeSucceedStateEntered, "Delivered", 2850*time.Millisecond),
		exited(types.HistoryEventTypeSucceedStateExited, "Delivered", "{}", 2850*time.Millisecond),
		{Type: types.HistoryEventTypeLambdaFunctionFailed, Timestamp: aws.Time(t0.Add(2900 * time.Millisecond)), LambdaFunctionFailedEventDetails: &types.LambdaFunctionFailedEventDetails{
			Error: aws.String("SmokeTestFailed"), Cause: aws.String(`{"errorMessage":"smoke test \"greets\" of prod failed\nmore","errorType":"SmokeTestFailed"}`)}},
		exited(types.HistoryEventTypeTaskStateExited, "Smoke test the environment", "{}", 3*time.Second),
	} {
		p.see(e)
	}
	want := strings.Join([]string{
		"  ▸ Report the run started",
		"  ◆ commit status stackflow INPROGRESS: Delivering abc",
		"  ✓ Report the run started                   0.1s",
		"  ▸ Fetch the source and read the plan",
		"  ✓ Fetch the source and read the plan       0.1s",
		"  ▸ Run the checks",
		"    │ $ go test ./...",
		"    │ ok  \texample.com/hello",
		"  ✓ Run the checks                           2.0s",
		"  ▸ Package the app once",
		"    │ $ go build",
		"  ✓ Package the app once                     0.5s",
		"  [prod] ▸ Smoke test the environment",
		`  [prod] ✗ SmokeTestFailed: smoke test "greets" of prod failed`,
		"  [prod] ✗ Smoke test the environment               0.2s",
		"",
	}, "\n")
	if got := b.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func appendTo(t *testing.T, file, text string) {
	t.Helper()
	f, err := os.OpenFile(file, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

func TestPrinterLiveLineAndHeartbeat(t *testing.T) {
	t.Parallel()
	var live bytes.Buffer
	c := &clock{t0}
	p := newPrinter(&live, c.now)
	p.live = true
	p.see(entered(types.HistoryEventTypeTaskStateEntered, "Run the checks", 0))
	c.at = t0.Add(3500 * time.Millisecond)
	p.tick(c.at)
	c.at = t0.Add(4 * time.Second)
	p.see(exited(types.HistoryEventTypeTaskStateExited, "Run the checks", "{}", 4*time.Second))
	got := live.String()
	for _, want := range []string{"Run the checks 0.0s", "\r\x1b[K", "Run the checks 3.5s", "✓ Run the checks"} {
		if !strings.Contains(got, want) {
			t.Errorf("live output %q: want it to contain %q", got, want)
		}
	}
	if strings.HasSuffix(got, "s") {
		t.Errorf("live output %q: the live line stays after the state ended", got)
	}

	var plain bytes.Buffer
	q := newPrinter(&plain, (&clock{t0}).now)
	q.see(entered(types.HistoryEventTypeTaskStateEntered, "Run the checks", 0))
	q.tick(t0.Add(10 * time.Second))
	q.tick(t0.Add(31 * time.Second))
	q.tick(t0.Add(45 * time.Second))
	q.tick(t0.Add(62 * time.Second))
	if got := strings.Count(plain.String(), "still running"); got != 2 {
		t.Errorf("got %d heartbeats in %q, want 2 (at 31s and 62s)", got, plain.String())
	}
	if strings.Contains(plain.String(), "\r") {
		t.Errorf("plain output %q has terminal control characters", plain.String())
	}
}

func TestPrinterMarksARetriedStepThatWorkedAsDone(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	p := newPrinter(&b, (&clock{t0}).now)
	for _, e := range []types.HistoryEvent{
		entered(types.HistoryEventTypeTaskStateEntered, "Report the run started", 0),
		{Type: types.HistoryEventTypeLambdaFunctionFailed, Timestamp: aws.Time(t0.Add(10 * time.Millisecond)), LambdaFunctionFailedEventDetails: &types.LambdaFunctionFailedEventDetails{
			Error: aws.String("BitbucketUnavailable"), Cause: aws.String(`{"errorMessage":"bitbucket post status: 503"}`)}},
		{Type: types.HistoryEventTypeLambdaFunctionSucceeded, Timestamp: aws.Time(t0.Add(2 * time.Second))},
		exited(types.HistoryEventTypeTaskStateExited, "Report the run started", "{}", 2*time.Second),
	} {
		p.see(e)
	}
	if got := b.String(); !strings.Contains(got, "✗ BitbucketUnavailable") || !strings.Contains(got, "✓ Report the run started") {
		t.Errorf("got\n%s\nwant the failed attempt and then the step done", got)
	}
}
