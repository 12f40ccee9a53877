package runs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// Log is the output of one phase of one run.
type Log struct {
	// Execution is the run's execution name; Phase the phase shown.
	Execution string
	Phase     Phase
	// Location is where the output comes from: the s3:// URL of the
	// stored output of the checks or the package step, or "the execution
	// history" for deploy and smoke, which keep their output in the state.
	Location string
	// Body is the output; the caller closes it.
	Body io.ReadCloser
}

// HistoryLocation is the Location of deploy and smoke output.
const HistoryLocation = "the execution history"

// NoLogError is a phase whose output there is none of.
type NoLogError struct {
	Execution string
	Phase     Phase
	// Reason says why: the phase did not run, or stopped before storing.
	Reason string
}

// Error names the run, the phase and why there is no output.
func (e *NoLogError) Error() string {
	return fmt.Sprintf("no %s output of %s: %s", e.Phase, e.Execution, e.Reason)
}

// ErrNoBucket is returned by Logs when the artifact bucket is not known.
var ErrNoBucket = errors.New("the artifact bucket is not known: give --bucket (or STACKFLOW_ARTIFACT_BUCKET), or --stack naming the pipeline's stack")

// Logs returns the output of phase of the run ref names (see Show for
// ref). An empty phase means the phase of the state where the run failed,
// when it has output, else the checks. The checks' and the package step's
// whole output is read from the artifact bucket, streamed; deploy and
// smoke output is rendered from the execution history.
func (c *Client) Logs(ctx context.Context, ref string, phase Phase) (*Log, error) {
	if phase != "" && !slices.Contains(LogPhases, phase) {
		return nil, fmt.Errorf("no step %q: want one of %s", phase, joinPhases(LogPhases))
	}
	desc, _, err := c.resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	t, err := c.timeline(ctx, desc)
	if err != nil {
		return nil, err
	}
	if phase == "" {
		phase = PhaseChecks
		if t.Failure != nil && slices.Contains(LogPhases, phaseOf[t.Failure.State]) {
			phase = phaseOf[t.Failure.State]
		}
	}
	if !t.ran(phase) {
		return nil, &NoLogError{Execution: t.Execution, Phase: phase, Reason: notRun(t)}
	}
	switch phase {
	case PhaseDeploy, PhaseSmoke:
		return &Log{Execution: t.Execution, Phase: phase, Location: HistoryLocation,
			Body: io.NopCloser(strings.NewReader(t.render(phase)))}, nil
	}
	if c.pipeline.Bucket == "" {
		return nil, ErrNoBucket
	}
	key, _ := c.logKey(t, phase)
	url := "s3://" + c.pipeline.Bucket + "/" + key
	obj, err := c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(c.pipeline.Bucket), Key: aws.String(key)})
	if isNoSuchKey(err) {
		return nil, &NoLogError{Execution: t.Execution, Phase: phase,
			Reason: fmt.Sprintf("%s does not exist: the step stopped before storing its output; %s", url, stoppedAt(t))}
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", url, err)
	}
	return &Log{Execution: t.Execution, Phase: phase, Location: url, Body: obj.Body}, nil
}

func joinPhases(ps []Phase) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = string(p)
	}
	return strings.Join(s, ", ")
}

// notRun says why a phase did not run.
func notRun(t *Timeline) string {
	if t.Status == "RUNNING" {
		return "the step has not run yet (the run is still running)"
	}
	if t.Failure != nil {
		return "the step did not run: " + stoppedAt(t)
	}
	return "the step did not run (this branch's plan skips it)"
}

// stoppedAt says where and why the run stopped.
func stoppedAt(t *Timeline) string {
	f := t.Failure
	if f == nil {
		return "the run " + strings.ToLower(t.Status)
	}
	where := f.State
	if f.Environment != "" {
		where = "[" + f.Environment + "] " + where
	}
	msg, _, _ := strings.Cut(f.Cause, "\n")
	return fmt.Sprintf("the run stopped at %q with %s: %s", where, f.Error, msg)
}

// render writes the deploy or smoke output of t from its steps.
func (t *Timeline) render(phase Phase) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s of %s, from %s\n", phase, t.Execution, HistoryLocation)
	shown := map[string]string{} // the change set lines shown, by environment
	for _, s := range t.Steps {
		if s.Phase != phase {
			continue
		}
		env := ""
		if s.Environment != "" {
			env = "[" + s.Environment + "] "
		}
		fmt.Fprintf(&b, "\n%s%s: %s in %s", env, s.Name, s.Status, FormatSeconds(s.Seconds))
		if s.Retries > 0 {
			fmt.Fprintf(&b, " after %d %s", s.Retries, plural(s.Retries, "retry", "retries"))
		}
		b.WriteString("\n")
		if s.Summary != "" {
			fmt.Fprintf(&b, "  %s\n", s.Summary)
		}
		switch phase {
		case PhaseDeploy:
			var d pipeline.Deployment
			if json.Unmarshal([]byte(s.result), &d) == nil {
				// Each deploy step carries the change set on: show it once.
				if lines := strings.Join(d.Changes, "\n"); lines != shown[s.Environment] {
					shown[s.Environment] = lines
					for _, line := range d.Changes {
						fmt.Fprintf(&b, "    %s\n", line)
					}
				}
				if len(d.Outputs) > 0 && d.Done {
					b.WriteString("  outputs:\n")
					for _, k := range sortedKeys(d.Outputs) {
						fmt.Fprintf(&b, "    %s = %s\n", k, d.Outputs[k])
					}
				}
			}
		case PhaseSmoke:
			var r pipeline.SmokeResult
			if json.Unmarshal([]byte(s.result), &r) == nil {
				for _, o := range r.Checks {
					mark := "✓"
					if !o.Passed {
						mark = "✗"
					}
					fmt.Fprintf(&b, "  %s %s: %s answered %d after %d %s\n", mark, o.Name, o.URL, o.Status,
						o.Attempts, plural(o.Attempts, "attempt", "attempts"))
				}
			}
		}
		if s.Error != "" {
			fmt.Fprintf(&b, "  %s:\n", s.Error)
			for _, line := range strings.Split(strings.TrimRight(s.Cause, "\n"), "\n") {
				fmt.Fprintf(&b, "    %s\n", line)
			}
		}
	}
	return b.String()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// FormatSeconds writes a duration for people: 0.4s, 4.2s, 1m03s, 2h05m.
func FormatSeconds(s float64) string {
	s = max(s, 0)
	if s < 59.95 {
		return fmt.Sprintf("%.1fs", s)
	}
	whole := int(s + 0.5)
	if whole >= 3600 {
		return fmt.Sprintf("%dh%02dm", whole/3600, whole%3600/60)
	}
	return fmt.Sprintf("%dm%02ds", whole/60, whole%60)
}
