package iam

import (
	"errors"
	"fmt"
	"strings"
)

// ApplyResource records a resource a stack made or updated, for the
// types that hold IAM policies: AWS::IAM::Role (trust policy, inline
// Policies, ManagedPolicyArns), AWS::IAM::Policy and
// AWS::IAM::ManagedPolicy (with the Roles they attach to),
// AWS::Lambda::Permission, AWS::S3::BucketPolicy, AWS::SQS::QueuePolicy
// and AWS::SNS::TopicPolicy. Other types are ignored. It implements the
// local CloudFormation engine's IAM hook.
func (a *Authority) ApplyResource(typ, physical string, attrs, props map[string]any) error {
	switch typ {
	case "AWS::IAM::Role":
		arn, _ := attrs["Arn"].(string)
		id, _ := attrs["RoleId"].(string)
		if arn == "" {
			return fmt.Errorf("role %s has no Arn", physical)
		}
		r := &Role{ARN: arn, Name: physical, ID: id, Inline: map[string]*Policy{}}
		if doc, ok := props["AssumeRolePolicyDocument"]; ok {
			p, err := PolicyFrom(doc)
			if err != nil {
				return fmt.Errorf("AssumeRolePolicyDocument: %w", err)
			}
			r.Trust = p
		}
		policies, _ := props["Policies"].([]any)
		for i, item := range policies {
			m, _ := item.(map[string]any)
			name, _ := m["PolicyName"].(string)
			p, err := PolicyFrom(m["PolicyDocument"])
			if err != nil {
				return fmt.Errorf("policy %d of Policies (%s): %w", i, name, err)
			}
			r.Inline[name] = p
		}
		r.Managed = stringList(props["ManagedPolicyArns"])
		a.PutRole(r)
	case "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy":
		p, err := PolicyFrom(props["PolicyDocument"])
		if err != nil {
			return fmt.Errorf("PolicyDocument: %w", err)
		}
		if typ == "AWS::IAM::ManagedPolicy" {
			a.PutManagedPolicy(physical, p)
		}
		a.PutRolePolicy(typ+" "+physical, p, stringList(props["Roles"]))
	case "AWS::Lambda::Permission":
		fn, _ := props["FunctionName"].(string)
		st, err := a.permission(physical, props)
		if err != nil {
			return err
		}
		a.PutResourcePolicy(a.functionARN(fn), physical, &Policy{Version: "2012-10-17", Statement: []Statement{st}})
	case "AWS::S3::BucketPolicy":
		p, err := PolicyFrom(props["PolicyDocument"])
		if err != nil {
			return fmt.Errorf("PolicyDocument: %w", err)
		}
		bucket, _ := props["Bucket"].(string)
		a.PutResourcePolicy("arn:aws:s3:::"+bucket, physical, p)
	case "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy":
		p, err := PolicyFrom(props["PolicyDocument"])
		if err != nil {
			return fmt.Errorf("PolicyDocument: %w", err)
		}
		for _, res := range a.policyTargets(typ, props) {
			a.PutResourcePolicy(res, physical, p)
		}
	}
	return nil
}

// RemoveResource forgets what ApplyResource recorded.
func (a *Authority) RemoveResource(typ, physical string, props map[string]any) {
	switch typ {
	case "AWS::IAM::Role":
		a.mu.RLock()
		var arn string
		for k, r := range a.roles {
			if r.Name == physical {
				arn = k
			}
		}
		a.mu.RUnlock()
		if arn != "" {
			a.DeleteRole(arn)
		}
	case "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy":
		a.DeleteRolePolicy(typ + " " + physical)
		if typ == "AWS::IAM::ManagedPolicy" {
			a.DeleteManagedPolicy(physical)
		}
	case "AWS::Lambda::Permission":
		fn, _ := props["FunctionName"].(string)
		a.DeleteResourcePolicy(a.functionARN(fn), physical)
	case "AWS::S3::BucketPolicy":
		bucket, _ := props["Bucket"].(string)
		a.DeleteResourcePolicy("arn:aws:s3:::"+bucket, physical)
	case "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy":
		for _, res := range a.policyTargets(typ, props) {
			a.DeleteResourcePolicy(res, physical)
		}
	}
}

