package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stackflow/stackflow/internal/runs"
)

func newLogsCommand() *cobra.Command {
	var step string
	cmd := &cobra.Command{
		Use:   "logs EXECUTION|EXECUTION-ARN|COMMIT-SHA",
		Short: "The whole output of one step of a run",
		Long: `The whole output of one step of a run (default: the step that failed, else
the checks), from the artifact bucket; deploy and smoke output from the
execution history. The output goes to stdout, where it came from to stderr.`,
		Example: `  stackflow logs 1a2b3c4
  stackflow logs hello-main-1a2b3c4 --step package`,
		Args:              exactArgs(1, runArg),
		ValidArgsFunction: cobra.NoFileCompletions,
	}
	cmd.Flags().StringVar(&step, "step", "", "the `STEP`: checks, package, deploy or smoke (default: the step that failed, else checks)")
	_ = cmd.RegisterFlagCompletionFunc("step", cobra.FixedCompletions(phaseNames(), cobra.ShellCompDirectiveNoFileComp))
	aws := addAWSFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if step != "" && !slices.Contains(runs.LogPhases, runs.Phase(step)) {
			return usagef("--step %s: want %s", step, orList(phaseNames()))
		}
		c, err := aws.connect(cmd.Context())
		if err != nil {
			return err
		}
		log, err := c.Logs(cmd.Context(), args[0], runs.Phase(step))
		if err != nil {
			return err
		}
		defer log.Body.Close()
		fmt.Fprintf(cmd.ErrOrStderr(), "%s output of %s from %s:\n", log.Phase, log.Execution, log.Location)
		if _, err := io.Copy(cmd.OutOrStdout(), log.Body); err != nil {
			return fmt.Errorf("read %s: %w", log.Location, err)
		}
		return nil
	}
	return cmd
}

// phaseNames are the steps whose logs can be read.
func phaseNames() []string {
	names := make([]string, len(runs.LogPhases))
	for i, p := range runs.LogPhases {
		names[i] = string(p)
	}
	return names
}

// orList is "a, b or c".
func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}
