package cfn

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// What a stack's service role is asked for. CloudFormation's resource
// handlers call the services with the role's session, so a role that may
// not make a call fails the resource with that service's AccessDenied.
// The local engine asks the local IAM, before it makes, updates or deletes
// a resource, for every permission the calls of AWS's handler need for
// that change: the permissions the resource type's registry schema lists
// for the handler (handlerpermissions.json) that the change's properties
// call for (serviceRolePermissions). Reads the handlers make (GetFunction,
// DescribeTable) and permissions for what the engine does not run (KMS
// keys, VPCs, provisioned concurrency) are not asked for.

// permission is what one call of a handler needs of the role that makes
// it: an IAM action on a resource (an ARN, or "*"), with the condition
// keys the call carries (iam:PassedToService of iam:PassRole).
type permission struct {
	action, resource string
	context          map[string][]string
}

// rolePlanner returns the permissions a handler ("create", "update",
// "delete") of a resource type needs for a change: prev is nil for a
// create, next nil for a delete. The permissions it returns are among
// those the type's schema lists for the handler (a test holds them to it).
type rolePlanner func(o *op, handler string, prev, next *resource) []permission

// rolePlanners are the resource types whose handlers' calls depend on
// their properties in ways the generic planner (genericPermissions) does
// not know.
var rolePlanners = map[string]rolePlanner{
	"AWS::Lambda::Function":   functionPermissions,
	"AWS::IAM::Role":          withBoundary(rolePermissions),
	"AWS::IAM::Policy":        policyPermissions,
	"AWS::IAM::ManagedPolicy": managedPolicyPermissions,
	"AWS::SNS::Topic":         topicPermissions,
	"AWS::S3::Bucket":         bucketPermissions,
}

// serviceRolePermissions is what a handler of typ needs of the stack's
// service role for the change from prev to next: its planner's
// permissions that the type's schema lists for the handler, each once.
func (o *op) serviceRolePermissions(typ, handler string, prev, next *resource) []permission {
	plan := rolePlanners[typ]
	if plan == nil {
		plan = func(o *op, handler string, prev, next *resource) []permission {
			return genericPermissions(o, typ, handler, prev, next)
		}
	}
	listed := handlerPermissions().Types[typ][handler]
	var out []permission
	seen := map[string]bool{}
	for _, p := range plan(o, handler, prev, next) {
		key := p.action + " " + p.resource
		if seen[key] || !slices.Contains(listed, p.action) {
			continue
		}
		seen[key] = true
		out = append(out, p)
	}
	return out
}

// asServiceRole asks the local IAM whether the stack's service role (the
// RoleARN given to CreateStack, CreateChangeSet or UpdateStack) may make
// the calls a handler ("create", "update", "delete") of typ makes for the
// change from prev to next (prev nil for a create, next nil for a
// delete), as CloudFormation makes them with the role's session. It is
// asked before the change, so a denial changes nothing; the denial is the
// resource's failure, worded as CloudFormation words a handler's
// AccessDenied. A stack with no service role is not checked: the local
// CloudFormation acts with the local AWS's own credentials.
func (o *op) asServiceRole(typ, handler string, prev, next *resource) error {
	if o.roleARN == "" || o.e.opts.IAM == nil {
		return nil
	}
	for _, p := range o.serviceRolePermissions(typ, handler, prev, next) {
		err := o.e.opts.IAM.AllowAsService("cloudformation.amazonaws.com", o.roleARN, p.action, p.resource, p.context)
		if err == nil {
			continue
		}
		return &accessDenied{msg: fmt.Sprintf("Resource handler returned message: %q (RequestToken: %s, HandlerErrorCode: AccessDenied)",
			fmt.Sprintf("%s (Service: %s, Status Code: 403, Request ID: %s)", err.Error(), strings.Split(typ, "::")[1], newUUID()), newUUID())}
	}
	return nil
}

// accessDenied is a resource's failure because the stack's service role
// may not make a call its handler needs: nothing of the change was made.
type accessDenied struct{ msg string }

func (a *accessDenied) Error() string { return a.msg }

