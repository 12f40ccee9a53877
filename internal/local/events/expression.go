package events

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Expression is a parsed schedule expression: rate(...), cron(...) or (for
// EventBridge Scheduler) at(...).
type Expression struct {
	// Text is the expression as written.
	Text string
	// Every is a rate's period; zero for cron and at.
	Every time.Duration
	// Cron is a cron expression's fields; nil for rate and at.
	Cron *Cron
	// At is a one-time schedule's time; zero for rate and cron.
	At time.Time
}

// ParseRuleSchedule parses an EventBridge rule's ScheduleExpression: rate
// or cron, read in UTC.
func ParseRuleSchedule(expr string) (Expression, error) {
	if strings.HasPrefix(strings.TrimSpace(expr), "at(") {
		return Expression{}, fmt.Errorf("schedule expression %q: EventBridge rules take rate(...) or cron(...); at(...) is for EventBridge Scheduler (AWS::Scheduler::Schedule)", expr)
	}
	return ParseSchedule(expr, time.UTC)
}

// ParseSchedule parses an EventBridge Scheduler ScheduleExpression: rate,
// cron, or at(yyyy-mm-ddThh:mm:ss), an at or cron read on loc's wall clock
// (nil means UTC).
func ParseSchedule(expr string, loc *time.Location) (Expression, error) {
	if loc == nil {
		loc = time.UTC
	}
	s := strings.TrimSpace(expr)
	open := strings.IndexByte(s, '(')
	if open < 0 || !strings.HasSuffix(s, ")") {
		return Expression{}, fmt.Errorf("schedule expression %q: want rate(value unit), cron(fields) or at(yyyy-mm-ddThh:mm:ss)", expr)
	}
	kind, body := s[:open], s[open+1:len(s)-1]
	switch kind {
	case "rate":
		every, err := parseRate(body)
		if err != nil {
			return Expression{}, fmt.Errorf("schedule expression %q: %w", expr, err)
		}
		return Expression{Text: s, Every: every}, nil
	case "cron":
		c, err := ParseCron(body)
		if err != nil {
			return Expression{}, err
		}
		return Expression{Text: s, Cron: c}, nil
	case "at":
		at, err := time.ParseInLocation("2006-01-02T15:04:05", strings.TrimSpace(body), loc)
		if err != nil {
			return Expression{}, fmt.Errorf("schedule expression %q: want at(yyyy-mm-ddThh:mm:ss), as in at(2030-01-31T23:00:00)", expr)
		}
		return Expression{Text: s, At: at}, nil
	}
	return Expression{}, fmt.Errorf("schedule expression %q: %q is not rate, cron or at", expr, kind)
}

// parseRate reads "value unit": a positive whole value, the unit singular
// for 1 (minute, hour, day) and plural otherwise, as AWS requires.
func parseRate(body string) (time.Duration, error) {
	f := strings.Fields(body)
	if len(f) != 2 {
		return 0, fmt.Errorf("want rate(value unit), as in rate(5 minutes) or rate(1 hour)")
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n < 1 {
		return 0, fmt.Errorf("the value %q is not a positive whole number", f[0])
	}
	units := map[string]time.Duration{"minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}
	unit := f[1]
	base := strings.TrimSuffix(unit, "s")
	d, ok := units[base]
	if !ok {
		return 0, fmt.Errorf("the unit %q is not minute(s), hour(s) or day(s)", unit)
	}
	if n == 1 && unit != base {
		return 0, fmt.Errorf("a value of 1 takes the singular %q, not %q", base, unit)
	}
	if n > 1 && unit == base {
		return 0, fmt.Errorf("a value of %d takes the plural %q, not %q", n, base+"s", unit)
	}
	return time.Duration(n) * d, nil
}

// Next returns the first time after prev that the expression selects: prev
// plus the period for a rate (prev is the last firing, or the start), the
// next selected minute for a cron (read on loc's wall clock), and the at
// time for a one-time schedule still to come. It returns false when there
// is none.
func (e Expression) Next(prev time.Time, loc *time.Location) (time.Time, bool) {
	switch {
	case e.Every > 0:
		return prev.Add(e.Every), true
	case e.Cron != nil:
		if loc == nil {
			loc = time.UTC
		}
		return e.Cron.Next(prev.In(loc))
	default:
		if e.At.After(prev) {
			return e.At, true
		}
		return time.Time{}, false
	}
}
