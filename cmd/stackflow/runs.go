package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/runs"
)

// awsFlags are the flags with which runs, show and logs find AWS and the
// pipeline.
type awsFlags struct {
	profile, region, stack, stateMachine, bucket, table *string
}

func addAWSFlags(fs *flag.FlagSet) *awsFlags {
	return &awsFlags{
		profile: fs.String("profile", "", "the AWS CLI profile to use (default: AWS_PROFILE, else default)"),
		region:  fs.String("region", "", "the AWS region (default: AWS_REGION, AWS_DEFAULT_REGION or the profile's)"),
		stack:   fs.String("stack", runs.DefaultStack, "the pipeline's stack, whose outputs name its state machine and artifact bucket"),
		stateMachine: fs.String("state-machine", os.Getenv("STACKFLOW_STATE_MACHINE_ARN"),
			"the pipeline's state machine ARN, instead of the stack's output (env STACKFLOW_STATE_MACHINE_ARN)"),
		bucket: fs.String("bucket", os.Getenv("STACKFLOW_ARTIFACT_BUCKET"),
			"the pipeline's artifact bucket, instead of the stack's output (env STACKFLOW_ARTIFACT_BUCKET)"),
		table: fs.String("table", os.Getenv("STACKFLOW_RELEASES_TABLE"),
			"the pipeline's table of releases, locks and approvals, instead of the stack's output (env STACKFLOW_RELEASES_TABLE)"),
	}
}

func (f *awsFlags) connect(ctx context.Context) (*runs.Client, error) {
	return runs.Connect(ctx, runs.Options{
		Profile: *f.profile, Region: *f.region, Stack: *f.stack,
		StateMachineARN: *f.stateMachine, Bucket: *f.bucket, ReleasesTable: *f.table,
	})
}

func runsCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("runs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	repo := fs.String("repo", "", "only the runs of this repository, WORKSPACE/SLUG")
	branch := fs.String("branch", "", "only the runs of this branch")
	limit := fs.Int("limit", runs.DefaultLimit, "the most runs to show")
	asJSON := fs.Bool("json", false, "print the runs as a JSON array")
	aws := addAWSFlags(fs)
	rest, err := parseArgs(fs, args)
	if err != nil {
		return 2
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "stackflow runs: unexpected %q (filter with --repo and --branch)\n", rest[0])
		return 2
	}
	if *limit < 1 {
		fmt.Fprintf(stderr, "stackflow runs: --limit %d: want at least 1\n", *limit)
		return 2
	}
	if *repo != "" {
		if _, err := pipeline.ParseRepository(*repo); err != nil {
			fmt.Fprintf(stderr, "stackflow runs: --repo: %v\n", err)
			return 2
		}
	}
	c, err := aws.connect(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "stackflow runs: %v\n", err)
		return 1
	}
	list, err := c.Runs(ctx, runs.Filter{Repository: *repo, Branch: *branch, Limit: *limit})
	if err != nil {
		fmt.Fprintf(stderr, "stackflow runs: %v\n", err)
		return 1
	}
	if *asJSON {
		return writeJSON(stdout, stderr, "runs", list)
	}
	printRuns(stdout, list)
	return 0
}

// writeJSON prints v indented.
func writeJSON(stdout, stderr io.Writer, command string, v any) int {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(stderr, "stackflow %s: %v\n", command, err)
		return 1
	}
	return 0
}

func printRuns(w io.Writer, list []runs.Run) {
	if len(list) == 0 {
		fmt.Fprintln(w, "no runs")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "EXECUTION\tREPOSITORY\tBRANCH\tCOMMIT\tSTATUS\tSTARTED\tDURATION\tSTOPPED AT")
	for _, r := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Execution, dash(r.Repository), dash(r.Branch), dash(r.Short()),
			r.Status, clock(r.Started), runs.FormatSeconds(r.Seconds), stoppedAt(r.Failure))
	}
	tw.Flush()
}

// stoppedAt names the state a run stopped at and the error.
func stoppedAt(f *runs.Failure) string {
	if f == nil {
		return ""
	}
	where := f.State
	if f.Environment != "" {
		where = "[" + f.Environment + "] " + where
	}
	switch {
	case where == "":
		return f.Error
	case f.Error == "":
		return where
	}
	return where + ": " + f.Error
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// clock is a time in the local time zone.
func clock(t time.Time) string {
	return t.Local().Format("2006-01-02 15:04:05")
}

// indent prefixes every line of s with prefix.
func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return prefix + strings.Join(lines, "\n"+prefix)
}