// genericPermissions plans a handler's calls from the type's schema: the
// call that makes, changes or deletes the resource (handlerAction) on the
// resource, its tagging when the template tags it, iam:PassRole of the
// roles it names and s3:GetObject of the S3 objects it reads.
func genericPermissions(o *op, typ, handler string, prev, next *resource) []permission {
	var out []permission
	switch handler {
	case "create":
		for _, arn := range o.targetARNs(typ, next, true) {
			if a := handlerAction(typ, "create"); a != "" {
				out = append(out, permission{action: a, resource: arn})
			}
			if len(tagsOf(next.Props)) > 0 {
				out = append(out, tagPermissions(typ, "create", arn, nil, next.Props)...)
			}
		}
		out = append(out, passRoles(typ, nil, next.Props)...)
		out = append(out, readsObjects(nil, next.Props)...)
	case "update":
		changed := changedProps(prev.Props, next.Props)
		for _, arn := range o.targetARNs(typ, next, false) {
			if slices.ContainsFunc(changed, func(k string) bool { return k != "Tags" }) {
				if a := handlerAction(typ, "update"); a != "" {
					out = append(out, permission{action: a, resource: arn})
				}
			}
			if slices.Contains(changed, "Tags") {
				out = append(out, tagPermissions(typ, "update", arn, prev.Props, next.Props)...)
			}
		}
		out = append(out, passRoles(typ, prev.Props, next.Props)...)
		out = append(out, readsObjects(prev.Props, next.Props)...)
	case "delete":
		if a := handlerAction(typ, "delete"); a != "" {
			for _, arn := range o.targetARNs(typ, prev, false) {
				out = append(out, permission{action: a, resource: arn})
			}
		}
	}
	return out
}

// functionPermissions are the calls of AWS::Lambda::Function's handlers:
// CreateFunction (with iam:PassRole of its role, s3:GetObject of its code,
// lambda:TagResource of its tags, PutFunctionConcurrency of its reserved
// concurrency, GetLayerVersion of its layers); an update calls
// UpdateFunctionCode for new code, UpdateFunctionConfiguration (passing
// the role) for a new configuration, Put/DeleteFunctionConcurrency and
// Tag/UntagResource as those change; DeleteFunction.
func functionPermissions(o *op, handler string, prev, next *resource) []permission {
	const typ = "AWS::Lambda::Function"
	switch handler {
	case "create":
		arn := o.targetARNs(typ, next, true)[0]
		out := []permission{{action: "lambda:CreateFunction", resource: arn}}
		out = append(out, passRoles(typ, nil, next.Props)...)
		out = append(out, readsObjects(nil, next.Props)...)
		if len(tagsOf(next.Props)) > 0 {
			out = append(out, permission{action: "lambda:TagResource", resource: arn})
		}
		if next.Props["ReservedConcurrentExecutions"] != nil {
			out = append(out, permission{action: "lambda:PutFunctionConcurrency", resource: arn})
		}
		for _, l := range list(next.Props["Layers"]) {
			if s, ok := l.(string); ok && strings.HasPrefix(s, "arn:") {
				out = append(out, permission{action: "lambda:GetLayerVersion", resource: s})
			}
		}
		return out
	case "update":
		arn := o.targetARNs(typ, next, false)[0]
		var out []permission
		changed := changedProps(prev.Props, next.Props)
		for _, k := range changed {
			switch k {
			case "Code":
				out = append(out, permission{action: "lambda:UpdateFunctionCode", resource: arn})
				out = append(out, readsObjects(prev.Props, next.Props)...)
			case "Tags":
				out = append(out, tagPermissions(typ, "update", arn, prev.Props, next.Props)...)
			case "ReservedConcurrentExecutions":
				if next.Props[k] != nil {
					out = append(out, permission{action: "lambda:PutFunctionConcurrency", resource: arn})
				} else {
					out = append(out, permission{action: "lambda:DeleteFunctionConcurrency", resource: arn})
				}
			default:
				out = append(out, permission{action: "lambda:UpdateFunctionConfiguration", resource: arn})
				if role, ok := next.Props["Role"].(string); ok && role != "" {
					out = append(out, passRole(role, typ))
				}
			}
		}
		return out
	case "delete":
		return []permission{{action: "lambda:DeleteFunction", resource: o.targetARNs(typ, prev, false)[0]}}
	}
	return nil
}

