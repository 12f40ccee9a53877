package smoke

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/workspace"
)

// SessionName is the role session name of every role the smoke step
// assumes: CloudTrail in the environment's account shows its calls under
// it.
const SessionName = "stackflow-smoke"

// lambdaFunctionType is the CloudFormation type of a function, as stacks
// list it (SAM's AWS::Serverless::Function becomes one).
const lambdaFunctionType = "AWS::Lambda::Function"

// lambdaAPI invokes functions.
type lambdaAPI interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, optFns ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// stackAPI reads a stack's resources.
type stackAPI interface {
	DescribeStackResource(ctx context.Context, in *cloudformation.DescribeStackResourceInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeStackResourceOutput, error)
	ListStackResources(ctx context.Context, in *cloudformation.ListStackResourcesInput, optFns ...func(*cloudformation.Options)) (*cloudformation.ListStackResourcesOutput, error)
}

var (
	_ lambdaAPI = (*lambda.Client)(nil)
	_ stackAPI  = (*cloudformation.Client)(nil)
)

// awsClients builds the clients of invoke checks: in the environment's
// region and, when the environment names a role, as that role, assumed
// with a session policy that allows only what the check needs (reading
// the environment's stack's resources; invoking the one function).
type awsClients struct {
	cfg aws.Config

	mu    sync.Mutex
	creds map[string]aws.CredentialsProvider // by role and session policy
}

func newAWSClients(cfg aws.Config) *awsClients {
	return &awsClients{cfg: cfg, creds: map[string]aws.CredentialsProvider{}}
}

// config is a copy of the pipeline's configuration for region, with role's
// credentials (assumed as SessionName under policy) when role is set.
func (a *awsClients) config(region, role, policy string) aws.Config {
	c := a.cfg.Copy()
	if region != "" {
		c.Region = region
	}
	if role == "" {
		return c
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	key := role + "\n" + policy
	p, ok := a.creds[key]
	if !ok {
		p = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(a.cfg), role, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = SessionName
			o.Policy = aws.String(policy)
		}))
		a.creds[key] = p
	}
	c.Credentials = p
	return c
}

// stacks returns the client that reads env's stack.
func (a *awsClients) stacks(env pipeline.Environment) stackAPI {
	region := a.region(env)
	part, account := roleAccount(env.RoleARN)
	policy := sessionPolicy([]string{"cloudformation:DescribeStackResource", "cloudformation:ListStackResources"},
		fmt.Sprintf("arn:%s:cloudformation:%s:%s:stack/%s/*", part, region, account, env.Stack))
	return cloudformation.NewFromConfig(a.config(region, env.RoleARN, policy))
}

// functions returns the client that invokes function (a name) of env.
func (a *awsClients) functions(env pipeline.Environment, function string) lambdaAPI {
	region := a.region(env)
	part, account := roleAccount(env.RoleARN)
	fn := fmt.Sprintf("arn:%s:lambda:%s:%s:function:%s", part, region, account, function)
	policy := sessionPolicy([]string{"lambda:InvokeFunction"}, fn, fn+":*")
	return lambda.NewFromConfig(a.config(region, env.RoleARN, policy))
}

func (a *awsClients) region(env pipeline.Environment) string {
	if env.Region != "" {
		return env.Region
	}
	return a.cfg.Region
}

// secrets are the credentials' secret parts, which a check's output must
// never show.
func (a *awsClients) secrets(ctx context.Context, env pipeline.Environment) []string {
	var out []string
	add := func(p aws.CredentialsProvider) {
		if p == nil {
			return
		}
		if c, err := p.Retrieve(ctx); err == nil {
			out = append(out, c.SecretAccessKey, c.SessionToken)
		}
	}
	add(a.cfg.Credentials)
	var assumed []aws.CredentialsProvider
	a.mu.Lock()
	for key, p := range a.creds {
		if env.RoleARN != "" && strings.HasPrefix(key, env.RoleARN+"\n") {
			assumed = append(assumed, p)
		}
	}
	a.mu.Unlock()
	for _, p := range assumed {
		add(p)
	}
	return out
}

// roleAccount is the partition and account of roleARN: the environment's
// own account, where its stack and functions are ("aws" and "*" without a
// role).
func roleAccount(roleARN string) (partition, account string) {
	if a, err := arn.Parse(roleARN); err == nil && a.AccountID != "" {
		return a.Partition, a.AccountID
	}
	return "aws", "*"
}

