package iam

import (
	"cmp"
	"crypto/rand"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
)

// Mode says what the local AWS does with a request IAM would deny.
type Mode string

// The modes of `stackflow local --iam`.
const (
	// Enforce answers a denied request with the service's AccessDenied.
	Enforce Mode = "enforce"
	// Warn logs each denial and lets the request through.
	Warn Mode = "warn"
	// Off evaluates nothing.
	Off Mode = "off"
)

// ParseMode reads a mode as the command line gives it.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(strings.ToLower(s)); m {
	case Enforce, Warn, Off:
		return m, nil
	}
	return "", fmt.Errorf("--iam %q: want enforce, warn or off", s)
}

// Options configure an Authority.
type Options struct {
	// Account and Region of the local AWS.
	Account string
	Region  string
	// Mode is what a denial does; empty means Enforce.
	Mode Mode
	// Log receives each denial (and, in Warn mode, that it was let
	// through) and each request the data cannot map.
	Log io.Writer
	// Now is the clock of aws:CurrentTime and of credentials' expiry;
	// nil means time.Now.
	Now func() time.Time
	// ManagedPolicies returns the document of an AWS managed policy by
	// ARN (arn:aws:iam::aws:policy/...); nil, or a nil answer, means it is
	// not known locally, and the role is evaluated without it (with a
	// warning).
	ManagedPolicies func(arn string) *Policy
	// Resolve, when set, gives the ARN a resource is authorized as and its
	// tags (for aws:ResourceTag/*): the local CloudFormation's stack ID and
	// tags for a stack named by its name, or for a change set. An empty
	// ARN leaves the resource as the request names it.
	Resolve func(arn string) (string, map[string]string)
	// Deployment, when set, names the application and deployment group of
	// a CodeDeploy deployment by its ID: a hook's
	// PutLifecycleEventHookExecutionStatus names only the deployment, and
	// IAM authorizes it on the deployment group's ARN.
	Deployment func(id string) (application, group string, ok bool)
	// AccountKeys are the account's own keys (access key ID -> secret
	// access key): the local AWS's "local" key, that stackflow local, its
	// tests and a person's commands sign with. A request signed with one
	// is the account's root; FunctionURL verifies its signature with the
	// secret.
	AccountKeys map[string]string
}

// Authority holds the local AWS's IAM: roles with their policies, the
// resource policies of buckets, queues, topics and functions, and the
// credentials it issued, and decides requests against them. Its methods
// are safe for concurrent use.
type Authority struct {
	opts Options

	mu        sync.RWMutex
	roles     map[string]*Role              // by ARN
	policies  map[string]*rolePolicy        // AWS::IAM::Policy and ::ManagedPolicy, by ID
	managed   map[string]*Policy            // customer managed policies, by ARN
	resources map[string]map[string]*Policy // resource ARN -> ID -> policy
	keys      map[string]*Session           // by access key ID
	used      map[string]map[string]bool    // role ARN -> actions used
	warned    map[string]bool               // warnings given once
}

// Role is an IAM role as the local AWS knows it.
type Role struct {
	ARN  string
	Name string
	// ID is the role's unique ID (AROA...).
	ID string
	// Trust is its trust policy (AssumeRolePolicyDocument).
	Trust *Policy
	// Inline are its inline policies by name.
	Inline map[string]*Policy
	// Managed are the ARNs of the managed policies attached to it.
	Managed []string
}

// rolePolicy is a policy attached to roles by name: an AWS::IAM::Policy
// or the Roles of an AWS::IAM::ManagedPolicy.
type rolePolicy struct {
	doc   *Policy
	roles []string
}

// Session is a set of credentials the authority issued, bound to a
// principal.
type Session struct {
	Principal       Principal
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Expiration      time.Time
	// RoleID is the role's unique ID, for aws:userid.
	RoleID string
}

// NewAuthority returns an authority with no roles.
func NewAuthority(opts Options) *Authority {
	if opts.Mode == "" {
		opts.Mode = Enforce
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Authority{
		opts:      opts,
		roles:     map[string]*Role{},
		policies:  map[string]*rolePolicy{},
		managed:   map[string]*Policy{},
		resources: map[string]map[string]*Policy{},
		keys:      map[string]*Session{},
		used:      map[string]map[string]bool{},
		warned:    map[string]bool{},
	}
}

// Mode is the authority's mode.
func (a *Authority) Mode() Mode { return a.opts.Mode }

// PutRole adds or replaces a role.
func (a *Authority) PutRole(r *Role) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.roles[r.ARN] = r
}