// rolePermissions are the calls of AWS::IAM::Role's handlers: CreateRole,
// then PutRolePolicy for its Policies, AttachRolePolicy for its
// ManagedPolicyArns and TagRole for its Tags; an update calls what
// changed (UpdateAssumeRolePolicy, Put/DeleteRolePolicy,
// Attach/DetachRolePolicy, UpdateRole, Put/DeleteRolePermissionsBoundary,
// Tag/UntagRole); a delete lists the role's policies, detaches and
// deletes them, and DeleteRole.
func rolePermissions(o *op, handler string, prev, next *resource) []permission {
	const typ = "AWS::IAM::Role"
	switch handler {
	case "create":
		arn := o.targetARNs(typ, next, true)[0]
		out := []permission{{action: "iam:CreateRole", resource: arn}}
		if len(list(next.Props["Policies"])) > 0 {
			out = append(out, permission{action: "iam:PutRolePolicy", resource: arn})
		}
		if len(list(next.Props["ManagedPolicyArns"])) > 0 {
			out = append(out, permission{action: "iam:AttachRolePolicy", resource: arn})
		}
		if len(tagsOf(next.Props)) > 0 {
			out = append(out, permission{action: "iam:TagRole", resource: arn})
		}
		return out
	case "update":
		arn := o.targetARNs(typ, next, false)[0]
		var out []permission
		for _, k := range changedProps(prev.Props, next.Props) {
			switch k {
			case "AssumeRolePolicyDocument":
				out = append(out, permission{action: "iam:UpdateAssumeRolePolicy", resource: arn})
			case "Policies":
				before, after := namedPolicies(prev.Props), namedPolicies(next.Props)
				for name, doc := range after {
					if before[name] != doc {
						out = append(out, permission{action: "iam:PutRolePolicy", resource: arn})
					}
				}
				for name := range before {
					if _, ok := after[name]; !ok {
						out = append(out, permission{action: "iam:DeleteRolePolicy", resource: arn})
					}
				}
			case "ManagedPolicyArns":
				added, removed := diffStrings(stringsOf(prev.Props[k]), stringsOf(next.Props[k]))
				if len(added) > 0 {
					out = append(out, permission{action: "iam:AttachRolePolicy", resource: arn})
				}
				if len(removed) > 0 {
					out = append(out, permission{action: "iam:DetachRolePolicy", resource: arn})
				}
			case "PermissionsBoundary":
				if next.Props[k] != nil {
					out = append(out, permission{action: "iam:PutRolePermissionsBoundary", resource: arn})
				} else {
					out = append(out, permission{action: "iam:DeleteRolePermissionsBoundary", resource: arn})
				}
			case "Tags":
				out = append(out, tagPermissions(typ, "update", arn, prev.Props, next.Props)...)
			case "Description", "MaxSessionDuration":
				out = append(out, permission{action: "iam:UpdateRole", resource: arn})
			}
		}
		return out
	case "delete":
		arn := o.targetARNs(typ, prev, false)[0]
		out := []permission{
			{action: "iam:ListAttachedRolePolicies", resource: arn},
			{action: "iam:ListRolePolicies", resource: arn},
		}
		if len(list(prev.Props["ManagedPolicyArns"])) > 0 {
			out = append(out, permission{action: "iam:DetachRolePolicy", resource: arn})
		}
		if len(list(prev.Props["Policies"])) > 0 {
			out = append(out, permission{action: "iam:DeleteRolePolicy", resource: arn})
		}
		return append(out, permission{action: "iam:DeleteRole", resource: arn})
	}
	return nil
}

// withBoundary is plan with the role's permissions boundary (its
// PermissionsBoundary, after the change) as the condition key
// iam:PermissionsBoundary of each call, as IAM gives it for the calls on
// a role: a policy may allow making roles only with a given boundary.
func withBoundary(plan rolePlanner) rolePlanner {
	return func(o *op, handler string, prev, next *resource) []permission {
		out := plan(o, handler, prev, next)
		r := next
		if r == nil {
			r = prev
		}
		boundary, _ := r.Props["PermissionsBoundary"].(string)
		if boundary == "" {
			return out
		}
		for i := range out {
			if out[i].context == nil {
				out[i].context = map[string][]string{}
			}
			out[i].context["iam:PermissionsBoundary"] = []string{boundary}
		}
		return out
	}
}

