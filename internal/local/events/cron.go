package events

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Cron is a parsed AWS cron expression: six fields, minutes hours
// day-of-month month day-of-week year, as EventBridge rules and EventBridge
// Scheduler read them.
//
//	field         values             wildcards
//	minutes       0-59               , - * /
//	hours         0-23               , - * /
//	day-of-month  1-31               , - * ? / L W
//	month         1-12 or JAN-DEC    , - * /
//	day-of-week   1-7 or SUN-SAT     , - * ? L #
//	year          1970-2199          , - * /
//
// Day-of-week 1 is Sunday (not 0, as in Unix cron). One of day-of-month and
// day-of-week must be ?, the other not. In day-of-month, L is the month's
// last day, nW the weekday nearest day n within the month, LW the last
// weekday; in day-of-week, nL is the month's last weekday n (L alone is
// Saturday), n#k its k-th weekday n.
type Cron struct {
	expr    string
	minutes [60]bool
	hours   [24]bool
	months  [13]bool
	years   [cronLastYear - cronFirstYear + 1]bool

	// Exactly one of the day fields is used; the other was ?.
	byWeekday bool

	days        [32]bool // plain days of month
	lastDay     bool     // L
	lastWeekday bool     // LW
	nearest     []int    // nW

	weekdays   [8]bool // plain days of week, 1 = Sunday
	lastOfWeek []int   // nL
	nthOfWeek  [][2]int
}

const (
	cronFirstYear = 1970
	cronLastYear  = 2199
)

var monthNames = map[string]int{"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6, "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12}

