package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stackflow/stackflow/internal/config"
	"github.com/stackflow/stackflow/internal/local/cfn"
	"github.com/stackflow/stackflow/internal/localrepo"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/source"
)

func newPlanCommand() *cobra.Command {
	var (
		branch, repoName, tag string
		asJSON, workTree      bool
		changed               []string
	)
	cmd := &cobra.Command{
		SuggestFor: []string{"check", "validate", "lint"},
		Use:        "plan [DIR]",
		Short:      "Check an app's stackflow.yml and samconfig.toml and show what a push would do",
		Long: `Check the stackflow.yml and samconfig.toml of the app in DIR (a git
repository or a folder in one; default .) exactly as the pipeline reads
them, and show what a push of the branch would do: its checks, and each
environment's stack, region, parameters and smoke checks. A mistake is
shown as the file, the line and the fix. For a branch that deploys, it
also lists what of the app's template stackflow local would not rehearse
as AWS runs it: the resource types and properties that fail a local run,
then those that run differently (it reads the template as SAM's own
translator makes it, installing the translator on first use as stackflow
local does).

The plan reads the app as it is in HEAD, the commit a push delivers (and
stackflow local delivers), and says first when the work tree differs from
it; --work-tree reads the work tree as it is instead. A folder that is not
in a git repository yet is read as it is.

--changed FILE (repeated, or comma-separated) names the files a push
changed, from the repository root, and --tag NAME plans the push of a tag:
the plan then says which apps and environments the push reaches and why,
as their branches, tags, paths and paths_ignore decide. Without --changed
every file counts as changed.`,
		Example: `  stackflow plan
  stackflow plan ~/src/my-app --branch main
  stackflow plan ~/src/my-app --work-tree --json
  stackflow plan ~/src/platform --branch main --changed services/api/main.go --changed docs/x.md
  stackflow plan ~/src/platform --tag v1.4.0`,
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
	fs.StringVar(&tag, "tag", "", "plan the push of the tag `NAME` instead of a branch")
	fs.StringSliceVar(&changed, "changed", nil, "a `FILE` the push changed, from the repository root (repeat it, or separate with commas)")
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
		if tag != "" && branch != "" {
			return usagef("give --branch or --tag, not both")
		}
		if branch == "" && tag == "" {
			branch = checkedOut
		}
		ch := config.Change{Branch: branch, Tag: tag}
		if cmd.Flags().Changed("changed") {
			ch.Files = []string{}
			for _, f := range changed {
				if f = strings.Trim(strings.TrimSpace(f), "/"); f != "" {
					ch.Files = append(ch.Files, f)
				}
			}
		}
		explain := tag != "" || ch.Files != nil
		cfg, sam, err := config.Load(tree, display(app.Dir))
		if err != nil {
			return err
		}
		if len(cfg.Apps) > 0 {
			return planApps(ctx, cmd.OutOrStdout(), stderr, repo, app.Dir, tree, cfg, ch, asJSON)
		}
		plan, err := cfg.PlanChange(repo, ch, sam)
		if err != nil {
			return err
		}
		if err := cfg.CheckOutputs(tree, plan); err != nil {
			return err
		}
		var rehearsed rehearsal
		if plan.Deploy {
			rehearsed = notRehearsed(ctx, tree, plan, stderr)
		}
		if asJSON {
			out := planJSON{Plan: plan, NotRehearsed: rehearsed.Gaps}
			if rehearsed.Err != nil {
				out.NotRehearsedError = rehearsed.Err.Error()
			}
			return writeJSON(cmd.OutOrStdout(), out)
		}
		printPlan(cmd.OutOrStdout(), repo, app.Dir, plan)
		if explain {
			printReaches(cmd.OutOrStdout(), "  ", cfg.Reaches(ch))
		}
		if plan.Deploy {
			printRehearsal(cmd.OutOrStdout(), "  ", plan.Template, rehearsed)
		}
		return nil
	}
	return cmd
}

// planJSON is what `stackflow plan --json` prints: the plan, and what
// stackflow local would not rehearse of the app's template.
type planJSON struct {
	pipeline.Plan
	// NotRehearsed lists what of the template the local engine does not
	// run as AWS does (cfn.Unrehearsed); NotRehearsedError says why that
	// could not be told.
	NotRehearsed      []cfn.Gap `json:"notRehearsed,omitempty"`
	NotRehearsedError string    `json:"notRehearsedError,omitempty"`
}

