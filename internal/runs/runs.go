package runs

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// DefaultLimit is how many runs Runs returns when Filter.Limit is 0.
const DefaultLimit = 20

// MaxScan bounds how many of the newest executions Runs and a lookup by
// commit look at, so that the number of API calls stays bounded however
// long the pipeline's history is.
const MaxScan = 1000

// Filter selects runs.
type Filter struct {
	// Repository ("workspace/slug") and Branch, when set, keep only the
	// runs of that repository and branch.
	Repository string
	Branch     string
	// Limit is the most runs to return; 0 means DefaultLimit.
	Limit int
}

// Runs returns the pipeline's recent runs that f selects, newest first.
// A run that failed carries where it stopped, from its history.
//
// It lists the executions (one call per page), describes only those whose
// name could belong to the filter (names are <slug>-<branch>-<sha7>) to read
// their input, and reads the history of the failed ones: about Limit
// describes plus the failed runs' histories.
func (c *Client) Runs(ctx context.Context, f Filter) ([]Run, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	var repo *pipeline.Repository
	if f.Repository != "" {
		r, err := pipeline.ParseRepository(f.Repository)
		if err != nil {
			return nil, err
		}
		repo = &r
	}
	page := min(limit, MaxScan)
	if repo != nil || f.Branch != "" {
		page = min(max(limit, 100), MaxScan)
	}
	out := []Run{}
	err := c.scan(ctx, page, func(item types.ExecutionListItem) (bool, error) {
		if !mayBe(aws.ToString(item.Name), repo, f.Branch) {
			return true, nil
		}
		desc, err := c.describe(ctx, aws.ToString(item.ExecutionArn))
		if err != nil {
			return false, err
		}
		r := runOf(desc, time.Now())
		if (repo != nil && r.Repository != repo.FullName()) || (f.Branch != "" && r.Branch != f.Branch) {
			return true, nil
		}
		if failed(desc.Status) {
			t, err := c.timeline(ctx, desc)
			if err != nil {
				return false, err
			}
			r = t.Run
		}
		out = append(out, r)
		return len(out) < limit, nil
	})
	return out, err
}

// failed reports whether status is one of a run that ended without
// succeeding.
func failed(status types.ExecutionStatus) bool {
	switch status {
	case types.ExecutionStatusFailed, types.ExecutionStatusTimedOut, types.ExecutionStatusAborted, types.ExecutionStatusPendingRedrive:
		return true
	}
	return false
}

// scan hands the pipeline's executions, newest first, to see until it
// returns false or MaxScan were seen; it returns how many were seen.
func (c *Client) scan(ctx context.Context, page int, see func(types.ExecutionListItem) (bool, error)) error {
	_, err := c.scanCount(ctx, page, see)
	return err
}

func (c *Client) scanCount(ctx context.Context, page int, see func(types.ExecutionListItem) (bool, error)) (int, error) {
	var token *string
	seen := 0
	for {
		out, err := c.sfn.ListExecutions(ctx, &sfn.ListExecutionsInput{
			StateMachineArn: aws.String(c.pipeline.StateMachineARN),
			MaxResults:      int32(page),
			NextToken:       token,
		})
		if err != nil {
			if isNotFound(err) {
				return seen, fmt.Errorf("list the runs: no state machine %s: %w", c.pipeline.StateMachineARN, err)
			}
			return seen, fmt.Errorf("list the runs of %s: %w", c.pipeline.StateMachineARN, err)
		}
		for _, item := range out.Executions {
			seen++
			more, err := see(item)
			if err != nil || !more || seen >= MaxScan {
				return seen, err
			}
		}
		if out.NextToken == nil {
			return seen, nil
		}
		token = out.NextToken
	}
}

func (c *Client) describe(ctx context.Context, arn string) (*sfn.DescribeExecutionOutput, error) {
	desc, err := c.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		return nil, fmt.Errorf("describe execution %s: %w", arn, err)
	}
	return desc, nil
}