// sessionPolicy is an IAM policy that allows actions on resources.
func sessionPolicy(actions []string, resources ...string) string {
	b, _ := json.Marshal(map[string]any{
		"Version":   "2012-10-17",
		"Statement": []map[string]any{{"Effect": "Allow", "Action": actions, "Resource": resources}},
	})
	return string(b)
}

// resolveInvoke makes the invoke check sc: it finds the function sc names
// (by an output of the stack, or by its logical ID), and makes sure it is a
// function of the environment's own stack. A name that is not an output,
// not a resource of the stack or not one of its functions is a
// *pipeline.ConfigInvalid: a mistake in stackflow.yml, never a reason to
// roll back.
func (s *Service) resolveInvoke(ctx context.Context, sc pipeline.SmokeCheck, in pipeline.SmokeInput) (check, error) {
	c := check{name: sc.Name, contains: sc.Contains, payload: []byte(sc.Payload), timeout: InvokeTimeout}
	if c.name == "" {
		c.name = sc.Function
	}
	if len(c.payload) == 0 {
		c.payload = []byte("{}")
	}
	if sc.TimeoutSeconds > 0 {
		c.timeout = secondsOf(sc.TimeoutSeconds)
	}
	env, stack := envName(in), in.Deployment.Stack
	if stack == "" {
		stack = in.Environment.Stack
	}
	invalid := func(problem, fix string) (check, error) {
		return check{}, &pipeline.ConfigInvalid{File: "stackflow.yml",
			Problem: fmt.Sprintf("smoke check %q of %s %s", c.name, env, problem), Fix: fix}
	}
	if s.aws == nil {
		return check{}, fmt.Errorf("smoke check %q of %s invokes a function, but this smoke step has no AWS configuration", c.name, env)
	}
	awsEnv := in.Environment
	awsEnv.Stack = stack
	stacks := s.aws.stacks(awsEnv)

	var target string // what is invoked: a name or an ARN, with its qualifier
	if strings.HasPrefix(sc.Function, "${") {
		name := strings.TrimSuffix(strings.TrimPrefix(sc.Function, "${"), "}")
		v, ok := in.Deployment.Outputs[name]
		if !ok {
			has := "has no outputs"
			if names := outputNames(in.Deployment.Outputs); len(names) > 0 {
				has = "has outputs " + strings.Join(names, ", ")
			}
			return invalid(fmt.Sprintf("invokes %s, but %s %s", sc.Function, stack, has),
				"an invoke check's function must be an output of the environment's stack, or a function's logical ID")
		}
		target = strings.TrimSpace(v)
	} else {
		out, err := stacks.DescribeStackResource(ctx, &cloudformation.DescribeStackResourceInput{
			StackName: aws.String(stack), LogicalResourceId: aws.String(sc.Function),
		})
		if err != nil {
			var ae smithy.APIError
			if errors.As(err, &ae) && ae.ErrorCode() == "ValidationError" && strings.Contains(ae.ErrorMessage(), "does not exist") {
				return invalid(fmt.Sprintf("invokes %s, but %s has no resource %s", sc.Function, stack, sc.Function),
					"name a function of the template by its logical ID, or by an output")
			}
			return check{}, fmt.Errorf("smoke check %q of %s: find %s in stack %s: %w", c.name, env, sc.Function, stack, err)
		}
		d := out.StackResourceDetail
		if typ := aws.ToString(d.ResourceType); typ != lambdaFunctionType {
			return invalid(fmt.Sprintf("invokes %s, but %s is a resource of type %s in %s, not a function", sc.Function, sc.Function, typ, stack),
				"name a function (AWS::Serverless::Function or AWS::Lambda::Function) of the template")
		}
		target = aws.ToString(d.PhysicalResourceId)
	}
	name, qualifier, _ := splitFunction(target)
	if name == "" {
		return invalid(fmt.Sprintf("invokes %s, whose value %q is not a function's name or ARN", sc.Function, target),
			"make the output the function's name (!Ref) or ARN (!GetAtt Function.Arn)")
	}
	if err := s.ownFunction(ctx, stacks, stack, name); err != nil {
		var ci *pipeline.ConfigInvalid
		if errors.As(err, &ci) {
			return invalid(fmt.Sprintf("invokes %s (%s), %s", sc.Function, target, ci.Problem), ci.Fix)
		}
		return check{}, fmt.Errorf("smoke check %q of %s: %w", c.name, env, err)
	}
	// An ARN is invoked as it is: its account is the one IAM allows (the
	// pipeline's own, or the environment role's; see awsClients).
	c.function = target
	if qualifier != "" && !strings.Contains(target, ":function:") {
		c.function = name + ":" + qualifier
	}
	c.invoke = s.aws.functions(awsEnv, name)
	return c, nil
}