// policyPermissions are the calls of AWS::IAM::Policy's handlers: the
// policy is put into (PutRolePolicy, PutUserPolicy, PutGroupPolicy) or
// deleted from (DeleteRolePolicy, ...) each role, user and group it
// names.
func policyPermissions(o *op, handler string, prev, next *resource) []permission {
	var out []permission
	put := func(r *resource, verb string, only func(kind, name string) bool) {
		for _, who := range policyHolders(o, r.Props) {
			if only == nil || only(who.kind, who.name) {
				out = append(out, permission{action: "iam:" + verb + who.kind + "Policy", resource: who.arn})
			}
		}
	}
	switch handler {
	case "create":
		put(next, "Put", nil)
	case "update":
		before := map[string]bool{}
		for _, who := range policyHolders(o, prev.Props) {
			before[who.kind+" "+who.name] = true
		}
		after := map[string]bool{}
		for _, who := range policyHolders(o, next.Props) {
			after[who.kind+" "+who.name] = true
		}
		docChanged := canonical(prev.Props["PolicyDocument"]) != canonical(next.Props["PolicyDocument"]) ||
			canonical(prev.Props["PolicyName"]) != canonical(next.Props["PolicyName"])
		put(next, "Put", func(kind, name string) bool { return docChanged || !before[kind+" "+name] })
		put(prev, "Delete", func(kind, name string) bool { return !after[kind+" "+name] })
	case "delete":
		put(prev, "Delete", nil)
	}
	return out
}

// managedPolicyPermissions are the calls of AWS::IAM::ManagedPolicy's
// handlers: CreatePolicy and Attach<Role|User|Group>Policy for each it
// names; an update calls CreatePolicyVersion for a new document and
// attaches or detaches what changed; a delete detaches it from each and
// DeletePolicy.
func managedPolicyPermissions(o *op, handler string, prev, next *resource) []permission {
	const typ = "AWS::IAM::ManagedPolicy"
	var out []permission
	switch handler {
	case "create":
		out = append(out, permission{action: "iam:CreatePolicy", resource: o.targetARNs(typ, next, true)[0]})
		for _, who := range policyHolders(o, next.Props) {
			out = append(out, permission{action: "iam:Attach" + who.kind + "Policy", resource: who.arn})
		}
	case "update":
		if canonical(prev.Props["PolicyDocument"]) != canonical(next.Props["PolicyDocument"]) {
			out = append(out, permission{action: "iam:CreatePolicyVersion", resource: o.targetARNs(typ, next, false)[0]})
		}
		before, after := map[string]bool{}, map[string]bool{}
		for _, who := range policyHolders(o, prev.Props) {
			before[who.arn] = true
		}
		for _, who := range policyHolders(o, next.Props) {
			after[who.arn] = true
			if !before[who.arn] {
				out = append(out, permission{action: "iam:Attach" + who.kind + "Policy", resource: who.arn})
			}
		}
		for _, who := range policyHolders(o, prev.Props) {
			if !after[who.arn] {
				out = append(out, permission{action: "iam:Detach" + who.kind + "Policy", resource: who.arn})
			}
		}
	case "delete":
		for _, who := range policyHolders(o, prev.Props) {
			out = append(out, permission{action: "iam:Detach" + who.kind + "Policy", resource: who.arn})
		}
		out = append(out, permission{action: "iam:DeletePolicy", resource: o.targetARNs(typ, prev, false)[0]})
	}
	return out
}

// topicPermissions are AWS::SNS::Topic's: the generic ones, and
// sns:Subscribe for its inline subscriptions (sns:Unsubscribe for those an
// update removes).
func topicPermissions(o *op, handler string, prev, next *resource) []permission {
	const typ = "AWS::SNS::Topic"
	out := genericPermissions(o, typ, handler, prev, next)
	switch handler {
	case "create":
		if len(list(next.Props["Subscription"])) > 0 {
			out = append(out, permission{action: "sns:Subscribe", resource: o.targetARNs(typ, next, true)[0]})
		}
	case "update":
		added, removed := diffStrings(canonicalItems(prev.Props["Subscription"]), canonicalItems(next.Props["Subscription"]))
		arn := o.targetARNs(typ, next, false)[0]
		if len(added) > 0 {
			out = append(out, permission{action: "sns:Subscribe", resource: arn})
		}
		if len(removed) > 0 {
			out = append(out, permission{action: "sns:Unsubscribe", resource: arn})
		}
	}
	return out
}