// history reads every event of the execution arn, oldest first.
func (c *Client) history(ctx context.Context, arn string) ([]types.HistoryEvent, error) {
	var events []types.HistoryEvent
	var token *string
	for {
		out, err := c.sfn.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{
			ExecutionArn:         aws.String(arn),
			MaxResults:           1000,
			NextToken:            token,
			IncludeExecutionData: aws.Bool(true),
		})
		if err != nil {
			return nil, fmt.Errorf("read the history of %s: %w", arn, err)
		}
		events = append(events, out.Events...)
		if out.NextToken == nil {
			return events, nil
		}
		token = out.NextToken
	}
}

// timeline reads the history of the execution desc.
func (c *Client) timeline(ctx context.Context, desc *sfn.DescribeExecutionOutput) (*Timeline, error) {
	events, err := c.history(ctx, aws.ToString(desc.ExecutionArn))
	if err != nil {
		return nil, err
	}
	return buildTimeline(desc, events, time.Now()), nil
}

// ExecutionNotFoundError is a run that the pipeline does not have.
type ExecutionNotFoundError struct {
	// Ref is what was looked for: a name, an ARN or a commit.
	Ref string
	// Commit is true when Ref was taken for a commit SHA; Scanned is then
	// how many runs were looked at.
	Commit  bool
	Scanned int
	// StateMachine is the pipeline's state machine that was searched.
	StateMachine string
}

// Error names what was looked for and where.
func (e *ExecutionNotFoundError) Error() string {
	if e.Commit {
		return fmt.Sprintf("no run of commit %s among the newest %d runs of state machine %s (stackflow runs lists them)",
			e.Ref, e.Scanned, e.StateMachine)
	}
	return fmt.Sprintf("no run %q in state machine %s (stackflow runs lists the recent ones)", e.Ref, e.StateMachine)
}

// AmbiguousCommitError is a SHA prefix that more than one commit's runs
// start with.
type AmbiguousCommitError struct {
	Prefix string
	// Runs are the newest run of each commit, newest first.
	Runs []Run
}

// Error lists the commits the prefix matches.
func (e *AmbiguousCommitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "commit %s is ambiguous: it starts %d commits' runs (", e.Prefix, len(e.Runs))
	for i, r := range e.Runs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s in %s", r.Commit, r.Execution)
	}
	b.WriteString("); give more of the SHA")
	return b.String()
}

var commitRef = regexp.MustCompile(`^[0-9a-fA-F]{7,40}$`)

// resolve finds the execution ref names: an execution ARN, a commit SHA
// of 7 to 40 hex digits (the newest run of that commit; note then says so
// when there were several), or an execution name.
func (c *Client) resolve(ctx context.Context, ref string) (desc *sfn.DescribeExecutionOutput, note string, err error) {
	return c.resolveFor(ctx, ref, nil)
}

// resolveFor is resolve, where a commit SHA names the newest of its runs
// that keep (nil: any) takes.
func (c *Client) resolveFor(ctx context.Context, ref string, keep func(*sfn.DescribeExecutionOutput) bool) (desc *sfn.DescribeExecutionOutput, note string, err error) {
	notFound := &ExecutionNotFoundError{Ref: ref, StateMachine: c.pipeline.StateMachineARN}
	switch {
	case ref == "":
		return nil, "", errors.New("no run given: name it by execution name, execution ARN or commit SHA")
	case strings.HasPrefix(ref, "arn:"):
		desc, err := c.describe(ctx, ref)
		if isNotFound(err) {
			return nil, "", notFound
		}
		return desc, "", err
	case commitRef.MatchString(ref):
		desc, note, scanned, err := c.byCommit(ctx, strings.ToLower(ref), keep)
		if err != nil || desc != nil {
			return desc, note, err
		}
		// A name of hex digits only is possible, if unlikely.
		if desc, err := c.describe(ctx, c.executionARN(ref)); err == nil {
			return desc, "", nil
		}
		notFound.Commit, notFound.Scanned = true, scanned
		return nil, "", notFound
	default:
		desc, err := c.describe(ctx, c.executionARN(ref))
		if isNotFound(err) {
			return nil, "", notFound
		}
		return desc, "", err
	}
}

