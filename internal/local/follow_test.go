package local

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
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

// growingHistory is an execution whose history grows by the next batch of
// events at each poll that asks for its newest event, as Step Functions
// numbers them (1, 2, ...). It serves GetExecutionHistory as Step Functions
// does, newest first in pages, and records the page sizes asked for.
type growingHistory struct {
	batches [][]types.HistoryEventType
	events  []types.HistoryEvent
	// status is what DescribeExecution says once the batches have all
	// been added.
	status    types.ExecutionStatus
	sizes     []int32
	describes int
}

func (g *growingHistory) DescribeExecution(_ context.Context, _ *sfn.DescribeExecutionInput, _ ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	g.describes++
	st := types.ExecutionStatusRunning
	if len(g.batches) == 0 {
		st = g.status
	}
	return &sfn.DescribeExecutionOutput{Status: st}, nil
}

func (g *growingHistory) GetExecutionHistory(_ context.Context, in *sfn.GetExecutionHistoryInput, _ ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error) {
	if !in.ReverseOrder {
		return nil, errors.New("want the history newest first")
	}
	g.sizes = append(g.sizes, in.MaxResults)
	before := int64(len(g.events)) + 1
	if in.NextToken != nil {
		var err error
		if before, err = strconv.ParseInt(*in.NextToken, 10, 64); err != nil {
			return nil, err
		}
	} else if in.MaxResults == 1 && len(g.batches) > 0 {
		for _, typ := range g.batches[0] {
			g.events = append(g.events, types.HistoryEvent{Id: int64(len(g.events)) + 1, Type: typ})
		}
		g.batches = g.batches[1:]
		before = int64(len(g.events)) + 1
	}
	out := &sfn.GetExecutionHistoryOutput{}
	for id := before - 1; id >= 1 && len(out.Events) < int(in.MaxResults); id-- {
		out.Events = append(out.Events, g.events[id-1])
	}
	if n := len(out.Events); n > 0 && out.Events[n-1].Id > 1 {
		out.NextToken = aws.String(strconv.FormatInt(out.Events[n-1].Id, 10))
	}
	return out, nil
}

// TestFollowReadsOnlyWhatIsNew: follow reports every event once, in
// order, across polls that find none, one or many new events (more than a
// page); a poll that finds nothing new asks for one event, and the
// execution is described once its history has ended.
func TestFollowReadsOnlyWhatIsNew(t *testing.T) {
	t.Parallel()
	task := types.HistoryEventTypeTaskStateEntered
	many := slices.Repeat([]types.HistoryEventType{task}, historyPage+5)
	g := &growingHistory{status: types.ExecutionStatusSucceeded, batches: [][]types.HistoryEventType{
		{types.HistoryEventTypeExecutionStarted, task, task}, {}, {task}, {}, many, {task, types.HistoryEventTypeExecutionSucceeded},
	}}
	var seen []int64
	desc, err := follow(context.Background(), g, "arn", 0, func(e types.HistoryEvent) { seen = append(seen, e.Id) })
	if err != nil {
		t.Fatal(err)
	}
	if desc.Status != types.ExecutionStatusSucceeded {
		t.Errorf("got status %s, want SUCCEEDED", desc.Status)
	}
	want := make([]int64, 3+1+len(many)+2)
	for i := range want {
		want[i] = int64(i) + 1
	}
	if !slices.Equal(seen, want) {
		t.Errorf("saw events %v, want 1 to %d once each, in order", seen, len(want))
	}
	// Polls: 3 new (1, then a page of 3), none (1), 1 new (1), none (1),
	// many new (1, a page of historyPage, then the rest), 2 new (1, 2).
	wantSizes := []int32{1, 3, 1, 1, 1, 1, historyPage, historyPage, 1, 2}
	if !slices.Equal(g.sizes, wantSizes) {
		t.Errorf("asked for pages of %v, want %v", g.sizes, wantSizes)
	}
	if g.describes != 1 {
		t.Errorf("described the execution %d times, want once, when it had ended", g.describes)
	}
}

// TestFollowEndsWithTheStatus: an execution whose history never shows its
// end is still followed to it, by the status read every describeEvery
// polls.
func TestFollowEndsWithTheStatus(t *testing.T) {
	t.Parallel()
	g := &growingHistory{status: types.ExecutionStatusFailed, batches: [][]types.HistoryEventType{
		{types.HistoryEventTypeExecutionStarted}, {types.HistoryEventTypeTaskStateEntered},
	}}
	var seen int
	desc, err := follow(context.Background(), g, "arn", 0, func(types.HistoryEvent) { seen++ })
	if err != nil {
		t.Fatal(err)
	}
	if desc.Status != types.ExecutionStatusFailed || seen != 2 {
		t.Errorf("got %s after %d events, want FAILED after 2", desc.Status, seen)
	}
	if g.describes != 1 {
		t.Errorf("described the execution %d times, want once (at poll %d)", g.describes, describeEvery)
	}
}
