package config

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// Trusted is what decides who may deploy where: the repository's default
// branch (Bitbucket's mainbranch), the commit of it its files were read at,
// and its stackflow.yml and samconfig.toml. The pipeline reads them from
// Bitbucket, never from the commit it delivers, since whoever may push a
// branch wrote that commit.
//
// From the default branch come, for each environment: whether it exists
// and in which order, its branches, stack, region, role_arn,
// cloudformation_role_arn, approval, approval_timeout, approvers,
// protected, promotion, freeze and freeze_action; and the previews
// settings. From the commit come its checks,
// template, and each environment's parameters, capabilities, tags, smoke
// checks and smoke_timeout.
type Trusted struct {
	// Branch and Commit are the default branch and its commit the files
	// were read at.
	Branch string
	Commit string
	// Config is the default branch's stackflow.yml; nil when it has none,
	// and then no environment takes any branch.
	Config *Config
	// SAM is the default branch's samconfig.toml; nil when it has none.
	SAM *SAMConfig
}

// ParseTrusted reads the default branch's files, given as the contents of
// its stackflow.yml and samconfig.toml (nil for a file it does not have).
// A file that cannot be used is a *pipeline.ConfigInvalid whose File names
// the branch ("stackflow.yml on main"): the default branch's configuration
// must be fixed there.
func ParseTrusted(branch, commit string, yml, toml []byte) (Trusted, error) {
	t := Trusted{Branch: branch, Commit: commit}
	var err error
	if yml != nil {
		if t.Config, err = Parse(yml); err != nil {
			return Trusted{}, t.blame(err)
		}
	}
	if toml != nil {
		if t.SAM, err = ParseSAMConfig(toml); err != nil {
			return Trusted{}, t.blame(err)
		}
	}
	return t, nil
}

// blame names the default branch in a ConfigInvalid about one of its
// files.
func (t Trusted) blame(err error) error {
	var ci *pipeline.ConfigInvalid
	if t.Branch == "" || !errors.As(err, &ci) {
		return err
	}
	c := *ci
	c.File = fmt.Sprintf("%s on %s (%s)", c.File, t.Branch, pipeline.ShortSHA(t.Commit))
	if c.Fix != "" {
		c.Fix += "; "
	}
	c.Fix += "fix it on " + t.Branch + ": its file decides where every branch deploys"
	return &c
}

// self is the Trusted of a configuration read alone (stackflow plan):
// every setting comes from the one file.
func self(c *Config, sam *SAMConfig) Trusted { return Trusted{Config: c, SAM: sam} }

// rule is one environment of the default branch: as stackflow.yml has it,
// and resolved with the default branch's samconfig.toml.
type rule struct {
	config Environment
	env    pipeline.Environment
}

// rules are t's environments in order, each resolved. Two that would
// deploy the same stack in the same region are a ConfigInvalid.
func (t Trusted) rules(repo pipeline.Repository) ([]rule, error) {
	if t.Config == nil {
		return nil, nil
	}
	var out []rule
	owner := map[string]string{}
	for _, e := range t.Config.Environments {
		env := e.resolve(repo, t.SAM.Settings(e.Name))
		id := env.Region + "/" + env.Stack
		if other, ok := owner[id]; ok {
			return nil, t.blame(&pipeline.ConfigInvalid{File: File, Line: e.line,
				Problem: fmt.Sprintf("environments %s and %s both deploy stack %s%s", other, e.Name, env.Stack, inRegion(env.Region)),
				Fix:     "give each environment its own stack: set stack: here, or stack_name in [" + e.Name + ".deploy.parameters] of samconfig.toml"})
		}
		owner[id] = e.Name
		out = append(out, rule{config: e, env: env})
	}
	return out, nil
}

