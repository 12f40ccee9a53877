package config

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// Plan decides what a run of branch does from this file alone: the
// environments whose branches match it, in order, with each stack's name,
// region, parameters and capabilities resolved from stackflow.yml, then
// samconfig.toml (sam, which may be nil), then the defaults. Parameters of
// stackflow.yml are merged over samconfig.toml's parameter_overrides. It is
// what `stackflow plan` shows; the pipeline itself plans with PlanTrusted,
// where the default branch decides who deploys where.
//
// Two environments that would deploy the same stack in the same region are
// a ConfigInvalid, whether or not this branch deploys them, and so are
// deployed environments whose samconfig.toml template_file differ: a run
// packages one template for all of them.
func (c *Config) Plan(repo pipeline.Repository, branch string, sam *SAMConfig) (pipeline.Plan, error) {
	return c.plan(self(c, sam), repo, Change{Branch: branch}, sam)
}

// PlanChange is Plan for a push that made the change ch (a branch or a
// tag, and the files it changed): environments whose paths or
// paths_ignore leave the push out are in the plan's Skipped.
func (c *Config) PlanChange(repo pipeline.Repository, ch Change, sam *SAMConfig) (pipeline.Plan, error) {
	return c.plan(self(c, sam), repo, ch, sam)
}

// plan is the plan of the change ch with t's rules and the commit's
// files c and sam.
func (c *Config) plan(t Trusted, repo pipeline.Repository, ch Change, sam *SAMConfig) (pipeline.Plan, error) {
	naming := repo.ForApp(ch.App)
	rules, err := t.rules(naming)
	if err != nil {
		return pipeline.Plan{}, err
	}
	var envs []pipeline.Environment
	var skipped []pipeline.Skipped
	var templates []string // the template each deployed environment's samconfig names
	var ready *pipeline.ReadyToPromote
	for _, r := range rules {
		reach := r.config.reach(ch)
		if reach.Filtered {
			skipped = append(skipped, pipeline.Skipped{Name: r.config.Name, Reason: reach.Paths})
		}
		if !reach.Deploys {
			continue
		}
		if r.env.ManualPromotion {
			// A push stops before it, and before every environment
			// after it: they take promotions only.
			ready = readyToPromote(repo, ch.App, r.env.Name, envs)
			break
		}
		envs = append(envs, c.deployed(r, naming, sam))
		templates = append(templates, cmp.Or(sam.Settings(r.config.Name).TemplateFile, DefaultTemplate))
	}

	tmpl := c.Template
	if tmpl == "" {
		if len(envs) == 0 {
			templates = []string{cmp.Or(sam.Settings("default").TemplateFile, DefaultTemplate)}
		}
		for i, t := range templates[1:] {
			if t != templates[0] {
				return pipeline.Plan{}, &pipeline.ConfigInvalid{File: SAMFile,
					Problem: fmt.Sprintf("environments %s and %s build different templates (%s, %s), but a run packages one template for all its environments",
						envs[0].Name, envs[i+1].Name, templates[0], t),
					Fix: "give them the same template_file, or set template: in stackflow.yml"}
			}
		}
		tmpl = templates[0]
	}

	checks := slices.Clone(c.Checks)
	if c.Checks == nil {
		checks = slices.Clone(DefaultChecks)
	}
	plan := pipeline.Plan{
		Checks:       checks,
		Template:     tmpl,
		Environments: envs,
		Deploy:       len(envs) > 0,
		Summary:      summary(ch.Ref(), checks, envs, skipped),
		Skipped:      skipped,
		Ready:        ready,
	}
	if ready != nil {
		if ready.From != "" {
			plan.Summary += fmt.Sprintf("; ready to promote to %s (%s)", ready.Environment, ready.Command)
		} else {
			plan.Summary += fmt.Sprintf("; %s takes promotions only (%s)", ready.Environment, ready.Command)
		}
	}
	return plan, nil
}

// readyToPromote is the manual environment env (of app, in a repository
// of several) that a push of a branch reaching envs before it stops at.
func readyToPromote(repo pipeline.Repository, app, env string, envs []pipeline.Environment) *pipeline.ReadyToPromote {
	r := &pipeline.ReadyToPromote{Environment: env}
	from := "ENV"
	if len(envs) > 0 {
		r.From = envs[len(envs)-1].Name
		from = r.From
	}
	r.Command = PromoteCommand(repo, app, env, from)
	return r
}

// PromoteCommand is the command that promotes to env of repo (of its app
// app, in a repository of several) the release of from: "stackflow
// promote acme/hello prod --from staging", with "--app api" for an app.
func PromoteCommand(repo pipeline.Repository, app, env, from string) string {
	cmd := fmt.Sprintf("stackflow promote %s %s", repo.FullName(), env)
	if app != "" {
		cmd += " --app " + app
	}
	return cmd + " --from " + from
}

