package source

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/stackflow/stackflow/internal/config"
	"github.com/stackflow/stackflow/internal/pipeline"
)

// dispatch makes the plan of a push to a repository whose default
// branch's stackflow.yml lists apps (trusted): which apps the push
// delivers, each by a run of its own that the state machine starts, and
// why the others are skipped. The apps, their folders, their after and
// their path filters are the default branch's; for a tag, so are the
// environments of each app that take it. The commit's own files are not
// read: each app's run reads its own.
func (s *Service) dispatch(ctx context.Context, run pipeline.Run, execution string, trusted config.Trusted) (pipeline.Plan, error) {
	root := trusted.Config
	ch, err := s.change(ctx, run, trusted, run.Tag == "")
	if err != nil {
		return pipeline.Plan{}, err
	}
	apps := map[string]*config.Config{}
	if run.Tag != "" {
		head := pipeline.DefaultBranch{Name: trusted.Branch, Commit: trusted.Commit}
		for _, a := range root.Apps {
			t, err := readTrustedAt(ctx, s.defaults, run.Repository, head, a.Path)
			if err != nil {
				return pipeline.Plan{}, err
			}
			apps[a.Name] = t.Config
		}
	}
	reaches := root.ReachApps(ch, func(a config.App) *config.Config { return apps[a.Name] })
	return Dispatch(run, execution, trusted, reaches), nil
}

// Dispatch is the plan of run (whose execution's ARN is execution), a
// push to a repository whose default branch (trusted) lists apps, which
// it reaches as reaches says (config.ReachApps): the run of each app it
// delivers, in an order where every app comes after those of its after,
// and those it skips with why. An app's run waits for the runs of the
// apps of its after that the push delivers too, named by their execution
// ARNs (beside execution's).
func Dispatch(run pipeline.Run, execution string, trusted config.Trusted, reaches []config.Reach) pipeline.Plan {
	root := trusted.Config
	arn := func(name string) string {
		if i := strings.LastIndex(execution, ":"); i >= 0 && strings.Contains(execution, ":execution:") {
			return execution[:i+1] + name
		}
		return name
	}
	delivered := map[string]bool{}
	for _, r := range reaches {
		delivered[r.Name] = r.Deploys
	}
	var out []pipeline.AppDelivery
	var names, skipped []string
	for _, a := range ordered(root.Apps) {
		var r config.Reach
		for _, x := range reaches {
			if x.Name == a.Name {
				r = x
			}
		}
		child := run
		child.PullRequest, child.Rollback = nil, nil
		child.App = &pipeline.AppRun{Name: a.Name}
		for _, dep := range a.After {
			if delivered[dep] && r.Deploys {
				depRun := child
				depRun.App = &pipeline.AppRun{Name: dep}
				child.App.After = append(child.App.After, arn(pipeline.RunExecutionName(depRun)))
			}
		}
		input, _ := json.Marshal(pipeline.ExecutionInput{Run: child}) // strings, ints and bools
		d := pipeline.AppDelivery{Name: a.Name, Deliver: r.Deploys, Reason: r.Why, Run: child,
			Execution: pipeline.RunExecutionName(child), Input: string(input)}
		if r.Deploys {
			names = append(names, a.Name)
			if len(child.App.After) > 0 {
				d.Reason += "; after " + strings.Join(a.After, ", ")
			}
		} else {
			skipped = append(skipped, fmt.Sprintf("%s (%s)", a.Name, strings.TrimPrefix(r.Why, "skipped: ")))
		}
		out = append(out, d)
	}
	summary := run.Ref() + ": "
	switch {
	case len(names) > 0:
		summary += "delivering " + strings.Join(names, ", ") + " (a run each)"
	default:
		summary += "no app to deliver"
	}
	if len(skipped) > 0 {
		summary += "; skipped " + strings.Join(skipped, ", ")
	}
	return pipeline.Plan{Checks: []string{}, Environments: []pipeline.Environment{}, Summary: summary, Apps: out,
		DefaultBranch: &pipeline.DefaultBranch{Name: trusted.Branch, Commit: trusted.Commit}}
}

// ordered is apps with each after the apps of its after, otherwise in
// their order in the file.
func ordered(apps []config.App) []config.App {
	var out []config.App
	placed := map[string]bool{}
	for len(out) < len(apps) {
		progress := false
		for _, a := range apps {
			if placed[a.Name] {
				continue
			}
			ready := true
			for _, d := range a.After {
				ready = ready && placed[d]
			}
			if ready {
				out = append(out, a)
				placed[a.Name] = true
				progress = true
			}
		}
		if !progress { // a circle, which config refuses: keep the file's order
			for _, a := range apps {
				if !placed[a.Name] {
					out = append(out, a)
					placed[a.Name] = true
				}
			}
		}
	}
	return out
}

// TakesTag reports whether an environment on repo's default branch takes
// tag: one of the root stackflow.yml's, or of its apps'. The webhook asks
// before it starts a tag's run, so that a tag no environment wants starts
// nothing.
func TakesTag(ctx context.Context, defaults DefaultBranch, repo pipeline.Repository, tag string) (bool, error) {
	head, err := defaults.MainBranch(ctx, repo)
	if err != nil {
		return false, fmt.Errorf("read the default branch: %w", err)
	}
	root, err := readTrustedAt(ctx, defaults, repo, head, "")
	if err != nil {
		return false, err
	}
	apps := map[string]*config.Config{}
	if root.Config != nil {
		for _, a := range root.Config.Apps {
			t, err := readTrustedAt(ctx, defaults, repo, head, a.Path)
			if err != nil {
				return false, err
			}
			apps[a.Name] = t.Config
		}
	}
	return root.Config.TakesTag(tag, func(a config.App) *config.Config { return apps[a.Name] }), nil
}
