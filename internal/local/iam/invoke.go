package iam

import (
	"errors"
	"fmt"
	"strings"
)

// Delivery is one event a service delivers on its own behalf: EventBridge
// or SNS or S3 invoking a function, sending to a queue or publishing to a
// topic, or EventBridge Scheduler reaching its target as the schedule's
// role.
type Delivery struct {
	// Service is the service principal that delivers
	// ("events.amazonaws.com", "sns.amazonaws.com", "s3.amazonaws.com",
	// "scheduler.amazonaws.com").
	Service string
	// Action is what the delivery does: lambda:InvokeFunction,
	// sqs:SendMessage or sns:Publish.
	Action string
	// Target is the ARN of the function, queue or topic; Targets, when
	// set, are other ARNs of the same target (a function's aliases) whose
	// policies may allow the delivery instead.
	Target  string
	Targets []string
	// SourceARN is the rule, topic or bucket the event comes from
	// (aws:SourceArn); SourceAccount its account.
	SourceARN     string
	SourceAccount string
	// Role, when set, is the role the service assumes to deliver (a
	// schedule's RoleArn): the role's trust policy must let the service
	// assume it, and its policies must allow the action. Without a role,
	// the target's resource policy alone decides.
	Role string
}

// AuthorizeDelivery decides a delivery as AWS does: against the target's
// resource policy (a function's permissions, a queue's or a topic's
// policy) for the service principal with aws:SourceArn and
// aws:SourceAccount, or, with a role, as a session of that role. It
// returns an error naming the denial when the delivery must be dropped
// (Enforce); a denial in Warn mode is logged and let through. A role no
// local stack made is let through with a warning: its policies are not
// known locally.
func (a *Authority) AuthorizeDelivery(d Delivery) error {
	if a.opts.Mode == Off {
		return nil
	}
	if d.Role != "" {
		a.mu.RLock()
		role := a.roles[d.Role]
		a.mu.RUnlock()
		if role == nil {
			a.warnOnce("role:"+d.Role, "stackflow local: IAM: %s delivers as role %s, which no local stack made: let through unchecked", d.Service, d.Role)
			return nil
		}
		if !a.trusts(role, d.Service) {
			req := Request{Principal: Principal{Service: d.Service}, Action: "sts:AssumeRole", Resource: d.Role}
			if msg := a.denied(req, Decision{ImplicitlyDenied, "because no resource-based policy allows the sts:AssumeRole action"}); msg != "" {
				return errors.New(msg)
			}
			return nil
		}
		s := a.roleSession(role, strings.TrimSuffix(d.Service, ".amazonaws.com"))
		var last string
		for _, target := range append([]string{d.Target}, d.Targets...) {
			req, dec := a.Authorize(s, Action{Action: d.Action, Resource: target}, "")
			if dec.Allowed() {
				return nil
			}
			if last == "" {
				last = a.denied(req, dec)
			}
		}
		if last != "" {
			return errors.New(last)
		}
		return nil
	}
	var req Request
	var dec Decision
	for i, target := range append([]string{d.Target}, d.Targets...) {
		r, decided := a.AuthorizeService(d.Service, d.Action, target, d.SourceARN, d.SourceAccount)
		if decided.Allowed() {
			return nil
		}
		if i == 0 {
			req, dec = r, decided
		}
	}
	if msg := a.denied(req, dec); msg != "" {
		return errors.New(msg)
	}
	return nil
}

// trusts reports whether a role's trust policy lets a service principal
// assume it.
func (a *Authority) trusts(r *Role, service string) bool {
	if r.Trust == nil {
		return true
	}
	return Evaluate(Input{
		Request:     Request{Principal: Principal{Service: service}, Action: "sts:AssumeRole", Resource: r.ARN, Context: map[string][]string{}},
		Resource:    r.Trust,
		TrustPolicy: true,
	}).Allowed()
}

// roleSession is a session of a role that a service assumes for one
// delivery: it is evaluated as the role's, and issues no credentials.
func (a *Authority) roleSession(r *Role, name string) *Session {
	acct := a.account(r.ARN)
	return &Session{
		Principal: Principal{ARN: fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", acct, r.Name, name), RoleARN: r.ARN, Account: acct},
		RoleID:    r.ID + ":" + name,
	}
}

// AllowDelivery is AuthorizeDelivery for the local CloudFormation's
// event sources: targets are the target's ARNs, the one the source names
// first (a function's, then its aliases' whose permissions may allow it
// instead).
func (a *Authority) AllowDelivery(service, action string, targets []string, sourceARN, sourceAccount, role string) error {
	if len(targets) == 0 {
		return nil
	}
	return a.AuthorizeDelivery(Delivery{Service: service, Action: action, Target: targets[0], Targets: targets[1:], SourceARN: sourceARN, SourceAccount: sourceAccount, Role: role})
}

// AllowAsService decides an action a service principal does as a role it
// assumes for the purpose: CloudFormation making a stack's resources with
// the stack's service role. The role's trust policy must let the service
// assume it, and the role's policies allow the action on resource (the
// call carrying the condition keys context), as a session named as the
// service names it (AWSCloudFormation). It returns the denial's message as
// an error when the mode enforces it; a role no local stack made is let
// through with a warning.
func (a *Authority) AllowAsService(service, roleARN, action, resource string, context map[string][]string) error {
	if a.opts.Mode == Off {
		return nil
	}
	a.mu.RLock()
	role := a.roles[roleARN]
	a.mu.RUnlock()
	if role == nil {
		a.warnOnce("role:"+roleARN, "stackflow local: IAM: %s acts as role %s, which no local stack made: let through unchecked", service, roleARN)
		return nil
	}
	if !a.trusts(role, service) {
		req := Request{Principal: Principal{Service: service}, Action: "sts:AssumeRole", Resource: roleARN}
		if msg := a.denied(req, Decision{ImplicitlyDenied, "because no resource-based policy allows the sts:AssumeRole action"}); msg != "" {
			return errors.New(msg)
		}
		return nil
	}
	name := strings.TrimSuffix(service, ".amazonaws.com")
	if name == "cloudformation" {
		name = "AWSCloudFormation"
	}
	req, d := a.Authorize(a.roleSession(role, name), Action{Action: action, Resource: resource, Context: context}, "")
	if d.Allowed() {
		return nil
	}
	if msg := a.denied(req, d); msg != "" {
		return errors.New(msg)
	}
	return nil
}
