package events

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedtypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
)

// Schedule is an EventBridge Scheduler schedule (AWS::Scheduler::Schedule).
type Schedule struct {
	// Name is the schedule's name; GroupName its group (empty means
	// default).
	Name, GroupName string
	// Description is recorded.
	Description string
	// ScheduleExpression is rate(...), cron(...) or at(...); a cron and an
	// at are read on ScheduleExpressionTimezone's wall clock (an IANA name;
	// empty means UTC).
	ScheduleExpression, ScheduleExpressionTimezone string
	// StartDate and EndDate bound a recurring schedule; nil means none.
	StartDate, EndDate *time.Time
	// State is ENABLED (the default) or DISABLED.
	State string
	// FlexibleTimeWindow is recorded; locally a schedule fires at the start
	// of its window, never later.
	FlexibleTimeWindow FlexibleTimeWindow
	// Target is what the schedule invokes.
	Target ScheduleTarget
}

// FlexibleTimeWindow is a schedule's window: Mode OFF or FLEXIBLE, with
// MaximumWindowInMinutes for FLEXIBLE.
type FlexibleTimeWindow struct {
	Mode                   string
	MaximumWindowInMinutes int
}

// ScheduleTarget is a schedule's templated target.
type ScheduleTarget struct {
	// Arn is the function's, queue's or topic's ARN.
	Arn string
	// RoleArn is recorded; empty means a role named after the schedule.
	RoleArn string
	// Input is the payload, with the context attributes
	// <aws.scheduler.schedule-arn>, <aws.scheduler.scheduled-time>,
	// <aws.scheduler.execution-id> and <aws.scheduler.attempt-number>
	// replaced; empty means {}.
	Input string
}

func (sc Schedule) group() string {
	if sc.GroupName == "" {
		return "default"
	}
	return sc.GroupName
}

type scheduleState struct {
	sched Schedule
	arn   string
	expr  Expression
	loc   *time.Location

	next time.Time // the next firing; zero when none is due
}

