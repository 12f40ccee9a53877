package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stackflow/stackflow/internal/config"
	"github.com/stackflow/stackflow/internal/localrepo"
	"github.com/stackflow/stackflow/internal/pipeline"
)

func newPlanCommand() *cobra.Command {
	var (
		branch, repoName string
		asJSON, workTree bool
	)
	cmd := &cobra.Command{
		SuggestFor: []string{"check", "validate", "lint"},
		Use:        "plan [DIR]",
		Short:      "Check an app's stackflow.yml and samconfig.toml and show what a push would do",
		Long: `Check the stackflow.yml and samconfig.toml of the app in DIR (a git
repository or a folder in one; default .) exactly as the pipeline reads
them, and show what a push of the branch would do: its checks, and each
environment's stack, region, parameters and smoke checks. A mistake is
shown as the file, the line and the fix.

The plan reads the app as it is in HEAD, the commit a push delivers (and
stackflow local delivers), and says first when the work tree differs from
it; --work-tree reads the work tree as it is instead. A folder that is not
in a git repository yet is read as it is.`,
		Example: `  stackflow plan
  stackflow plan ~/src/my-app --branch main
  stackflow plan ~/src/my-app --work-tree --json`,
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
	fs.BoolVar(&workTree, "work-tree", false, "plan the work tree as it is, uncommitted changes too, instead of HEAD")
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
		ctx, stderr := cmd.Context(), cmd.ErrOrStderr()
		app, tree, checkedOut, cleanup, err := planSource(ctx, dir, workTree, stderr)
		if err != nil {
			return err
		}
		defer cleanup()
		if repoName == "" {
			repo = repository(ctx, app)
		}
		if branch == "" {
			branch = checkedOut
		}
		cfg, sam, err := config.Load(tree, display(app.Dir))
		if err != nil {
			return err
		}
		plan, err := cfg.Plan(repo, branch, sam)
		if err != nil {
			return err
		}
		if err := cfg.CheckOutputs(tree, plan); err != nil {
			return err
		}
		if asJSON {
			return writeJSON(cmd.OutOrStdout(), plan)
		}
		printPlan(cmd.OutOrStdout(), repo, app.Dir, plan)
		return nil
	}
	return cmd
}

// planSource finds the app in dir and what the plan reads: HEAD's tree of
// the app's folder, written to a temporary folder that cleanup removes
// (with workTree, the work tree as it is), saying on notes when the work
// tree differs from it. A folder in no repository, or in one without
// commits, is read as it is. checkedOut is the branch checked out, else
// main.
func planSource(ctx context.Context, dir string, workTree bool, notes io.Writer) (app *localrepo.App, tree, checkedOut string, cleanup func(), err error) {
	cleanup = func() {}
	app, err = localrepo.Open(ctx, dir)
	if errors.Is(err, localrepo.ErrNotRepository) {
		fmt.Fprintf(notes, "%s is not in a git repository: planning the folder as it is (a push delivers a commit)\n", display(app.Dir))
		return app, app.Dir, "main", cleanup, nil
	}
	if err != nil {
		return nil, "", "", cleanup, err
	}
	d, err := prepare(ctx, app, workTree)
	if errors.Is(err, localrepo.ErrNoCommits) {
		fmt.Fprintf(notes, "the repository %s has no commits yet: planning the folder as it is (a push delivers a commit)\n", display(app.Top))
		return app, app.Dir, "main", cleanup, nil
	}
	if err != nil {
		return nil, "", "", cleanup, err
	}
	d.tell(notes, "the plan reads", "planned")
	tmp, err := os.MkdirTemp("", "stackflow-plan-")
	if err != nil {
		return nil, "", "", cleanup, fmt.Errorf("read %s: %w", d.what(), err)
	}
	cleanup = func() { os.RemoveAll(tmp) }
	if err := app.Extract(ctx, d.commit, tmp); err != nil {
		cleanup()
		return nil, "", "", func() {}, err
	}
	checkedOut = d.branch
	if checkedOut == "" {
		checkedOut = "main"
	}
	return app, tmp, checkedOut, cleanup, nil
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
			if s.Invokes() {
				want := "no function error"
				if s.Contains != "" {
					want += fmt.Sprintf(" and %q", s.Contains)
				}
				fmt.Fprintf(w, "       smoke %s: invoke %s with %s, want %s (within %ds)\n", s.Name, s.Function, cmp.Or(s.Payload, "{}"), want, env.SmokeTimeoutSeconds)
				continue
			}
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
