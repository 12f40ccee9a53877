package runs

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/releases"
)

// Promotions and retries: runs that deploy a package the pipeline made and
// recorded before, with no checks and no build. The command line names
// what to deploy; the run itself finds the package (the release, or the
// retried run's record) and its plan (the default branch's stackflow.yml),
// so that neither comes from whoever starts it.

// PromoteRequest is what stackflow promote asks for.
type PromoteRequest struct {
	Repository pipeline.Repository
	// App is the app whose environment it is, in a repository of
	// several apps (stackflow.yml's apps); empty for a repository of one.
	App string
	// Environment is where to deploy; From the environment whose release
	// to deploy (empty: the one before Environment in the newest run of
	// the repository that planned it).
	Environment string
	From        string
	// Commit is a released commit of From (4 or more hex digits; empty:
	// From's newest release).
	Commit string
	// By is who asks; DuringFreeze, when set, lets the run deploy
	// during Environment's freeze windows.
	By           string
	DuringFreeze *pipeline.FreezeOverride
}

// fromScan is how many of a repository's newest runs Promote reads to
// find the environment before the one it promotes to.
const fromScan = 50

// Promote starts a run that deploys to req.Environment the package that
// req.From released at req.Commit. It returns the execution's ARN and the
// release promoted.
func (c *Client) Promote(ctx context.Context, req PromoteRequest) (string, releases.Release, error) {
	table, err := c.table()
	if err != nil {
		return "", releases.Release{}, err
	}
	repo := req.Repository
	if req.From == "" {
		if req.From, err = c.promoteFrom(ctx, repo, req.App, req.Environment); err != nil {
			return "", releases.Release{}, err
		}
	}
	if req.From == req.Environment {
		return "", releases.Release{}, declined("--from %s is the environment to promote to: name another", req.From)
	}
	store := releases.New(c.db, table)
	var r releases.Release
	if req.Commit != "" {
		if r, err = store.Find(ctx, repo.FullName(), releases.EnvKey(req.App, req.From), req.Commit); err != nil {
			return "", r, declinedIf(err)
		}
	} else {
		last, err := store.List(ctx, repo.FullName(), releases.EnvKey(req.App, req.From), 1)
		if err != nil {
			return "", r, err
		}
		if len(last) == 0 {
			return "", r, declined("%s of %s has no release to promote (stackflow releases %s %s%s lists its releases)",
				req.From, ofApp(repo, req.App), repo.FullName(), req.From, appFlag(req.App))
		}
		r = last[0]
	}
	if r.Package == nil {
		return "", r, declined("the release %s of %s was recorded before releases kept their package: push the commit again to deliver it",
			pipeline.ShortSHA(r.Commit), req.From)
	}
	run := pipeline.Run{
		Repository: repo, Branch: r.Branch, Commit: r.Commit, Settings: c.settingsOf(ctx, r.Execution),
		App:          appRun(req.App),
		Promote:      &pipeline.PromoteRequest{Environment: req.Environment, From: req.From, By: req.By},
		DuringFreeze: req.DuringFreeze,
	}
	arn, err := c.start(ctx, run, runName(repo.ForApp(req.App), "promote", req.Environment, r.Commit, time.Now()))
	if err != nil {
		return "", r, fmt.Errorf("start the promotion: %w", err)
	}
	return arn, r, nil
}

// promoteFrom is the environment before env in the newest of repo's runs
// (of its app app, in a repository of several) whose plan reaches env, or
// stops before it (promotion: manual). Without app, a repository whose
// runs are its apps' is told to name one.
func (c *Client) promoteFrom(ctx context.Context, repo pipeline.Repository, app, env string) (string, error) {
	var from string
	apps := map[string]bool{}
	read := 0
	err := c.scan(ctx, 100, func(item types.ExecutionListItem) (bool, error) {
		if !mayBe(aws.ToString(item.Name), &repo, "") {
			return true, nil
		}
		desc, err := c.describe(ctx, aws.ToString(item.ExecutionArn))
		if err != nil {
			return false, err
		}
		var in pipeline.ExecutionInput
		if json.Unmarshal([]byte(aws.ToString(desc.Input)), &in) != nil || in.Run.Repository != repo {
			return true, nil
		}
		if a := in.Run.AppName(); a != app {
			if a != "" {
				apps[a] = true
			}
			return true, nil
		}
		t, err := c.timeline(ctx, desc)
		if err != nil {
			return false, err
		}
		read++
		if p := t.plan; p != nil {
			if p.Ready != nil && p.Ready.Environment == env && p.Ready.From != "" {
				from = p.Ready.From
				return false, nil
			}
			for i, e := range p.Environments {
				if e.Name == env && i > 0 && in.Run.Promote == nil && in.Run.Retry == nil && in.Run.Rollback == nil {
					from = p.Environments[i-1].Name
					return false, nil
				}
			}
		}
		return read < fromScan, nil
	})
	if err != nil {
		return "", err
	}
	if from == "" && app == "" && len(apps) > 0 {
		return "", declined("%s has several apps (%s): name the one to promote with --app APP", repo.FullName(), strings.Join(slices.Sorted(maps.Keys(apps)), ", "))
	}
	if from == "" {
		return "", declined("name the environment to promote from with --from ENV: none of the newest runs of %s reaches %s after another environment", ofApp(repo, app), env)
	}
	return from, nil
}