// bucketConfigurations are the calls AWS::S3::Bucket's handlers make for
// the bucket's properties, after CreateBucket or on their change.
var bucketConfigurations = map[string]string{
	"AccelerateConfiguration":        "s3:PutAccelerateConfiguration",
	"BucketEncryption":               "s3:PutEncryptionConfiguration",
	"CorsConfiguration":              "s3:PutBucketCORS",
	"LifecycleConfiguration":         "s3:PutLifecycleConfiguration",
	"LoggingConfiguration":           "s3:PutBucketLogging",
	"NotificationConfiguration":      "s3:PutBucketNotification",
	"ObjectLockConfiguration":        "s3:PutBucketObjectLockConfiguration",
	"OwnershipControls":              "s3:PutBucketOwnershipControls",
	"PublicAccessBlockConfiguration": "s3:PutBucketPublicAccessBlock",
	"ReplicationConfiguration":       "s3:PutReplicationConfiguration",
	"VersioningConfiguration":        "s3:PutBucketVersioning",
	"WebsiteConfiguration":           "s3:PutBucketWebsite",
}

// bucketPermissions are the calls of AWS::S3::Bucket's handlers:
// CreateBucket, then a Put call for each configuration the bucket's
// properties give (bucketConfigurations) and PutBucketTagging; an update
// puts what changed; DeleteBucket.
func bucketPermissions(o *op, handler string, prev, next *resource) []permission {
	const typ = "AWS::S3::Bucket"
	switch handler {
	case "create":
		arn := o.targetARNs(typ, next, true)[0]
		out := []permission{{action: "s3:CreateBucket", resource: arn}}
		for _, k := range slices.Sorted(maps.Keys(bucketConfigurations)) {
			if next.Props[k] != nil {
				out = append(out, permission{action: bucketConfigurations[k], resource: arn})
			}
		}
		if len(tagsOf(next.Props)) > 0 {
			out = append(out, tagPermissions(typ, "create", arn, nil, next.Props)...)
		}
		return out
	case "update":
		arn := o.targetARNs(typ, next, false)[0]
		var out []permission
		for _, k := range changedProps(prev.Props, next.Props) {
			if a, ok := bucketConfigurations[k]; ok {
				out = append(out, permission{action: a, resource: arn})
			} else if k == "Tags" {
				out = append(out, tagPermissions(typ, "update", arn, prev.Props, next.Props)...)
			}
		}
		return out
	case "delete":
		return []permission{{action: "s3:DeleteBucket", resource: o.targetARNs(typ, prev, false)[0]}}
	}
	return nil
}

// policyHolder is a role, user or group an IAM policy is put into or
// attached to.
type policyHolder struct{ kind, name, arn string }

// policyHolders are the Roles, Users and Groups a policy's properties
// name (names, or a role's ARN).
func policyHolders(o *op, p map[string]any) []policyHolder {
	var out []policyHolder
	for _, k := range []struct{ prop, kind, path string }{{"Roles", "Role", "role"}, {"Users", "User", "user"}, {"Groups", "Group", "group"}} {
		for _, name := range stringsOf(p[k.prop]) {
			arn := name
			if !strings.HasPrefix(name, "arn:") {
				arn = fmt.Sprintf("arn:aws:iam::%s:%s/%s", o.e.account, k.path, name)
			}
			out = append(out, policyHolder{kind: k.kind, name: name, arn: arn})
		}
	}
	return out
}

// rolePaths are the properties, of the types the engine runs, that hand a
// service a role (iam:PassRole).
var rolePaths = []string{"Role", "RoleArn", "Target.RoleArn", "SubscriptionRoleArn", "ServiceRoleArn"}

// passRoles are the iam:PassRole of the roles next names that prev did not
// (prev nil: all), passed to typ's service.
func passRoles(typ string, prev, next map[string]any) []permission {
	var out []permission
	roles := func(p map[string]any) []string {
		var rs []string
		for _, path := range rolePaths {
			if s, ok := prop(p, path).(string); ok && s != "" {
				rs = append(rs, s)
			}
		}
		for _, t := range list(p["Targets"]) {
			if m, ok := t.(map[string]any); ok {
				if s, ok := m["RoleArn"].(string); ok && s != "" {
					rs = append(rs, s)
				}
			}
		}
		return rs
	}
	var before []string
	if prev != nil {
		before = roles(prev)
	}
	for _, r := range roles(next) {
		if !slices.Contains(before, r) {
			out = append(out, passRole(r, typ))
		}
	}
	return out
}

// passRole is iam:PassRole of role to typ's service.
func passRole(role, typ string) permission {
	return permission{action: "iam:PassRole", resource: role, context: map[string][]string{"iam:PassedToService": {typeService(typ) + ".amazonaws.com"}}}
}

