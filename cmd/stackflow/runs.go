package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/runs"
)

func newRunsCommand() *cobra.Command {
	var (
		repo, branch string
		limit        int
		asJSON       bool
	)
	cmd := &cobra.Command{
		SuggestFor: []string{"history", "list", "ls", "ps", "status"},
		Use:        "runs",
		Short:      "The pipeline's recent runs, newest first",
		Long: `The pipeline's recent runs, newest first: commit, branch, status, start,
duration, and the state where a failed run stopped.

runs, show, logs, releases, approve, reject and rollback find AWS as the AWS
CLI does (AWS_PROFILE or --profile, AWS_REGION or --region, AWS_ENDPOINT_URL
and AWS_ENDPOINT_URL_<SERVICE>), and the pipeline from its stack's outputs
(--stack NAME, default stackflow) or from --state-machine ARN, --bucket NAME
and --table NAME (or STACKFLOW_STATE_MACHINE_ARN, STACKFLOW_ARTIFACT_BUCKET
and STACKFLOW_RELEASES_TABLE). Against stackflow local --serve, export the
AWS_ENDPOINT_URL* lines it prints; no credentials are needed.`,
		Example: `  stackflow runs
  stackflow runs --repo acme/hello --branch main --limit 5
  stackflow runs --json`,
		Args: noArgs(func(a string) string { return fmt.Sprintf("unexpected %q (filter with --repo and --branch)", a) }),
	}
	fs := cmd.Flags()
	fs.StringVar(&repo, "repo", "", "only the runs of the repository `WORKSPACE/SLUG`")
	fs.StringVar(&branch, "branch", "", "only the runs of the branch `NAME`")
	fs.IntVar(&limit, "limit", runs.DefaultLimit, "show at most `N` runs")
	fs.BoolVar(&asJSON, "json", false, "print the runs as a JSON array")
	aws := addAWSFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if limit < 1 {
			return usagef("--limit %d: want at least 1", limit)
		}
		if repo != "" {
			if _, err := pipeline.ParseRepository(repo); err != nil {
				return usagef("--repo: %w", err)
			}
		}
		c, err := aws.connect(cmd.Context())
		if err != nil {
			return err
		}
		list, err := c.Runs(cmd.Context(), runs.Filter{Repository: repo, Branch: branch, Limit: limit})
		if err != nil {
			return err
		}
		if asJSON {
			return writeJSON(cmd.OutOrStdout(), list)
		}
		printRuns(cmd.OutOrStdout(), list)
		return nil
	}
	return cmd
}

// writeJSON prints v indented.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
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
