package freeze

import (
	"strings"
	"testing"
	"time"

	"github.com/stackflow/stackflow/internal/pipeline"
)

func at(t *testing.T, s, zone string) time.Time {
	t.Helper()
	loc, err := Location(zone)
	if err != nil {
		t.Fatal(err)
	}
	v, err := ParseTime(s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestCheck(t *testing.T) {
	t.Parallel()
	holidays := pipeline.FreezeWindow{Name: "holidays", Start: "2026-12-24", End: "2027-01-02 09:00", TimeZone: "Europe/Berlin"}
	// Every Friday from 17:00 to Monday 07:00 in New York.
	weekend := pipeline.FreezeWindow{Name: "weekend", Cron: "0 17 * * FRI", DurationSeconds: 62 * 3600, TimeZone: "America/New_York"}
	// Two windows back to back: the freeze lasts until the second ends.
	first := pipeline.FreezeWindow{Start: "2026-03-01T10:00:00Z", End: "2026-03-01T12:00:00Z"}
	second := pipeline.FreezeWindow{Start: "2026-03-01T12:00:00Z", End: "2026-03-01T13:30:00Z"}
	// Openings every 10 minutes that last 15: they overlap and chain.
	chained := pipeline.FreezeWindow{Cron: "*/10 9 * * *", DurationSeconds: 15 * 60}
	tests := []struct {
		name      string
		windows   []pipeline.FreezeWindow
		now       time.Time
		wantUntil string // empty: not frozen
		wantName  string
	}{
		{"before the holidays", []pipeline.FreezeWindow{holidays}, at(t, "2026-12-23 23:59", "Europe/Berlin"), "", ""},
		{"at their start", []pipeline.FreezeWindow{holidays}, at(t, "2026-12-24 00:00", "Europe/Berlin"), "2027-01-02 09:00 Europe/Berlin", "holidays"},
		{"in them, seen from UTC", []pipeline.FreezeWindow{holidays}, at(t, "2026-12-31T12:00:00Z", "UTC"), "2027-01-02 09:00 Europe/Berlin", "holidays"},
		{"at their end", []pipeline.FreezeWindow{holidays}, at(t, "2027-01-02 09:00", "Europe/Berlin"), "", ""},
		{"Friday afternoon in New York", []pipeline.FreezeWindow{weekend}, at(t, "2026-11-27 16:59", "America/New_York"), "", ""},
		{"Friday evening in New York", []pipeline.FreezeWindow{weekend}, at(t, "2026-11-27 17:00", "America/New_York"), "2026-11-30 07:00 America/New_York", "weekend"},
		{"Sunday, from Berlin", []pipeline.FreezeWindow{weekend}, at(t, "2026-11-29 12:00", "Europe/Berlin"), "2026-11-30 07:00 America/New_York", "weekend"},
		{"Monday morning", []pipeline.FreezeWindow{weekend}, at(t, "2026-11-30 07:00", "America/New_York"), "", ""},
		// New York moves its clocks on 8 March 2026: the window still
		// opens at 17:00 there, which is an hour earlier in UTC.
		{"a Friday after the clocks moved", []pipeline.FreezeWindow{weekend}, at(t, "2026-03-13T21:00:00Z", "UTC"), "2026-03-16 07:00 America/New_York", "weekend"},
		{"a Friday before they moved", []pipeline.FreezeWindow{weekend}, at(t, "2026-03-06T21:00:00Z", "UTC"), "", ""},
		{"windows back to back", []pipeline.FreezeWindow{second, first}, at(t, "2026-03-01T11:00:00Z", "UTC"), "2026-03-01 13:30 UTC", ""},
		{"overlapping openings", []pipeline.FreezeWindow{chained}, at(t, "2026-03-01T09:05:00Z", "UTC"), "2026-03-01 10:05 UTC", ""},
		{"no windows", nil, at(t, "2026-03-01T09:05:00Z", "UTC"), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, err := Check(tt.windows, tt.now)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantUntil == "" {
				if st.Frozen {
					t.Fatalf("got frozen until %s, want not frozen", st.Until)
				}
				return
			}
			if !st.Frozen {
				t.Fatalf("got not frozen, want frozen until %s", tt.wantUntil)
			}
			if got := Format(st.Until, st.Window); got != tt.wantUntil {
				t.Errorf("got until %s, want %s", got, tt.wantUntil)
			}
			if st.Window.Name != tt.wantName {
				t.Errorf("got window %q, want %q", st.Window.Name, tt.wantName)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	if _, err := Location("Mars/Olympus"); err == nil || !strings.Contains(err.Error(), "not an IANA time zone") {
		t.Errorf("Location: got %v, want not an IANA time zone", err)
	}
	if _, err := Location("Local"); err == nil {
		t.Error("Location(Local): got no error, want one")
	}
	if _, err := ParseTime("24/12/2026", time.UTC); err == nil || !strings.Contains(err.Error(), "such as 2026-12-24 00:00") {
		t.Errorf("ParseTime: got %v, want the formats named", err)
	}
	for _, expr := range []string{"0 17 * *", "61 * * * *", "CRON_TZ=UTC 0 17 * * FRI", "0 0 17 * * FRI"} {
		if _, err := ParseCron(expr); err == nil {
			t.Errorf("ParseCron(%q): got no error, want one", expr)
		}
	}
	if _, err := ParseCron("@weekly"); err != nil {
		t.Errorf("ParseCron(@weekly): %v", err)
	}
	if _, err := Check([]pipeline.FreezeWindow{{Cron: "0 17 * * FRI"}}, time.Unix(0, 0)); err == nil {
		t.Error("Check of a cron window without a duration: got no error, want one")
	}
}
