package dashboard

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/stackflow/stackflow/internal/approvals"
	"github.com/stackflow/stackflow/internal/locks"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/releases"
	"github.com/stackflow/stackflow/internal/runs"
)

// historyLimit is how many releases of an environment its page lists (and
// the DORA figures read: enough for 30 days of most teams).
const historyLimit = 200

// recentRuns is how many runs the environments page reads to find where
// commits were pushed and which runs wait.
const recentRuns = 200

// Repository is one repository's environments, for the environments page.
type Repository struct {
	Name         string        `json:"name"`
	Environments []Environment `json:"environments"`
}

// Environment is one environment of a repository (of one of its apps):
// what it runs, what waits for it, its history and its DORA figures.
type Environment struct {
	Repository string `json:"repository"`
	App        string `json:"app,omitempty"`
	Name       string `json:"name"`
	Stack      string `json:"stack,omitempty"`
	// Current is the release it runs; nil before its first.
	Current *releases.Release `json:"current,omitempty"`
	// Message is the first line of the current commit's message, as the
	// push that started one of its runs said it ("" when unknown).
	Message string `json:"message,omitempty"`
	// History is its releases, newest first, Current first.
	History []releases.Release `json:"history"`
	// Lock is the run that holds the environment's lock, nil when none.
	Lock *locks.Holder `json:"lock,omitempty"`
	// Pending are the deploys that wait for an approval here.
	Pending []approvals.Request `json:"pending,omitempty"`
	DORA    DORA                `json:"dora"`
}

// Key is the environment as releases and rollbacks name it.
func (e Environment) Key() string { return releases.EnvKey(e.App, e.Name) }

// environments reads every repository's environments.
func (s *Server) environments(ctx context.Context) ([]Repository, error) {
	released, err := s.cfg.Source.ReleasedEnvironments(ctx)
	if err != nil {
		return nil, err
	}
	recent, err := s.cfg.Source.Runs(ctx, runs.Filter{Limit: recentRuns})
	if err != nil {
		return nil, err
	}
	started := map[string]time.Time{}
	pushed := map[string]time.Time{}
	newest := map[string]runs.Run{}
	messages := map[string]string{}
	var waiting []runs.Run
	for _, r := range recent {
		started[r.ARN] = r.Started
		started[r.Execution] = r.Started
		if r.RetryOf == "" && r.PromotedTo == "" {
			if p, ok := pushed[r.Commit]; !ok || r.Started.Before(p) {
				pushed[r.Commit] = r.Started
			}
		}
		if r.Message != "" {
			messages[r.Commit] = r.Message
		}
		if _, ok := newest[r.Repository]; !ok && r.Repository != "" {
			newest[r.Repository] = r
		}
		if r.Status == "RUNNING" {
			waiting = append(waiting, r)
		}
	}

	// Each repository's environments in its plan's order, as its newest
	// run has them, then those only releases name.
	byRepo := map[string][]Environment{}
	index := map[string]int{}
	add := func(e Environment) {
		id := e.Repository + "#" + e.Key()
		if _, ok := index[id]; ok {
			return
		}
		index[id] = len(byRepo[e.Repository])
		byRepo[e.Repository] = append(byRepo[e.Repository], e)
	}
	for repo, r := range newest {
		t, err := s.cfg.Source.Show(ctx, r.ARN)
		if err != nil {
			continue // its releases still show
		}
		for _, e := range t.Environments {
			add(Environment{Repository: repo, Name: e.Name, Stack: e.Stack})
		}
	}
	for _, e := range released {
		add(Environment{Repository: e.Repository, App: e.App, Name: e.Environment})
	}

	pending := map[string][]approvals.Request{}
	for _, r := range waiting {
		_, list, err := s.cfg.Source.Pending(ctx, r.ARN)
		if err != nil {
			continue
		}
		for _, p := range list {
			pending[p.Repository+"#"+p.Environment] = append(pending[p.Repository+"#"+p.Environment], p)
		}
	}

	now := s.cfg.Now()
	out := []Repository{}
	for repo, envs := range byRepo {
		for i := range envs {
			e := &envs[i]
			hist, err := s.cfg.Source.Releases(ctx, e.Repository, e.Key(), historyLimit)
			if err != nil {
				return nil, err
			}
			e.History = hist
			if len(hist) > 0 {
				e.Current = &hist[0]
				e.Message = messages[hist[0].Commit]
				e.Stack = cmp.Or(e.Stack, hist[0].Stack)
			}
			if e.Stack != "" {
				where := pipeline.Environment{Name: e.Name, Stack: e.Stack}
				if e.Current != nil && e.Current.Deployed != nil {
					where = *e.Current.Deployed
				}
				if h, err := s.cfg.Source.LockHolder(ctx, where); err == nil && h.Execution != "" && h.ExpiresAt.After(now) {
					e.Lock = &h
				}
			}
			e.Pending = pending[e.Repository+"#"+e.Name]
			deploys := make([]Deploy, 0, len(hist))
			for _, r := range hist {
				deploys = append(deploys, DeployOf(r, func(x string) time.Time { return started[x] }, func(c string) time.Time { return pushed[c] }))
			}
			e.DORA = Figures(deploys, now)
		}
		out = append(out, Repository{Name: repo, Environments: envs})
	}
	slices.SortFunc(out, func(a, b Repository) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}
