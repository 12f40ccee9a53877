package dashboard

import (
	"testing"
	"time"
)

func TestFigures(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	ago := func(h float64) time.Time { return now.Add(-time.Duration(h * float64(time.Hour))) }
	f := func(x float64) *float64 { return &x }
	tests := []struct {
		name    string
		deploys []Deploy
		want    DORA
	}{
		{name: "no releases", want: DORA{}},
		{
			name: "three deploys, lead times 1h, 2h and 4h",
			deploys: []Deploy{
				{Commit: "a", At: ago(10), Pushed: ago(11)},
				{Commit: "b", At: ago(5), Pushed: ago(7)},
				{Commit: "c", At: ago(1), Pushed: ago(5)},
			},
			want: DORA{Deploys: 3, PerDay: 0.1, LeadTimeSeconds: f(7200), ChangeFailureRate: f(0)},
		},
		{
			name: "releases older than 30 days are left out",
			deploys: []Deploy{
				{Commit: "old", At: ago(24*30 + 1), Pushed: ago(24 * 31)},
				{Commit: "a", At: ago(2), Pushed: ago(3)},
			},
			want: DORA{Deploys: 1, PerDay: 1.0 / 30, LeadTimeSeconds: f(3600), ChangeFailureRate: f(0)},
		},
		{
			name: "a failed smoke test rolled back in the same run",
			deploys: []Deploy{
				{Commit: "a", At: ago(10), Pushed: ago(11)},
				// b failed its smoke test: no release of b, a put back.
				{Commit: "a", At: ago(4), RollbackOf: "b", RunStarted: ago(4.5)},
			},
			want: DORA{Deploys: 1, PerDay: 1.0 / 30, LeadTimeSeconds: f(3600), ChangeFailureRate: f(0.5), Failures: 1, TimeToRestoreSeconds: f(1800)},
		},
		{
			name: "a release rolled back on demand later",
			deploys: []Deploy{
				{Commit: "a", At: ago(20), Pushed: ago(21)},
				{Commit: "b", At: ago(10), Pushed: ago(11)},
				{Commit: "a", At: ago(7), RollbackOf: "b", RunStarted: ago(7.1)},
				{Commit: "c", At: ago(2), Pushed: ago(3)},
			},
			want: DORA{Deploys: 3, PerDay: 0.1, LeadTimeSeconds: f(3600), ChangeFailureRate: f(1.0 / 3), Failures: 1, TimeToRestoreSeconds: f(3 * 3600)},
		},
		{
			name: "unknown push times give no lead time",
			deploys: []Deploy{
				{Commit: "a", At: ago(1)},
			},
			want: DORA{Deploys: 1, PerDay: 1.0 / 30, ChangeFailureRate: f(0)},
		},
		{
			name: "releases after now (a skewed clock) are left out",
			deploys: []Deploy{
				{Commit: "a", At: now.Add(time.Hour)},
			},
			want: DORA{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Figures(tt.deploys, now)
			if got.Deploys != tt.want.Deploys || got.Failures != tt.want.Failures {
				t.Errorf("deploys, failures: got %d, %d, want %d, %d", got.Deploys, got.Failures, tt.want.Deploys, tt.want.Failures)
			}
			if !near(got.PerDay, tt.want.PerDay) {
				t.Errorf("per day: got %v, want %v", got.PerDay, tt.want.PerDay)
			}
			for _, c := range []struct {
				what      string
				got, want *float64
			}{
				{"lead time", got.LeadTimeSeconds, tt.want.LeadTimeSeconds},
				{"change failure rate", got.ChangeFailureRate, tt.want.ChangeFailureRate},
				{"time to restore", got.TimeToRestoreSeconds, tt.want.TimeToRestoreSeconds},
			} {
				switch {
				case (c.got == nil) != (c.want == nil):
					t.Errorf("%s: got %v, want %v", c.what, show(c.got), show(c.want))
				case c.got != nil && !near(*c.got, *c.want):
					t.Errorf("%s: got %v, want %v", c.what, *c.got, *c.want)
				}
			}
		})
	}
}

func near(a, b float64) bool { d := a - b; return d < 1e-9 && d > -1e-9 }

func show(p *float64) any {
	if p == nil {
		return "none"
	}
	return *p
}