// apply returns env, resolved from the commit's files, with the settings
// that decide who may deploy where taken from r, the default branch's.
func (r rule) apply(env pipeline.Environment) pipeline.Environment {
	env.Name = r.env.Name
	env.Stack = r.env.Stack
	env.Region = r.env.Region
	env.RoleARN = r.env.RoleARN
	env.CloudFormationRoleARN = r.env.CloudFormationRoleARN
	env.ApprovalRequired = r.env.ApprovalRequired
	env.ApprovalTimeoutSeconds = r.env.ApprovalTimeoutSeconds
	env.Approvers = r.env.Approvers
	env.Protected = r.env.Protected
	env.ManualPromotion = r.env.ManualPromotion
	env.Freeze = r.env.Freeze
	env.FreezeAction = r.env.FreezeAction
	return env
}

// deployed is the environment of rule r as the commit c (with its
// samconfig.toml sam) is deployed to it: the commit's parameters,
// capabilities, tags and smoke checks, under r's rules. An environment
// the commit's stackflow.yml does not have is deployed with the default
// branch's settings.
func (c *Config) deployed(r rule, repo pipeline.Repository, sam *SAMConfig) pipeline.Environment {
	if e, ok := c.environment(r.config.Name); ok {
		return r.apply(e.resolve(repo, sam.Settings(e.Name)))
	}
	return r.env
}

// environment is c's environment named name.
func (c *Config) environment(name string) (Environment, bool) {
	if c == nil {
		return Environment{}, false
	}
	for _, e := range c.Environments {
		if e.Name == name {
			return e, true
		}
	}
	return Environment{}, false
}

// PlanTrusted makes the plan of a push of branch, as Plan does, but with
// who may deploy where decided by t, the default branch: the environments
// that take branch, in t's order, with their stacks, regions, roles,
// approval and protection as t has them. c and sam, the commit's own
// files, give the checks, the template and each environment's parameters,
// capabilities, tags and smoke checks. What the commit's files set
// otherwise than t is listed in the plan's Ignored and named in its
// Summary.
func (c *Config) PlanTrusted(t Trusted, repo pipeline.Repository, branch string, sam *SAMConfig) (pipeline.Plan, error) {
	return c.PlanTrustedChange(t, repo, Change{Branch: branch}, sam)
}

// PlanTrustedChange is PlanTrusted for a push that made the change ch:
// a branch or a tag, and the files it changed. Which branches and tags
// an environment takes, and its path filters, are t's.
func (c *Config) PlanTrustedChange(t Trusted, repo pipeline.Repository, ch Change, sam *SAMConfig) (pipeline.Plan, error) {
	plan, err := c.plan(t, repo, ch, sam)
	if err != nil {
		return pipeline.Plan{}, err
	}
	return c.note(t, repo.ForApp(ch.App), sam, plan), nil
}

// PreviewPlanTrusted makes the plan of a run of pull request pr, as
// PreviewPlan does, with the previews settings and the preview's region
// and roles decided by t, the default branch, as PlanTrusted decides an
// environment's.
func (c *Config) PreviewPlanTrusted(t Trusted, repo pipeline.Repository, pr pipeline.PullRequest, sam *SAMConfig) (pipeline.Plan, error) {
	plan, err := c.previewPlan(t, repo, pr, sam)
	if err != nil {
		return pipeline.Plan{}, err
	}
	return c.note(t, repo, sam, plan), nil
}

// note adds to plan where its rules came from and what of the commit's
// files was ignored.
func (c *Config) note(t Trusted, repo pipeline.Repository, sam *SAMConfig, plan pipeline.Plan) pipeline.Plan {
	plan.DefaultBranch = &pipeline.DefaultBranch{Name: t.Branch, Commit: t.Commit}
	plan.Ignored = c.ignored(t, repo, sam)
	if len(plan.Ignored) == 0 {
		return plan
	}
	var keys []string
	for _, s := range plan.Ignored {
		keys = append(keys, s.Setting)
	}
	if len(keys) > 3 {
		keys = append(keys[:3], fmt.Sprintf("%d more", len(keys)-3))
	}
	plan.Summary += fmt.Sprintf("; ignored this commit's %s: %s's %s decides where commits deploy", strings.Join(keys, ", "), t.Branch, File)
	return plan
}

