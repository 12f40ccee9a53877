package events

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// Rule is an EventBridge rule (AWS::Events::Rule): an event pattern on a
// bus, or a schedule, and its targets.
type Rule struct {
	// Name is the rule's name; EventBusName its bus (empty means default).
	Name, EventBusName string
	// Description is recorded.
	Description string
	// EventPattern is the pattern (JSON) events on the bus are matched
	// against; kumo matches them.
	EventPattern string
	// ScheduleExpression is rate(...) or cron(...), in UTC; the service
	// fires it on its clock.
	ScheduleExpression string
	// State is ENABLED (the default) or DISABLED.
	State string
	// Targets receive what the rule matches.
	Targets []Target
}

// Target is a rule's target.
type Target struct {
	// Id names the target within the rule; Arn is what it delivers to.
	Id, Arn string
	// Input replaces the event with constant JSON; InputPath picks part of
	// it; InputTransformer rewrites it. At most one is set.
	Input, InputPath string
	InputTransformer *InputTransformer
}

func (r Rule) bus() string {
	if r.EventBusName == "" {
		return "default"
	}
	return r.EventBusName
}

func (r Rule) enabled() bool { return r.State == "" || r.State == "ENABLED" }

type ruleState struct {
	rule Rule
	arn  string
}

// PutRule records the rule and its targets in kumo's EventBridge (PutRule,
// PutTargets, RemoveTargets for targets it no longer has) and runs it: a
// scheduled rule fires on the service's clock with the "Scheduled Event"
// EventBridge sends; a pattern rule's matches, which kumo finds but
// cannot deliver in process, are read from kumo and delivered to its
// targets. It returns the rule's ARN.
func (s *Service) PutRule(ctx context.Context, r Rule) (string, error) {
	if r.Name == "" {
		return "", errors.New("put rule: no name")
	}
	if (r.EventPattern == "") == (r.ScheduleExpression == "") {
		return "", fmt.Errorf("put rule %s: give an EventPattern or a ScheduleExpression (exactly one)", r.Name)
	}
	var expr Expression
	if r.ScheduleExpression != "" {
		var err error
		if expr, err = ParseRuleSchedule(r.ScheduleExpression); err != nil {
			return "", fmt.Errorf("put rule %s: %w", r.Name, err)
		}
	} else if !json.Valid([]byte(r.EventPattern)) {
		return "", fmt.Errorf("put rule %s: the EventPattern is not JSON", r.Name)
	}
	for _, t := range r.Targets {
		n := 0
		for _, set := range []bool{t.Input != "", t.InputPath != "", t.InputTransformer != nil} {
			if set {
				n++
			}
		}
		if n > 1 {
			return "", fmt.Errorf("put rule %s: target %s has more than one of Input, InputPath and InputTransformer: keep one", r.Name, t.Id)
		}
	}
	if r.EventPattern != "" {
		if err := s.watchDeliveries(ctx); err != nil {
			return "", fmt.Errorf("put rule %s: %w", r.Name, err)
		}
	}
	state := ebtypes.RuleStateEnabled
	if !r.enabled() {
		state = ebtypes.RuleStateDisabled
	}
	in := &eventbridge.PutRuleInput{Name: aws.String(r.Name), EventBusName: aws.String(r.bus()), State: state}
	if r.Description != "" {
		in.Description = aws.String(r.Description)
	}
	if r.EventPattern != "" {
		in.EventPattern = aws.String(r.EventPattern)
	} else {
		in.ScheduleExpression = aws.String(r.ScheduleExpression)
	}
	out, err := s.events.PutRule(ctx, in)
	if err != nil {
		return "", fmt.Errorf("put rule %s: %w", r.Name, err)
	}
	arn := ruleARN(aws.ToString(out.RuleArn), r, s.region, s.account)
	if err := s.putTargets(ctx, r); err != nil {
		return "", err
	}
	key := "rule:" + r.bus() + "/" + r.Name
	s.mu.Lock()
	s.rules[r.bus()+"/"+r.Name] = &ruleState{rule: r, arn: arn}
	s.mu.Unlock()
	if r.ScheduleExpression == "" || !r.enabled() {
		s.stop(key)
	} else if err := s.startRule(key, r, arn, expr); err != nil {
		return "", err
	}
	s.log.Info("rule put", "rule", arn, "state", string(state), "targets", len(r.Targets))
	return arn, nil
}

