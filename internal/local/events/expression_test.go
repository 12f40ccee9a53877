package events

import (
	"strings"
	"testing"
	"time"
)

func utc(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestCronNext(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cron string
		from string
		want []string
	}{
		{"daily at noon", "0 12 * * ? *", "2026-03-10 12:00", []string{"2026-03-11 12:00", "2026-03-12 12:00"}},
		{"every 15 minutes", "0/15 * * * ? *", "2026-03-10 10:07", []string{"2026-03-10 10:15", "2026-03-10 10:30", "2026-03-10 10:45", "2026-03-10 11:00"}},
		{"star step", "*/20 9 * * ? *", "2026-03-10 09:41", []string{"2026-03-11 09:00", "2026-03-11 09:20"}},
		{"weekdays by name, Sunday is 1", "0 8 ? * MON-FRI *", "2026-03-13 09:00", []string{"2026-03-16 08:00", "2026-03-17 08:00"}},
		{"day 1 is Sunday", "0 0 ? * 1 *", "2026-03-10 00:00", []string{"2026-03-15 00:00", "2026-03-22 00:00"}},
		{"wrapping weekday range", "0 0 ? * FRI-MON *", "2026-03-11 00:00", []string{"2026-03-13 00:00", "2026-03-14 00:00", "2026-03-15 00:00", "2026-03-16 00:00", "2026-03-20 00:00"}},
		{"last day of month", "0 5 L * ? *", "2026-01-31 06:00", []string{"2026-02-28 05:00", "2026-03-31 05:00"}},
		{"last day of February in a leap year", "0 5 L 2 ? *", "2027-06-01 00:00", []string{"2028-02-29 05:00"}},
		{"nearest weekday to a Saturday 15th", "0 9 15W * ? *", "2026-08-01 00:00", []string{"2026-08-14 09:00", "2026-09-15 09:00"}},
		{"nearest weekday to a Sunday 1st stays in the month", "0 9 1W * ? *", "2026-02-02 08:00", []string{"2026-02-02 09:00", "2026-03-02 09:00"}},
		{"nearest weekday to a Saturday 1st stays in the month", "0 9 1W * ? *", "2026-07-02 00:00", []string{"2026-08-03 09:00"}},
		{"last weekday of the month", "0 18 LW * ? *", "2026-05-01 00:00", []string{"2026-05-29 18:00", "2026-06-30 18:00"}},
		{"last Friday", "0 10 ? * 6L *", "2026-03-01 00:00", []string{"2026-03-27 10:00", "2026-04-24 10:00"}},
		{"L alone in day-of-week is Saturday", "0 10 ? * L *", "2026-03-10 00:00", []string{"2026-03-14 10:00"}},
		{"second Tuesday", "0 10 ? * 3#2 *", "2026-03-01 00:00", []string{"2026-03-10 10:00", "2026-04-14 10:00"}},
		{"months by name and a list", "0 0 1 JAN,JUL ? *", "2026-03-10 00:00", []string{"2026-07-01 00:00", "2027-01-01 00:00"}},
		{"one year only", "30 23 31 12 ? 2030", "2026-01-01 00:00", []string{"2030-12-31 23:30"}},
		{"hour range and minute list", "0,30 8-9 * * ? *", "2026-03-10 08:10", []string{"2026-03-10 08:30", "2026-03-10 09:00", "2026-03-10 09:30", "2026-03-11 08:00"}},
		{"day-of-month step", "0 0 1/10 * ? *", "2026-03-02 00:00", []string{"2026-03-11 00:00", "2026-03-21 00:00", "2026-03-31 00:00", "2026-04-01 00:00"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := ParseCron(tt.cron)
			if err != nil {
				t.Fatal(err)
			}
			at := utc(tt.from)
			for _, w := range tt.want {
				got, ok := c.Next(at)
				if !ok || !got.Equal(utc(w)) {
					t.Fatalf("cron(%s).Next(%s): got %s %v, want %s", tt.cron, at.Format(time.RFC3339), got.Format(time.RFC3339), ok, w)
				}
				at = got
			}
		})
	}
}

func TestCronNextEndsAfterItsLastYear(t *testing.T) {
	t.Parallel()
	c, err := ParseCron("0 0 1 1 ? 2027")
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := c.Next(utc("2027-01-01 00:00")); ok {
		t.Errorf("got %s, want no more times", got)
	}
}

func TestCronNextInATimeZoneAcrossDaylightSaving(t *testing.T) {
	t.Parallel()
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cron string
		from time.Time
		want []time.Time
	}{
		{
			// 2026-03-08 02:30 does not exist in New York: that day is skipped.
			"spring forward skips the missing time", "30 2 * * ? *",
			time.Date(2026, 3, 7, 3, 0, 0, 0, ny),
			[]time.Time{time.Date(2026, 3, 9, 2, 30, 0, 0, ny)},
		},
		{
			// 2026-11-01 01:30 happens twice in New York: it runs once.
			"fall back runs once", "30 1 * * ? *",
			time.Date(2026, 10, 31, 2, 0, 0, 0, ny),
			[]time.Time{time.Date(2026, 11, 1, 1, 30, 0, 0, ny), time.Date(2026, 11, 2, 1, 30, 0, 0, ny)},
		},
		{
			"wall clock, not UTC", "0 9 * * ? *",
			time.Date(2026, 3, 7, 10, 0, 0, 0, ny),
			[]time.Time{time.Date(2026, 3, 8, 9, 0, 0, 0, ny), time.Date(2026, 3, 9, 9, 0, 0, 0, ny)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, err := ParseSchedule("cron("+tt.cron+")", ny)
			if err != nil {
				t.Fatal(err)
			}
			at := tt.from
			for _, w := range tt.want {
				got, ok := e.Next(at, ny)
				if !ok || !got.Equal(w) {
					t.Fatalf("got %s %v, want %s", got, ok, w)
				}
				at = got
			}
		})
	}
}

func TestCronRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cron, want string
	}{
		{"0 12 * * *", "got 5 fields, want 6"},
		{"0 12 * * * *", "both set"},
		{"0 12 ? * ? *", "both ?"},
		{"60 12 * * ? *", "minutes field \"60\""},
		{"0 24 * * ? *", "hours field"},
		{"0 0 32 * ? *", "day-of-month field"},
		{"0 0 ? * 0 *", "day-of-week field \"0\": want a value from 1 to 7"},
		{"0 0 ? * 3#6 *", "# is followed by 1 to 5"},
		{"0 0 1 FOO ? *", "month field"},
		{"0 0 1 * ? 1969", "year field"},
		{"0/0 0 1 * ? *", "positive number"},
		{"0 0 32W * ? *", "W follows a day"},
		{"0 0 ? * XL *", "L follows a day"},
		{"0,,1 0 1 * ? *", "empty item"},
	}
	for _, tt := range tests {
		t.Run(tt.cron, func(t *testing.T) {
			t.Parallel()
			_, err := ParseCron(tt.cron)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseCron(%q): got error %v, want one saying %q", tt.cron, err, tt.want)
			}
		})
	}
}

func TestParseSchedule(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr  string
		every time.Duration
		err   string
	}{
		{expr: "rate(1 minute)", every: time.Minute},
		{expr: "rate(5 minutes)", every: 5 * time.Minute},
		{expr: "rate(1 hour)", every: time.Hour},
		{expr: "rate(12 hours)", every: 12 * time.Hour},
		{expr: "rate(1 day)", every: 24 * time.Hour},
		{expr: "rate(7 days)", every: 7 * 24 * time.Hour},
		{expr: " rate(2 minutes) ", every: 2 * time.Minute},
		{expr: "rate(1 minutes)", err: "takes the singular"},
		{expr: "rate(2 minute)", err: "takes the plural"},
		{expr: "rate(0 minutes)", err: "not a positive whole number"},
		{expr: "rate(-1 minutes)", err: "not a positive whole number"},
		{expr: "rate(1.5 hours)", err: "not a positive whole number"},
		{expr: "rate(1 week)", err: "not minute(s), hour(s) or day(s)"},
		{expr: "rate(5)", err: "want rate(value unit)"},
		{expr: "every 5 minutes", err: "want rate(value unit), cron(fields) or at"},
		{expr: "hourly(1)", err: "is not rate, cron or at"},
		{expr: "at(2030-01-31 23:00)", err: "want at(yyyy-mm-ddThh:mm:ss)"},
		{expr: "cron(0 12 * * ? *)"},
		{expr: "at(2030-01-31T23:00:00)"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			t.Parallel()
			e, err := ParseSchedule(tt.expr, nil)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got error %v, want one saying %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if e.Every != tt.every {
				t.Errorf("got period %s, want %s", e.Every, tt.every)
			}
		})
	}
}

func TestRuleSchedulesRefuseAt(t *testing.T) {
	t.Parallel()
	if _, err := ParseRuleSchedule("at(2030-01-31T23:00:00)"); err == nil || !strings.Contains(err.Error(), "AWS::Scheduler::Schedule") {
		t.Errorf("got %v, want an error pointing at EventBridge Scheduler", err)
	}
	if _, err := ParseRuleSchedule("rate(1 day)"); err != nil {
		t.Error(err)
	}
}

func TestExpressionNext(t *testing.T) {
	t.Parallel()
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	at, err := ParseSchedule("at(2030-01-31T23:00:00)", paris)
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2030, 1, 31, 22, 0, 0, 0, time.UTC)
	if got, ok := at.Next(utc("2029-01-01 00:00"), paris); !ok || !got.Equal(want) {
		t.Errorf("at: got %s %v, want %s", got, ok, want)
	}
	if got, ok := at.Next(want, paris); ok {
		t.Errorf("at after its time: got %s, want none", got)
	}
	rate, err := ParseSchedule("rate(1 day)", paris)
	if err != nil {
		t.Fatal(err)
	}
	// A day is 24 hours, whatever daylight saving does to the wall clock.
	from := time.Date(2026, 3, 28, 12, 0, 0, 0, paris)
	if got, _ := rate.Next(from, paris); !got.Equal(from.Add(24 * time.Hour)) {
		t.Errorf("rate: got %s, want %s", got, from.Add(24*time.Hour))
	}
}

func TestFakeClock(t *testing.T) {
	t.Parallel()
	c := NewFakeClock(utc("2026-01-01 00:00"))
	early, _ := c.At(utc("2026-01-01 00:01"))
	late, stop := c.At(utc("2026-01-01 00:05"))
	past, _ := c.At(utc("2025-12-31 00:00"))
	select {
	case <-past:
	default:
		t.Fatal("a wait for a time already reached did not end at once")
	}
	c.Advance(2 * time.Minute)
	select {
	case <-early:
	default:
		t.Fatal("the wait for 00:01 did not end at 00:02")
	}
	select {
	case <-late:
		t.Fatal("the wait for 00:05 ended at 00:02")
	default:
	}
	stop()
	if n := c.Waiting(); n != 0 {
		t.Errorf("got %d waits after stopping the last one, want 0", n)
	}
}
