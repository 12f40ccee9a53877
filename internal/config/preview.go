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
	return c.previewPlan(self(c, sam), repo, pr, sam)
}

// previewPlan is the plan of pull request pr with t's rules and the
// commit's files c and sam.
func (c *Config) previewPlan(t Trusted, repo pipeline.Repository, pr pipeline.PullRequest, sam *SAMConfig) (pipeline.Plan, error) {
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

	rules, err := t.rules(repo)
	if err != nil {
		return pipeline.Plan{}, err
	}
	if t.Config == nil || !t.Config.Previews.PullRequests {
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

	from, ok := t.previewRule(rules)
	if !ok {
		return pipeline.Plan{}, t.blame(&pipeline.ConfigInvalid{File: File, Line: t.Config.Previews.line,
			Problem: "previews.pull_requests: preview stacks need an environment to take their settings from",
			Fix:     "add an environment, or remove previews"})
	}
	set := sam.Settings(from.config.Name)
	env := c.deployed(from, repo, sam)
	env.Name = pipeline.PreviewEnvironmentName(pr.ID)
	env.Stack = pipeline.PreviewStack(repo, pr.ID)
	env.Protected = false
	env.ApprovalRequired = false
	env.Approvers = nil
	env.PullRequest = pr.ID
	// A preview is not the environment: its freeze and promotion are not
	// the preview's.
	env.ManualPromotion, env.Freeze, env.FreezeAction = false, nil, ""

	for _, r := range rules {
		if other := r.env; other.Stack == env.Stack && other.Region == env.Region {
			return pipeline.Plan{}, t.blame(&pipeline.ConfigInvalid{File: File, Line: r.config.line,
				Problem: fmt.Sprintf("environment %s deploys stack %s%s, which is the preview stack of pull request #%d", r.config.Name, other.Stack, inRegion(other.Region), pr.ID),
				Fix:     "give the environment another stack: the preview stack is deleted when the pull request closes"})
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