// ownFunction checks that the function name is a function of stack. Only then may an invoke check invoke it: a commit
// brings its smoke checks and its template's outputs, and neither may make
// the pipeline invoke another environment's functions.
func (s *Service) ownFunction(ctx context.Context, stacks stackAPI, stack, name string) error {
	pages := cloudformation.NewListStackResourcesPaginator(stacks, &cloudformation.ListStackResourcesInput{StackName: aws.String(stack)})
	var functions []string
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list the resources of stack %s: %w", stack, err)
		}
		for _, r := range page.StackResourceSummaries {
			if aws.ToString(r.ResourceType) != lambdaFunctionType {
				continue
			}
			physical := aws.ToString(r.PhysicalResourceId)
			if n, _, _ := splitFunction(physical); n != "" {
				physical = n
			}
			functions = append(functions, physical)
		}
	}
	found := false
	for _, f := range functions {
		found = found || f == name
	}
	if !found {
		has := "it has no functions"
		if len(functions) > 0 {
			has = "its functions are " + strings.Join(functions, ", ")
		}
		return &pipeline.ConfigInvalid{
			Problem: fmt.Sprintf("which is not a function of stack %s (%s)", stack, has),
			Fix:     "an invoke check invokes only functions of its environment's own stack",
		}
	}
	return nil
}

// splitFunction reads a function as Lambda's Invoke takes it: a name
// ("hello"), a name with a qualifier ("hello:live"), a partial ARN
// ("123456789012:function:hello") or an ARN, with or without a qualifier.
// account is set only for the (partial) ARNs.
func splitFunction(s string) (name, qualifier, account string) {
	if a, err := arn.Parse(s); err == nil {
		if a.Service != "lambda" || !strings.HasPrefix(a.Resource, "function:") {
			return "", "", ""
		}
		rest := strings.TrimPrefix(a.Resource, "function:")
		name, qualifier, _ = strings.Cut(rest, ":")
		return name, qualifier, a.AccountID
	}
	parts := strings.Split(s, ":")
	switch {
	case len(parts) >= 3 && parts[1] == "function":
		name = parts[2]
		if len(parts) > 3 {
			qualifier = parts[3]
		}
		account = parts[0]
	case len(parts) <= 2:
		name = parts[0]
		if len(parts) == 2 {
			qualifier = parts[1]
		}
	}
	if !validFunctionName(name) {
		return "", "", ""
	}
	return name, qualifier, account
}

// validFunctionName reports whether s can be a function's name.
func validFunctionName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r == '_' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') {
			return false
		}
	}
	return true
}

// tryInvoke invokes c's function once and says what came back and whether
// it is what c wants; what came back is shown with redact's secrets hidden.
func (s *Service) tryInvoke(ctx context.Context, c check, redact *workspace.Redactor) (status int, got string, ok bool) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	out, err := c.invoke.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(c.function), Payload: c.payload})
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, "no result within " + c.timeout.String(), false
		}
		return 0, redact.String("no result: " + err.Error()), false
	}
	status = int(out.StatusCode)
	if out.FunctionError != nil {
		return status, redact.String(fmt.Sprintf("function error %s, result %s", aws.ToString(out.FunctionError), result(out.Payload))), false
	}
	ok = c.contains == "" || bytes.Contains(out.Payload, []byte(c.contains))
	return status, redact.String("result " + result(out.Payload)), ok
}

// result shows the start of a function's result: JSON as it is (compacted;
// quoting it would escape its every quote), anything else quoted.
func result(payload []byte) string {
	var b bytes.Buffer
	if json.Compact(&b, payload) != nil {
		return excerptN(payload, resultExcerptLen)
	}
	s := strings.ToValidUTF8(b.String(), "\uFFFD")
	if utf8.RuneCountInString(s) <= resultExcerptLen {
		return s
	}
	return string([]rune(s)[:resultExcerptLen]) + "..."
}