// DeleteRole removes a role; the credentials issued for it stop working.
func (a *Authority) DeleteRole(arn string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.roles, arn)
	for k, s := range a.keys {
		if s.Principal.RoleARN == arn {
			delete(a.keys, k)
		}
	}
}

// PutRolePolicy adds or replaces a policy (by id) attached to the roles
// named (by name, as AWS::IAM::Policy's Roles names them).
func (a *Authority) PutRolePolicy(id string, doc *Policy, roles []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.policies[id] = &rolePolicy{doc: doc, roles: roles}
}

// DeleteRolePolicy removes a policy PutRolePolicy added.
func (a *Authority) DeleteRolePolicy(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.policies, id)
}

// PutManagedPolicy adds or replaces a customer managed policy by ARN.
func (a *Authority) PutManagedPolicy(arn string, doc *Policy) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.managed[arn] = doc
}

// DeleteManagedPolicy removes a customer managed policy.
func (a *Authority) DeleteManagedPolicy(arn string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.managed, arn)
}

// PutResourcePolicy adds or replaces, under id, a part of the resource
// policy of the resource an ARN names: a bucket policy (id "policy"), one
// Lambda permission (id its statement ID), a queue's or topic's policy.
// The parts of one resource are evaluated as one policy.
func (a *Authority) PutResourcePolicy(resourceARN, id string, doc *Policy) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.resources[resourceARN] == nil {
		a.resources[resourceARN] = map[string]*Policy{}
	}
	a.resources[resourceARN][id] = doc
}

// DeleteResourcePolicy removes a part PutResourcePolicy added.
func (a *Authority) DeleteResourcePolicy(resourceARN, id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.resources[resourceARN], id)
	if len(a.resources[resourceARN]) == 0 {
		delete(a.resources, resourceARN)
	}
}

// Issue returns credentials of a session of role, as a service that runs
// with the role (Lambda for a function, Step Functions for a state
// machine) obtains them, after checking that the role's trust policy lets
// that service principal assume it. The credentials expire after 12 hours,
// as a role session of the longest duration does.
func (a *Authority) Issue(roleARN, service, session string) (*Session, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.roles[roleARN]
	if r == nil {
		return nil, fmt.Errorf("role %s is not in the local IAM: create it in a stack (AWS::IAM::Role) before what runs with it", roleARN)
	}
	if service != "" && r.Trust != nil {
		d := Evaluate(Input{
			Request:     Request{Principal: Principal{Service: service}, Action: "sts:AssumeRole", Resource: r.ARN, Context: map[string][]string{}},
			Resource:    r.Trust,
			TrustPolicy: true,
		})
		if !d.Allowed() {
			return nil, fmt.Errorf("%s cannot assume role %s: its trust policy (AssumeRolePolicyDocument) does not allow the service principal %s the action sts:AssumeRole", service, roleARN, service)
		}
	}
	return a.issueLocked(r, session), nil
}

// ServiceCredentials returns credentials of a service principal
// ("states.amazonaws.com"): a service of the local AWS that assumes roles
// (sts:AssumeRole at the proxy, as the service principal, which the
// role's trust policy must allow) and calls the local AWS with their
// sessions.
func (a *Authority) ServiceCredentials(service string) *Session {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := &Session{
		Principal:       Principal{Service: service},
		AccessKeyID:     "ASIA" + randomString(16),
		SecretAccessKey: randomString(40),
		Expiration:      a.opts.Now().Add(12 * time.Hour),
	}
	a.keys[s.AccessKeyID] = s
	return s
}

func (a *Authority) issueLocked(r *Role, session string) *Session {
	if len(session) > 64 {
		session = session[:64]
	}
	acct := a.account(r.ARN)
	s := &Session{
		Principal: Principal{
			ARN:     fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", acct, r.Name, session),
			RoleARN: r.ARN,
			Account: acct,
		},
		AccessKeyID:     "ASIA" + randomString(16),
		SecretAccessKey: randomString(40),
		SessionToken:    randomString(64),
		Expiration:      a.opts.Now().Add(12 * time.Hour),
		RoleID:          r.ID + ":" + session,
	}
	a.keys[s.AccessKeyID] = s
	return s
}

func (a *Authority) account(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) == 6 && parts[4] != "" {
		return parts[4]
	}
	return a.opts.Account
}

// session returns the session of an access key the authority issued.
func (a *Authority) session(accessKey string) *Session {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.keys[accessKey]
}