// ignored lists the deploy settings of the commit's files (c and sam)
// that differ from t's, resolved as a plan resolves them (so a stack_name
// of samconfig.toml counts as the environment's stack).
func (c *Config) ignored(t Trusted, repo pipeline.Repository, sam *SAMConfig) []pipeline.IgnoredSetting {
	var out []pipeline.IgnoredSetting
	add := func(setting, commit, def string) {
		if commit != def {
			out = append(out, pipeline.IgnoredSetting{Setting: setting, Commit: commit, Default: def})
		}
	}
	trusted := t.Config
	if trusted == nil {
		trusted = &Config{}
	}
	names := func(c *Config) string {
		var n []string
		for _, e := range c.Environments {
			n = append(n, e.Name)
		}
		return listed(n)
	}
	def := names(trusted)
	if t.Config == nil {
		def = "none (" + t.Branch + " has no " + File + ")"
	}
	add("environments", names(c), def)
	for _, te := range trusted.Environments {
		ce, ok := c.environment(te.Name)
		if !ok {
			continue
		}
		mine, theirs := ce.resolve(repo, sam.Settings(ce.Name)), te.resolve(repo, t.SAM.Settings(te.Name))
		p := te.Name + "."
		add(p+"branches", listed(ce.Branches), listed(te.Branches))
		add(p+"tags", listed(ce.GitTags), listed(te.GitTags))
		add(p+"paths", listed(ce.Paths), listed(te.Paths))
		add(p+"paths_ignore", listed(ce.PathsIgnore), listed(te.PathsIgnore))
		add(p+"stack", mine.Stack, theirs.Stack)
		add(p+"region", or(mine.Region, "the pipeline's region"), or(theirs.Region, "the pipeline's region"))
		add(p+"role_arn", or(mine.RoleARN, "none"), or(theirs.RoleARN, "none"))
		add(p+"cloudformation_role_arn", or(mine.CloudFormationRoleARN, "none"), or(theirs.CloudFormationRoleARN, "none"))
		add(p+"approval", approval(mine.ApprovalRequired), approval(theirs.ApprovalRequired))
		add(p+"approval_timeout", seconds(mine.ApprovalTimeoutSeconds), seconds(theirs.ApprovalTimeoutSeconds))
		add(p+"approvers", listed(mine.Approvers), listed(theirs.Approvers))
		add(p+"protected", strconv.FormatBool(mine.Protected), strconv.FormatBool(theirs.Protected))
		add(p+"promotion", promotion(mine.ManualPromotion), promotion(theirs.ManualPromotion))
		add(p+"freeze", freezeText(mine.Freeze), freezeText(theirs.Freeze))
		add(p+"freeze_action", or(mine.FreezeAction, pipeline.FreezeWait), or(theirs.FreezeAction, pipeline.FreezeWait))
	}
	add("previews.pull_requests", strconv.FormatBool(c.Previews.PullRequests), strconv.FormatBool(trusted.Previews.PullRequests))
	mine, _ := c.previewSource()
	theirs, _ := trusted.previewSource()
	add("previews.environment", or(mine.Name, "none"), or(theirs.Name, "none"))
	return out
}

// listed writes names for people: "[main, release/*]", or "none".
func listed(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return "[" + strings.Join(names, ", ") + "]"
}

func or(s, none string) string {
	if s == "" {
		return none
	}
	return s
}

func approval(required bool) string {
	if required {
		return "required"
	}
	return "none"
}

func promotion(manual bool) string {
	if manual {
		return "manual"
	}
	return "auto"
}

func seconds(n int) string { return short(time.Duration(n) * time.Second) }

// previewRule is the rule of t's environment whose settings previews take,
// among rules.
func (t Trusted) previewRule(rules []rule) (rule, bool) {
	if t.Config == nil {
		return rule{}, false
	}
	from, ok := t.Config.previewSource()
	if !ok {
		return rule{}, false
	}
	i := slices.IndexFunc(rules, func(r rule) bool { return r.config.Name == from.Name })
	if i < 0 {
		return rule{}, false
	}
	return rules[i], true
}
