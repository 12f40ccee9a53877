package iam

import (
	"errors"
	"fmt"
	"net"
	"net/http"
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

// AllowFunctionURL decides a request to a function URL as Lambda
// does. With AuthType AWS_IAM the request must be signed (SigV4, service
// "lambda"), and the signer's policies allow lambda:InvokeFunctionUrl on
// the function (with lambda:FunctionUrlAuthType AWS_IAM); a request
// signed with a key the authority did not issue is the account's root
// and passes. With NONE, the function's resource policy must allow
// anyone ("*") lambda:InvokeFunctionUrl (SAM's
// <Function>UrlPublicPermissions) and lambda:InvokeFunction with
// lambda:InvokedViaFunctionUrl (its <Function>URLInvokeAllowPublicAccess),
// as Lambda asks of function URLs made since October 2025. body is the
// request's body, for its signature. A non-nil error is the denial, to
// answer with 403 Forbidden.
func (a *Authority) AllowFunctionURL(r *http.Request, body []byte, function, authType string) error {
	if a.opts.Mode == Off {
		return nil
	}
	fn := a.functionARN(function)
	if authType != "AWS_IAM" {
		for _, action := range []string{"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"} {
			req := Request{Principal: Principal{Service: "anonymous"}, Action: action, Resource: fn, ResourceAccount: a.opts.Account,
				Context: map[string][]string{"aws:SecureTransport": {"true"}, "lambda:FunctionUrlAuthType": {authType}, "lambda:InvokedViaFunctionUrl": {"true"}}}
			if d := Evaluate(Input{Request: req, Resource: a.resourcePolicy(fn)}); !d.Allowed() {
				if msg := a.denied(req, d); msg != "" {
					return errors.New(msg)
				}
			}
		}
		return nil
	}
	sig, ok := ParseSignature(r)
	if !ok {
		req := Request{Principal: Principal{Service: "anonymous"}, Action: "lambda:InvokeFunctionUrl", Resource: fn}
		if msg := a.denied(req, Decision{ImplicitlyDenied, "because the request is not signed, and the function URL's AuthType is AWS_IAM"}); msg != "" {
			return errors.New(msg)
		}
		return nil
	}
	s := a.session(sig.AccessKey)
	if s == nil || s.Principal.Service != "" {
		return nil // the account's root, as at the proxy
	}
	ref, verifiable := verifySignature(r, sig, s, body, a.opts.Now())
	if verifiable && ref != nil {
		req := Request{Principal: s.Principal, Action: "lambda:InvokeFunctionUrl", Resource: fn}
		if msg := a.denied(req, Decision{ImplicitlyDenied, "because its signature is refused: " + ref.message}); msg != "" {
			return errors.New(msg)
		}
		return nil
	}
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	req, d := a.Authorize(s, Action{Action: "lambda:InvokeFunctionUrl", Resource: fn, Context: map[string][]string{"lambda:FunctionUrlAuthType": {authType}}}, ip)
	if !d.Allowed() {
		if msg := a.denied(req, d); msg != "" {
			return errors.New(msg)
		}
	}
	return nil
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
