package local

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// sfnAPI is what following an execution needs of Step Functions.
type sfnAPI interface {
	DescribeExecution(context.Context, *sfn.DescribeExecutionInput, ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
	GetExecutionHistory(context.Context, *sfn.GetExecutionHistoryInput, ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error)
}

var _ sfnAPI = (*sfn.Client)(nil)

// historyPage is the most events follow asks for at once: a poll asks
// for the newest event first, which is all it reads when nothing
// happened, and then for the events it has not seen, whose number the
// newest one's ID tells (Step Functions numbers an execution's events
// one by one from 1).
const historyPage = 1000

// follow reports every history event of the execution arn to see, in
// order, until the execution ends, and returns its description. Each poll
// reads only what is new: the newest event, and when it is one follow has
// not seen, the events back to the last one seen (GetExecutionHistory
// with reverseOrder), so a poll costs what happened since the last one,
// not the history's length, and one event when nothing did. The history's
// last event says when the execution has ended (ExecutionSucceeded,
// ExecutionFailed, ...); the execution is described then, and, in case an
// ending were ever missing from the history, every describeEvery polls.
func follow(ctx context.Context, c sfnAPI, arn string, poll time.Duration, see func(types.HistoryEvent)) (*sfn.DescribeExecutionOutput, error) {
	var last int64
	for n := 1; ; n++ {
		var desc *sfn.DescribeExecutionOutput
		if n%describeEvery == 0 {
			// Read the status first: once it has ended, the history read
			// after it is complete.
			var err error
			if desc, err = c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)}); err != nil {
				return nil, fmt.Errorf("describe execution: %w", err)
			}
		}
		events, err := eventsAfter(ctx, c, arn, last)
		if err != nil {
			return nil, err
		}
		ended := false
		for _, e := range events {
			last = e.Id
			see(e)
			ended = ended || executionEnded(e.Type)
		}
		switch {
		case ended:
			return describeEnded(ctx, c, arn)
		case desc != nil && desc.Status != types.ExecutionStatusRunning:
			return desc, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(poll):
		}
	}
}

// describeEvery is how many of follow's polls read the history alone
// before one also describes the execution.
const describeEvery = 20

// executionEnded tells the event types that end an execution's history.
func executionEnded(t types.HistoryEventType) bool {
	switch t {
	case types.HistoryEventTypeExecutionSucceeded, types.HistoryEventTypeExecutionFailed,
		types.HistoryEventTypeExecutionAborted, types.HistoryEventTypeExecutionTimedOut:
		return true
	}
	return false
}

// describeEnded describes the execution arn, whose history has ended. The
// history's last event may be written a moment before the status that it
// sets: it is described again, briefly, until it no longer runs.
func describeEnded(ctx context.Context, c sfnAPI, arn string) (*sfn.DescribeExecutionOutput, error) {
	for {
		desc, err := c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			return nil, fmt.Errorf("describe execution: %w", err)
		}
		if desc.Status != types.ExecutionStatusRunning {
			return desc, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// eventsAfter returns the history events of the execution arn whose IDs
// are above last, oldest first: the newest event, and when it is not the
// only new one, a page back to last.
func eventsAfter(ctx context.Context, c sfnAPI, arn string, last int64) ([]types.HistoryEvent, error) {
	size := int32(1)
	var newer []types.HistoryEvent
	var token *string
	for {
		page, err := c.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn),
			ReverseOrder: true, MaxResults: size, NextToken: token})
		if err != nil {
			return nil, fmt.Errorf("execution history: %w", err)
		}
		if token == nil && size == 1 && len(page.Events) == 1 && page.Events[0].Id > last+1 {
			// More than one event is new: read them all, from the newest,
			// in as few pages as they fill.
			size = int32(min(page.Events[0].Id-last, historyPage))
			continue
		}
		reached := false // the page goes back to the last event seen
		for _, e := range page.Events {
			if reached = e.Id <= last+1; e.Id <= last {
				break
			}
			newer = append(newer, e)
		}
		if reached || page.NextToken == nil {
			slices.Reverse(newer)
			return newer, nil
		}
		token = page.NextToken
	}
}

