package cfn

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/stackflow/stackflow/internal/local/httpapi"
)

// AWS::ApiGatewayV2::Api (HTTP APIs, as SAM's HttpApi makes them: routes
// in an OpenAPI 3 Body) and AWS::ApiGatewayV2::Stage, served by package
// internal/local/httpapi, each API on its own loopback port.
func init() {
	register(map[string]*kind{
		"AWS::ApiGatewayV2::Api": {
			attrs:   []string{"ApiEndpoint", "ApiId"},
			replace: []string{"ProtocolType"},
			create:  createHTTPAPI,
			update:  updateHTTPAPI,
			remove:  removeHTTPAPI,
			ignored: map[string]string{
				"CorsConfiguration":               "the API's CORS configuration is not applied locally",
				"Body.x-amazon-apigateway-cors":   "the API's CORS configuration is not applied locally",
				"Body.components.securitySchemes": "authorizers are not enforced locally: every request reaches its route",
			},
		},
		"AWS::ApiGatewayV2::Stage": {
			attrs:   []string{},
			replace: []string{"ApiId", "StageName"},
			create:  createStage,
			remove:  removeStage,
		},
	})
}

// httpAPI is an HTTP API the engine serves.
type httpAPI struct {
	srv    *httpapi.Server
	routes []httpapi.Route
	// stages are the API's stages, by name. Until it has one, API Gateway
	// serves nothing of it.
	stages map[string]bool
}

// serveLocked gives the API's server its routes and stage: $default when
// it has that stage, else the first by name (a server serves one stage).
// The caller holds e.mu.
func (a *httpAPI) serveLocked(id string) error {
	api := httpapi.API{ID: id}
	if len(a.stages) > 0 {
		api.Routes = a.routes
		api.Stage = slices.Sorted(maps.Keys(a.stages))[0]
		if a.stages["$default"] {
			api.Stage = "$default"
		}
	}
	return a.srv.Update(api)
}

// integrationURI matches the URI of a Lambda proxy integration:
// arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<function ARN>/invocations.
var integrationURI = regexp.MustCompile(`^arn:[a-z-]+:apigateway:[a-z0-9-]+:lambda:path/2015-03-31/functions/(.+)/invocations$`)

// integrationFunction returns the function (ARN) an integration's URI
// invokes: a Lambda proxy integration's URI, or a Lambda ARN as HTTP APIs
// also take.
func integrationFunction(uri string) (string, bool) {
	if m := integrationURI.FindStringSubmatch(uri); m != nil {
		return m[1], true
	}
	if strings.HasPrefix(uri, "arn:") && strings.Contains(uri, ":lambda:") && strings.Contains(uri, ":function:") {
		return uri, true
	}
	return "", false
}

// openAPIMethods are the operations of an OpenAPI path item that can be
// routes, with API Gateway's any-method extension.
var openAPIMethods = map[string]string{
	"get": "GET", "put": "PUT", "post": "POST", "delete": "DELETE", "options": "OPTIONS",
	"head": "HEAD", "patch": "PATCH", "x-amazon-apigateway-any-method": "ANY",
}

// bodyRoutes reads the routes of an HTTP API's OpenAPI 3 body: each
// operation with an x-amazon-apigateway-integration of type aws_proxy
// (payload format 2.0) is a route to the integration's function. The path
// $default is the $default route.
func bodyRoutes(body any) ([]httpapi.Route, error) {
	doc, ok := body.(map[string]any)
	if !ok {
		return nil, reasonf("Body must be an OpenAPI document (a map)")
	}
	paths, _ := doc["paths"].(map[string]any)
	var routes []httpapi.Route
	for _, path := range slices.Sorted(maps.Keys(paths)) {
		item, _ := paths[path].(map[string]any)
		for _, key := range slices.Sorted(maps.Keys(item)) {
			method, ok := openAPIMethods[strings.ToLower(key)]
			if !ok {
				continue // parameters, summary, servers, ...
			}
			opn, _ := item[key].(map[string]any)
			integ, ok := opn["x-amazon-apigateway-integration"].(map[string]any)
			if !ok {
				return nil, reasonf("Body: %s %s has no x-amazon-apigateway-integration: stackflow's local engine serves Lambda proxy integrations only", method, path)
			}
			where := method + " " + path
			if typ := toStringOr(integ["type"], ""); !strings.EqualFold(typ, "aws_proxy") {
				return nil, reasonf("Body: the integration of %s is of type %s: stackflow's local engine serves Lambda proxy integrations (aws_proxy) only", where, typ)
			}
			if v := toStringOr(integ["payloadFormatVersion"], "1.0"); v != "2.0" {
				return nil, reasonf("Body: the integration of %s has payloadFormatVersion %s: stackflow's local engine serves HTTP APIs with payload format 2.0 only", where, v)
			}
			fn, ok := integrationFunction(toStringOr(integ["uri"], ""))
			if !ok {
				return nil, reasonf("Body: the integration of %s has uri %v, which invokes no Lambda function", where, integ["uri"])
			}
			rk := method + " " + path
			if path == "$default" || path == "/$default" {
				rk = httpapi.DefaultRoute
			}
			routes = append(routes, httpapi.Route{Key: rk, Function: fn})
		}
	}
	return routes, nil
}