// FunctionCredentials returns the environment of a function's session of
// its execution role. A role no stack made (one that existed before, on
// AWS) is not known locally: the function runs with the local AWS's
// credentials, as the account's root, and a warning says so.
func (a *Authority) FunctionCredentials(role, function string) (map[string]string, error) {
	a.mu.RLock()
	_, known := a.roles[role]
	a.mu.RUnlock()
	if !known {
		a.warnOnce("role:"+role, "stackflow local: IAM: function %s's role %s was made by no local stack: the function runs unchecked, as the account's root", function, role)
		return nil, nil
	}
	s, err := a.Issue(role, "lambda.amazonaws.com", function)
	if err != nil {
		return nil, fmt.Errorf("the role defined for the function cannot be assumed by Lambda: %w", err)
	}
	return map[string]string{
		"AWS_ACCESS_KEY_ID":     s.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY": s.SecretAccessKey,
		"AWS_SESSION_TOKEN":     s.SessionToken,
	}, nil
}

// AllowInvoke decides whether a service principal may invoke a function
// (a name, or an ARN with or without a qualifier) for sourceARN: the
// function's AWS::Lambda::Permissions decide, as Lambda's resource policy
// does. A denial is logged, and in Warn mode let through.
func (a *Authority) AllowInvoke(service, function, sourceARN, sourceAccount string) error {
	if msg := a.Check(service, "lambda:InvokeFunction", a.functionARN(function), sourceARN, sourceAccount); msg != "" {
		return errors.New(msg)
	}
	return nil
}

// permission is the statement Lambda adds to a function's policy for an
// AWS::Lambda::Permission.
func (a *Authority) permission(sid string, props map[string]any) (Statement, error) {
	fn, _ := props["FunctionName"].(string)
	principal, _ := props["Principal"].(string)
	action, _ := props["Action"].(string)
	if fn == "" || principal == "" || action == "" {
		return Statement{}, fmt.Errorf("a Lambda permission needs FunctionName, Principal and Action")
	}
	st := Statement{Sid: sid, Effect: "Allow", Action: Strings{action}, Resource: Strings{a.functionARN(fn)}, Principal: &Principals{ByKind: map[string]Strings{}}}
	switch {
	case principal == "*":
		st.Principal = &Principals{Wildcard: true}
	case strings.HasSuffix(principal, ".amazonaws.com"):
		st.Principal.ByKind["Service"] = Strings{principal}
	case !strings.HasPrefix(principal, "arn:"):
		st.Principal.ByKind["AWS"] = Strings{"arn:aws:iam::" + principal + ":root"}
	default:
		st.Principal.ByKind["AWS"] = Strings{principal}
	}
	st.Condition = Conditions{}
	if src, _ := props["SourceArn"].(string); src != "" {
		st.Condition["ArnLike"] = map[string]Strings{"AWS:SourceArn": {src}}
	}
	equals := map[string]Strings{}
	if acct, _ := props["SourceAccount"].(string); acct != "" {
		equals["AWS:SourceAccount"] = Strings{acct}
	}
	if t, _ := props["FunctionUrlAuthType"].(string); t != "" {
		equals["lambda:FunctionUrlAuthType"] = Strings{t}
	}
	if len(equals) > 0 {
		st.Condition["StringEquals"] = equals
	}
	switch v := props["InvokedViaFunctionUrl"].(type) {
	case bool:
		st.Condition["Bool"] = map[string]Strings{"lambda:InvokedViaFunctionUrl": {fmt.Sprint(v)}}
	case string:
		st.Condition["Bool"] = map[string]Strings{"lambda:InvokedViaFunctionUrl": {strings.ToLower(v)}}
	}
	return st, nil
}

// functionARN is the ARN of a function a FunctionName names (a name, a
// name with a qualifier, or an ARN).
func (a *Authority) functionARN(fn string) string {
	if strings.HasPrefix(fn, "arn:") {
		return fn
	}
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", a.opts.Region, a.opts.Account, fn)
}

// policyTargets are the queues' ARNs (from their URLs) or topics' ARNs a
// queue or topic policy applies to.
func (a *Authority) policyTargets(typ string, props map[string]any) []string {
	if typ == "AWS::SNS::TopicPolicy" {
		return stringList(props["Topics"])
	}
	var out []string
	for _, u := range stringList(props["Queues"]) {
		name := u[strings.LastIndexByte(u, '/')+1:]
		out = append(out, fmt.Sprintf("arn:aws:sqs:%s:%s:%s", a.opts.Region, a.opts.Account, name))
	}
	return out
}

func stringList(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, item := range v {
			if s, ok := item.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case []string:
		return v
	}
	return nil
}