// printer shows an execution's states as they enter and leave, with their
// durations, naming the environment of each iteration of the promotion.
// Live, on a terminal, it keeps a last line that shows the running state
// and its elapsed time; elsewhere it says every heartbeat that a long
// state still runs. Its methods are safe for concurrent use.
type printer struct {
	mu      sync.Mutex
	w       io.Writer
	entered map[string]time.Time
	envs    []string       // environment names of the plan, by Map index
	plan    *pipeline.Plan // the run's plan, once the source step made it
	env     string         // the environment of the current iteration
	// statuses, when set, holds commit statuses to show among the states
	// in the order they happened.
	statuses *statusQueue
	// output, when set, is the checks' and builds' output to show under
	// their states; pending holds what was read before its state showed.
	output  *streamer
	pending []outputLine

	// live redraws the last line with the running state.
	live  bool
	shown bool // the live line is on screen
	// running is the state that runs now, and since when; failed holds
	// the states whose last attempt failed.
	failed     map[string]bool
	running    string
	since      time.Time
	lastBeat   time.Time
	heartbeat  time.Duration
	liveFrames int
	// now is the printer's clock, given by its caller: the live line's
	// elapsed time is now() less the history's time of the state's start.
	now func() time.Time
}

// newPrinter returns a printer to w that reads the time from now.
func newPrinter(w io.Writer, now func() time.Time) *printer {
	return &printer{w: w, now: now, entered: map[string]time.Time{}, failed: map[string]bool{}, heartbeat: 30 * time.Second}
}

// printlnLocked shows one line above the live line; p.mu is held.
func (p *printer) printlnLocked(format string, args ...any) {
	p.clearLive()
	fmt.Fprintf(p.w, format+"\n", args...)
	p.drawLive(p.now())
}

func (p *printer) clearLive() {
	if p.live && p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.shown = false
	}
}

var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

func (p *printer) drawLive(now time.Time) {
	if !p.live || p.running == "" {
		return
	}
	p.liveFrames++
	// The history's clock may run ahead of this one: never show less than 0.
	elapsed := max(now.Sub(p.since), 0)
	fmt.Fprintf(p.w, "  %s %s %s", spinner[p.liveFrames%len(spinner)], p.running, seconds(elapsed))
	p.shown = true
}

// showOutput shows the output written since it last looked under the
// state that wrote it: what is read before that state has been shown (the
// history is read a little later than the logs) waits for it.
func (p *printer) showOutput() {
	if p.output == nil {
		return
	}
	p.pending = append(p.pending, p.output.lines()...)
	rest := p.pending[:0]
	for _, l := range p.pending {
		if l.state == p.running {
			p.printlnLocked("    │ %s", l.text)
		} else {
			rest = append(rest, l)
		}
	}
	p.pending = rest
}

// tick shows new output and redraws the live line, or says that a long
// state still runs.
func (p *printer) tick(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.showOutput()
	if p.live {
		p.clearLive()
		p.drawLive(now)
		return
	}
	if p.running != "" && now.Sub(p.since) >= p.heartbeat && now.Sub(p.lastBeat) >= p.heartbeat {
		p.lastBeat = now
		fmt.Fprintf(p.w, "  … %s still running (%s)\n", p.running, seconds(now.Sub(p.since)))
	}
}

// ticking calls tick every interval until ctx ends.
func (p *printer) ticking(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			p.mu.Lock()
			p.clearLive()
			p.mu.Unlock()
			return
		case now := <-t.C:
			p.tick(now)
		}
	}
}