// executionARN is the ARN of the pipeline's execution named name.
func (c *Client) executionARN(name string) string {
	return strings.Replace(c.pipeline.StateMachineARN, ":stateMachine:", ":execution:", 1) + ":" + name
}

// byCommit finds the newest run whose commit starts with prefix, of those
// keep takes (nil: all); it is nil when there is none among the newest
// MaxScan.
func (c *Client) byCommit(ctx context.Context, prefix string, keep func(*sfn.DescribeExecutionOutput) bool) (desc *sfn.DescribeExecutionOutput, note string, scanned int, err error) {
	suffix := "-" + prefix[:7]
	var matches []*sfn.DescribeExecutionOutput
	scanned, err = c.scanCount(ctx, MaxScan, func(item types.ExecutionListItem) (bool, error) {
		if !strings.HasSuffix(aws.ToString(item.Name), suffix) {
			return true, nil
		}
		d, err := c.describe(ctx, aws.ToString(item.ExecutionArn))
		if err != nil {
			return false, err
		}
		if strings.HasPrefix(runOf(d, time.Now()).Commit, prefix) && (keep == nil || keep(d)) {
			matches = append(matches, d)
		}
		return true, nil
	})
	if err != nil || len(matches) == 0 {
		return nil, "", scanned, err
	}
	var newest []Run // the newest run of each commit
	seen := map[string]bool{}
	var names []string
	for _, d := range matches {
		r := runOf(d, time.Now())
		names = append(names, r.Execution)
		if !seen[r.Commit] {
			seen[r.Commit] = true
			newest = append(newest, r)
		}
	}
	if len(newest) > 1 {
		return nil, "", scanned, &AmbiguousCommitError{Prefix: prefix, Runs: newest}
	}
	if len(matches) > 1 {
		note = fmt.Sprintf("commit %s has %d runs (%s); this is the newest", pipeline.ShortSHA(newest[0].Commit),
			len(matches), strings.Join(names, ", "))
	}
	return matches[0], note, scanned, nil
}

// isNotFound reports whether err says that an execution or a state
// machine does not exist (or that its ARN cannot be one).
func isNotFound(err error) bool {
	var (
		noExec    *types.ExecutionDoesNotExist
		noMachine *types.StateMachineDoesNotExist
		badARN    *types.InvalidArn
	)
	return errors.As(err, &noExec) || errors.As(err, &noMachine) || errors.As(err, &badARN)
}

// nameUnsafe is what pipeline.ExecutionName replaces in a slug or branch.
var nameUnsafe = regexp.MustCompile(`[^0-9A-Za-z_-]+`)

// namePart is a slug or branch as pipeline.ExecutionName writes it,
// before it is shortened.
func namePart(s, fallback string) string {
	s = strings.Trim(nameUnsafe.ReplaceAllString(s, "-"), "-")
	if s == "" {
		return fallback
	}
	return s
}

// head is the first n bytes of s, without the dashes a cut can leave.
func head(s string, n int) string {
	return strings.TrimRight(s[:min(n, len(s))], "-")
}

// mayBe reports whether an execution named name can be a run of repo (nil
// for any) and branch (empty for any), by what pipeline.ExecutionName
// keeps of them: a shortened slug keeps at least its first 35 characters, a
// shortened branch its first 36. The input decides; this only spares
// describing runs that cannot match.
func mayBe(name string, repo *pipeline.Repository, branch string) bool {
	switch {
	case repo != nil && branch != "":
		return strings.HasPrefix(name, strings.TrimSuffix(pipeline.ExecutionName(*repo, branch, "0000000"), "0000000"))
	case repo != nil:
		return strings.HasPrefix(name, head(namePart(repo.Slug, "repo"), 35))
	case branch != "":
		return strings.Contains(name, "-"+head(namePart(branch, "branch"), 36))
	}
	return true
}
