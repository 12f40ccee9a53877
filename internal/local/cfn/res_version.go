package cfn

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
)

// AWS::Lambda::Version and AWS::Lambda::Alias (what SAM's
// AutoPublishAlias makes), and AWS::Lambda::Permission. A version or an
// alias is the engine's own record: the local Lambda (kumo) runs one
// version of a function, its current code, so whatever invokes a
// version's or an alias's ARN through the engine (an HTTP API's route,
// functionTargetLocked) reaches the function as it is now.
func init() {
	register(map[string]*kind{
		"AWS::Lambda::Version": {
			attrs: []string{"Version", "FunctionArn"},
			// A version cannot change: any change publishes another.
			replace: []string{"FunctionName", "Description", "CodeSha256", "ProvisionedConcurrencyConfig", "RuntimePolicy"},
			create:  createVersion,
			remove:  forgetQualified,
		},
		"AWS::Lambda::Alias": {
			attrs:   []string{"AliasArn"},
			replace: []string{"FunctionName", "Name"},
			create:  createAlias,
			update:  updateAlias,
			remove:  forgetQualified,
		},
		"AWS::Lambda::Permission": recorded([]string{}, []string{"FunctionName", "Principal", "SourceArn", "SourceAccount", "Action", "EventSourceToken", "FunctionUrlAuthType"}, func(o *op, r *resource) {
			r.Physical = r.physicalName(o.stackName, 100, false)
			r.Attrs = map[string]any{}
		}),
	})
}

// functionOf looks up the function a FunctionName property names (a
// name, or an ARN with or without a qualifier) in the local Lambda and
// returns its name and unqualified ARN.
func (e *Engine) functionOf(ctx context.Context, v any) (name, arn string, err error) {
	ref := toStringOr(v, "")
	if ref == "" {
		return "", "", reasonf("FunctionName is required")
	}
	e.mu.Lock()
	if fn, ok := e.qualified[ref]; ok {
		ref = fn
	}
	e.mu.Unlock()
	if i := strings.Index(ref, ":function:"); i >= 0 {
		ref = ref[i+len(":function:"):]
		ref, _, _ = strings.Cut(ref, ":")
	}
	out, err := e.lambda.GetFunction(ctx, &awslambda.GetFunctionInput{FunctionName: aws.String(ref)})
	if err != nil {
		return "", "", fmt.Errorf("FunctionName %s: %s", toStringOr(v, ""), awsMessage("Lambda", err))
	}
	return ref, aws.ToString(out.Configuration.FunctionArn), nil
}

// functionTargetLocked returns what to invoke through the local Lambda
// for the function, version or alias that name (a name or an ARN) names:
// a version's or alias's ARN that this engine published is its function's
// name; anything else is name itself. The caller holds e.mu.
func (e *Engine) functionTargetLocked(name string) string {
	if fn, ok := e.qualified[name]; ok {
		return fn
	}
	return name
}

func createVersion(ctx context.Context, o *op, r *resource) error {
	name, arn, err := o.e.functionOf(ctx, r.Props["FunctionName"])
	if err != nil {
		return err
	}
	o.e.mu.Lock()
	o.e.versions[name]++
	n := strconv.Itoa(o.e.versions[name])
	r.Physical = arn + ":" + n
	o.e.qualified[r.Physical] = name
	o.e.mu.Unlock()
	r.Attrs = map[string]any{"Version": n, "FunctionArn": arn}
	return nil
}

// aliasVersion checks an alias's FunctionVersion: $LATEST or a version
// published of the function.
func (e *Engine) aliasVersion(name string, v any) error {
	ver := toStringOr(v, "")
	if ver == "$LATEST" {
		return nil
	}
	n, err := strconv.Atoi(ver)
	e.mu.Lock()
	last := e.versions[name]
	e.mu.Unlock()
	if err != nil || n < 1 || n > last {
		return reasonf("FunctionVersion %s is not a version of %s (published: 1 to %d, or $LATEST)", ver, name, last)
	}
	return nil
}

func createAlias(ctx context.Context, o *op, r *resource) error {
	name, arn, err := o.e.functionOf(ctx, r.Props["FunctionName"])
	if err != nil {
		return err
	}
	alias := toStringOr(r.Props["Name"], "")
	if alias == "" {
		return reasonf("Name is required")
	}
	if err := o.e.aliasVersion(name, r.Props["FunctionVersion"]); err != nil {
		return err
	}
	r.Physical = arn + ":" + alias
	o.e.mu.Lock()
	o.e.qualified[r.Physical] = name
	o.e.mu.Unlock()
	r.Attrs = map[string]any{"AliasArn": r.Physical}
	return nil
}

// updateAlias points the alias at another version: at once, all traffic
// (what CodeDeploy's AllAtOnce does). With an UpdatePolicy
// CodeDeployLambdaAliasUpdate (SAM's DeploymentPreference), a new version
// goes through a CodeDeploy deployment and its hooks (codedeploy.go),
// except when a rollback puts the alias back.
func updateAlias(ctx context.Context, o *op, prev, next *resource) error {
	o.e.mu.Lock()
	name := o.e.functionTargetLocked(prev.Physical)
	o.e.mu.Unlock()
	if err := o.e.aliasVersion(name, next.Props["FunctionVersion"]); err != nil {
		return err
	}
	next.Attrs = prev.Attrs
	from, to := toStringOr(prev.Props["FunctionVersion"], ""), toStringOr(next.Props["FunctionVersion"], "")
	if d := codeDeployUpdate(next.UpdatePolicy); d != nil && !o.rollback && from != to {
		return o.e.deployAlias(ctx, o, prev.Physical, from, to, d)
	}
	return nil
}

// forgetQualified removes a version's or alias's record.
func forgetQualified(_ context.Context, o *op, r *resource) error {
	o.e.mu.Lock()
	delete(o.e.qualified, r.Physical)
	o.e.mu.Unlock()
	return nil
}