// typeService is the service prefix of a resource type's principal
// (AWS::StepFunctions::StateMachine: states).
func typeService(typ string) string {
	svc := strings.ToLower(strings.Split(typ, "::")[1])
	switch svc {
	case "stepfunctions":
		return "states"
	case "apigatewayv2":
		return "apigateway"
	}
	return svc
}

// objectPaths are the properties, of the types the engine runs, that name
// an S3 object the handler reads: the property and its bucket, key and
// version fields.
var objectPaths = []struct{ prop, bucket, key, version string }{
	{"Code", "S3Bucket", "S3Key", "S3ObjectVersion"},
	{"Content", "S3Bucket", "S3Key", "S3ObjectVersion"},
	{"DefinitionS3Location", "Bucket", "Key", "Version"},
	{"BodyS3Location", "Bucket", "Key", "Version"},
}

// readsObjects are the s3:GetObject (s3:GetObjectVersion of a version) of
// the objects next names that prev did not (prev nil: all).
func readsObjects(prev, next map[string]any) []permission {
	var out []permission
	for _, o := range objectPaths {
		m, ok := next[o.prop].(map[string]any)
		if !ok || (prev != nil && canonical(prev[o.prop]) == canonical(next[o.prop])) {
			continue
		}
		bucket, key := toStringOr(m[o.bucket], ""), toStringOr(m[o.key], "")
		if bucket == "" || key == "" {
			continue
		}
		action := "s3:GetObject"
		if toStringOr(m[o.version], "") != "" {
			action = "s3:GetObjectVersion"
		}
		out = append(out, permission{action: action, resource: "arn:aws:s3:::" + bucket + "/" + key})
	}
	return out
}

// tagPermissions are the tagging calls of a handler of typ on arn: the
// schema's action that tags (TagResource, TagRole, TagQueue,
// AddTagsToResource) when next has tags prev did not (or other values),
// and the one that untags when prev had tags next has not; a bucket's
// PutBucketTagging for either.
func tagPermissions(typ, handler, arn string, prev, next map[string]any) []permission {
	before, after := tagsOf(prev), tagsOf(next)
	added, removed := false, false
	for k, v := range after {
		if w, ok := before[k]; !ok || w != v {
			added = true
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			removed = true
		}
	}
	var out []permission
	for _, p := range handlerPermissions().Types[typ][handler] {
		svc, a, _ := strings.Cut(p, ":")
		if svc != typeService(typ) && !(typ == "AWS::S3::Bucket" && svc == "s3") {
			continue
		}
		tags := strings.HasPrefix(a, "Tag") || strings.HasPrefix(a, "AddTags")
		untags := strings.HasPrefix(a, "Untag") || strings.HasPrefix(a, "RemoveTags")
		if svc == "s3" {
			// A bucket's handler puts its whole tag set.
			tags, untags = a == "PutBucketTagging", a == "PutBucketTagging"
		}
		if (tags && added) || (untags && removed) {
			out = append(out, permission{action: p, resource: arn})
		}
	}
	return out
}

// tagsOf reads a resource's Tags, a list of {Key, Value} or a map.
func tagsOf(p map[string]any) map[string]string {
	out := map[string]string{}
	switch t := p["Tags"].(type) {
	case []any:
		for _, item := range t {
			if m, ok := item.(map[string]any); ok {
				out[toStringOr(m["Key"], "")] = toStringOr(m["Value"], "")
			}
		}
	case map[string]any:
		for k, v := range t {
			out[k] = toStringOr(v, "")
		}
	}
	return out
}

// changedProps are the properties whose values differ, sorted.
func changedProps(prev, next map[string]any) []string {
	keys := map[string]bool{}
	for k := range prev {
		keys[k] = true
	}
	for k := range next {
		keys[k] = true
	}
	var out []string
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if canonical(prev[k]) != canonical(next[k]) {
			out = append(out, k)
		}
	}
	return out
}

// namedPolicies are a role's inline Policies, by name, each as its
// canonical document.
func namedPolicies(p map[string]any) map[string]string {
	out := map[string]string{}
	for _, item := range list(p["Policies"]) {
		if m, ok := item.(map[string]any); ok {
			out[toStringOr(m["PolicyName"], "")] = canonical(m["PolicyDocument"])
		}
	}
	return out
}