// rolePolicies returns a role's policies (inline, attached by
// AWS::IAM::Policy or a managed policy's Roles, and managed by ARN), and
// the ARNs of its managed policies whose documents are not known locally.
func (a *Authority) rolePolicies(roleARN string) (policies []*Policy, unknownManaged []string) {
	policies, _, unknownManaged = a.rolePoliciesBy(roleARN)
	return policies, unknownManaged
}

// rolePoliciesBy is rolePolicies with, beside each policy, the name of
// the AWS managed policy it is ("" for the role's own).
func (a *Authority) rolePoliciesBy(roleARN string) (policies []*Policy, awsManaged []string, unknownManaged []string) {
	a.mu.RLock()
	r := a.roles[roleARN]
	if r == nil {
		a.mu.RUnlock()
		return nil, nil, nil
	}
	var out []*Policy
	var by []string
	for _, name := range sortedKeys(r.Inline) {
		out, by = append(out, r.Inline[name]), append(by, "")
	}
	for _, id := range sortedKeys(a.policies) {
		if p := a.policies[id]; slices.Contains(p.roles, r.Name) {
			out, by = append(out, p.doc), append(by, "")
		}
	}
	var unknown []string
	for _, arn := range r.Managed {
		if p := a.managed[arn]; p != nil {
			out, by = append(out, p), append(by, "")
			continue
		}
		unknown = append(unknown, arn)
	}
	a.mu.RUnlock()
	for _, arn := range unknown {
		var p *Policy
		if a.opts.ManagedPolicies != nil {
			p = a.opts.ManagedPolicies(arn)
		}
		if p == nil {
			unknownManaged = append(unknownManaged, arn)
			continue
		}
		out, by = append(out, p), append(by, arn[strings.LastIndexByte(arn, '/')+1:])
	}
	return out, by, unknownManaged
}

