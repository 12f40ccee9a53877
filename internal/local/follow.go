package local

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// sfnAPI is what following an execution needs of Step Functions.
type sfnAPI interface {
	DescribeExecution(context.Context, *sfn.DescribeExecutionInput, ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
	GetExecutionHistory(context.Context, *sfn.GetExecutionHistoryInput, ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error)
}

var _ sfnAPI = (*sfn.Client)(nil)

// follow reports every history event of the execution arn to see, in
// order, until the execution ends, and returns its description.
func follow(ctx context.Context, c sfnAPI, arn string, poll time.Duration, see func(types.HistoryEvent)) (*sfn.DescribeExecutionOutput, error) {
	var last int64
	for {
		// Read the status first: once it has ended, the history read after
		// it is complete.
		desc, err := c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			return nil, fmt.Errorf("describe execution: %w", err)
		}
		var token *string
		for {
			page, err := c.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), NextToken: token})
			if err != nil {
				return nil, fmt.Errorf("execution history: %w", err)
			}
			for _, e := range page.Events {
				if e.Id > last {
					last = e.Id
					see(e)
				}
			}
			if page.NextToken == nil {
				break
			}
			token = page.NextToken
		}
		if desc.Status != types.ExecutionStatusRunning {
			return desc, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(poll):
		}
	}
}

// printer shows an execution's states as they enter and leave, with their
// durations, naming the environment of each iteration of the promotion.
type printer struct {
	w       io.Writer
	entered map[string]time.Time
	// statuses, when set, holds commit statuses to show among the states
	// in the order they happened.
	statuses *statusQueue
	envs     []string // environment names of the plan, by Map index
	env      string   // the environment of the current iteration
}

func newPrinter(w io.Writer) *printer {
	return &printer{w: w, entered: map[string]time.Time{}}
}

func (p *printer) see(e types.HistoryEvent) {
	at := aws.ToTime(e.Timestamp)
	p.showStatuses(at)
	switch {
	case e.StateEnteredEventDetails != nil:
		name := aws.ToString(e.StateEnteredEventDetails.Name)
		p.entered[p.env+"/"+name] = at
		if e.Type == types.HistoryEventTypeChoiceStateEntered || e.Type == types.HistoryEventTypeWaitStateEntered || e.Type == types.HistoryEventTypePassStateEntered {
			return // instant or uneventful: shown on exit only when it took time
		}
		fmt.Fprintf(p.w, "  %s▸ %s\n", p.prefix(), name)
	case e.StateExitedEventDetails != nil:
		name := aws.ToString(e.StateExitedEventDetails.Name)
		key := p.env + "/" + name
		took := at.Sub(p.entered[key])
		delete(p.entered, key)
		if name == "Fetch the source and read the plan" {
			p.readPlan(aws.ToString(e.StateExitedEventDetails.Output))
		}
		switch e.Type {
		case types.HistoryEventTypeChoiceStateExited, types.HistoryEventTypePassStateExited:
			return
		case types.HistoryEventTypeWaitStateExited:
			fmt.Fprintf(p.w, "  %s  waited %s\n", p.prefix(), seconds(took))
			return
		}
		fmt.Fprintf(p.w, "  %s✓ %-40s %s\n", p.prefix(), name, seconds(took))
	case e.MapIterationStartedEventDetails != nil:
		i := int(e.MapIterationStartedEventDetails.Index)
		p.env = fmt.Sprintf("#%d", i)
		if i < len(p.envs) {
			p.env = p.envs[i]
		}
	case e.MapIterationSucceededEventDetails != nil, e.MapIterationFailedEventDetails != nil, e.MapIterationAbortedEventDetails != nil:
		p.env = ""
	case e.Type == types.HistoryEventTypeLambdaFunctionFailed && e.LambdaFunctionFailedEventDetails != nil:
		d := e.LambdaFunctionFailedEventDetails
		fmt.Fprintf(p.w, "  %s✗ %s: %s\n", p.prefix(), aws.ToString(d.Error), firstLine(causeMessage(aws.ToString(d.Cause))))
	case e.Type == types.HistoryEventTypeExecutionFailed && e.ExecutionFailedEventDetails != nil:
		d := e.ExecutionFailedEventDetails
		fmt.Fprintf(p.w, "  ✗ Run failed: %s: %s\n", aws.ToString(d.Error), firstLine(causeMessage(aws.ToString(d.Cause))))
	}
}

// showStatuses shows the commit statuses recorded up to before.
func (p *printer) showStatuses(before time.Time) {
	if p.statuses == nil {
		return
	}
	for _, s := range p.statuses.take(before) {
		fmt.Fprintf(p.w, "  %s◆ commit status %s %s: %s\n", p.prefix(), s.Key, s.State, s.Description)
	}
}

func (p *printer) prefix() string {
	if p.env == "" {
		return ""
	}
	return "[" + p.env + "] "
}

// readPlan learns the environments' names from the source step's output.
func (p *printer) readPlan(output string) {
	var state struct {
		Source struct {
			Plan struct {
				Environments []struct {
					Name string `json:"name"`
				} `json:"environments"`
			} `json:"plan"`
		} `json:"source"`
	}
	if json.Unmarshal([]byte(output), &state) != nil {
		return
	}
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
