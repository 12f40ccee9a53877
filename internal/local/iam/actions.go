package iam

import (
	"cmp"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// NeedsNoPermission is the Action of a call IAM does not authorize
// (sts:GetCallerIdentity): the generated data says which.
const NeedsNoPermission = "-"

var templateVar = regexp.MustCompile(`\$\{([A-Za-z0-9]+)\}`)

// Actions maps c to the IAM actions it needs and the resources they act
// on, in region and account, from the generated service data. It fails,
// naming the operation, when the data cannot map it.
func Actions(c Call, region, account string) ([]Action, error) {
	if buses := c.Params["EventBusName"]; c.Service == "events" && c.Operation == "PutEvents" && len(buses) > 1 {
		// One action on each entry's bus.
		var all []Action
		for _, bus := range buses {
			one := Call{Service: c.Service, Operation: c.Operation, Params: map[string][]string{"EventBusName": {bus}}}
			acts, err := Actions(one, region, account)
			if err != nil {
				return nil, err
			}
			all = append(all, acts...)
		}
		return all, nil
	}
	data, err := services()
	if err != nil {
		return nil, err
	}
	m := data.Services[c.Service]
	if m == nil {
		return nil, fmt.Errorf("%s is not a service of the local AWS", c.Service)
	}
	op := m.Operations[c.Operation]
	switch {
	case op == nil:
	case op.NoPermission:
		return []Action{{Action: NeedsNoPermission}}, nil
	case len(op.Entries) > 0:
		return entryActions(m, op, c, region, account)
	case len(op.OneOf) > 0:
		return statementActions(m, op, c, region, account)
	}
	return ownActions(m, op, c, region, account)
}

// ownActions maps c, of operation op (nil for an action that is no
// operation, ConditionCheckItem), to the action of its name or the one
// the data maps it to, on the resource its parameters name.
func ownActions(m *serviceModel, op *operationModel, c Call, region, account string) ([]Action, error) {
	name := c.Operation
	if op != nil {
		name = cmp.Or(op.Action, name)
		if len(op.ActionIf) > 0 {
			for _, member := range sortedKeys(op.ActionIf) {
				if v := c.Params[member]; len(v) > 0 && v[0] != "" {
					name = op.ActionIf[member]
				}
			}
		}
	}
	a := m.action(name)
	if a == nil {
		return nil, fmt.Errorf("%s %s: the service authorization data has no action %s:%s and no source maps the operation to another", c.Service, c.Operation, m.Prefix, name)
	}
	act := Action{Action: m.Prefix + ":" + a.Name, Resource: "*", Context: conditionContext(m.Prefix, a, c.Params)}
	acts, err := resourceOf(m, a, act, c, region, account)
	if err != nil {
		return nil, err
	}
	return append(acts, passRoles(m, c)...), nil
}

// UnreadableError is a request whose actions depend on what it says
// that could not be read (a PartiQL statement whose verb or table is
// not clear, a parameter named twice in different cases): the proxy
// refuses it when it enforces, rather than let through what it cannot
// authorize.
type UnreadableError struct {
	// Call names the request's operation ("dynamodb ExecuteStatement").
	Call string
	// Reason says what could not be read and how to write it; it never
	// quotes the request, whose values may be secrets.
	Reason string
}

// Error implements error.
func (e *UnreadableError) Error() string {
	return fmt.Sprintf("%s: IAM cannot authorize the request: %s (or run stackflow local with --iam warn)", e.Call, e.Reason)
}

// statementActions authorizes an operation that several actions link to
// by its statement (DynamoDB's ExecuteStatement): the statement's verb
// picks the action whose name ends with it (SELECT: PartiQLSelect), on
// the table the statement names, or on its index when a SELECT names
// one (resourceOf).
func statementActions(m *serviceModel, op *operationModel, c Call, region, account string) ([]Action, error) {
	acts := make([]string, len(op.OneOf))
	for i, a := range op.OneOf {
		acts[i] = m.Prefix + ":" + a
	}
	unreadable := func(reason string) error {
		return &UnreadableError{Call: c.Service + " " + c.Operation,
			Reason: fmt.Sprintf("it needs one of %s by its statement, and %s; write the statement as a SELECT, INSERT, UPDATE or DELETE that names its table",
				strings.Join(acts, ", "), reason)}
	}
	text, _ := param(c, op.Statement)
	st, err := readPartiQL(text)
	if err != nil {
		return nil, unreadable(err.Error())
	}
	var a *actionModel
	for _, name := range op.OneOf {
		if strings.HasSuffix(strings.ToLower(name), strings.ToLower(st.Verb)) {
			a = m.action(name)
		}
	}
	if a == nil {
		return nil, unreadable("no action is named after a " + st.Verb + " statement")
	}
	params := map[string][]string{"TableName": {st.Table}}
	if st.Index != "" {
		params["IndexName"] = []string{st.Index}
	}
	one := Call{Service: c.Service, Operation: c.Operation, Params: params}
	act := Action{Action: m.Prefix + ":" + a.Name, Resource: "*", Context: conditionContext(m.Prefix, a, c.Params)}
	return resourceOf(m, a, act, one, region, account)
}

// entryActions authorizes a batch or a transaction as its entries:
// each needs what the operation (or action) it stands for needs, on its
// own resource (op.Entries: a batch's entries all on the request's queue
// or topic, a transaction's each on its table, BatchWriteItem's
// dynamodb:BatchWriteItem on each table its RequestItems name). Each
// action and resource is asked once. In a transaction
// (TransactWriteItems, TransactGetItems, ExecuteTransaction) an action
// that takes the service's EnclosingOperation condition key has it: the
// key, iam-data says, tells transactions' calls from the others.
func entryActions(m *serviceModel, op *operationModel, c Call, region, account string) ([]Action, error) {
	subs := slices.Clone(c.Entries)
	for _, e := range op.Entries {
		if e.InRequest {
			subs = append(subs, Call{Service: c.Service, Operation: e.Operation, Params: c.Params})
		}
	}
	enclosing := m.Prefix + ":EnclosingOperation"
	var out []Action
	seen := map[string]bool{}
	for _, sub := range subs {
		for _, e := range op.Entries {
			if e.Operation == sub.Operation && e.Resource != "" {
				if _, ok := param(sub, e.Resource); !ok {
					return nil, fmt.Errorf("%s %s: an entry that stands for %s names no %s", c.Service, c.Operation, sub.Operation, e.Resource)
				}
			}
		}
		var acts []Action
		var err error
		if sub.Operation == c.Operation {
			// Entries of a batch with an action of its own (BatchWriteItem)
			// need that action on each entry's resource.
			acts, err = ownActions(m, op, sub, region, account)
		} else {
			acts, err = Actions(sub, region, account)
		}
		if err != nil {
			return nil, fmt.Errorf("%s %s: an entry: %w", c.Service, c.Operation, err)
		}
		for _, act := range acts {
			if a := m.action(strings.TrimPrefix(act.Action, m.Prefix+":")); a != nil && strings.Contains(c.Operation, "Transact") &&
				slices.ContainsFunc(a.ConditionKeys, func(k string) bool { return strings.EqualFold(k, enclosing) }) {
				act.Context = maps.Clone(act.Context)
				if act.Context == nil {
					act.Context = map[string][]string{}
				}
				act.Context[enclosing] = []string{c.Operation}
			}
			if key := act.Action + " " + act.Resource + " " + fmt.Sprint(act.Context); !seen[key] {
				seen[key] = true
				out = append(out, act)
			}
		}
	}
	return out, nil
}

// passRoleParams are the parameters by which a request hands a service
// a role to act as (CloudFormation's RoleARN, Lambda's Role, Step
// Functions' roleArn): IAM then also authorizes iam:PassRole on the role,
// with iam:PassedToService the service's principal.
var passRoleParams = []string{"RoleARN", "Role", "ExecutionRoleArn"}

func passRoles(m *serviceModel, c Call) []Action {
	if m.Prefix == "sts" || m.Prefix == "iam" {
		return nil // AssumeRole's RoleArn is its resource; IAM's own calls manage roles
	}
	var out []Action
	for _, name := range sortedKeys(c.Params) {
		if !slices.ContainsFunc(passRoleParams, func(p string) bool { return strings.EqualFold(p, name) }) {
			continue
		}
		for _, v := range c.Params[name] {
			if strings.HasPrefix(v, "arn:aws:iam::") && strings.Contains(v, ":role/") {
				out = append(out, Action{Action: "iam:PassRole", Resource: v, Context: map[string][]string{"iam:PassedToService": {m.Prefix + ".amazonaws.com"}}})
			}
		}
	}
	return out
}

// resourceOf fills act's resource from the first resource type of the
// action whose ARN format the call's parameters fill, or from a
// sub-resource of it the call names too: a DynamoDB Query of an index
// (IndexName) is authorized on the index, table/T/index/I, not the table.
func resourceOf(m *serviceModel, a *actionModel, act Action, c Call, region, account string) ([]Action, error) {
	required := false
	for _, rt := range a.Resources {
		required = required || rt.Required
		format, ok := m.ResourceTypes[strings.ToLower(rt.Type)]
		if !ok {
			continue
		}
		if arn, ok := fillARN(format, c, region, account); ok {
			act.Resource = arn
			for _, sub := range a.Resources {
				if f, ok := m.ResourceTypes[strings.ToLower(sub.Type)]; ok {
					if subARN, ok := fillARN(f, c, region, account); ok && strings.HasPrefix(subARN, arn+"/") {
						act.Resource = subARN
					}
				}
			}
			return []Action{act}, nil
		}
	}
	if required {
		// A request that names its resource by another ARN of the
		// service (a change set for its stack) is authorized on that ARN,
		// which Options.Resolve may map to the resource's own.
		for _, name := range sortedKeys(c.Params) {
			for _, v := range c.Params[name] {
				if strings.HasPrefix(v, "arn:aws:"+m.Prefix+":") {
					act.Resource = v
					return []Action{act}, nil
				}
			}
		}
		return nil, fmt.Errorf("%s %s: the request names no %s resource that %s takes", c.Service, c.Operation, m.Prefix, act.Action)
	}
	return []Action{act}, nil
}

// conditionContext returns the action's own condition keys whose values
// the call carries as parameters of the same name (s3:prefix,
// s3:max-keys).
func conditionContext(prefix string, a *actionModel, params map[string][]string) map[string][]string {
	out := map[string][]string{}
	for _, key := range a.ConditionKeys {
		svc, name, ok := strings.Cut(key, ":")
		if !ok || svc != prefix {
			continue
		}
		for p, v := range params {
			if strings.EqualFold(p, name) {
				out[key] = v
			}
		}
	}
	return out
}

// fillARN fills an ARN format of the service authorization reference with
// the call's parameters: a parameter that is itself an ARN of that format
// is taken whole; otherwise each ${Variable} is filled from the parameter
// of its name (BucketName from Bucket, ObjectName from Key, QueueName
// from the last part of QueueUrl, a parameter's name without its leading
// slash for ParameterNameWithoutLeadingSlash).
func fillARN(format string, c Call, region, account string) (string, bool) {
	if re := formatPattern(format); re != nil {
		for _, vals := range c.Params {
			for _, v := range vals {
				if re.MatchString(v) {
					return v, true
				}
			}
		}
	}
	ok := true
	arn := templateVar.ReplaceAllStringFunc(format, func(v string) string {
		name := v[2 : len(v)-1]
		switch name {
		case "Partition":
			return "aws"
		case "Region":
			return region
		case "Account":
			return account
		}
		if val, found := param(c, name); found {
			return val
		}
		if name == "Id" && strings.HasSuffix(format, "/${Id}") {
			// A stack named by its name: its ID is not in the request,
			// and the ARN's last part matches only policies that allow
			// any ID of the stack (stack/NAME/*).
			return "*"
		}
		ok = false
		return v
	})
	return arn, ok
}

// formats caches each ARN format's pattern (nil when it does not
// compile): a format's variables each match one or more characters.
var formats sync.Map

func formatPattern(format string) *regexp.Regexp {
	if re, ok := formats.Load(format); ok {
		return re.(*regexp.Regexp)
	}
	re, err := regexp.Compile("^" + anyVar.ReplaceAllString(regexp.QuoteMeta(format), ".+") + "$")
	if err != nil {
		re = nil
	}
	formats.Store(format, re)
	return re
}

// anyVar is a ${Variable} of a format after regexp.QuoteMeta.
var anyVar = regexp.MustCompile(`\\\$\\\{[A-Za-z0-9]+\\\}`)

func param(c Call, variable string) (string, bool) {
	get := func(name string) (string, bool) {
		for k, v := range c.Params {
			if strings.EqualFold(k, name) && len(v) > 0 && v[0] != "" {
				return v[0], true
			}
		}
		return "", false
	}
	switch variable {
	case "ObjectName":
		return get("Key")
	case "QueueName":
		if u, ok := get("QueueUrl"); ok {
			return u[strings.LastIndexByte(u, '/')+1:], true
		}
	case "RoleNameWithPath", "UserNameWithPath":
		if n, ok := get(strings.TrimSuffix(variable, "WithPath")); ok {
			path, _ := get("Path")
			return strings.TrimPrefix(path, "/") + n, true
		}
	case "ParameterNameWithoutLeadingSlash":
		if n, ok := get("Name"); ok {
			return strings.TrimPrefix(n, "/"), true
		}
	}
	if v, ok := get(variable); ok {
		return v, true
	}
	if base, ok := strings.CutSuffix(variable, "Name"); ok {
		if v, ok := get(base); ok {
			return v, true
		}
		// CreateTopic's Name is the TopicName, CreateStateMachine's name
		// the StateMachineName.
		return get("Name")
	}
	return "", false
}