// PutSchedule records the schedule in kumo's EventBridge Scheduler
// (CreateSchedule, or UpdateSchedule when it exists) and, while it is
// ENABLED, fires it on the service's clock: a rate from its StartDate (or
// at once), a cron at each time it selects, an at once. It returns the
// schedule's ARN.
func (s *Service) PutSchedule(ctx context.Context, sc Schedule) (string, error) {
	if sc.Name == "" {
		return "", errors.New("put schedule: no name")
	}
	if sc.Target.Arn == "" {
		return "", fmt.Errorf("put schedule %s: no Target.Arn", sc.Name)
	}
	loc := time.UTC
	if sc.ScheduleExpressionTimezone != "" {
		var err error
		if loc, err = time.LoadLocation(sc.ScheduleExpressionTimezone); err != nil {
			return "", fmt.Errorf("put schedule %s: ScheduleExpressionTimezone %q is not an IANA time zone such as Europe/Paris", sc.Name, sc.ScheduleExpressionTimezone)
		}
	}
	expr, err := ParseSchedule(sc.ScheduleExpression, loc)
	if err != nil {
		return "", fmt.Errorf("put schedule %s: %w", sc.Name, err)
	}
	state := schedtypes.ScheduleStateEnabled
	if sc.State != "" && sc.State != "ENABLED" {
		if sc.State != "DISABLED" {
			return "", fmt.Errorf("put schedule %s: State %q is not ENABLED or DISABLED", sc.Name, sc.State)
		}
		state = schedtypes.ScheduleStateDisabled
	}
	mode := schedtypes.FlexibleTimeWindowModeOff
	window := &schedtypes.FlexibleTimeWindow{Mode: mode}
	if sc.FlexibleTimeWindow.Mode == "FLEXIBLE" {
		window = &schedtypes.FlexibleTimeWindow{Mode: schedtypes.FlexibleTimeWindowModeFlexible, MaximumWindowInMinutes: aws.Int32(int32(sc.FlexibleTimeWindow.MaximumWindowInMinutes))}
	}
	role := sc.Target.RoleArn
	if role == "" {
		role = "arn:aws:iam::" + s.account + ":role/" + sc.Name
	}
	target := &schedtypes.Target{Arn: aws.String(sc.Target.Arn), RoleArn: aws.String(role)}
	if sc.Target.Input != "" {
		target.Input = aws.String(sc.Target.Input)
	}
	var arn string
	exists := true
	if _, err := s.scheduler.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String(sc.Name), GroupName: aws.String(sc.group())}); err != nil {
		var nf *schedtypes.ResourceNotFoundException
		if !errors.As(err, &nf) {
			return "", fmt.Errorf("put schedule %s: %w", sc.Name, err)
		}
		exists = false
	}
	if exists {
		out, err := s.scheduler.UpdateSchedule(ctx, &scheduler.UpdateScheduleInput{
			Name: aws.String(sc.Name), GroupName: aws.String(sc.group()), Description: optional(sc.Description),
			ScheduleExpression: aws.String(sc.ScheduleExpression), ScheduleExpressionTimezone: optional(sc.ScheduleExpressionTimezone),
			StartDate: sc.StartDate, EndDate: sc.EndDate, State: state, FlexibleTimeWindow: window, Target: target,
		})
		if err != nil {
			return "", fmt.Errorf("put schedule %s: %w", sc.Name, err)
		}
		arn = aws.ToString(out.ScheduleArn)
	} else {
		out, err := s.scheduler.CreateSchedule(ctx, &scheduler.CreateScheduleInput{
			Name: aws.String(sc.Name), GroupName: aws.String(sc.group()), Description: optional(sc.Description),
			ScheduleExpression: aws.String(sc.ScheduleExpression), ScheduleExpressionTimezone: optional(sc.ScheduleExpressionTimezone),
			StartDate: sc.StartDate, EndDate: sc.EndDate, State: state, FlexibleTimeWindow: window, Target: target,
		})
		if err != nil {
			return "", fmt.Errorf("put schedule %s: %w", sc.Name, err)
		}
		arn = aws.ToString(out.ScheduleArn)
	}
	st := &scheduleState{sched: sc, arn: arn, expr: expr, loc: loc}
	key := "schedule:" + sc.group() + "/" + sc.Name
	s.stop(key)
	s.mu.Lock()
	s.schedules[sc.group()+"/"+sc.Name] = st
	s.mu.Unlock()
	if state == schedtypes.ScheduleStateEnabled {
		st.setNext(s, s.first(st))
		if err := s.start(key, func(ctx context.Context) { s.runSchedule(ctx, st) }); err != nil {
			return "", err
		}
	}
	s.log.Info("schedule put", "schedule", arn, "expression", sc.ScheduleExpression, "state", string(state))
	return arn, nil
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// first is a schedule's first firing from now, or zero.
func (s *Service) first(st *scheduleState) time.Time {
	now := s.clock.Now()
	from := now
	if st.sched.StartDate != nil && st.sched.StartDate.After(now) {
		from = *st.sched.StartDate
	}
	var next time.Time
	var ok bool
	switch {
	case st.expr.Every > 0:
		next, ok = from, true // a rate starts at its StartDate, or at once
	case st.expr.Cron != nil:
		next, ok = st.expr.Next(from.Add(-time.Nanosecond), st.loc)
	default:
		next, ok = st.expr.Next(now, st.loc)
	}
	if !ok || (st.expr.At.IsZero() && st.sched.EndDate != nil && next.After(*st.sched.EndDate)) {
		return time.Time{}
	}
	return next
}

func (st *scheduleState) setNext(s *Service, t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st.next = t
}

// NextFire returns when the schedule (group/name, or name in the default
// group) fires next, and false when it will not.
func (s *Service) NextFire(name string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.schedules[scheduleKey(name)]
	if st == nil || st.next.IsZero() {
		return time.Time{}, false
	}
	return st.next, true
}

func scheduleKey(name string) string {
	if strings.Contains(name, "/") {
		return name
	}
	return "default/" + name
}

