package config

import (
	"fmt"
	"math"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/stackflow/stackflow/internal/freeze"
	"github.com/stackflow/stackflow/internal/pipeline"
)

// An environment's promotion and freeze windows:
//
//	promotion: manual          # pushes stop before it: stackflow promote deploys it
//	freeze_action: wait        # or stop
//	freeze:
//	  - name: holidays
//	    start: 2026-12-24 00:00
//	    end: 2027-01-02 09:00
//	    timezone: Europe/Berlin
//	  - name: weekend
//	    cron: 0 17 * * FRI     # each opening: minute hour day-of-month month day-of-week
//	    duration: 62h
//	    timezone: America/New_York
//
// Both are who-may-deploy-where settings: the pipeline takes them from the
// default branch's stackflow.yml (see Trusted).

var freezeKeys = []string{"name", "start", "end", "cron", "duration", "timezone"}

// MaxFreezeDuration is the longest a recurring freeze window may last: a
// year, as long as a Standard workflow's execution may wait.
const MaxFreezeDuration = 365 * 24 * time.Hour

// decodePromotion reads the environment's promotion, freeze and
// freeze_action into env.
func decodePromotion(fields map[string]*yaml.Node, p string, env *Environment) error {
	if n, ok := fields["promotion"]; ok {
		v, err := text(n, p+".promotion")
		if err != nil {
			return err
		}
		switch v {
		case "manual":
			env.ManualPromotion = true
		case "auto":
		default:
			return errAt(resolve(n), fmt.Sprintf("%s.promotion: %q is not a promotion setting", p, v),
				"write promotion: manual to deploy this environment only with stackflow promote, or promotion: auto")
		}
	}
	if n, ok := fields["freeze_action"]; ok {
		v, err := text(n, p+".freeze_action")
		if err != nil {
			return err
		}
		if v != pipeline.FreezeWait && v != pipeline.FreezeStop {
			return errAt(resolve(n), fmt.Sprintf("%s.freeze_action: %q is not a freeze action", p, v),
				"write freeze_action: wait to have runs wait for the window's end, or freeze_action: stop to stop them")
		}
		env.FreezeAction = v
	}
	n, ok := fields["freeze"]
	if !ok || isNull(resolve(n)) {
		return nil
	}
	items, err := list(n, p+".freeze", "- {start: 2026-12-24 00:00, end: 2027-01-02 00:00, timezone: Europe/Berlin}")
	if err != nil {
		return err
	}
	for i, item := range items {
		w, err := decodeWindow(item, index(p+".freeze", i))
		if err != nil {
			return err
		}
		env.Freeze = append(env.Freeze, w)
	}
	return nil
}

// decodeWindow reads one freeze window: start and end, or cron and
// duration, with an optional timezone and name.
func decodeWindow(item *yaml.Node, p string) (pipeline.FreezeWindow, error) {
	fields, err := object(item, p, freezeKeys)
	if err != nil {
		return pipeline.FreezeWindow{}, err
	}
	var w pipeline.FreezeWindow
	if n, ok := fields["name"]; ok {
		if w.Name, err = nonEmpty(n, p+".name"); err != nil {
			return w, err
		}
	}
	loc := time.UTC
	if n, ok := fields["timezone"]; ok {
		if w.TimeZone, err = nonEmpty(n, p+".timezone"); err != nil {
			return w, err
		}
		if loc, err = freeze.Location(w.TimeZone); err != nil {
			return w, errAt(resolve(n), fmt.Sprintf("%s.timezone: %v", p, err),
				"write an IANA time zone name such as Europe/Berlin, America/New_York or UTC")
		}
	}
	_, hasStart := fields["start"]
	_, hasEnd := fields["end"]
	_, hasCron := fields["cron"]
	_, hasDuration := fields["duration"]
	switch {
	case hasCron && (hasStart || hasEnd):
		return w, errAt(resolve(item), p+": has both cron and start/end",
			"give a window either as start and end, or as a cron start and a duration")
	case hasCron:
		return decodeRecurring(fields, item, p, w)
	case !hasStart || !hasEnd:
		return w, errAt(resolve(item), p+": want start and end, or cron and duration",
			"give a window either as start and end (start: 2026-12-24 00:00, end: 2027-01-02 00:00), or as a cron start and a duration (cron: 0 17 * * FRI, duration: 62h)")
	case hasDuration:
		return w, errAt(resolve(fields["duration"]), p+".duration: goes with cron, not with start and end",
			"remove duration, or give the window as cron and duration")
	}
	var times [2]time.Time
	for i, k := range []string{"start", "end"} {
		n := fields[k]
		v, err := nonEmpty(n, p+"."+k)
		if err != nil {
			return w, err
		}
		if times[i], err = freeze.ParseTime(v, loc); err != nil {
			return w, errAt(resolve(n), fmt.Sprintf("%s.%s: %v", p, k, err),
				"write the date and time in the window's timezone, such as 2026-12-24 00:00 (quote it if it has a colon and a space)")
		}
	}
	if !times[1].After(times[0]) {
		return w, errAt(resolve(fields["end"]), fmt.Sprintf("%s.end: %s is not after the start, %s", p,
			times[1].Format(time.RFC3339), times[0].Format(time.RFC3339)), "give an end after the start")
	}
	w.Start, w.End = times[0].Format(time.RFC3339), times[1].Format(time.RFC3339)
	return w, nil
}

// decodeRecurring reads a window's cron and duration into w.
func decodeRecurring(fields map[string]*yaml.Node, item *yaml.Node, p string, w pipeline.FreezeWindow) (pipeline.FreezeWindow, error) {
	n := fields["cron"]
	v, err := nonEmpty(n, p+".cron")
	if err != nil {
		return w, err
	}
	if _, err := freeze.ParseCron(v); err != nil {
		return w, errAt(resolve(n), fmt.Sprintf("%s.cron: %v", p, err),
			"write when each window opens as crontab does, such as 0 17 * * FRI (Fridays at 17:00), in the window's timezone")
	}
	w.Cron = v
	d, ok := fields["duration"]
	if !ok {
		return w, errAt(resolve(item), p+": a cron window needs a duration",
			"say how long each window lasts, such as duration: 62h")
	}
	dur, err := duration(d, p+".duration", time.Minute, MaxFreezeDuration, "62h")
	if err != nil {
		return w, err
	}
	w.DurationSeconds = int(math.Ceil(dur.Seconds()))
	return w, nil
}

// freezeText writes windows for people, as the plan's ignored settings
// list them: "none", or "[holidays: 2026-12-24T00:00:00+01:00 to
// 2027-01-02T09:00:00+01:00, 0 17 * * FRI for 62h in UTC]".
func freezeText(windows []pipeline.FreezeWindow) string {
	var names []string
	for _, w := range windows {
		s := w.Start + " to " + w.End
		if w.Cron != "" {
			s = fmt.Sprintf("%s for %s in %s", w.Cron, short(time.Duration(w.DurationSeconds)*time.Second), or(w.TimeZone, freeze.DefaultTimeZone))
		}
		if w.Name != "" {
			s = w.Name + ": " + s
		}
		names = append(names, s)
	}
	return listed(names)
}
