package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/runs"
)

// runArg is what show, logs, approve and reject say when not given one run.
const runArg = "give one run: its execution name, its execution ARN or its commit SHA"

func newShowCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		SuggestFor: []string{"describe", "inspect", "timeline"},
		Use:        "show EXECUTION|EXECUTION-ARN|COMMIT-SHA",
		Short:      "One run's timeline",
		Long: `One run's timeline: each state with its start, duration, retries and error;
each environment's result, URL and change set; links to the Step Functions
console and to the stored logs. A SHA (7 or more hex digits) means the
newest run of that commit.`,
		Example: `  stackflow show hello-main-1a2b3c4
  stackflow show 1a2b3c4 --json`,
		Args:              exactArgs(1, runArg),
		ValidArgsFunction: cobra.NoFileCompletions,
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the run as one JSON object")
	aws := addAWSFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := aws.connect(cmd.Context())
		if err != nil {
			return err
		}
		t, err := c.Show(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		if asJSON {
			return writeJSON(cmd.OutOrStdout(), t)
		}
		printTimeline(cmd.OutOrStdout(), t)
		return nil
	}
	return cmd
}

var marks = map[string]string{
	runs.StepSucceeded: "✓", runs.StepFailed: "✗", runs.StepRunning: "▸", runs.StepAborted: "■", runs.StepTimedOut: "⌛",
}

func printTimeline(w io.Writer, t *runs.Timeline) {
	if t.Note != "" {
		fmt.Fprintf(w, "(%s)\n", t.Note)
	}
	verb := "after"
	if t.Status == "RUNNING" {
		verb = "for"
	}
	fmt.Fprintf(w, "%s: %s %s %s\n", t.Execution, t.Status, verb, runs.FormatSeconds(t.Seconds))
	fmt.Fprintf(w, "  repository  %s\n  branch      %s\n  commit      %s\n  started     %s\n",
		dash(t.Repository), dash(t.Branch), dash(t.Commit), clock(t.Started))
	if t.RetryOf != "" {
		fmt.Fprintf(w, "  retry of    %s\n", t.RetryOf)
	}
	if t.PromotedTo != "" {
		fmt.Fprintf(w, "  promotes    %s's release to %s\n", t.PromotedFrom, t.PromotedTo)
	}
	if b := t.DefaultBranch; b != nil {
		fmt.Fprintf(w, "  deploys as  %s's stackflow.yml at %s says\n", b.Name, pipeline.ShortSHA(b.Commit))
	}
	for _, s := range t.Ignored {
		fmt.Fprintf(w, "  ignored     %s\n", s)
	}
	if r := t.Ready; r != nil {
		if r.From != "" {
			fmt.Fprintf(w, "  next        ready to promote to %s: %s --commit %s\n", r.Environment, r.Command, t.Short())
		} else {
			fmt.Fprintf(w, "  next        %s takes promotions only: %s\n", r.Environment, r.Command)
		}
	}
	if f := t.Failure; f != nil {
		fmt.Fprintf(w, "  stopped at  %s\n", stoppedAt(f))
		if f.Cause != "" {
			fmt.Fprintln(w, indent(f.Cause, "              "))
		}
	}

	fmt.Fprintln(w, "\ntimeline:")
	width := 0
	for _, s := range t.Steps {
		width = max(width, len([]rune(stepName(s))))
	}
	for _, s := range t.Steps {
		mark := marks[s.Status]
		if mark == "" {
			mark = "?"
		}
		line := fmt.Sprintf("  %7s %7s  %s %-*s", "+"+runs.FormatSeconds(s.StartSeconds), runs.FormatSeconds(s.Seconds), mark, width, stepName(s))
		var notes []string
		if s.Retries > 0 {
			notes = append(notes, fmt.Sprintf("%d %s", s.Retries, plural(s.Retries, "retry", "retries")))
		}
		switch {
		case s.Type == "Fail":
		case s.Error != "" && (s.Type == "Map" || s.Type == "Parallel"):
			notes = append(notes, s.Error) // its state's line has the message
		case s.Error != "":
			first, _, _ := strings.Cut(s.Cause, "\n")
			notes = append(notes, s.Error+": "+first)
		case s.Summary != "":
			notes = append(notes, s.Summary)
		}
		if len(notes) > 0 {
			line += "  " + shorten(strings.Join(notes, "; "), 100)
		}
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}

	if len(t.Checks) > 0 {
		fmt.Fprintln(w, "\nchecks:")
		for _, c := range t.Checks {
			mark := "✓"
			if !c.Passed {
				mark = "✗"
			}
			fmt.Fprintf(w, "  %s %-30s %s\n", mark, c.Command, runs.FormatSeconds(c.Seconds))
		}
	}
	if t.Package != "" {
		fmt.Fprintf(w, "\npackage: %s\n", t.Package)
	}

	if len(t.Environments) > 0 {
		fmt.Fprintln(w, "\nenvironments:")
		for _, e := range t.Environments {
			fmt.Fprintln(w, strings.TrimRight(fmt.Sprintf("  %-10s %-20s %-11s %s", e.Name, e.Stack, e.Status, e.URL), " "))
			if e.ChangeSet != "" || e.NoChanges {
				cs := e.ChangeSet
				if cs == "" {
					cs = "no changes"
				}
				fmt.Fprintf(w, "    change set  %s\n", cs)
				for _, c := range e.Changes {
					fmt.Fprintf(w, "                  %s\n", c)
				}
			}
			if e.Approval != "" {
				fmt.Fprintf(w, "    approval    %s\n", e.Approval)
			}
			if e.Deploy != "" {
				fmt.Fprintf(w, "    deploy      %s\n", e.Deploy)
			}
			if e.Smoke != "" {
				fmt.Fprintf(w, "    smoke       %s\n", e.Smoke)
			}
			if f := e.Failure; f != nil {
				first, _, _ := strings.Cut(f.Cause, "\n")
				fmt.Fprintf(w, "    failed      %s: %s: %s\n", f.State, f.Error, first)
			}
		}
	}

	fmt.Fprintln(w, "\nlinks:")
	fmt.Fprintf(w, "  console      %s\n", t.Links.Console)
	for _, p := range runs.LogPhases {
		if url, ok := t.Links.Logs[p]; ok {
			fmt.Fprintf(w, "  %-12s %s  (stackflow logs %s --step %s)\n", string(p)+" log", url, t.Execution, p)
		}
	}
}

// stepName is a step's name, with its environment's before it.
func stepName(s runs.Step) string {
	if s.Environment != "" {
		return "  [" + s.Environment + "] " + s.Name
	}
	return s.Name
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// shorten cuts s to at most n characters, marking the cut with "…".
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