func (s *Service) runSchedule(ctx context.Context, st *scheduleState) {
	s.mu.Lock()
	next := st.next
	s.mu.Unlock()
	for !next.IsZero() {
		ch, stop := s.clock.At(next)
		select {
		case <-ctx.Done():
			stop()
			return
		case <-ch:
		}
		s.fireSchedule(ctx, st, next, false)
		n, ok := st.expr.Next(next, st.loc)
		if !ok || (st.expr.At.IsZero() && st.sched.EndDate != nil && n.After(*st.sched.EndDate)) {
			n = time.Time{}
		}
		st.setNext(s, n)
		next = n
	}
	s.log.Info("schedule completed", "schedule", st.arn)
}

// Fire fires a schedule (group/name, or name in the default group) now,
// as its schedule would, whatever its State: it invokes the target
// synchronously and returns its error (a *FunctionError when the function
// failed), so a nightly job can be rehearsed without waiting a night.
func (s *Service) Fire(ctx context.Context, name string) error {
	s.mu.Lock()
	st := s.schedules[scheduleKey(name)]
	s.mu.Unlock()
	if st == nil {
		return fmt.Errorf("fire schedule %s: no such schedule: give its name as in the template (or group/name outside the default group)", name)
	}
	return s.fireSchedule(ctx, st, s.clock.Now(), true)
}

func (s *Service) fireSchedule(ctx context.Context, st *scheduleState, at time.Time, now bool) error {
	input := st.sched.Target.Input
	if input == "" {
		input = "{}"
	}
	input = strings.NewReplacer(
		"<aws.scheduler.schedule-arn>", st.arn,
		"<aws.scheduler.scheduled-time>", at.UTC().Format(time.RFC3339),
		"<aws.scheduler.execution-id>", strings.ReplaceAll(newID(), "-", "")[:16],
		"<aws.scheduler.attempt-number>", strconv.Itoa(1),
	).Replace(input)
	s.log.Info("schedule fired", "schedule", st.arn, "scheduledTime", at.UTC().Format(time.RFC3339), "onRequest", now)
	from := Delivery{Service: "scheduler.amazonaws.com", SourceARN: st.arn, Role: st.sched.Target.RoleArn}
	if from.Role == "" {
		from.Role = "arn:aws:iam::" + s.account + ":role/" + st.sched.Name
	}
	if now && strings.HasPrefix(st.sched.Target.Arn, "arn:aws:lambda:") {
		from.Action, from.Target = "lambda:InvokeFunction", st.sched.Target.Arn
		if s.authorize != nil {
			if err := s.authorize(from); err != nil {
				s.log.Warn("delivery dropped: not authorized", "schedule", st.arn, "target", from.Target, "action", from.Action, "denial", err.Error())
				return fmt.Errorf("fire schedule %s: %w", st.sched.Name, err)
			}
		}
		_, err := s.invoke(ctx, st.sched.Target.Arn, []byte(input))
		if err != nil {
			s.log.Error("delivery failed", "schedule", st.arn, "function", functionName(st.sched.Target.Arn), "error", err.Error())
			return fmt.Errorf("fire schedule %s: %w", st.sched.Name, err)
		}
		s.log.Info("delivered", "schedule", st.arn, "function", functionName(st.sched.Target.Arn))
		return nil
	}
	s.deliver(ctx, from, st.sched.Target.Arn, []byte(input), "schedule", st.arn)
	return nil
}

// DeleteSchedule stops the schedule and deletes it from kumo.
func (s *Service) DeleteSchedule(ctx context.Context, group, name string) error {
	if group == "" {
		group = "default"
	}
	s.stop("schedule:" + group + "/" + name)
	s.mu.Lock()
	delete(s.schedules, group+"/"+name)
	s.mu.Unlock()
	if _, err := s.scheduler.DeleteSchedule(ctx, &scheduler.DeleteScheduleInput{Name: aws.String(name), GroupName: aws.String(group)}); err != nil {
		var nf *schedtypes.ResourceNotFoundException
		if !errors.As(err, &nf) {
			return fmt.Errorf("delete schedule %s: %w", name, err)
		}
	}
	s.log.Info("schedule deleted", "schedule", group+"/"+name)
	return nil
}
