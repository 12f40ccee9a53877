package cfn

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stackflow/stackflow/internal/local/httpapi"
)

// AWS::Lambda::Url, a function URL (SAM's FunctionUrlConfig): served by
// package internal/local/httpapi on a loopback port of its own, every
// method and path going to the function with payload format 2.0.
func init() {
	register(map[string]*kind{
		"AWS::Lambda::Url": {
			attrs:   []string{"FunctionArn", "FunctionUrl"},
			replace: []string{"TargetFunctionArn", "Qualifier"},
			create:  createFunctionURL,
			update:  updateFunctionURL,
			remove:  removeFunctionURL,
			ignored: map[string]string{
				"Cors":       "the URL's CORS configuration is not applied locally",
				"InvokeMode": "RESPONSE_STREAM answers locally as BUFFERED does, all at once",
			},
		},
	})
}

// functionURLAuthority is who decides the requests to function URLs:
// Options.FunctionURLs, else Options.IAM, else one that refuses every
// request to an AWS_IAM URL.
func (e *Engine) functionURLAuthority() FunctionURLAuthority {
	switch {
	case e.opts.FunctionURLs != nil:
		return e.opts.FunctionURLs
	case e.opts.IAM != nil:
		return e.opts.IAM
	}
	return noURLAuthority{}
}

// noURLAuthority is an engine's without IAM: nothing can verify a
// signature, so no caller of an AWS_IAM URL is known.
type noURLAuthority struct{}

func (noURLAuthority) FunctionURL(_ *http.Request, _ []byte, function, authType string) (events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription, error) {
	if authType == "AWS_IAM" {
		return events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{}, fmt.Errorf("the function URL of %s is AWS_IAM and no local IAM verifies its callers' signatures", function)
	}
	return events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{}, nil
}

// functionURLTimeout is how long a function URL waits for its function: a
// function URL waits as long as the function runs (at most Lambda's 15
// minutes), and the local Lambda ends an invocation at the function's own
// Timeout.
const functionURLTimeout = 15 * time.Minute

// urlTarget returns the function (ARN) a function URL invokes and what
// the local Lambda invokes for it: TargetFunctionArn (a name or an ARN),
// with Qualifier (an alias) when given.
func (e *Engine) urlTarget(ctx context.Context, p map[string]any) (arn, target string, err error) {
	ref := toStringOr(p["TargetFunctionArn"], "")
	if ref == "" {
		return "", "", reasonf("TargetFunctionArn is required")
	}
	_, arn, err = e.functionOf(ctx, ref)
	if err != nil {
		return "", "", reasonf("TargetFunctionArn %s: %s", ref, strings.TrimPrefix(err.Error(), "FunctionName "+ref+": "))
	}
	if strings.HasPrefix(ref, "arn:") {
		arn = ref // an alias's or a version's ARN stays one
	}
	if q := toStringOr(p["Qualifier"], ""); q != "" {
		arn += ":" + q
	}
	e.mu.Lock()
	target = e.functionTargetLocked(arn)
	e.mu.Unlock()
	return arn, target, nil
}

// createFunctionURL serves a new function URL on a loopback port.
func createFunctionURL(ctx context.Context, o *op, r *resource) error {
	arn, target, err := o.e.urlTarget(ctx, r.Props)
	if err != nil {
		return err
	}
	at := toStringOr(r.Props["AuthType"], "")
	if at != "NONE" && at != "AWS_IAM" {
		return reasonf("AuthType must be NONE or AWS_IAM, not %q", at)
	}
	id := randomString(lowerAlnum, 32)
	opts := httpapi.Options{Lambda: o.e.lambda, Region: o.e.region, AccountID: o.e.account, Timeout: functionURLTimeout}
	// Each request is decided in one pass, by the URL's AuthType as it is
	// then (an update may change it): for AWS_IAM, who signed it (from a
	// verified signature), then whether they may; the caller goes to the
	// function as requestContext.authorizer.iam.
	authority := o.e.functionURLAuthority()
	opts.AuthorizeRequest = func(req *http.Request, body []byte) (events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription, error) {
		o.e.mu.Lock()
		authType, served := o.e.urlAuth[id]
		o.e.mu.Unlock()
		if !served {
			return events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{}, errors.New("the function URL is deleted")
		}
		return authority.FunctionURL(req, body, arn, authType)
	}
	srv, err := httpapi.Serve(httpapi.FunctionURL(id, target), opts)
	if err != nil {
		return err
	}
	// Its state is kept while it is served, and goes with its server
	// (removeFunctionURL).
	o.e.mu.Lock()
	o.e.apis[id] = srv
	o.e.urlAuth[id] = at
	o.e.mu.Unlock()
	r.Physical = arn
	r.Attrs = map[string]any{"FunctionArn": arn, "FunctionUrl": fmt.Sprintf("https://%s.lambda-url.%s.on.aws/", id, o.e.region)}
	return nil
}

// urlID returns the ID of a function URL from its FunctionUrl.
func urlID(r *resource) string {
	m := apiURL.FindStringSubmatch(toStringOr(r.Attrs["FunctionUrl"], ""))
	if m == nil {
		return ""
	}
	return m[2]
}

// updateFunctionURL points the URL at the function as it is now, on the
// same port.
func updateFunctionURL(ctx context.Context, o *op, prev, next *resource) error {
	_, target, err := o.e.urlTarget(ctx, next.Props)
	if err != nil {
		return err
	}
	id := urlID(prev)
	at := toStringOr(next.Props["AuthType"], "")
	if at != "NONE" && at != "AWS_IAM" {
		return reasonf("AuthType must be NONE or AWS_IAM, not %q", at)
	}
	o.e.mu.Lock()
	srv, _ := o.e.apis[id].(*httpapi.Server)
	if srv != nil {
		o.e.urlAuth[id] = at
	}
	o.e.mu.Unlock()
	if srv == nil {
		return reasonf("the function URL %s is no longer served", toStringOr(prev.Attrs["FunctionUrl"], ""))
	}
	return srv.Update(httpapi.FunctionURL(id, target))
}

// removeFunctionURL stops serving the URL: its port closes.
func removeFunctionURL(_ context.Context, o *op, r *resource) error {
	id := urlID(r)
	o.e.mu.Lock()
	srv := o.e.apis[id]
	delete(o.e.apis, id)
	delete(o.e.urlAuth, id)
	o.e.mu.Unlock()
	if srv != nil {
		return srv.Close()
	}
	return nil
}

// functionURLs is how many function URLs the engine keeps the state of.
func (e *Engine) functionURLs() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.urlAuth)
}