func (s *Service) putTargets(ctx context.Context, r Rule) error {
	old, err := s.events.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String(r.Name), EventBusName: aws.String(r.bus())})
	if err != nil {
		return fmt.Errorf("put rule %s: list its targets: %w", r.Name, err)
	}
	keep := map[string]bool{}
	targets := make([]ebtypes.Target, 0, len(r.Targets))
	for _, t := range r.Targets {
		keep[t.Id] = true
		et := ebtypes.Target{Id: aws.String(t.Id), Arn: aws.String(t.Arn)}
		if t.Input != "" {
			et.Input = aws.String(t.Input)
		}
		if t.InputPath != "" {
			et.InputPath = aws.String(t.InputPath)
		}
		if t.InputTransformer != nil {
			et.InputTransformer = &ebtypes.InputTransformer{InputPathsMap: t.InputTransformer.InputPathsMap, InputTemplate: aws.String(t.InputTransformer.InputTemplate)}
		}
		targets = append(targets, et)
	}
	var gone []string
	for _, t := range old.Targets {
		if !keep[aws.ToString(t.Id)] {
			gone = append(gone, aws.ToString(t.Id))
		}
	}
	if len(gone) > 0 {
		if _, err := s.events.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: aws.String(r.Name), EventBusName: aws.String(r.bus()), Ids: gone}); err != nil {
			return fmt.Errorf("put rule %s: remove targets %v: %w", r.Name, gone, err)
		}
	}
	if len(targets) > 0 {
		out, err := s.events.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(r.Name), EventBusName: aws.String(r.bus()), Targets: targets})
		if err == nil && aws.ToInt32(&out.FailedEntryCount) > 0 {
			err = fmt.Errorf("%s", aws.ToString(out.FailedEntries[0].ErrorMessage))
		}
		if err != nil {
			return fmt.Errorf("put rule %s: put its targets: %w", r.Name, err)
		}
	}
	return nil
}

// DeleteRule stops the rule and deletes it and its targets from kumo.
func (s *Service) DeleteRule(ctx context.Context, bus, name string) error {
	if bus == "" {
		bus = "default"
	}
	s.stop("rule:" + bus + "/" + name)
	s.mu.Lock()
	st := s.rules[bus+"/"+name]
	delete(s.rules, bus+"/"+name)
	s.mu.Unlock()
	if st != nil && len(st.rule.Targets) > 0 {
		ids := make([]string, 0, len(st.rule.Targets))
		for _, t := range st.rule.Targets {
			ids = append(ids, t.Id)
		}
		if _, err := s.events.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: aws.String(name), EventBusName: aws.String(bus), Ids: ids}); err != nil {
			return fmt.Errorf("delete rule %s: remove its targets: %w", name, err)
		}
	}
	if _, err := s.events.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String(name), EventBusName: aws.String(bus)}); err != nil {
		var nf *ebtypes.ResourceNotFoundException
		if !errors.As(err, &nf) {
			return fmt.Errorf("delete rule %s: %w", name, err)
		}
	}
	s.log.Info("rule deleted", "rule", bus+"/"+name)
	return nil
}

// ruleARN is the rule's ARN as EventBridge writes it: rule/<name> on the
// default bus, rule/<bus>/<name> on another (kumo writes rule/default/<name>).
func ruleARN(recorded string, r Rule, region, account string) string {
	if r.bus() == "default" {
		return "arn:aws:events:" + region + ":" + account + ":rule/" + r.Name
	}
	return recorded
}

// startRule fires a scheduled rule: a rate from the time it was put, a
// cron on UTC's wall clock.
func (s *Service) startRule(key string, r Rule, arn string, expr Expression) error {
	next, ok := expr.Next(s.clock.Now(), time.UTC)
	return s.start(key, func(ctx context.Context) { s.runRule(ctx, r, arn, expr, next, ok) })
}

func (s *Service) runRule(ctx context.Context, r Rule, arn string, expr Expression, next time.Time, ok bool) {
	for ok {
		ch, stop := s.clock.At(next)
		select {
		case <-ctx.Done():
			stop()
			return
		case <-ch:
		}
		s.fireRule(ctx, r, arn, next)
		next, ok = expr.Next(next, time.UTC)
	}
}

// FireRule fires a scheduled rule now, as its schedule would.
func (s *Service) FireRule(ctx context.Context, bus, name string) error {
	if bus == "" {
		bus = "default"
	}
	s.mu.Lock()
	st := s.rules[bus+"/"+name]
	s.mu.Unlock()
	if st == nil || st.rule.ScheduleExpression == "" {
		return fmt.Errorf("fire rule %s: no scheduled rule of that name on bus %s", name, bus)
	}
	s.fireRule(ctx, st.rule, st.arn, s.clock.Now())
	return nil
}

func (s *Service) fireRule(ctx context.Context, r Rule, arn string, at time.Time) {
	event, _ := json.Marshal(map[string]any{
		"version":     "0",
		"id":          newID(),
		"detail-type": "Scheduled Event",
		"source":      "aws.events",
		"account":     s.account,
		"time":        at.UTC().Format(time.RFC3339),
		"region":      s.region,
		"resources":   []string{arn},
		"detail":      map[string]any{},
	})
	s.log.Info("rule fired", "rule", arn, "scheduledTime", at.UTC().Format(time.RFC3339))
	for _, t := range r.Targets {
		payload, err := targetInput(t, event, arn, r.Name)
		if err != nil {
			s.log.Error("make a target's input", "rule", arn, "target", t.Id, "error", err.Error())
			continue
		}
		s.deliver(ctx, t.Arn, payload, "rule", arn, "target", t.Id)
	}
}