var dayNames = map[string]int{"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}

// ParseCron parses the six fields of an AWS cron expression (what stands
// between the parentheses of cron(...)).
func ParseCron(fields string) (*Cron, error) {
	f := strings.Fields(fields)
	if len(f) != 6 {
		return nil, fmt.Errorf("cron(%s): got %d fields, want 6: minutes hours day-of-month month day-of-week year, as in cron(0 12 * * ? *)", fields, len(f))
	}
	c := &Cron{expr: strings.Join(f, " ")}
	fail := func(name string, err error) error {
		return fmt.Errorf("cron(%s): %s field %w", c.expr, name, err)
	}
	if err := setRange(c.minutes[:], f[0], 0, 59, nil); err != nil {
		return nil, fail("minutes", err)
	}
	if err := setRange(c.hours[:], f[1], 0, 23, nil); err != nil {
		return nil, fail("hours", err)
	}
	if err := setRange(c.months[:], f[3], 1, 12, monthNames); err != nil {
		return nil, fail("month", err)
	}
	years := make([]bool, cronLastYear+1)
	if err := setRange(years, f[5], cronFirstYear, cronLastYear, nil); err != nil {
		return nil, fail("year", err)
	}
	copy(c.years[:], years[cronFirstYear:])
	dom, dow := f[2], f[4]
	switch {
	case dom == "?" && dow == "?":
		return nil, fmt.Errorf("cron(%s): day-of-month and day-of-week are both ?: give one of them a value, as in cron(0 12 * * ? *)", c.expr)
	case dom != "?" && dow != "?":
		return nil, fmt.Errorf("cron(%s): day-of-month %q and day-of-week %q are both set: one of them must be ?, as in cron(0 12 ? * MON *)", c.expr, dom, dow)
	case dow == "?":
		if err := c.parseDaysOfMonth(dom); err != nil {
			return nil, fail("day-of-month", err)
		}
	default:
		c.byWeekday = true
		if err := c.parseDaysOfWeek(dow); err != nil {
			return nil, fail("day-of-week", err)
		}
	}
	return c, nil
}

// String returns the expression as cron(...).
func (c *Cron) String() string { return "cron(" + c.expr + ")" }

func (c *Cron) parseDaysOfMonth(s string) error {
	for _, part := range strings.Split(s, ",") {
		switch {
		case part == "L":
			c.lastDay = true
		case part == "LW":
			c.lastWeekday = true
		case strings.HasSuffix(part, "W"):
			n, err := strconv.Atoi(strings.TrimSuffix(part, "W"))
			if err != nil || n < 1 || n > 31 {
				return fmt.Errorf("%q: W follows a day from 1 to 31, as in 15W", part)
			}
			c.nearest = append(c.nearest, n)
		default:
			if err := setRange(c.days[:], part, 1, 31, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *Cron) parseDaysOfWeek(s string) error {
	for _, part := range strings.Split(s, ",") {
		switch {
		case part == "L":
			c.weekdays[7] = true
		case strings.HasSuffix(part, "L"):
			d, err := value(strings.TrimSuffix(part, "L"), 1, 7, dayNames)
			if err != nil {
				return fmt.Errorf("%q: L follows a day of the week, as in 6L (the last Friday)", part)
			}
			c.lastOfWeek = append(c.lastOfWeek, d)
		case strings.Contains(part, "#"):
			day, nth, _ := strings.Cut(part, "#")
			d, err := value(day, 1, 7, dayNames)
			if err != nil {
				return fmt.Errorf("%q: # follows a day of the week, as in 3#2 (the second Tuesday)", part)
			}
			n, err := strconv.Atoi(nth)
			if err != nil || n < 1 || n > 5 {
				return fmt.Errorf("%q: # is followed by 1 to 5, as in 3#2 (the second Tuesday)", part)
			}
			c.nthOfWeek = append(c.nthOfWeek, [2]int{d, n})
		default:
			if err := setRange(c.weekdays[:], part, 1, 7, dayNames); err != nil {
				return err
			}
		}
	}
	return nil
}

// setRange marks in set the values a comma list of *, n, a-b, */s, n/s and
// a-b/s selects. A range whose start is after its end wraps around (FRI-MON).
func setRange(set []bool, s string, lo, hi int, names map[string]int) error {
	for _, part := range strings.Split(s, ",") {
		if part == "" {
			return fmt.Errorf("%q: empty item in a list", s)
		}
		rng, stepText, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || n < 1 {
				return fmt.Errorf("%q: the step after / is a positive number, as in 0/15", part)
			}
			step = n
		}
		var from, to int
		switch {
		case rng == "*":
			from, to = lo, hi
		case strings.Contains(rng, "-"):
			a, b, _ := strings.Cut(rng, "-")
			var err error
			if from, err = value(a, lo, hi, names); err != nil {
				return err
			}
			if to, err = value(b, lo, hi, names); err != nil {
				return err
			}
		default:
			var err error
			if from, err = value(rng, lo, hi, names); err != nil {
				return err
			}
			to = from
			if hasStep {
				to = hi
			}
		}
		span := to - from
		if span < 0 {
			span += hi - lo + 1
		}
		for i := 0; i <= span; i += step {
			v := from + i
			if v > hi {
				v -= hi - lo + 1
			}
			set[v] = true
		}
	}
	return nil
}

func value(s string, lo, hi int, names map[string]int) (int, error) {
	if v, ok := names[strings.ToUpper(s)]; ok {
		return v, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < lo || v > hi {
		return 0, fmt.Errorf("%q: want a value from %d to %d", s, lo, hi)
	}
	return v, nil
}

// Next returns the first time after t, to the minute, that the expression
// selects, read on t's location's wall clock, and false when there is none
// before the end of 2199. A wall-clock time that a daylight-saving change
// skips is skipped; one that it repeats is selected once.
func (c *Cron) Next(t time.Time) (time.Time, bool) {
	loc := t.Location()
	start := t.Truncate(time.Minute).Add(time.Minute)
	// Walk the calendar days in loc; within the first day, begin at start's
	// wall-clock time.
	y, m, d := start.Date()
	hour, minute := start.Hour(), start.Minute()
	for day := time.Date(y, m, d, 12, 0, 0, 0, time.UTC); day.Year() <= cronLastYear; day = day.AddDate(0, 0, 1) {
		if c.matchesDay(day) {
			for h := hour; h < 24; h++ {
				if !c.hours[h] {
					continue
				}
				from := 0
				if h == hour {
					from = minute
				}
				for mi := from; mi < 60; mi++ {
					if !c.minutes[mi] {
						continue
					}
					at := time.Date(day.Year(), day.Month(), day.Day(), h, mi, 0, 0, loc)
					if at.Hour() != h || at.Minute() != mi || at.Day() != day.Day() {
						continue // skipped by a daylight-saving change
					}
					if at.After(t) {
						return at, true
					}
				}
			}
		}
		hour, minute = 0, 0
	}
	return time.Time{}, false
}

// matchesDay reports whether the calendar day (a UTC date standing for a
// wall-clock date) is selected by the year, month and day fields.
func (c *Cron) matchesDay(day time.Time) bool {
	y := day.Year()
	if y < cronFirstYear || !c.years[y-cronFirstYear] || !c.months[day.Month()] {
		return false
	}
	last := daysIn(day.Year(), day.Month())
	dom := day.Day()
	if !c.byWeekday {
		if c.days[dom] || (c.lastDay && dom == last) {
			return true
		}
		if c.lastWeekday && dom == nearestWeekday(day, last, last) {
			return true
		}
		for _, n := range c.nearest {
			if n <= last && dom == nearestWeekday(day, n, last) {
				return true
			}
		}
		return false
	}
	wd := int(day.Weekday()) + 1 // 1 = Sunday
	if c.weekdays[wd] {
		return true
	}
	for _, d := range c.lastOfWeek {
		if d == wd && dom+7 > last {
			return true
		}
	}
	for _, dn := range c.nthOfWeek {
		if dn[0] == wd && (dom-1)/7+1 == dn[1] {
			return true
		}
	}
	return false
}

// nearestWeekday returns the weekday (Monday to Friday) nearest day n of
// day's month, staying within the month, as Quartz's W does.
func nearestWeekday(day time.Time, n, last int) int {
	at := time.Date(day.Year(), day.Month(), n, 12, 0, 0, 0, time.UTC)
	switch at.Weekday() {
	case time.Saturday:
		if n == 1 {
			return 3 // Monday the 3rd
		}
		return n - 1
	case time.Sunday:
		if n == last {
			return n - 2
		}
		return n + 1
	}
	return n
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 12, 0, 0, 0, time.UTC).Day()
}
