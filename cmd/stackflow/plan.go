package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stackflow/stackflow/internal/config"
	"github.com/stackflow/stackflow/internal/pipeline"
)

func newPlanCommand() *cobra.Command {
	var (
		branch, repoName string
		asJSON           bool
	)
	cmd := &cobra.Command{
		SuggestFor: []string{"check", "validate", "lint"},
		Use:        "plan [DIR]",
		Short:      "Check an app's stackflow.yml and samconfig.toml and show what a push would do",
		Long: `Check the stackflow.yml and samconfig.toml of the app in DIR (a git
repository or a folder in one; default .) exactly as the pipeline reads
them, and show what a push of the branch would do: its checks, and each
environment's stack, region, parameters and smoke checks. A mistake is
shown as the file, the line and the fix.`,
		Example: `  stackflow plan
  stackflow plan ~/src/my-app --branch main
  stackflow plan ~/src/my-app --json`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usagef("give at most one directory")
			}
			return nil
		},
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return nil, cobra.ShellCompDirectiveFilterDirs
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&branch, "branch", "", "the branch `NAME` to plan a push of (default: the checked-out branch, else main)")
	fs.StringVar(&repoName, "repo", "", "the repository's `WORKSPACE/SLUG` (default: from the origin remote, else local/<folder>)")
	fs.BoolVar(&asJSON, "json", false, "print the plan as JSON")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		var repo pipeline.Repository
		if repoName != "" {
			r, err := pipeline.ParseRepository(repoName)
			if err != nil {
				return usagef("--repo: %w", err)
			}
			repo = r
		}
		dir := "."
		if len(args) == 1 {
			dir = args[0]
		}
		ctx := cmd.Context()
		root := appRoot(ctx, dir)
		if repoName == "" {
			repo = repository(ctx, root)
		}
		if branch == "" {
			branch = currentBranch(ctx, root)
		}
		cfg, sam, err := config.Load(root, root)
		if err != nil {
			return err
		}
		plan, err := cfg.Plan(repo, branch, sam)
		if err != nil {
			return err
		}
		if err := cfg.CheckOutputs(root, plan); err != nil {
			return err
		}
		if asJSON {
			return writeJSON(cmd.OutOrStdout(), plan)
		}
		printPlan(cmd.OutOrStdout(), repo, root, plan)
		return nil
	}
	return cmd
}

func printPlan(w io.Writer, repo pipeline.Repository, root string, plan pipeline.Plan) {
	fmt.Fprintf(w, "%s (%s)\n", repo.FullName(), root)
	fmt.Fprintf(w, "  %s\n\n", plan.Summary)
	if len(plan.Checks) == 0 {
		fmt.Fprintln(w, "  checks:    none")
	} else {
		fmt.Fprintln(w, "  checks:")
		for _, c := range plan.Checks {
			fmt.Fprintf(w, "    $ %s\n", c)
		}
	}
	if !plan.Deploy {
		return
	}
	fmt.Fprintf(w, "  template:  %s, packaged once\n", plan.Template)
	for i, env := range plan.Environments {
		region := env.Region
		if region == "" {
			region = "the pipeline's region"
		}
		fmt.Fprintf(w, "  %d. %s: stack %s in %s\n", i+1, env.Name, env.Stack, region)
		if len(env.Parameters) > 0 {
			fmt.Fprintf(w, "       parameters:   %s\n", pairs(env.Parameters))
		}
		fmt.Fprintf(w, "       capabilities: %s\n", strings.Join(env.Capabilities, " "))
		for _, s := range env.Smoke {
			want := fmt.Sprintf("status %d", s.Status)
			if s.Contains != "" {
				want += fmt.Sprintf(" and %q", s.Contains)
			}
			fmt.Fprintf(w, "       smoke %s: %s %s, want %s (within %ds)\n", s.Name, s.Method, s.URL, want, env.SmokeTimeoutSeconds)
		}
	}
}

func pairs(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, " ")
}
