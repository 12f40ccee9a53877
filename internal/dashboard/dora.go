package dashboard

import (
	"slices"
	"time"

	"github.com/stackflow/stackflow/internal/releases"
)

// Window is how far back the DORA figures look.
const Window = 30 * 24 * time.Hour

// Deploy is one release of an environment, as the DORA figures see it.
type Deploy struct {
	// Commit is the released commit; At when the release was recorded.
	Commit string
	At     time.Time
	// RollbackOf names the commit whose failure the release undid (a
	// rollback); empty for a deploy of a change.
	RollbackOf string
	// RunStarted is when the run that made the release started; Pushed
	// when the commit's first run started (its push), zero when unknown.
	RunStarted time.Time
	Pushed     time.Time
}

// DeployOf is the Deploy of release r; started gives when an execution
// started, pushed when a commit's first run did (zero when unknown).
func DeployOf(r releases.Release, started func(execution string) time.Time, pushed func(commit string) time.Time) Deploy {
	return Deploy{Commit: r.Commit, At: r.DeployedAt, RollbackOf: r.RollbackOf, RunStarted: started(r.Execution), Pushed: pushed(r.Commit)}
}

// DORA are the four DORA figures of one environment over Window, computed
// from its releases. A figure with nothing to compute it from is nil.
type DORA struct {
	// Deploys counts the deploys of changes (rollbacks are not changes);
	// PerDay is Deploys over the window's days.
	Deploys int     `json:"deploys"`
	PerDay  float64 `json:"perDay"`
	// LeadTimeSeconds is the median time from a deployed commit's push to
	// its release here.
	LeadTimeSeconds *float64 `json:"leadTimeSeconds,omitempty"`
	// ChangeFailureRate is the share of changes deployed here that failed
	// and were rolled back: rolled-back commits over the changes
	// attempted (deploys, plus the failed deploys a rollback undid that
	// never became a release).
	ChangeFailureRate *float64 `json:"changeFailureRate,omitempty"`
	// Failures counts those rolled-back changes.
	Failures int `json:"failures"`
	// TimeToRestoreSeconds is the median time from a failed change going
	// out (its release here, or the start of the run whose deploy failed)
	// to the rollback that restored the environment.
	TimeToRestoreSeconds *float64 `json:"timeToRestoreSeconds,omitempty"`
}

// Figures computes the DORA figures of deploys (in any order) over the
// Window that ends at now.
func Figures(deploys []Deploy, now time.Time) DORA {
	from := now.Add(-Window)
	in := make([]Deploy, 0, len(deploys))
	for _, d := range deploys {
		if !d.At.Before(from) && !d.At.After(now) {
			in = append(in, d)
		}
	}
	slices.SortFunc(in, func(a, b Deploy) int { return a.At.Compare(b.At) })

	var f DORA
	var lead, restore []float64
	released := map[string]time.Time{} // commit -> its latest release before now, in order
	failed := map[string]bool{}
	attempts := 0
	for _, d := range in {
		if d.RollbackOf == "" {
			f.Deploys++
			attempts++
			if !d.Pushed.IsZero() && !d.Pushed.After(d.At) {
				lead = append(lead, d.At.Sub(d.Pushed).Seconds())
			}
			released[d.Commit] = d.At
			continue
		}
		if failed[d.RollbackOf] {
			continue // the same failure, restored again
		}
		failed[d.RollbackOf] = true
		f.Failures++
		start, ok := released[d.RollbackOf]
		if !ok {
			// The failed deploy never became a release: the change went
			// out in the run that then rolled it back.
			attempts++
			start = d.RunStarted
		}
		if !start.IsZero() && !start.After(d.At) {
			restore = append(restore, d.At.Sub(start).Seconds())
		}
	}
	f.PerDay = float64(f.Deploys) / Window.Hours() * 24
	f.LeadTimeSeconds = median(lead)
	f.TimeToRestoreSeconds = median(restore)
	if attempts > 0 {
		rate := float64(f.Failures) / float64(attempts)
		f.ChangeFailureRate = &rate
	}
	return f
}

// median is the median of xs, nil when there are none.
func median(xs []float64) *float64 {
	if len(xs) == 0 {
		return nil
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return &m
}
