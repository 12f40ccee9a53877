package cfn

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/stackflow/stackflow/internal/local/events"
)

// AWS::Events::Rule and AWS::Events::EventBus, in kumo's EventBridge. A
// rule is run by the event sources (package internal/local/events): kumo
// matches the events put on its bus against its EventPattern, the event
// sources deliver the matches to its targets, and fire a
// ScheduleExpression on their clock (FireSchedule fires one now).
func init() {
	register(map[string]*kind{
		"AWS::Events::Rule": {
			attrs:   []string{"Arn"},
			replace: []string{"Name", "EventBusName"},
			create:  createRule,
			update:  updateRule,
			remove:  removeRule,
		},
		"AWS::Events::EventBus": {
			attrs:   []string{"Arn", "Name", "Policy"},
			replace: []string{"Name", "EventSourceName"},
			create:  createEventBus,
			update: func(_ context.Context, _ *op, prev, next *resource) error {
				next.Attrs = maps.Clone(prev.Attrs)
				return nil
			},
			remove: removeEventBus,
		},
	})
}

// ruleBusAndName splits a rule's physical ID: its name on the default bus,
// <bus>|<name> on another (CloudFormation's Ref of a rule).
func ruleBusAndName(physical string) (bus, name string) {
	if b, n, ok := strings.Cut(physical, "|"); ok {
		return b, n
	}
	return "default", physical
}

// busName is the name of the bus an EventBusName property gives (a name
// or an ARN).
func busName(v any) string {
	s := toStringOr(v, "")
	if i := strings.Index(s, ":event-bus/"); i >= 0 {
		s = s[i+len(":event-bus/"):]
	}
	if s == "" {
		return "default"
	}
	return s
}

// ruleOf reads a rule's properties; its targets' functions are invoked
// through invokeARN.
func ruleOf(o *op, name string, p map[string]any) (events.Rule, error) {
	pattern, err := jsonProp("EventPattern", p["EventPattern"])
	if err != nil {
		return events.Rule{}, err
	}
	state := toStringOr(p["State"], "ENABLED")
	if strings.HasPrefix(state, "ENABLED") {
		state = "ENABLED" // ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS: no CloudTrail locally
	}
	r := events.Rule{
		Name:               name,
		EventBusName:       busName(p["EventBusName"]),
		Description:        toStringOr(p["Description"], ""),
		EventPattern:       pattern,
		ScheduleExpression: toStringOr(p["ScheduleExpression"], ""),
		State:              state,
	}
	for _, t := range list(p["Targets"]) {
		m, _ := t.(map[string]any)
		target := events.Target{
			Id:        toStringOr(m["Id"], ""),
			Arn:       o.e.invokeARN(toStringOr(m["Arn"], "")),
			Input:     toStringOr(m["Input"], ""),
			InputPath: toStringOr(m["InputPath"], ""),
		}
		if target.Id == "" || target.Arn == "" {
			return r, reasonf("Targets: each target needs an Id and an Arn")
		}
		if tr, ok := m["InputTransformer"].(map[string]any); ok {
			paths, err := stringMap(tr["InputPathsMap"])
			if err != nil {
				return r, reasonf("Targets: InputTransformer.InputPathsMap: %v", err)
			}
			target.InputTransformer = &events.InputTransformer{InputPathsMap: paths, InputTemplate: toStringOr(tr["InputTemplate"], "")}
		}
		r.Targets = append(r.Targets, target)
	}
	return r, nil
}

func createRule(ctx context.Context, o *op, r *resource) error {
	name := toStringOr(r.Props["Name"], "")
	bus := busName(r.Props["EventBusName"])
	if name == "" {
		name = r.physicalName(o.stackName, 64, false)
	} else if _, err := o.e.ev.bridge.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String(name), EventBusName: aws.String(bus)}); err == nil {
		return alreadyExists("AWS::Events::Rule", name)
	}
	rule, err := ruleOf(o, name, r.Props)
	if err != nil {
		return err
	}
	arn, err := o.e.ev.svc.PutRule(ctx, rule)
	if err != nil {
		return reason(err.Error())
	}
	r.Physical = name
	if bus != "default" {
		r.Physical = bus + "|" + name
	}
	r.Attrs = map[string]any{"Arn": arn}
	return nil
}

func updateRule(ctx context.Context, o *op, prev, next *resource) error {
	_, name := ruleBusAndName(prev.Physical)
	rule, err := ruleOf(o, name, next.Props)
	if err != nil {
		return err
	}
	if _, err := o.e.ev.svc.PutRule(ctx, rule); err != nil {
		return reason(err.Error())
	}
	next.Attrs = maps.Clone(prev.Attrs)
	return nil
}

func removeRule(ctx context.Context, o *op, r *resource) error {
	bus, name := ruleBusAndName(r.Physical)
	return o.e.ev.svc.DeleteRule(ctx, bus, name)
}

// ---- AWS::Events::EventBus ----

func createEventBus(ctx context.Context, o *op, r *resource) error {
	name := toStringOr(r.Props["Name"], "")
	if name == "" {
		return reasonf("Name is required")
	}
	in := &eventbridge.CreateEventBusInput{Name: aws.String(name)}
	if d := toStringOr(r.Props["Description"], ""); d != "" {
		in.Description = aws.String(d)
	}
	out, err := o.e.ev.bridge.CreateEventBus(ctx, in)
	if err != nil {
		return fmt.Errorf("%s", awsMessage("EventBridge", err))
	}
	policy, _ := jsonProp("Policy", r.Props["Policy"])
	r.Physical = name
	r.Attrs = map[string]any{"Arn": aws.ToString(out.EventBusArn), "Name": name, "Policy": policy}
	return nil
}

func removeEventBus(ctx context.Context, o *op, r *resource) error {
	_, err := o.e.ev.bridge.DeleteEventBus(ctx, &eventbridge.DeleteEventBusInput{Name: aws.String(r.Physical)})
	if err != nil && !isCode(err, "ResourceNotFoundException") {
		return fmt.Errorf("%s", awsMessage("EventBridge", err))
	}
	return nil
}
