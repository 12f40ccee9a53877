package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/stackflow/stackflow/internal/config"
	"github.com/stackflow/stackflow/internal/pipeline"
)

func planCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	branch := fs.String("branch", "", "the branch to plan a push of (default: the checked-out branch, else main)")
	repoName := fs.String("repo", "", "the repository's workspace/slug (default: from the origin remote, else local/<folder>)")
	asJSON := fs.Bool("json", false, "print the plan as JSON")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return 2
	}
	if len(rest) > 1 {
		fmt.Fprintln(stderr, "stackflow plan: give at most one directory")
		return 2
	}
	dir := "."
	if len(rest) == 1 {
		dir = rest[0]
	}
	root := appRoot(ctx, dir)
	repo := repository(ctx, root)
	if *repoName != "" {
		r, err := pipeline.ParseRepository(*repoName)
		if err != nil {
			fmt.Fprintf(stderr, "stackflow plan: --repo: %v\n", err)
			return 2
		}
		repo = r
	}
	if *branch == "" {
		*branch = currentBranch(ctx, root)
	}

	cfg, sam, err := config.Load(root, root)
	if err == nil {
		var plan pipeline.Plan
		if plan, err = cfg.Plan(repo, *branch, sam); err == nil {
			err = cfg.CheckOutputs(root, plan)
		}
		if err == nil {
			if *asJSON {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(plan); err != nil {
					fmt.Fprintf(stderr, "stackflow plan: %v\n", err)
					return 1
				}
				return 0
			}
			printPlan(stdout, repo, root, plan)
			return 0
		}
	}
	var invalid *pipeline.ConfigInvalid
	if errors.As(err, &invalid) {
		// file:line: problem (fix), the way compilers point at a mistake.
		fmt.Fprintf(stderr, "%s\n", invalid)
		return 1
	}
	fmt.Fprintf(stderr, "stackflow plan: %v\n", err)
	return 1
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
