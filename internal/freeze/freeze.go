// Package freeze decides whether an environment is in one of its freeze
// windows (stackflow.yml's freeze:), and until when. A window is either
// absolute, from a start to an end, or recurring: it opens each time a
// cron expression fires and lasts a duration. Times and cron fields are
// read in the window's IANA time zone, so "0 17 * * FRI" in
// Europe/Berlin opens at five on Friday afternoon there, summer or
// winter.
//
// Nothing here reads a clock: callers pass the time, so the deploy step's
// clock can be a test's.
package freeze

import (
	"cmp"
	"errors"
	"fmt"
	"strings"
	"time"
	// Lambda's provided.al2023 runtime has no time zone database of its
	// own; the binary carries Go's (about 450 KB).
	_ "time/tzdata"

	"github.com/robfig/cron/v3"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// DefaultTimeZone is the time zone of a window that names none.
const DefaultTimeZone = "UTC"

// Location loads the IANA time zone name ("Europe/Berlin", "UTC"); empty
// means DefaultTimeZone.
func Location(name string) (*time.Location, error) {
	name = cmp.Or(name, DefaultTimeZone)
	if name == "Local" {
		return nil, errors.New(`"Local" is this machine's time zone, not one the pipeline can know`)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("%q is not an IANA time zone", name)
	}
	return loc, nil
}

// layouts are the ways a window's start and end may be written; the ones
// without an offset are read in the window's time zone.
var layouts = []string{
	time.RFC3339,
	"2006-01-02T15:04:05",
	"2006-01-02T15:04",
	"2006-01-02 15:04:05",
	"2006-01-02 15:04",
	"2006-01-02",
}

// ParseTime reads a window's start or end: RFC 3339 with its offset
// ("2026-12-24T00:00:00+01:00"), or a date and time without one
// ("2026-12-24 00:00", "2026-12-24"), which is in loc.
func ParseTime(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range layouts {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time such as 2026-12-24 00:00 or 2026-12-24T00:00:00+01:00", s)
}

var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseCron reads a window's cron expression: five fields (minute, hour,
// day of month, month, day of week), as crontab has them, or a descriptor
// such as @weekly. The time zone is the window's, not a CRON_TZ= prefix.
func ParseCron(expr string) (cron.Schedule, error) {
	expr = strings.TrimSpace(expr)
	if strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ=") {
		return nil, errors.New("give the time zone with timezone:, not in the expression")
	}
	s, err := parser.Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("%q is not a cron expression of five fields (minute hour day-of-month month day-of-week): %v", expr, err)
	}
	return s, nil
}

// State is whether an environment is frozen at a time.
type State struct {
	Frozen bool
	// Until is when the freeze ends: the end of the window the time is
	// in, or of the windows that overlap or follow it without a gap.
	Until time.Time
	// Window is the window the time is in.
	Window pipeline.FreezeWindow
}

// maxSteps bounds the walk over windows that follow one another, so a
// window that never closes (a cron firing every minute for an hour) ends
// the walk rather than the step: the run looks again at Until.
const maxSteps = 1000

// Check tells whether now is in one of windows. A window that cannot be
// read (config validates them, so only a hand-made plan has one) is an
// error.
func Check(windows []pipeline.FreezeWindow, now time.Time) (State, error) {
	var st State
	at := now
	for range maxSteps {
		w, end, ok, err := active(windows, at)
		if err != nil {
			return State{}, err
		}
		if !ok || !end.After(at) {
			break
		}
		if !st.Frozen {
			st = State{Frozen: true, Window: w}
		}
		st.Until, at = end, end
	}
	return st, nil
}

// active is the window of windows that at is in and that ends last, and
// its end.
func active(windows []pipeline.FreezeWindow, at time.Time) (pipeline.FreezeWindow, time.Time, bool, error) {
	var (
		best pipeline.FreezeWindow
		end  time.Time
		ok   bool
	)
	for _, w := range windows {
		e, in, err := endOf(w, at)
		if err != nil {
			return best, end, false, err
		}
		if in && (!ok || e.After(end)) {
			best, end, ok = w, e, true
		}
	}
	return best, end, ok, nil
}

// endOf reports whether at is in w, and when that opening of w ends.
func endOf(w pipeline.FreezeWindow, at time.Time) (time.Time, bool, error) {
	loc, err := Location(w.TimeZone)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("freeze window %s: %w", describe(w), err)
	}
	if w.Cron == "" {
		start, err := ParseTime(w.Start, loc)
		if err != nil {
			return time.Time{}, false, fmt.Errorf("freeze window %s: start: %w", describe(w), err)
		}
		end, err := ParseTime(w.End, loc)
		if err != nil {
			return time.Time{}, false, fmt.Errorf("freeze window %s: end: %w", describe(w), err)
		}
		return end, !at.Before(start) && at.Before(end), nil
	}
	sched, err := ParseCron(w.Cron)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("freeze window %s: %w", describe(w), err)
	}
	d := time.Duration(w.DurationSeconds) * time.Second
	if d <= 0 {
		return time.Time{}, false, fmt.Errorf("freeze window %s: no duration", describe(w))
	}
	// The earliest opening after at-d is the first that can hold at.
	start := sched.Next(at.Add(-d).In(loc))
	if start.IsZero() || start.After(at) {
		return time.Time{}, false, nil
	}
	return start.Add(d), true, nil
}

// describe names w for an error: its name, else its cron or start.
func describe(w pipeline.FreezeWindow) string {
	switch {
	case w.Name != "":
		return fmt.Sprintf("%q", w.Name)
	case w.Cron != "":
		return fmt.Sprintf("%q", w.Cron)
	}
	return "from " + w.Start
}

// Format writes t for people in the window's time zone: "2026-12-28 09:00
// Europe/Berlin" (with seconds when it has any).
func Format(t time.Time, w pipeline.FreezeWindow) string {
	name := cmp.Or(w.TimeZone, DefaultTimeZone)
	loc, err := Location(name)
	if err != nil {
		loc, name = time.UTC, "UTC"
	}
	layout := "2006-01-02 15:04"
	if t.Second() != 0 || t.Nanosecond() != 0 {
		layout = "2006-01-02 15:04:05"
	}
	return t.In(loc).Format(layout) + " " + name
}
