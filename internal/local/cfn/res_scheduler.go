package cfn

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"

	"github.com/stackflow/stackflow/internal/local/events"
)

// AWS::Scheduler::Schedule and AWS::Scheduler::ScheduleGroup, in kumo's
// EventBridge Scheduler. A schedule is fired by the event sources (package
// internal/local/events) on their clock, in its time zone, between its
// start and end dates; FireSchedule fires one now.
func init() {
	register(map[string]*kind{
		"AWS::Scheduler::Schedule": {
			attrs:   []string{"Arn"},
			replace: []string{"Name", "GroupName"},
			create:  createSchedule,
			update:  updateSchedule,
			remove:  removeSchedule,
			ignored: map[string]string{
				"FlexibleTimeWindow.MaximumWindowInMinutes": "a flexible window fires at its start locally",
				"Target.RetryPolicy":                        "not applied locally: a failed asynchronous invocation is retried twice, as Lambda retries it",
				"Target.DeadLetterConfig":                   "not applied locally",
				"KmsKeyArn":                                 "not applied locally",
			},
		},
		"AWS::Scheduler::ScheduleGroup": {
			attrs:   []string{"Arn", "CreationDate", "LastModificationDate", "State"},
			replace: []string{"Name"},
			create:  createScheduleGroup,
			update: func(_ context.Context, _ *op, prev, next *resource) error {
				next.Attrs = maps.Clone(prev.Attrs)
				return nil
			},
			remove: removeScheduleGroup,
		},
	})
}

// scheduleOf reads a schedule's properties; a function target is invoked
// through invokeARN.
func scheduleOf(o *op, name string, p map[string]any) (events.Schedule, error) {
	sc := events.Schedule{
		Name:                       name,
		GroupName:                  toStringOr(p["GroupName"], ""),
		Description:                toStringOr(p["Description"], ""),
		ScheduleExpression:         toStringOr(p["ScheduleExpression"], ""),
		ScheduleExpressionTimezone: toStringOr(p["ScheduleExpressionTimezone"], ""),
		State:                      toStringOr(p["State"], ""),
		FlexibleTimeWindow: events.FlexibleTimeWindow{
			Mode: toStringOr(prop(p, "FlexibleTimeWindow.Mode"), "OFF"),
		},
		Target: events.ScheduleTarget{
			Arn:     o.e.invokeARN(toStringOr(prop(p, "Target.Arn"), "")),
			RoleArn: toStringOr(prop(p, "Target.RoleArn"), ""),
			Input:   toStringOr(prop(p, "Target.Input"), ""),
		},
	}
	if sc.ScheduleExpression == "" || sc.Target.Arn == "" {
		return sc, reasonf("ScheduleExpression and Target.Arn are required")
	}
	if n, ok := toInt(prop(p, "FlexibleTimeWindow.MaximumWindowInMinutes")); ok {
		sc.FlexibleTimeWindow.MaximumWindowInMinutes = int(n)
	}
	for _, d := range []struct {
		name string
		to   **time.Time
	}{{"StartDate", &sc.StartDate}, {"EndDate", &sc.EndDate}} {
		s := toStringOr(p[d.name], "")
		if s == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return sc, reasonf("%s %q is not a date and time such as 2030-01-01T00:00:00Z", d.name, s)
		}
		*d.to = &t
	}
	return sc, nil
}

func createSchedule(ctx context.Context, o *op, r *resource) error {
	name := toStringOr(r.Props["Name"], "")
	group := toStringOr(r.Props["GroupName"], "default")
	if name == "" {
		name = r.physicalName(o.stackName, 64, false)
	} else if _, err := o.e.ev.scheduler.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String(name), GroupName: aws.String(group)}); err == nil {
		return alreadyExists("AWS::Scheduler::Schedule", name)
	}
	sc, err := scheduleOf(o, name, r.Props)
	if err != nil {
		return err
	}
	arn, err := o.e.ev.svc.PutSchedule(ctx, sc)
	if err != nil {
		return reason(err.Error())
	}
	r.Physical = name
	r.Attrs = map[string]any{"Arn": arn}
	return nil
}

func updateSchedule(ctx context.Context, o *op, prev, next *resource) error {
	sc, err := scheduleOf(o, prev.Physical, next.Props)
	if err != nil {
		return err
	}
	if _, err := o.e.ev.svc.PutSchedule(ctx, sc); err != nil {
		return reason(err.Error())
	}
	next.Attrs = maps.Clone(prev.Attrs)
	return nil
}

func removeSchedule(ctx context.Context, o *op, r *resource) error {
	return o.e.ev.svc.DeleteSchedule(ctx, toStringOr(r.Props["GroupName"], "default"), r.Physical)
}

// ---- AWS::Scheduler::ScheduleGroup ----

func createScheduleGroup(ctx context.Context, o *op, r *resource) error {
	name := toStringOr(r.Props["Name"], "")
	if name == "" {
		name = r.physicalName(o.stackName, 64, false)
	}
	out, err := o.e.ev.scheduler.CreateScheduleGroup(ctx, &scheduler.CreateScheduleGroupInput{Name: aws.String(name)})
	if err != nil {
		return fmt.Errorf("%s", awsMessage("Scheduler", err))
	}
	now := time.Now().UTC().Format(time.RFC3339)
	r.Physical = name
	r.Attrs = map[string]any{"Arn": aws.ToString(out.ScheduleGroupArn), "CreationDate": now, "LastModificationDate": now, "State": "ACTIVE"}
	return nil
}

func removeScheduleGroup(ctx context.Context, o *op, r *resource) error {
	_, err := o.e.ev.scheduler.DeleteScheduleGroup(ctx, &scheduler.DeleteScheduleGroupInput{Name: aws.String(r.Physical)})
	if err != nil && !isCode(err, "ResourceNotFoundException") {
		return fmt.Errorf("%s", awsMessage("Scheduler", err))
	}
	return nil
}