// appRun is the App of a run of app; nil for a repository of one app.
func appRun(app string) *pipeline.AppRun {
	if app == "" {
		return nil
	}
	return &pipeline.AppRun{Name: app}
}

// ofApp names repo, or its app app, for people.
func ofApp(repo pipeline.Repository, app string) string {
	if app == "" {
		return repo.FullName()
	}
	return "app " + app + " of " + repo.FullName()
}

// appFlag is " --app APP" for app, or nothing.
func appFlag(app string) string {
	if app == "" {
		return ""
	}
	return " --app " + app
}

// settingsOf is the pipeline's tuning as the run execution (an ARN) had
// it, else the defaults.
func (c *Client) settingsOf(ctx context.Context, execution string) pipeline.Settings {
	settings := pipeline.Settings{}.WithDefaults()
	if execution == "" {
		return settings
	}
	if desc, err := c.describe(ctx, execution); err == nil {
		var in pipeline.ExecutionInput
		if json.Unmarshal([]byte(aws.ToString(desc.Input)), &in) == nil && in.Run.Settings.PollSeconds > 0 {
			settings = in.Run.Settings.WithDefaults()
		}
	}
	return settings
}

// start starts an execution of run named name.
func (c *Client) start(ctx context.Context, run pipeline.Run, name string) (string, error) {
	input, err := json.Marshal(pipeline.ExecutionInput{Run: run})
	if err != nil {
		return "", err
	}
	out, err := c.ops.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(c.pipeline.StateMachineARN),
		Name:            aws.String(name),
		Input:           aws.String(string(input)),
	})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.ExecutionArn), nil
}

// Retry starts a run that resumes the failed or stopped run ref (an
// execution name, ARN or commit SHA, as Show takes) at the environment
// where it stopped, with the package it deployed: no checks, no build. app,
// in a repository of several apps, names the app whose run it is (a
// commit SHA then names that app's run of the commit). by is who asks;
// during, when set, lets it deploy during freeze windows. It returns the
// new execution's ARN and the environment it resumes at.
func (c *Client) Retry(ctx context.Context, ref, app, by string, during *pipeline.FreezeOverride) (string, string, error) {
	return c.StartRetry(ctx, RetryRequest{Ref: ref, App: app, By: by, DuringFreeze: during})
}

// RetryRequest is what a retry asks for (see Retry).
type RetryRequest struct {
	Ref, App, By string
	DuringFreeze *pipeline.FreezeOverride
	// May, when set, is asked whether the retry may deploy to env (where
	// it resumes) of repo's app, before it starts: its error refuses it.
	May func(ctx context.Context, repo pipeline.Repository, app, env string) error
}

