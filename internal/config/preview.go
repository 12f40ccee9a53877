package config

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// PreviewPlan decides what a run of pull request pr does.
//
// While the pull request is open and stackflow.yml has
// previews.pull_requests: true, the run runs the checks and deploys one
// environment, the preview: named "pr-<id>", deployed as the stack
// "<repository slug>-pr-<id>" (pipeline.PreviewStack), with every other
// setting (region, parameters, capabilities, tags, smoke checks and their
// timeout, roles) resolved as Plan resolves them for previews.environment,
// or for the first environment. A preview is never protected and never
// waits for an approval. With previews off, the run runs the checks only.
//
// Once the pull request is closed (merged or declined), the plan runs no
// checks and deploys nothing: its one environment, when previews are on,
// is the preview stack to delete, with the region and roles it was
// deployed with.
//
// A preview stack that is also the stack of an environment in the same
// region is a ConfigInvalid: deleting the preview would delete it.
func (c *Config) PreviewPlan(repo pipeline.Repository, pr pipeline.PullRequest, sam *SAMConfig) (pipeline.Plan, error) {
	checks := slices.Clone(c.Checks)
	if c.Checks == nil {
		checks = slices.Clone(DefaultChecks)
	}
	if pr.Closed {
		checks = []string{}
	}
	what := fmt.Sprintf("pull request #%d", pr.ID)
	if pr.Closed {
		what += " closed"
	}

	if !c.Previews.PullRequests {
		tmpl := cmp.Or(c.Template, sam.Settings("default").TemplateFile, DefaultTemplate)
		summary := what + ": checks only (previews are off: set previews.pull_requests: true in " + File + " for a preview stack)"
		switch {
		case pr.Closed:
			summary = what + ": nothing to do (previews are off)"
		case len(checks) == 0:
			summary = what + ": nothing to do (no checks, and previews are off)"
		}
		return pipeline.Plan{Checks: checks, Template: tmpl, Environments: nil, Deploy: false, Summary: summary}, nil
	}

	from, ok := c.previewSource()
	if !ok {
		return pipeline.Plan{}, &pipeline.ConfigInvalid{File: File, Line: c.Previews.line,
			Problem: "previews.pull_requests: preview stacks need an environment to take their settings from",
			Fix:     "add an environment, or remove previews"}
	}
	set := sam.Settings(from.Name)
	env := from.resolve(repo, set)
	env.Name = pipeline.PreviewEnvironmentName(pr.ID)
	env.Stack = pipeline.PreviewStack(repo, pr.ID)
	env.Protected = false
	env.ApprovalRequired = false
	env.PullRequest = pr.ID

	for _, e := range c.Environments {
		other := e.resolve(repo, sam.Settings(e.Name))
		if other.Stack == env.Stack && other.Region == env.Region {
			return pipeline.Plan{}, &pipeline.ConfigInvalid{File: File, Line: e.line,
				Problem: fmt.Sprintf("environment %s deploys stack %s%s, which is the preview stack of pull request #%d", e.Name, other.Stack, inRegion(other.Region), pr.ID),
				Fix:     "give the environment another stack: the preview stack is deleted when the pull request closes"}
		}
	}

	plan := pipeline.Plan{
		Checks:       checks,
		Template:     cmp.Or(c.Template, set.TemplateFile, DefaultTemplate),
		Environments: []pipeline.Environment{env},
		Deploy:       !pr.Closed,
	}
	switch {
	case pr.Closed:
		plan.Summary = fmt.Sprintf("%s: delete preview stack %s", what, env.Stack)
	case len(checks) > 0:
		plan.Summary = fmt.Sprintf("%s: checks, then preview stack %s", what, env.Stack)
	default:
		plan.Summary = fmt.Sprintf("%s: preview stack %s (no checks)", what, env.Stack)
	}
	return plan, nil
}

// previewSource is the environment preview stacks take their settings
// from: previews.environment, else the first environment.
func (c *Config) previewSource() (Environment, bool) {
	for _, e := range c.Environments {
		if c.Previews.Environment == "" || e.Name == c.Previews.Environment {
			return e, true
		}
	}
	return Environment{}, false
}
