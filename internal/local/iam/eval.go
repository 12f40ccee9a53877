package iam

import (
	"fmt"
	"strings"
)

// Principal is who makes a request.
type Principal struct {
	// ARN is the principal as IAM names it in messages: a role session
	// (arn:aws:sts::<account>:assumed-role/<role>/<session>), a user, an
	// account's root, or empty for a service.
	ARN string
	// RoleARN is the role of a role session
	// (arn:aws:iam::<account>:role/<path><role>); empty otherwise.
	RoleARN string
	// Account is the principal's account.
	Account string
	// Service is the service principal ("apigateway.amazonaws.com") of a
	// request a service makes on its own behalf, such as an invocation API
	// Gateway or SNS makes; empty for a person's or a role's request.
	Service string
}

// Name is the principal as a denial names it: its ARN, or its service.
func (p Principal) Name() string {
	if p.ARN != "" {
		return p.ARN
	}
	return p.Service
}

// Request is one request to authorize: one action on one resource.
type Request struct {
	Principal Principal
	// Action is the IAM action, "service:Name".
	Action string
	// Resource is the resource's ARN, or "*" for actions that take none.
	Resource string
	// ResourceAccount is the account that owns Resource; empty means the
	// principal's.
	ResourceAccount string
	// Context holds the condition keys the request carries, by their
	// names (matched without regard to case), each with its values.
	Context map[string][]string
}

// Input is a Request with the policies that decide it.
type Input struct {
	Request Request
	// Identity are the principal's identity-based policies: its role's
	// inline policies and managed policies.
	Identity []*Policy
	// Resource is the resource's resource-based policy, if it has one.
	Resource *Policy
	// TrustPolicy marks Resource as a role's trust policy deciding
	// sts:AssumeRole: the trust policy must allow, and when it allows
	// only the principal's account, an identity policy must allow too.
	TrustPolicy bool
}

// Outcome is the result of an evaluation, as IAM names them.
type Outcome string

// The outcomes of an evaluation.
const (
	Allowed          Outcome = "Allowed"
	ExplicitlyDenied Outcome = "ExplicitlyDenied"
	ImplicitlyDenied Outcome = "ImplicitlyDenied"
)

// Decision is the outcome of evaluating a request and why.
type Decision struct {
	Outcome Outcome
	// Reason completes AWS's AccessDenied message: "because no
	// identity-based policy allows the s3:GetObject action", "with an
	// explicit deny in a resource-based policy".
	Reason string
}

// Allowed reports whether the request is allowed.
func (d Decision) Allowed() bool { return d.Outcome == Allowed }

// Message is AWS's AccessDenied message for r denied with d.
func (d Decision) Message(r Request) string {
	kind := "User"
	return fmt.Sprintf("%s: %s is not authorized to perform: %s on resource: %s %s",
		kind, r.Principal.Name(), r.Action, r.Resource, d.Reason)
}

// Evaluate decides in as IAM's policy evaluation logic does within and
// across accounts: an explicit deny in any policy wins; within an account
// an allow in an identity-based or a resource-based policy suffices;
// across accounts both must allow. Service principals have no identity
// policies: the resource-based policy alone decides.
func Evaluate(in Input) Decision {
	r := in.Request
	ctx := newContext(r.Context)
	for _, p := range in.Identity {
		if matchAny(p, "Deny", r, ctx, false) {
			return Decision{ExplicitlyDenied, "with an explicit deny in an identity-based policy"}
		}
	}
	if in.Resource != nil && matchAny(in.Resource, "Deny", r, ctx, true) {
		return Decision{ExplicitlyDenied, "with an explicit deny in a resource-based policy"}
	}
	identityAllows := false
	if r.Principal.Service == "" {
		for _, p := range in.Identity {
			if matchAny(p, "Allow", r, ctx, false) {
				identityAllows = true
				break
			}
		}
	}
	resourceAllows, viaAccount := false, false
	if in.Resource != nil {
		resourceAllows, viaAccount = allowsPrincipal(in.Resource, r, ctx)
	}
	noIdentity := Decision{ImplicitlyDenied, fmt.Sprintf("because no identity-based policy allows the %s action", r.Action)}
	noResource := Decision{ImplicitlyDenied, fmt.Sprintf("because no resource-based policy allows the %s action", r.Action)}
	switch {
	case r.Principal.Service != "":
		if resourceAllows {
			return Decision{Outcome: Allowed}
		}
		return noResource
	case in.TrustPolicy:
		if !resourceAllows {
			return noResource
		}
		if viaAccount && !identityAllows {
			return noIdentity
		}
		return Decision{Outcome: Allowed}
	case r.ResourceAccount == "" || r.ResourceAccount == r.Principal.Account:
		if identityAllows || (resourceAllows && !viaAccount) {
			return Decision{Outcome: Allowed}
		}
		return noIdentity
	default:
		if !identityAllows {
			return noIdentity
		}
		if !resourceAllows {
			return noResource
		}
		return Decision{Outcome: Allowed}
	}
}