// resolve is the environment e as a plan deploys it: each setting from
// stackflow.yml, then from set (samconfig.toml's settings of e), then the
// default.
func (e Environment) resolve(repo pipeline.Repository, set SAMSettings) pipeline.Environment {
	env := pipeline.Environment{
		Name:                   e.Name,
		Stack:                  cmp.Or(e.Stack, set.StackName, defaultStack(repo.Slug, e.Name)),
		Region:                 cmp.Or(e.Region, set.Region),
		Parameters:             merge(set.ParameterOverrides, e.Parameters),
		Capabilities:           slices.Clone(e.Capabilities),
		Tags:                   maps.Clone(e.Tags),
		Smoke:                  smokeChecks(e.Smoke),
		SmokeTimeoutSeconds:    int(math.Ceil(e.SmokeTimeout.Seconds())),
		ApprovalRequired:       e.Approval,
		ApprovalTimeoutSeconds: int(math.Ceil(e.ApprovalTimeout.Seconds())),
		Approvers:              slices.Clone(e.Approvers),
		RoleARN:                e.RoleARN,
		CloudFormationRoleARN:  e.CloudFormationRoleARN,
		Protected:              e.Protected,
		ManualPromotion:        e.ManualPromotion,
		Freeze:                 slices.Clone(e.Freeze),
		FreezeAction:           e.FreezeAction,
	}
	if env.ApprovalTimeoutSeconds == 0 {
		env.ApprovalTimeoutSeconds = pipeline.DefaultApprovalTimeoutSeconds
	}
	if env.Capabilities == nil {
		env.Capabilities = slices.Clone(set.Capabilities)
	}
	if env.Capabilities == nil {
		env.Capabilities = slices.Clone(DefaultCapabilities)
	}
	if env.SmokeTimeoutSeconds == 0 {
		env.SmokeTimeoutSeconds = int(DefaultSmokeTimeout.Seconds())
	}
	return env
}

// Deploys reports whether one of the environment's branch patterns matches
// branch.
func (e Environment) Deploys(branch string) bool {
	for _, p := range e.Branches {
		if ok, _ := path.Match(p, branch); ok {
			return true
		}
	}
	return false
}

func inRegion(region string) string {
	if region == "" {
		return " in the pipeline's region"
	}
	return " in " + region
}

// merge returns over laid over base; nil when both are empty.
func merge(base, over map[string]string) map[string]string {
	if len(base)+len(over) == 0 {
		return nil
	}
	out := maps.Clone(base)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, over)
	return out
}

func smokeChecks(in []SmokeCheck) []pipeline.SmokeCheck {
	var out []pipeline.SmokeCheck
	for _, s := range in {
		timeout := int(math.Ceil(s.Timeout.Seconds()))
		if s.Function != "" {
			out = append(out, pipeline.SmokeCheck{
				Name: s.Name, Function: s.Function, Payload: s.Payload, Contains: s.Contains, TimeoutSeconds: timeout,
			})
			continue
		}
		out = append(out, pipeline.SmokeCheck{
			Name: s.Name, URL: s.URL, Method: cmp.Or(s.Method, "GET"), Headers: maps.Clone(s.Headers),
			Status: cmp.Or(s.Status, 200), Contains: s.Contains, TimeoutSeconds: timeout,
		})
	}
	return out
}

var notInStackName = regexp.MustCompile(`[^A-Za-z0-9-]+`)

// defaultStack is "<slug>-<env>" made into a valid stack name.
func defaultStack(slug, env string) string {
	s := strings.Trim(notInStackName.ReplaceAllString(slug, "-"), "-")
	if s == "" || !('a' <= s[0] && s[0] <= 'z' || 'A' <= s[0] && s[0] <= 'Z') {
		s = "app-" + s
	}
	s = strings.TrimSuffix(s, "-") + "-" + env
	if len(s) > 128 {
		s = strings.TrimRight(s[:128], "-")
	}
	return s
}

func summary(ref string, checks []string, envs []pipeline.Environment, skipped []pipeline.Skipped) string {
	names := make([]string, len(envs))
	for i, e := range envs {
		names[i] = e.Name
	}
	promote := strings.Join(names, " -> ")
	what := "branch"
	if strings.HasPrefix(ref, "tag ") {
		what = "tag"
	}
	var s string
	switch {
	case len(envs) > 0 && len(checks) > 0:
		s = fmt.Sprintf("%s: checks, then %s", ref, promote)
	case len(envs) > 0:
		s = fmt.Sprintf("%s: %s (no checks)", ref, promote)
	case len(skipped) > 0 && len(checks) > 0:
		s = ref + ": checks only (no environment's paths match this push)"
	case len(skipped) > 0:
		s = ref + ": nothing to do (no checks, and no environment's paths match this push)"
	case len(checks) > 0:
		s = ref + ": checks only (no environment deploys this " + what + ")"
	default:
		s = ref + ": nothing to do (no checks, and no environment deploys this " + what + ")"
	}
	if len(skipped) > 0 {
		var parts []string
		for _, k := range skipped {
			parts = append(parts, k.Name+" ("+k.Reason+")")
		}
		s += "; skipped " + strings.Join(parts, ", ")
	}
	return s
}
