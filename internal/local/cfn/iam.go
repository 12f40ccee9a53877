package cfn

import (
	"context"
	"maps"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// IAM is the local IAM that enforces the roles and policies stacks make
// (internal/local/iam's Authority): the engine tells it of each
// resource it creates, updates or deletes (it keeps those of the types
// that hold policies, and ignores the others), and asks it for the
// credentials each function runs with.
type IAM interface {
	// ApplyResource records a resource made or updated: its type, its
	// physical ID and attributes, and its properties as evaluated.
	ApplyResource(typ, physical string, attrs, props map[string]any) error
	// RemoveResource forgets a resource deleted.
	RemoveResource(typ, physical string, props map[string]any)
	// FunctionCredentials returns the AWS_ACCESS_KEY_ID,
	// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN of a session of a
	// function's execution role, as Lambda gives its functions; an error
	// fails the function as CloudFormation fails it.
	FunctionCredentials(role, function string) (map[string]string, error)
	// AllowInvoke reports, with an error naming the denial, whether the
	// service principal ("apigateway.amazonaws.com") may invoke a
	// function (a name or an ARN) for sourceARN and sourceAccount: the
	// function's permissions (AWS::Lambda::Permission) decide.
	AllowInvoke(service, function, sourceARN, sourceAccount string) error
	// AllowDelivery reports, with an error naming the denial, whether a
	// service principal may deliver an event (lambda:InvokeFunction,
	// sqs:SendMessage, sns:Publish) to a target, named by its ARNs (a
	// function's, then its aliases'), from sourceARN: the target's
	// resource policy decides, or, when role is given (a schedule's), the
	// role's trust and policies.
	AllowDelivery(service, action string, targets []string, sourceARN, sourceAccount, role string) error
	// AllowAsService reports, with an error that is the denial's message,
	// whether a service principal ("cloudformation.amazonaws.com") acting
	// as a role (a stack's service role) may do action on resource, the
	// call carrying the condition keys context (may be nil): the role's
	// trust policy must let the service assume it, and its policies allow
	// the action.
	AllowAsService(service, role, action, resource string, context map[string][]string) error
	FunctionURLAuthority
}

// FunctionURLAuthority decides the requests to function URLs
// (internal/local/iam's Authority is one).
type FunctionURLAuthority interface {
	// FunctionURL decides a request (with its body) to a function URL of
	// function (an ARN) whose AuthType is authType, as Lambda does, in
	// one pass: for AWS_IAM, who signed it, from a signature it verified
	// whatever its mode, then whether they may call; for NONE, whether
	// the function's permissions let anyone. It returns the caller, as
	// Lambda hands it to the function in requestContext.authorizer.iam
	// (none for NONE); an error answers 403 Forbidden.
	FunctionURL(r *http.Request, body []byte, function, authType string) (events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription, error)
}

// withIAM wraps k so that the engine's IAM (Options.IAM) learns of every
// resource of k's type that is made, updated or deleted, and so that a
// stack's service role is asked, before each change, for what the type's
// handler calls to make it (asServiceRole).
func withIAM(typ string, k *kind) *kind {
	w := *k
	if k.create != nil {
		w.create = func(ctx context.Context, o *op, r *resource) error {
			if err := o.asServiceRole(typ, "create", nil, r); err != nil {
				return err
			}
			if err := k.create(ctx, o, r); err != nil {
				return err
			}
			if o.e.opts.IAM == nil {
				return nil
			}
			if err := o.e.opts.IAM.ApplyResource(typ, r.Physical, r.Attrs, r.Props); err != nil {
				o.e.opts.IAM.RemoveResource(typ, r.Physical, r.Props)
				if k.remove != nil {
					k.remove(ctx, o, r) //nolint:errcheck // the error that matters is err
				}
				return reason(err.Error())
			}
			return nil
		}
	}
	update := k.update
	w.update = func(ctx context.Context, o *op, prev, next *resource) error {
		if err := o.asServiceRole(typ, "update", prev, next); err != nil {
			return err
		}
		if update != nil {
			if err := update(ctx, o, prev, next); err != nil {
				return err
			}
		}
		if o.e.opts.IAM == nil {
			return nil
		}
		attrs := next.Attrs
		if attrs == nil {
			attrs = maps.Clone(prev.Attrs)
		}
		if err := o.e.opts.IAM.ApplyResource(typ, next.Physical, attrs, next.Props); err != nil {
			return reason(err.Error())
		}
		return nil
	}
	remove := k.remove
	w.remove = func(ctx context.Context, o *op, r *resource) error {
		if err := o.asServiceRole(typ, "delete", r, nil); err != nil {
			return err
		}
		if remove != nil {
			if err := remove(ctx, o, r); err != nil {
				return err
			}
		}
		if o.e.opts.IAM != nil {
			o.e.opts.IAM.RemoveResource(typ, r.Physical, r.Props)
		}
		return nil
	}
	return &w
}

// StackOf finds the stack that a stack name, a stack ID (its ARN) or a
// change set ID (its ARN) names, and returns its ID and its tags: what
// IAM authorizes a CloudFormation request against (the stack's ARN, and
// aws:ResourceTag/* for conditions on its tags). ok is false when no
// stack of the engine is named.
func (e *Engine) StackOf(ref string) (id string, tags map[string]string, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var st *stack
	switch {
	case e.changeSets[ref] != nil:
		st = e.stacks[e.changeSets[ref].StackID]
	case e.stacks[ref] != nil:
		st = e.stacks[ref]
	case e.live[ref] != "":
		st = e.stacks[e.live[ref]]
	}
	if st == nil {
		return "", nil, false
	}
	tags = map[string]string{}
	for _, t := range st.tags {
		tags[t.Key] = t.Value
	}
	return st.ID, tags, true
}

// ResourceTags returns the tags of the resource an ARN names, when a
// live stack of the engine made it: its stack's tags, which CloudFormation
// gives each resource it makes, and its own Tags. IAM reads them as
// aws:ResourceTag/*. ok is false when no stack made the resource.
func (e *Engine) ResourceTags(arn string) (tags map[string]string, ok bool) {
	name := arn
	if i := strings.Index(arn, ":function:"); i >= 0 {
		name, _, _ = strings.Cut(arn[i+len(":function:"):], ":")
	} else if i := strings.LastIndexAny(arn, ":/"); i >= 0 {
		name = arn[i+1:]
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, id := range e.live {
		st := e.stacks[id]
		if st == nil {
			continue
		}
		for _, r := range st.resources {
			if r.Physical != arn && r.Physical != name && r.Attrs["Arn"] != arn {
				continue
			}
			tags = map[string]string{}
			for _, t := range st.tags {
				tags[t.Key] = t.Value
			}
			switch own := r.Props["Tags"].(type) {
			case []any:
				for _, item := range own {
					if m, ok := item.(map[string]any); ok {
						k, _ := m["Key"].(string)
						v, _ := m["Value"].(string)
						tags[k] = v
					}
				}
			case map[string]any:
				for k, v := range own {
					if s, ok := v.(string); ok {
						tags[k] = s
					}
				}
			}
			return tags, true
		}
	}
	return nil, false
}
