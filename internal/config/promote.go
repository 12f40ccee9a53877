package config

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// PromotePlanTrusted makes the plan of a run of stackflow promote: the
// commit, released from branch, deployed to the environment env alone.
// Who may deploy where comes from t, the default branch, as for a push:
// env must be one of its environments, and one that takes branch (a
// promotion never takes a commit where its branch may not go). Its
// stack, region, roles, approval, protection and freeze are t's; c and
// sam, the commit's own files, give its parameters, capabilities, tags and
// smoke checks, and the template. No checks run: the commit's were run
// when it was packaged.
func (c *Config) PromotePlanTrusted(t Trusted, repo pipeline.Repository, branch, env string, sam *SAMConfig) (pipeline.Plan, error) {
	return c.promotePlan(t, repo, "", branch, env, sam, fmt.Sprintf("%s: promoted to %s (no checks, no build: the package released)", branch, env))
}

// PromoteRunPlanTrusted is PromotePlanTrusted for run, a run of stackflow
// promote: its branch, its target, and a summary that says what it
// promotes, from where, and who asked.
func (c *Config) PromoteRunPlanTrusted(t Trusted, run pipeline.Run, sam *SAMConfig) (pipeline.Plan, error) {
	p := run.Promote
	if p == nil {
		return pipeline.Plan{}, fmt.Errorf("plan the promotion: the run of %s asks for none", run.Short())
	}
	summary := fmt.Sprintf("promoted %s from %s to %s", run.Short(), p.From, p.Environment)
	if p.By != "" {
		summary += " (asked by " + p.By + ")"
	}
	return c.promotePlan(t, run.Repository, run.AppName(), run.Branch, p.Environment, sam, summary)
}

// promotePlan is the plan of a promotion of branch's commit to env of
// repo (of its app app, in a repository of several).
func (c *Config) promotePlan(t Trusted, repo pipeline.Repository, app, branch, env string, sam *SAMConfig, summary string) (pipeline.Plan, error) {
	naming := repo.ForApp(app)
	rules, err := t.rules(naming)
	if err != nil {
		return pipeline.Plan{}, err
	}
	what := "promote to " + env
	i := slices.IndexFunc(rules, func(r rule) bool { return r.config.Name == env })
	if i < 0 {
		var names []string
		for _, r := range rules {
			names = append(names, r.config.Name)
		}
		return pipeline.Plan{}, &pipeline.Refused{What: what,
			Reason: fmt.Sprintf("%s is not an environment of %s on %s (its environments: %s)", env, ofApp(repo, app), or(t.Branch, "the default branch"), listed(names)),
			Fix:    "name one of them, or add " + env + " to " + File + " on " + or(t.Branch, "the default branch")}
	}
	r := rules[i]
	if !r.config.Deploys(branch) {
		return pipeline.Plan{}, &pipeline.Refused{What: what,
			Reason: fmt.Sprintf("%s takes the branches %s, and the commit was released from %s", env, listed(r.config.Branches), branch),
			Fix:    "merge it to one of them: " + File + " on " + or(t.Branch, "the default branch") + " decides where each branch's commits go"}
	}
	deployed := c.deployed(r, naming, sam)
	plan := pipeline.Plan{
		Checks:       []string{},
		Template:     cmp.Or(c.Template, sam.Settings(env).TemplateFile, DefaultTemplate),
		Environments: []pipeline.Environment{deployed},
		Deploy:       true,
		Summary:      summary,
	}
	return c.note(t, naming, sam, plan), nil
}

// ResumeAt is plan from the environment env on, for a run that resumes
// another at env (stackflow retry). It reports false when the plan does
// not reach env.
func ResumeAt(plan pipeline.Plan, env string) (pipeline.Plan, bool) {
	i := slices.IndexFunc(plan.Environments, func(e pipeline.Environment) bool { return e.Name == env })
	if i < 0 {
		return plan, false
	}
	plan.Environments = slices.Clone(plan.Environments[i:])
	plan.Checks = []string{}
	plan.Deploy = true
	return plan, true
}

// ofApp names repo, or its app app, for people: "acme/hello", "app api of
// acme/platform".
func ofApp(repo pipeline.Repository, app string) string {
	if app == "" {
		return repo.FullName()
	}
	return "app " + app + " of " + repo.FullName()
}