// deliveredEvent is an entry of kumo's record of the events its rules
// matched (GET /kumo/eventbridge/delivered-events).
type deliveredEvent struct {
	EventID      string `json:"EventId"`
	Source       string
	DetailType   string
	Detail       string
	EventBusName string
	RuleName     string
	TargetID     string `json:"TargetId"`
	TargetArn    string
	Time         string
}

func (d deliveredEvent) key() string { return d.EventID + "\x00" + d.RuleName + "\x00" + d.TargetID }

// watchPoll is how often kumo's record of matched events is read.
const watchPoll = 100 * time.Millisecond

// watchDeliveries starts, once, the goroutine that reads kumo's record of
// matched events and delivers the new ones. What the record held before it
// started is not delivered.
func (s *Service) watchDeliveries(ctx context.Context) error {
	s.mu.Lock()
	watching := s.watching
	s.mu.Unlock()
	if watching {
		return nil
	}
	first, err := s.delivered(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.watching {
		return nil
	}
	if s.closed {
		return errors.New("the event sources are closed")
	}
	s.watching = true
	seen := map[string]bool{}
	for _, d := range first {
		seen[d.key()] = true
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for sleep(s.ctx, watchPoll) {
			list, err := s.delivered(s.ctx)
			if err != nil {
				if s.ctx.Err() == nil {
					s.log.Error("read kumo's matched events", "error", err.Error())
				}
				continue
			}
			now := make(map[string]bool, len(list))
			for _, d := range list {
				now[d.key()] = true
				if !seen[d.key()] {
					s.deliverMatched(d)
				}
			}
			seen = now
		}
	}()
	return nil
}

func (s *Service) delivered(ctx context.Context) ([]deliveredEvent, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *s.cfg.BaseEndpoint+"/kumo/eventbridge/delivered-events", nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read kumo's matched events: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("read kumo's matched events: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("read kumo's matched events: %s", resp.Status)
	}
	var list []deliveredEvent
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("read kumo's matched events: %w", err)
	}
	return list, nil
}

// deliverMatched delivers an event kumo matched to the rule's target, with
// the event EventBridge sends.
func (s *Service) deliverMatched(d deliveredEvent) {
	bus := d.EventBusName
	if bus == "" {
		bus = "default"
	}
	s.mu.Lock()
	st := s.rules[bus+"/"+d.RuleName]
	s.mu.Unlock()
	if st == nil {
		return // a rule the service does not run
	}
	var target *Target
	for i := range st.rule.Targets {
		if st.rule.Targets[i].Id == d.TargetID {
			target = &st.rule.Targets[i]
		}
	}
	if target == nil {
		return
	}
	detail := json.RawMessage(d.Detail)
	if len(detail) == 0 || !json.Valid(detail) {
		detail = json.RawMessage("{}")
	}
	at := s.clock.Now().UTC().Format(time.RFC3339)
	if t, err := time.Parse(time.RFC3339, d.Time); err == nil {
		at = t.UTC().Format(time.RFC3339)
	}
	event, _ := json.Marshal(map[string]any{
		"version":     "0",
		"id":          d.EventID,
		"detail-type": d.DetailType,
		"source":      d.Source,
		"account":     s.account,
		"time":        at,
		"region":      s.region,
		"resources":   []string{},
		"detail":      detail,
	})
	if !matchesRule(st.rule.EventPattern, event) {
		s.log.Info("not delivered: kumo matched the event, the rule's whole pattern does not", "rule", st.arn, "target", target.Id, "eventId", d.EventID)
		return
	}
	payload, err := targetInput(*target, event, st.arn, st.rule.Name)
	if err != nil {
		s.log.Error("make a target's input", "rule", st.arn, "target", target.Id, "error", err.Error())
		return
	}
	s.deliver(s.ctx, target.Arn, payload, "rule", st.arn, "target", target.Id, "eventId", d.EventID)
}

// newID returns a random identifier in the form of a UUID.
func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// matchesRule checks an event kumo matched against the rule's whole
// pattern (pattern.go): kumo reads only source, detail-type and detail,
// with fewer operators ($or, wildcard and numeric ranges aside). The
// pattern's resources are left out, since kumo's record of a match keeps
// none; a pattern the grammar does not read keeps kumo's match.
func matchesRule(pattern string, event []byte) bool {
	if pattern == "" {
		return true
	}
	var root map[string]any
	if json.Unmarshal([]byte(pattern), &root) != nil {
		return true
	}
	delete(root, "resources")
	data, _ := json.Marshal(root)
	p, err := ParsePattern(string(data))
	if err != nil {
		return true
	}
	return p.MatchJSON(event)
}