// appPlan is what `stackflow plan --json` says of one app of a repository
// of several.
type appPlan struct {
	Name string `json:"name"`
	Path string `json:"path"`
	// Delivered is true when the push starts a run of the app; Why says
	// why, or why not.
	Delivered bool   `json:"delivered"`
	Why       string `json:"why"`
	// Plan is the app's run's plan, when the push delivers it.
	Plan *pipeline.Plan `json:"plan,omitempty"`
	// Environments say which of the app's environments the push reaches,
	// and why.
	Environments []reachJSON `json:"environments,omitempty"`
	// NotRehearsed and NotRehearsedError are as planJSON's, for the app.
	NotRehearsed      []cfn.Gap `json:"notRehearsed,omitempty"`
	NotRehearsedError string    `json:"notRehearsedError,omitempty"`
	rehearsed         rehearsal
}

type reachJSON struct {
	Name    string `json:"name"`
	Deploys bool   `json:"deploys"`
	Why     string `json:"why"`
}

// planApps shows what the change ch does to each app of cfg, a root
// stackflow.yml with apps, whose files are in tree: which apps it
// delivers, why, and each delivered app's plan and environments.
func planApps(ctx context.Context, w, log io.Writer, repo pipeline.Repository, root, tree string, cfg *config.Config, ch config.Change, asJSON bool) error {
	type loaded struct {
		cfg *config.Config
		sam *config.SAMConfig
	}
	files := map[string]loaded{}
	for _, a := range cfg.Apps {
		c, sam, err := config.Load(filepath.Join(tree, filepath.FromSlash(a.Path)), "app "+a.Name+" ("+a.Path+")")
		var ci *pipeline.ConfigInvalid
		if errors.As(err, &ci) {
			c := *ci
			c.File = a.Path + "/" + c.File
			return &c
		}
		if err != nil {
			return err
		}
		files[a.Name] = loaded{c, sam}
	}
	reaches := cfg.ReachApps(ch, func(a config.App) *config.Config { return files[a.Name].cfg })
	summary := source.Dispatch(pipeline.Run{Repository: repo, Branch: ch.Branch, Tag: ch.Tag, Commit: strings.Repeat("0", 40)}, "",
		config.Trusted{Config: cfg}, reaches).Summary
	var out []appPlan
	for i, a := range cfg.Apps {
		r := reaches[i]
		ap := appPlan{Name: a.Name, Path: a.Path, Delivered: r.Deploys, Why: r.Why}
		if r.Deploys {
			f := files[a.Name]
			appCh := ch
			appCh.App = a.Name
			plan, err := f.cfg.PlanChange(repo, appCh, f.sam)
			if err != nil {
				var ci *pipeline.ConfigInvalid
				if errors.As(err, &ci) && !strings.Contains(ci.File, "/") {
					c := *ci
					c.File = a.Path + "/" + c.File
					return &c
				}
				return err
			}
			plan.Dir, plan.Template = a.Path, path.Join(a.Path, plan.Template)
			if err := f.cfg.CheckOutputs(tree, plan); err != nil {
				return err
			}
			ap.Plan = &plan
			if plan.Deploy {
				ap.rehearsed = notRehearsed(ctx, tree, plan, log)
				ap.NotRehearsed = ap.rehearsed.Gaps
				if ap.rehearsed.Err != nil {
					ap.NotRehearsedError = ap.rehearsed.Err.Error()
				}
			}
			for _, e := range f.cfg.Reaches(ch) {
				ap.Environments = append(ap.Environments, reachJSON{Name: e.Name, Deploys: e.Deploys, Why: e.Why})
			}
		}
		out = append(out, ap)
	}
	if asJSON {
		return writeJSON(w, struct {
			Summary string    `json:"summary"`
			Apps    []appPlan `json:"apps"`
		}{summary, out})
	}
	fmt.Fprintf(w, "%s (%s)\n", repo.FullName(), root)
	fmt.Fprintf(w, "  %s\n", summary)
	for _, ap := range out {
		if !ap.Delivered {
			fmt.Fprintf(w, "\n  %s (%s): %s\n", ap.Name, ap.Path, ap.Why)
			continue
		}
		fmt.Fprintf(w, "\n  %s (%s): delivered: %s\n", ap.Name, ap.Path, ap.Why)
		fmt.Fprintf(w, "    %s\n", ap.Plan.Summary)
		for _, e := range ap.Environments {
			verdict := "not deployed"
			if e.Deploys {
				verdict = "deployed"
			}
			fmt.Fprintf(w, "    %s: %s (%s)\n", e.Name, verdict, e.Why)
		}
		if ap.Plan.Deploy {
			printRehearsal(w, "    ", ap.Plan.Template, ap.rehearsed)
		}
	}
	return nil
}

// printReaches says, for each environment, whether the push deploys it
// and why.
func printReaches(w io.Writer, indent string, reaches []config.Reach) {
	if len(reaches) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%sthis push:\n", indent)
	for _, r := range reaches {
		verdict := "not deployed"
		if r.Deploys {
			verdict = "deployed"
		}
		fmt.Fprintf(w, "%s  %s: %s (%s)\n", indent, r.Name, verdict, r.Why)
	}
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