func (p *printer) see(e types.HistoryEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	at := aws.ToTime(e.Timestamp)
	p.showStatuses(at)
	switch {
	case e.StateEnteredEventDetails != nil:
		name := aws.ToString(e.StateEnteredEventDetails.Name)
		p.entered[p.env+"/"+name] = at
		switch e.Type {
		case types.HistoryEventTypeChoiceStateEntered, types.HistoryEventTypeWaitStateEntered, types.HistoryEventTypePassStateEntered:
			return // instant or uneventful: shown on exit only when it took time
		case types.HistoryEventTypeSucceedStateEntered, types.HistoryEventTypeFailStateEntered:
			return // the outcome says it
		}
		p.running, p.since, p.lastBeat = p.prefix()+name, at, at
		p.printlnLocked("  %s▸ %s", p.prefix(), name)
	case e.StateExitedEventDetails != nil:
		p.showOutput() // a step's output comes before its end
		name := aws.ToString(e.StateExitedEventDetails.Name)
		key := p.env + "/" + name
		took := at.Sub(p.entered[key])
		delete(p.entered, key)
		if p.running == p.prefix()+name {
			p.running = ""
		}
		if name == "Fetch the source and read the plan" {
			p.readPlan(aws.ToString(e.StateExitedEventDetails.Output))
		}
		switch e.Type {
		case types.HistoryEventTypeChoiceStateExited, types.HistoryEventTypePassStateExited,
			types.HistoryEventTypeSucceedStateExited:
			return
		case types.HistoryEventTypeWaitStateExited:
			p.printlnLocked("  %s  waited %s", p.prefix(), seconds(took))
			return
		}
		mark := "✓"
		if p.failed[key] {
			mark = "✗" // caught: the run goes on to report the failure
			delete(p.failed, key)
		}
		p.printlnLocked("  %s%s %-40s %s", p.prefix(), mark, name, seconds(took))
	case e.MapIterationStartedEventDetails != nil:
		i := int(e.MapIterationStartedEventDetails.Index)
		p.env = fmt.Sprintf("#%d", i)
		if i < len(p.envs) {
			p.env = p.envs[i]
		}
	case e.MapIterationSucceededEventDetails != nil, e.MapIterationFailedEventDetails != nil, e.MapIterationAbortedEventDetails != nil:
		p.env = ""
	case e.Type == types.HistoryEventTypeLambdaFunctionSucceeded, e.Type == types.HistoryEventTypeTaskSucceeded:
		delete(p.failed, p.runningKey()) // a retry that worked
	case e.Type == types.HistoryEventTypeLambdaFunctionFailed && e.LambdaFunctionFailedEventDetails != nil:
		p.failed[p.runningKey()] = true
		d := e.LambdaFunctionFailedEventDetails
		p.printlnLocked("  %s✗ %s: %s", p.prefix(), aws.ToString(d.Error), firstLine(causeMessage(aws.ToString(d.Cause))))
	case e.Type == types.HistoryEventTypeExecutionFailed && e.ExecutionFailedEventDetails != nil:
		d := e.ExecutionFailedEventDetails
		p.running = ""
		p.printlnLocked("  ✗ Run failed: %s: %s", aws.ToString(d.Error), firstLine(causeMessage(aws.ToString(d.Cause))))
	case e.Type == types.HistoryEventTypeExecutionSucceeded, e.Type == types.HistoryEventTypeExecutionAborted:
		p.running = ""
	}
}

// showStatuses shows the commit statuses recorded up to before.
func (p *printer) showStatuses(before time.Time) {
	if p.statuses == nil {
		return
	}
	for _, s := range p.statuses.take(before) {
		p.printlnLocked("  %s◆ commit status %s %s: %s", p.prefix(), s.Key, s.State, s.Description)
	}
}

// runningKey is the key of the running state in entered and failed.
func (p *printer) runningKey() string {
	return p.env + "/" + strings.TrimPrefix(p.running, p.prefix())
}

func (p *printer) prefix() string {
	if p.env == "" {
		return ""
	}
	return "[" + p.env + "] "
}

// readPlan learns the plan, and the environments' names, from the source
// step's output.
func (p *printer) readPlan(output string) {
	var state struct {
		Source struct {
			Plan pipeline.Plan `json:"plan"`
		} `json:"source"`
	}
	if json.Unmarshal([]byte(output), &state) != nil {
		return
	}
	p.plan = &state.Source.Plan
	p.envs = p.envs[:0]
	for _, e := range state.Source.Plan.Environments {
		p.envs = append(p.envs, e.Name)
	}
}

// causeMessage is the errorMessage of a Lambda error's Cause, which Step
// Functions gives as the function's error payload, or the cause itself.
func causeMessage(cause string) string {
	var payload struct {
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal([]byte(cause), &payload) == nil && payload.ErrorMessage != "" {
		return payload.ErrorMessage
	}
	return cause
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

func seconds(d time.Duration) string {
	return fmt.Sprintf("%.1fs", d.Seconds())
}
