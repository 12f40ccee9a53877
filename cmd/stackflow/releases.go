package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/releases"
	"github.com/stackflow/stackflow/internal/runs"
)

// repoEnvArgs is what releases and rollback say when not given a
// repository and an environment.
func repoEnvArgs(example string) cobra.PositionalArgs {
	return exactArgs(2, "give the repository (WORKSPACE/SLUG) and the environment, such as: "+example)
}

func newReleasesCommand() *cobra.Command {
	var (
		limit  int
		asJSON bool
		app    string
	)
	cmd := &cobra.Command{
		SuggestFor: []string{"deployments", "history"},
		Use:        "releases WORKSPACE/SLUG ENVIRONMENT",
		Short:      "An environment's releases, newest first",
		Long: `An environment's releases, newest first: every deploy whose smoke test
passed, with its commit, branch, stack and execution, from the pipeline's
releases table.`,
		Example: `  stackflow releases acme/hello prod
  stackflow releases acme/hello staging --limit 5 --json
  stackflow releases acme/platform prod --app api`,
		Args:              repoEnvArgs("stackflow releases acme/hello prod"),
		ValidArgsFunction: cobra.NoFileCompletions,
	}
	cmd.Flags().IntVar(&limit, "limit", runs.DefaultLimit, "show at most `N` releases")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the releases as a JSON array")
	cmd.Flags().StringVar(&app, "app", "", "the `APP` whose environment it is, in a repository of several apps")
	aws := addAWSFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		repo, err := pipeline.ParseRepository(args[0])
		if err != nil {
			return &usageError{err}
		}
		if limit < 1 {
			return usagef("--limit %d: want at least 1", limit)
		}
		c, err := aws.connect(cmd.Context())
		if err != nil {
			return err
		}
		list, err := c.Releases(cmd.Context(), repo.FullName(), releases.EnvKey(app, args[1]), limit)
		if err != nil {
			return err
		}
		if asJSON {
			if list == nil {
				list = []releases.Release{}
			}
			return writeJSON(cmd.OutOrStdout(), list)
		}
		printReleases(cmd.OutOrStdout(), repo, args[1], list)
		return nil
	}
	return cmd
}

func printReleases(w io.Writer, repo pipeline.Repository, env string, list []releases.Release) {
	if len(list) == 0 {
		fmt.Fprintf(w, "no release of %s %s yet\n", repo.FullName(), env)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DEPLOYED\tCOMMIT\tBRANCH\tSTACK\tEXECUTION")
	for _, r := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", clock(r.DeployedAt), pipeline.ShortSHA(r.Commit), r.Branch, r.Stack, pipeline.ExecutionNameOf(r.Execution))
	}
	tw.Flush()
}