// resourcePolicy returns the resource policy that governs an ARN: a
// bucket's for its objects. A function's permissions are per qualifier,
// as Lambda keeps them: the unqualified function's do not cover an alias.
func (a *Authority) resourcePolicy(arn string) *Policy {
	key := arn
	if strings.HasPrefix(arn, "arn:aws:s3:::") {
		bucket, _, _ := strings.Cut(strings.TrimPrefix(arn, "arn:aws:s3:::"), "/")
		key = "arn:aws:s3:::" + bucket
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	parts := a.resources[key]
	if len(parts) == 0 {
		return nil
	}
	merged := &Policy{Version: "2012-10-17"}
	for _, id := range sortedKeys(parts) {
		merged.Statement = append(merged.Statement, parts[id].Statement...)
	}
	return merged
}

// Authorize decides one action of a session's request. sourceIP is the
// caller's address, for aws:SourceIp.
func (a *Authority) Authorize(s *Session, act Action, sourceIP string) (Request, Decision) {
	now := a.opts.Now().UTC()
	ctx := map[string][]string{
		"aws:SecureTransport":       {"true"},
		"aws:CurrentTime":           {now.Format(time.RFC3339)},
		"aws:EpochTime":             {fmt.Sprint(now.Unix())},
		"aws:RequestedRegion":       {a.opts.Region},
		"aws:PrincipalAccount":      {s.Principal.Account},
		"aws:PrincipalArn":          {cmp.Or(s.Principal.RoleARN, s.Principal.ARN)},
		"aws:PrincipalType":         {"AssumedRole"},
		"aws:userid":                {s.RoleID},
		"aws:ResourceAccount":       {a.opts.Account},
		"aws:PrincipalIsAWSService": {"false"},
	}
	if sourceIP != "" {
		ctx["aws:SourceIp"] = []string{sourceIP}
	}
	for k, v := range act.Context {
		ctx[k] = v
	}
	identity, unknown := a.rolePolicies(s.Principal.RoleARN)
	resourcePolicy := a.resourcePolicy(act.Resource)
	// A stack is named by its name or a change set, and looked up; any
	// other resource's tags are looked up only for policies that ask for
	// them.
	if a.opts.Resolve != nil && (strings.HasPrefix(act.Resource, "arn:aws:cloudformation:") || asksForTags(identity, resourcePolicy)) {
		if arn, tags := a.opts.Resolve(act.Resource); arn != "" {
			act.Resource = arn
			for k, v := range tags {
				ctx["aws:ResourceTag/"+k] = []string{v}
			}
		}
	}
	req := Request{Principal: s.Principal, Action: act.Action, Resource: act.Resource, ResourceAccount: a.resourceAccount(act.Resource), Context: ctx}
	in := Input{Request: req, Identity: identity, Resource: resourcePolicy}
	if act.Action == "sts:AssumeRole" {
		a.mu.RLock()
		if r := a.roles[act.Resource]; r != nil {
			in.Resource, in.TrustPolicy = r.Trust, true
		}
		a.mu.RUnlock()
	}
	d := Evaluate(in)
	if d.Outcome == ImplicitlyDenied && len(unknown) > 0 {
		// A managed policy whose document is not known locally might
		// allow it: rather than deny what AWS may allow, let it through.
		a.warnOnce("unknown:"+s.Principal.RoleARN+" "+act.Action, "stackflow local: IAM: let through %s: %s; it may be allowed by %s, whose document is not known locally",
			act.Action, d.Message(req), strings.Join(unknown, ", "))
		d = Decision{Outcome: Allowed}
	}
	if d.Allowed() {
		a.mu.Lock()
		if a.used[s.Principal.RoleARN] == nil {
			a.used[s.Principal.RoleARN] = map[string]bool{}
		}
		a.used[s.Principal.RoleARN][act.Action] = true
		a.mu.Unlock()
	}
	return req, d
}

// AuthorizeService decides a request a service principal makes on its
// own behalf (API Gateway, EventBridge, SNS or S3 invoking a function):
// only the resource's policy can allow it. sourceARN and sourceAccount
// are the aws:SourceArn and aws:SourceAccount the service sends.
func (a *Authority) AuthorizeService(service, action, resource, sourceARN, sourceAccount string) (Request, Decision) {
	ctx := map[string][]string{
		"aws:SecureTransport":       {"true"},
		"aws:PrincipalIsAWSService": {"true"},
		"aws:PrincipalServiceName":  {service},
	}
	if sourceARN != "" {
		ctx["aws:SourceArn"] = []string{sourceARN}
	}
	if sourceAccount != "" {
		ctx["aws:SourceAccount"] = []string{sourceAccount}
	}
	req := Request{Principal: Principal{Service: service}, Action: action, Resource: resource, ResourceAccount: a.resourceAccount(resource), Context: ctx}
	return req, Evaluate(Input{Request: req, Resource: a.resourcePolicy(resource)})
}

// Check is AuthorizeService for the callers that invoke functions:
// it logs a denial and, unless the mode is Enforce, lets it through;
// it returns the AccessDenied message of a denial to answer with, or "".
func (a *Authority) Check(service, action, resource, sourceARN, sourceAccount string) string {
	if a.opts.Mode == Off {
		return ""
	}
	req, d := a.AuthorizeService(service, action, resource, sourceARN, sourceAccount)
	if d.Allowed() {
		return ""
	}
	return a.denied(req, d)
}

// denied logs a denial and returns its message when the mode enforces
// it, or "" when it is let through.
func (a *Authority) denied(req Request, d Decision) string {
	if a.opts.Mode == Off {
		return ""
	}
	msg := d.Message(req)
	if a.opts.Mode == Warn {
		fmt.Fprintf(a.opts.Log, "stackflow local: IAM would deny (let through, --iam warn): %s\n", msg)
		return ""
	}
	fmt.Fprintf(a.opts.Log, "stackflow local: IAM denied: %s\n", msg)
	return msg
}

func (a *Authority) resourceAccount(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) == 6 && parts[4] != "" && parts[4] != "aws" {
		return parts[4]
	}
	return a.opts.Account
}

func (a *Authority) warnOnce(key, format string, args ...any) {
	a.mu.Lock()
	seen := a.warned[key]
	a.warned[key] = true
	a.mu.Unlock()
	if !seen {
		fmt.Fprintf(a.opts.Log, format+"\n", args...)
	}
}

// asksForTags reports whether a policy has a condition on
// aws:ResourceTag/*.
func asksForTags(identity []*Policy, resource *Policy) bool {
	policies := slices.Concat(identity, []*Policy{resource})
	for _, p := range policies {
		if p == nil {
			continue
		}
		for _, st := range p.Statement {
			for _, keys := range st.Condition {
				for key := range keys {
					if len(key) >= len("aws:ResourceTag/") && strings.EqualFold(key[:len("aws:ResourceTag/")], "aws:ResourceTag/") {
						return true
					}
				}
			}
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails: crypto/rand crashes the program instead (Go 1.24)
	for i := range b {
		b[i] = alnum[int(b[i])%len(alnum)]
	}
	return string(b)
}