// apiRoutes reads an HTTP API's routes from its properties: Body,
// BodyS3Location (read from the local S3, as is) or Target (quick create:
// one $default route). Functions named by the ARN of a version or an
// alias this engine published route to the function.
func (e *Engine) apiRoutes(ctx context.Context, p map[string]any) (routes []httpapi.Route, quick bool, err error) {
	if pt := toStringOr(p["ProtocolType"], "HTTP"); pt != "HTTP" {
		return nil, false, reasonf("ProtocolType %s is not supported by stackflow's local engine: it serves HTTP APIs", pt)
	}
	switch {
	case p["Body"] != nil:
		routes, err = bodyRoutes(p["Body"])
	case p["BodyS3Location"] != nil:
		m, _ := p["BodyS3Location"].(map[string]any)
		loc := s3Location{Bucket: toStringOr(m["Bucket"], ""), Key: toStringOr(m["Key"], ""), Version: toStringOr(m["Version"], "")}
		var b []byte
		if b, err = e.getObject(ctx, loc, 10<<20); err != nil {
			return nil, false, err
		}
		var body any
		if yerr := yaml.Unmarshal(b, &body); yerr != nil {
			return nil, false, reasonf("BodyS3Location: %s is not an OpenAPI document: %v", loc, yerr)
		}
		routes, err = bodyRoutes(body)
	case p["Target"] != nil:
		fn, ok := integrationFunction(toStringOr(p["Target"], ""))
		if !ok {
			return nil, false, reasonf("Target must be the ARN of a Lambda function")
		}
		routes, quick = []httpapi.Route{{Key: httpapi.DefaultRoute, Function: fn}}, true
	}
	if err != nil {
		return nil, false, err
	}
	e.mu.Lock()
	for i := range routes {
		routes[i].Function = e.functionTargetLocked(routes[i].Function)
	}
	e.mu.Unlock()
	return routes, quick, nil
}

// createHTTPAPI serves a new HTTP API on a loopback port.
func createHTTPAPI(ctx context.Context, o *op, r *resource) error {
	routes, quick, err := o.e.apiRoutes(ctx, r.Props)
	if err != nil {
		return err
	}
	id := randomString(lowerAlnum, 10)
	opts := httpapi.Options{Lambda: o.e.lambda, Region: o.e.region, AccountID: o.e.account}
	if iam := o.e.opts.IAM; iam != nil {
		opts.Authorize = func(_ context.Context, function, sourceARN string) error {
			return iam.AllowInvoke("apigateway.amazonaws.com", function, sourceARN, o.e.account)
		}
	}
	srv, err := httpapi.Serve(httpapi.API{ID: id}, opts)
	if err != nil {
		return err
	}
	a := &httpAPI{srv: srv, routes: routes, stages: map[string]bool{}}
	if quick {
		a.stages["$default"] = true // quick create makes it
	}
	o.e.mu.Lock()
	defer o.e.mu.Unlock()
	if err := a.serveLocked(id); err != nil {
		_ = srv.Close()
		return err
	}
	o.e.apis[id] = srv
	o.e.httpAPIs[id] = a
	r.Physical = id
	r.Attrs = map[string]any{"ApiId": id, "ApiEndpoint": fmt.Sprintf("https://%s.execute-api.%s.amazonaws.com", id, o.e.region)}
	return nil
}

func updateHTTPAPI(ctx context.Context, o *op, prev, next *resource) error {
	routes, quick, err := o.e.apiRoutes(ctx, next.Props)
	if err != nil {
		return err
	}
	o.e.mu.Lock()
	defer o.e.mu.Unlock()
	a := o.e.httpAPIs[prev.Physical]
	if a == nil {
		return reasonf("the HTTP API %s is no longer served", prev.Physical)
	}
	a.routes = routes
	if quick {
		a.stages["$default"] = true
	}
	return a.serveLocked(prev.Physical)
}

func removeHTTPAPI(_ context.Context, o *op, r *resource) error {
	o.e.mu.Lock()
	a := o.e.httpAPIs[r.Physical]
	delete(o.e.apis, r.Physical)
	delete(o.e.httpAPIs, r.Physical)
	o.e.mu.Unlock()
	if a != nil {
		return a.srv.Close()
	}
	return nil
}

// createStage deploys the HTTP API its ApiId names at StageName: "$default"
// at the API's root, any other name under /<name>.
func createStage(_ context.Context, o *op, r *resource) error {
	id, stage := toStringOr(r.Props["ApiId"], ""), toStringOr(r.Props["StageName"], "")
	if stage == "" {
		return reasonf("StageName is required")
	}
	o.e.mu.Lock()
	defer o.e.mu.Unlock()
	a := o.e.httpAPIs[id]
	if a == nil {
		return reasonf("ApiId %s is not an HTTP API of stackflow's local engine", id)
	}
	a.stages[stage] = true
	if err := a.serveLocked(id); err != nil {
		delete(a.stages, stage)
		return err
	}
	r.Physical = stage
	r.Attrs = map[string]any{}
	return nil
}

func removeStage(_ context.Context, o *op, r *resource) error {
	id := toStringOr(r.Props["ApiId"], "")
	o.e.mu.Lock()
	defer o.e.mu.Unlock()
	a := o.e.httpAPIs[id]
	if a == nil {
		return nil // the API is gone, and its stages with it
	}
	delete(a.stages, r.Physical)
	return a.serveLocked(id)
}