// matchAny reports whether a statement of p with effect matches r; a
// resource policy's statements must name r's principal as well.
func matchAny(p *Policy, effect string, r Request, ctx *condContext, resourcePolicy bool) bool {
	for i := range p.Statement {
		s := &p.Statement[i]
		if s.Effect != effect {
			continue
		}
		if resourcePolicy {
			if ok, _ := principalMatches(s, r.Principal); !ok {
				continue
			}
		}
		if statementMatches(s, r, ctx) {
			return true
		}
	}
	return false
}

// allowsPrincipal reports whether an Allow statement of the resource
// policy p matches r, and whether it named r's principal only through its
// account (the account's root or its ID), which within the account
// delegates to identity policies.
func allowsPrincipal(p *Policy, r Request, ctx *condContext) (allows, viaAccount bool) {
	for i := range p.Statement {
		s := &p.Statement[i]
		if s.Effect != "Allow" {
			continue
		}
		ok, account := principalMatches(s, r.Principal)
		if !ok || !statementMatches(s, r, ctx) {
			continue
		}
		if !account {
			return true, false
		}
		allows, viaAccount = true, true
	}
	return allows, viaAccount
}

func statementMatches(s *Statement, r Request, ctx *condContext) bool {
	if len(s.Action) > 0 && !anyGlob(s.Action, r.Action, true) {
		return false
	}
	if len(s.NotAction) > 0 && anyGlob(s.NotAction, r.Action, true) {
		return false
	}
	if len(s.Resource) > 0 && !anyResource(s.Resource, r.Resource, ctx) {
		return false
	}
	if len(s.NotResource) > 0 && anyResource(s.NotResource, r.Resource, ctx) {
		return false
	}
	return conditionsMatch(s.Condition, ctx)
}

// principalMatches reports whether s's Principal (or NotPrincipal) covers
// p, and whether it does only by naming p's account.
func principalMatches(s *Statement, p Principal) (ok, viaAccount bool) {
	if s.Principal != nil {
		return principalIn(s.Principal, p)
	}
	if s.NotPrincipal != nil {
		in, _ := principalIn(s.NotPrincipal, p)
		return !in, false
	}
	return false, false
}

func principalIn(ps *Principals, p Principal) (ok, viaAccount bool) {
	if ps.Wildcard {
		return true, false
	}
	if p.Service != "" {
		for _, s := range ps.ByKind["Service"] {
			if s == p.Service {
				return true, false
			}
		}
		return false, false
	}
	for _, v := range ps.ByKind["AWS"] {
		switch {
		case v == "*":
			return true, false
		case v == p.ARN || (p.RoleARN != "" && v == p.RoleARN):
			return true, false
		case v == p.Account || v == "arn:aws:iam::"+p.Account+":root":
			ok, viaAccount = true, true
		}
	}
	return ok, viaAccount
}

func anyResource(patterns []string, resource string, ctx *condContext) bool {
	for _, pat := range patterns {
		pat, ok := ctx.substitute(pat)
		if !ok {
			continue
		}
		if resourceMatch(pat, resource) {
			return true
		}
	}
	return false
}

// resourceMatch matches an ARN against a pattern of a Resource element:
// "*" matches all; otherwise the six parts of the ARN are matched each
// against the pattern's, with * and ? wildcards.
func resourceMatch(pattern, resource string) bool {
	if pattern == "*" {
		return true
	}
	pp := strings.SplitN(pattern, ":", 6)
	rp := strings.SplitN(resource, ":", 6)
	if len(pp) != 6 || len(rp) != 6 {
		return glob(pattern, resource, false)
	}
	for i := range pp {
		if !glob(pp[i], rp[i], false) {
			return false
		}
	}
	return true
}

func anyGlob(patterns []string, s string, fold bool) bool {
	for _, p := range patterns {
		if glob(p, s, fold) {
			return true
		}
	}
	return false
}

// glob matches s against pattern, where * matches any run of characters
// and ? any one; fold ignores case.
func glob(pattern, s string, fold bool) bool {
	if fold {
		pattern, s = strings.ToLower(pattern), strings.ToLower(s)
	}
	if !strings.ContainsAny(pattern, "*?") {
		return pattern == s
	}
	// The classic greedy match with one backtrack point.
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