// StartRetry is Retry, asking req.May before it starts the run.
func (c *Client) StartRetry(ctx context.Context, req RetryRequest) (string, string, error) {
	ref, app, by, during := req.Ref, req.App, req.By, req.DuringFreeze
	if _, err := c.table(); err != nil {
		return "", "", err
	}
	desc, err := c.resolveApp(ctx, ref, app)
	if err != nil {
		return "", "", declinedIf(err)
	}
	name := aws.ToString(desc.Name)
	t, err := c.timeline(ctx, desc)
	if err != nil {
		return "", "", err
	}
	if p := t.plan; p != nil && len(p.Apps) > 0 {
		var names []string
		for _, a := range p.Apps {
			if a.Deliver {
				names = append(names, a.Name)
			}
		}
		return "", "", declined("%s is the push's run, which started its apps' runs (%s): retry an app's run, by its name or with --app APP",
			name, strings.Join(names, ", "))
	}
	switch desc.Status {
	case types.ExecutionStatusRunning:
		return "", "", declined("%s is still running: retry it once it has failed or stopped", name)
	case types.ExecutionStatusSucceeded:
		return "", "", declined("%s succeeded: there is nothing to retry", name)
	}
	var in pipeline.ExecutionInput
	if err := json.Unmarshal([]byte(aws.ToString(desc.Input)), &in); err != nil || in.Run.Repository.Slug == "" {
		return "", "", declined("%s is not a stackflow run: its input has no run", name)
	}
	old := in.Run
	switch {
	case old.Rollback != nil:
		return "", "", declined("%s is a rollback: run stackflow rollback %s %s%s --to %s again", name, old.Repository.FullName(), old.Rollback.Environment, appFlag(old.AppName()), old.Short())
	case old.PullRequest != nil && old.PullRequest.Closed:
		return "", "", declined("%s deleted a closed pull request's preview: nothing to retry", name)
	}
	if f := t.Failure; f != nil && f.Error == "Superseded" {
		return "", "", declined("%s was superseded by a newer commit of %s (%s): retrying it would put an older commit back; stackflow rollback does that on purpose", name, old.Branch, firstLine(f.Cause))
	}
	env, err := stoppedEnvironment(t)
	if err != nil {
		return "", "", err
	}
	if req.May != nil {
		if err := req.May(ctx, old.Repository, old.AppName(), env); err != nil {
			return "", "", err
		}
	}
	run := pipeline.Run{
		Repository: old.Repository, Branch: old.Branch, Commit: old.Commit, Settings: old.Settings.WithDefaults(),
		PullRequest: old.PullRequest, Promote: old.Promote,
		// The app's run, without the runs it waited for: they are done.
		App:          appRun(old.AppName()),
		Retry:        &pipeline.RetryRequest{Of: aws.ToString(desc.ExecutionArn), Environment: env, By: by},
		DuringFreeze: during,
	}
	arn, err := c.start(ctx, run, runName(old.Repository.ForApp(old.AppName()), "retry", env, old.Commit, time.Now()))
	if err != nil {
		return "", "", fmt.Errorf("start the retry: %w", err)
	}
	return arn, env, nil
}

// inputOf is the execution input of desc; empty when it is none of the
// pipeline's.
func inputOf(desc *sfn.DescribeExecutionOutput) pipeline.ExecutionInput {
	var in pipeline.ExecutionInput
	_ = json.Unmarshal([]byte(aws.ToString(desc.Input)), &in)
	return in
}

// stoppedEnvironment is the environment where the run t stopped: the first
// of its plan it did not deliver. A run that stopped before it reached one
// (its checks failed, say) has no package to resume with.
func stoppedEnvironment(t *Timeline) (string, error) {
	reached := false
	for _, e := range t.Environments {
		if e.Status != EnvNotReached {
			reached = true
		}
	}
	for _, e := range t.Environments {
		if e.Status == EnvDelivered {
			continue
		}
		if !reached && t.Package == "" {
			break
		}
		return e.Name, nil
	}
	where := "before it reached an environment"
	if f := t.Failure; f != nil && f.State != "" {
		where = "at " + f.State + ", " + where
	}
	if len(t.Environments) > 0 && t.Environments[len(t.Environments)-1].Status == EnvDelivered {
		return "", declined("%s delivered every environment of its plan: there is nothing to retry", t.Execution)
	}
	return "", declined("%s stopped %s: there is no package to resume with; push the commit again (or push a fix)", t.Execution, where)
}

// runName is "<slug>-<kind>-<env>-<sha7>-<time>", the time to the
// millisecond (two promotions of one commit within a second are two
// runs), in Step Functions' safe characters and at most 80 of them.
func runName(repo pipeline.Repository, kind, env, commit string, at time.Time) string {
	at = at.UTC()
	tail := "-" + kind + "-" + env + "-" + pipeline.ShortSHA(commit) + "-" + at.Format("20060102T150405") + fmt.Sprintf("%03d", at.Nanosecond()/1e6)
	slug := unsafeName.ReplaceAllString(repo.Slug, "-")
	if len(slug)+len(tail) > pipeline.MaxExecutionName {
		slug = slug[:max(0, pipeline.MaxExecutionName-len(tail))]
	}
	return strings.Trim(unsafeName.ReplaceAllString(slug+tail, "-"), "-")
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