// stringsOf is the strings of a list.
func stringsOf(v any) []string {
	var out []string
	for _, item := range list(v) {
		if s, ok := item.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// canonicalItems is each item of a list in its canonical form.
func canonicalItems(v any) []string {
	var out []string
	for _, item := range list(v) {
		out = append(out, canonical(item))
	}
	return out
}

// diffStrings returns what of after is not in before, and what of before
// is not in after.
func diffStrings(before, after []string) (added, removed []string) {
	for _, s := range after {
		if !slices.Contains(before, s) {
			added = append(added, s)
		}
	}
	for _, s := range before {
		if !slices.Contains(after, s) {
			removed = append(removed, s)
		}
	}
	return added, removed
}

// naming is how the engine names a resource of a type that names itself,
// and the ARN of that name: what the service role is asked for before the
// resource exists.
type naming struct {
	// prop is the property that names it; without it the engine makes a
	// name (physicalName) of at most max characters (lower: in lower
	// case; stackless: without the stack's name; prefix before it).
	prop             string
	max              int
	lower, stackless bool
	prefix           string
	// fifo is the property that makes it FIFO, its generated name then
	// ending in .fifo.
	fifo string
	// arn is the ARN of a resource of that name.
	arn func(o *op, r *resource, name string) string
}

// regional is the ARN format arn:aws:<service>:<region>:<account>:<rest>,
// rest a format of the name.
func regional(service, rest string) func(o *op, r *resource, name string) string {
	return func(o *op, _ *resource, name string) string {
		return fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, o.e.region, o.e.account, fmt.Sprintf(rest, name))
	}
}

// namings are the types that name themselves, as their create does.
var namings = map[string]naming{
	"AWS::Lambda::Function":     {prop: "FunctionName", max: 64, arn: regional("lambda", "function:%s")},
	"AWS::Lambda::LayerVersion": {prop: "LayerName", max: 140, arn: regional("lambda", "layer:%s")},
	"AWS::SNS::Topic":           {prop: "TopicName", max: 256, fifo: "FifoTopic", arn: regional("sns", "%s")},
	"AWS::SQS::Queue":           {prop: "QueueName", max: 80, fifo: "FifoQueue", arn: regional("sqs", "%s")},
	"AWS::DynamoDB::Table":      {prop: "TableName", max: 255, arn: regional("dynamodb", "table/%s")},
	"AWS::S3::Bucket": {prop: "BucketName", max: 63, lower: true, arn: func(_ *op, _ *resource, name string) string {
		return "arn:aws:s3:::" + name
	}},
	"AWS::IAM::Role": {prop: "RoleName", max: 64, arn: func(o *op, r *resource, name string) string {
		return fmt.Sprintf("arn:aws:iam::%s:role%s%s", o.e.account, toStringOr(r.Props["Path"], "/"), name)
	}},
	"AWS::IAM::ManagedPolicy": {prop: "ManagedPolicyName", max: 128, arn: func(o *op, r *resource, name string) string {
		return fmt.Sprintf("arn:aws:iam::%s:policy%s%s", o.e.account, toStringOr(r.Props["Path"], "/"), name)
	}},
	"AWS::StepFunctions::StateMachine": {prop: "StateMachineName", max: 80, stackless: true, arn: regional("states", "stateMachine:%s")},
	// A secret's ARN ends in six random characters.
	"AWS::SecretsManager::Secret": {prop: "Name", max: 256, stackless: true, arn: regional("secretsmanager", "secret:%s-??????")},
	"AWS::SSM::Parameter": {prop: "Name", max: 2048, stackless: true, prefix: "CFN-", arn: func(o *op, _ *resource, name string) string {
		return fmt.Sprintf("arn:aws:ssm:%s:%s:parameter/%s", o.e.region, o.e.account, strings.TrimPrefix(name, "/"))
	}},
	"AWS::Events::Rule": {prop: "Name", max: 64, arn: func(o *op, r *resource, name string) string {
		if bus := busName(r.Props["EventBusName"]); bus != "default" {
			name = bus + "/" + name
		}
		return fmt.Sprintf("arn:aws:events:%s:%s:rule/%s", o.e.region, o.e.account, name)
	}},
	"AWS::Events::EventBus": {prop: "Name", max: 256, arn: regional("events", "event-bus/%s")},
	"AWS::Scheduler::Schedule": {prop: "Name", max: 64, arn: func(o *op, r *resource, name string) string {
		return fmt.Sprintf("arn:aws:scheduler:%s:%s:schedule/%s/%s", o.e.region, o.e.account, toStringOr(r.Props["GroupName"], "default"), name)
	}},
	"AWS::Scheduler::ScheduleGroup": {prop: "Name", max: 64, arn: regional("scheduler", "schedule-group/%s")},
	"AWS::Logs::LogGroup":           {prop: "LogGroupName", max: 512, arn: regional("logs", "log-group:%s")},
	"AWS::CloudWatch::Alarm":        {prop: "AlarmName", max: 255, arn: regional("cloudwatch", "alarm:%s")},
}

// parentPaths are, for the types that act on another resource (a
// function's permission, a topic's subscription, a queue's policy), the
// properties that name it and what they name.
var parentPaths = map[string][]struct{ prop, kind string }{
	"AWS::Lambda::Permission": {{"FunctionName", "function"}},
	"AWS::Lambda::Url":        {{"TargetFunctionArn", "function"}},
	"AWS::Lambda::Version":    {{"FunctionName", "function"}},
	"AWS::Lambda::Alias":      {{"FunctionName", "function"}},
	"AWS::SNS::Subscription":  {{"TopicArn", "arn"}},
	"AWS::SNS::TopicPolicy":   {{"Topics", "arn"}},
	"AWS::SQS::QueuePolicy":   {{"Queues", "queue"}},
	"AWS::S3::BucketPolicy":   {{"Bucket", "bucket"}},
}

// targetARNs are the ARNs a handler of typ acts on for r: the resource's
// own (before: the one its create will give it), or, for a type that acts
// on another resource, that one's; ["*"] when the engine cannot tell
// (API Gateway's) or the action takes no resource (an event source
// mapping's create).
func (o *op) targetARNs(typ string, r *resource, before bool) []string {
	var out []string
	if paths, ok := parentPaths[typ]; ok {
		for _, p := range paths {
			for _, v := range append(stringsOf(r.Props[p.prop]), toStringOr(r.Props[p.prop], "")) {
				if v == "" {
					continue
				}
				switch p.kind {
				case "function":
					if !strings.HasPrefix(v, "arn:") {
						v = fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", o.e.region, o.e.account, v)
					}
				case "queue":
					// A queue's URL ends in /<account>/<name>.
					parts := strings.Split(strings.TrimRight(v, "/"), "/")
					if len(parts) >= 2 {
						v = fmt.Sprintf("arn:aws:sqs:%s:%s:%s", o.e.region, parts[len(parts)-2], parts[len(parts)-1])
					}
				case "bucket":
					v = "arn:aws:s3:::" + v
				}
				out = append(out, o.inAccount(v))
			}
		}
	} else if arn := o.ownARN(typ, r, before); arn != "" {
		out = append(out, o.inAccount(arn))
	}
	if len(out) == 0 {
		return []string{"*"}
	}
	return out
}

// ownARN is the ARN of r: its Arn (or EventSourceMappingArn) attribute,
// its physical ID when that is an ARN, or what its name makes (the name its create will give it when
// before); "" when the engine cannot tell.
func (o *op) ownARN(typ string, r *resource, before bool) string {
	if !before {
		for _, attr := range []string{"Arn", "EventSourceMappingArn"} {
			if a, ok := r.Attrs[attr].(string); ok && strings.HasPrefix(a, "arn:") {
				return strings.TrimSuffix(a, ":*")
			}
		}
		if strings.HasPrefix(r.Physical, "arn:") {
			return r.Physical
		}
	}
	n, ok := namings[typ]
	if !ok {
		return ""
	}
	name := r.Physical
	if before || name == "" {
		name = toStringOr(r.Props[n.prop], "")
	}
	if name == "" {
		stack, max := o.stackName, n.max
		fifo := false
		if n.fifo != "" {
			fifo, _ = toBool(r.Props[n.fifo])
		}
		if fifo {
			max -= len(".fifo")
		}
		if n.stackless {
			stack = ""
		}
		name = r.physicalName(stack, max, n.lower)
		if n.stackless {
			name = name[1:]
		}
		name = n.prefix + name
		if fifo {
			name += ".fifo"
		}
	}
	return n.arn(o, r, name)
}

// inAccount is arn with the stack's account: what a stack makes is in the
// stack's account, whatever account kumo writes into an ARN (its
// Scheduler's is 123456789012).
func (o *op) inAccount(arn string) string {
	if parts := strings.SplitN(arn, ":", 6); len(parts) == 6 && parts[4] != "" && parts[4] != o.e.account {
		parts[4] = o.e.account
		return strings.Join(parts, ":")
	}
	return arn
}
