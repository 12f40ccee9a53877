package restapi

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// AnyMethod is the method of a route that serves every HTTP method
// (x-amazon-apigateway-any-method, or an AWS::ApiGateway::Method whose
// HttpMethod is ANY).
const AnyMethod = "ANY"

// Route sends the requests to one resource path and method to a function
// through a Lambda proxy integration.
type Route struct {
	// Path is the resource path: "/", "/hello", "/items/{id}" or
	// "/files/{proxy+}".
	Path string
	// Method is GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS or ANY.
	Method string
	// Function is the name or ARN of the function to invoke. It may hold
	// ${stageVariables.<name>}, filled from the stage of each request.
	Function string
	// Timeout is the integration's timeout (timeoutInMillis); 0 means the
	// server's.
	Timeout time.Duration
	// Mock, when set, answers instead of a function: a mock integration
	// with a static answer, as SAM's Cors writes for OPTIONS.
	Mock *MockResponse
	// Authorizer, when set, is the Lambda authorizer that must let a
	// request through before it reaches the integration.
	Authorizer *Authorizer
}

// MockResponse is the static answer of a mock integration.
type MockResponse struct {
	// StatusCode is the default integration response's statusCode.
	StatusCode int
	// Headers are its responseParameters' literal values.
	Headers map[string]string
	// Body is its application/json response template, which must be
	// literal text.
	Body string
}

// Definition is what a REST API's OpenAPI body says that runs locally.
type Definition struct {
	// Routes are the API's methods.
	Routes []Route
	// BinaryMediaTypes are the media types the API treats as binary
	// (x-amazon-apigateway-binary-media-types).
	BinaryMediaTypes []string
}

// operations maps an OpenAPI path item's keys to the methods they define.
var operations = map[string]string{
	"get": "GET", "put": "PUT", "post": "POST", "delete": "DELETE",
	"options": "OPTIONS", "head": "HEAD", "patch": "PATCH",
	"x-amazon-apigateway-any-method": AnyMethod,
}

// Parse reads the Body of an AWS::ApiGateway::RestApi as SAM writes it
// (Swagger 2.0, or OpenAPI 3.0 when OpenApiVersion is set), with its
// intrinsic functions already resolved: every operation must have an
// x-amazon-apigateway-integration of type aws_proxy whose uri names a
// function.
func Parse(body map[string]any) (Definition, error) {
	var def Definition
	paths, ok := body["paths"].(map[string]any)
	if !ok && body["paths"] != nil {
		return def, errors.New("read the REST API's body: paths is not an object")
	}
	keys := make([]string, 0, len(paths))
	for p := range paths {
		keys = append(keys, p)
	}
	sort.Strings(keys)
	auths, err := authorizers(body)
	if err != nil {
		return def, fmt.Errorf("read the REST API's body: %w", err)
	}
	for _, p := range keys {
		item, ok := paths[p].(map[string]any)
		if !ok {
			return def, fmt.Errorf("read the REST API's body: path %s is not an object", p)
		}
		for key, op := range item {
			method, ok := operations[strings.ToLower(key)]
			if !ok {
				continue // parameters, summary, servers, ...
			}
			r, err := parseOperation(p, method, op)
			if err != nil {
				return def, fmt.Errorf("read the REST API's body: %w", err)
			}
			if fields, ok := op.(map[string]any); ok {
				r.Authorizer = securedBy(fields["security"], body["security"], auths)
			}
			def.Routes = append(def.Routes, r)
		}
	}
	sort.SliceStable(def.Routes, func(i, j int) bool {
		a, b := def.Routes[i], def.Routes[j]
		return a.Path < b.Path || a.Path == b.Path && a.Method < b.Method
	})
	if types, ok := body["x-amazon-apigateway-binary-media-types"].([]any); ok {
		for _, t := range types {
			s, ok := t.(string)
			if !ok {
				return def, fmt.Errorf("read the REST API's body: x-amazon-apigateway-binary-media-types holds %v, not a media type", t)
			}
			def.BinaryMediaTypes = append(def.BinaryMediaTypes, s)
		}
	}
	if _, err := newTree(def.Routes); err != nil {
		return def, fmt.Errorf("read the REST API's body: %w", err)
	}
	return def, nil
}

func parseOperation(path, method string, op any) (Route, error) {
	where := method + " " + path
	if method == AnyMethod {
		where = "ANY " + path
	}
	fields, ok := op.(map[string]any)
	if !ok {
		return Route{}, fmt.Errorf("%s is not an object", where)
	}
	in, ok := fields["x-amazon-apigateway-integration"].(map[string]any)
	if !ok {
		return Route{}, fmt.Errorf("%s has no x-amazon-apigateway-integration: give it a Lambda proxy integration (type aws_proxy)", where)
	}
	typ, _ := in["type"].(string)
	if strings.EqualFold(typ, "mock") {
		mock, err := parseMock(where, in)
		if err != nil {
			return Route{}, err
		}
		return Route{Path: path, Method: method, Mock: mock}, nil
	}
	uri, _ := in["uri"].(string)
	if in["uri"] != nil && uri == "" {
		return Route{}, fmt.Errorf("%s: the integration's uri is %v, not a string (resolve its intrinsic functions first)", where, in["uri"])
	}
	r, err := integration(where, typ, uri)
	if err != nil {
		return Route{}, err
	}
	r.Path, r.Method = path, method
	if ms, ok := millis(in["timeoutInMillis"]); ok && ms > 0 {
		r.Timeout = time.Duration(ms) * time.Millisecond
	}
	return r, nil
}

// millis reads a number of milliseconds, as JSON (float64) or YAML (int,
// int64) decoders give it.
func millis(v any) (int64, bool) {
	switch x := v.(type) {
	case float64:
		return int64(x), true
	case int:
		return int64(x), true
	case int64:
		return x, true
	}
	return 0, false
}

// integration reads a Lambda proxy integration of type typ with uri.
func integration(where, typ, uri string) (Route, error) {
	if !strings.EqualFold(typ, "aws_proxy") {
		return Route{}, fmt.Errorf("%s: integration type %q does not run locally; only Lambda proxy (aws_proxy) and static mock integrations do", where, typ)
	}
	fn, err := FunctionFromURI(uri)
	if err != nil {
		return Route{}, fmt.Errorf("%s: %w", where, err)
	}
	return Route{Function: fn}, nil
}

// parseMock reads a mock integration whose default response is static:
// a statusCode, responseParameters that are quoted literals ('*') and a
// response template without Velocity ($ or #).
func parseMock(where string, in map[string]any) (*MockResponse, error) {
	responses, _ := in["responses"].(map[string]any)
	def, _ := responses["default"].(map[string]any)
	if def == nil {
		return nil, fmt.Errorf("%s: the mock integration has no default response", where)
	}
	params, _ := def["responseParameters"].(map[string]any)
	templates, _ := def["responseTemplates"].(map[string]any)
	mock, err := MockFrom(def["statusCode"], params, templates)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return mock, nil
}

// MockFrom reads the static answer of a mock integration from its default
// integration response: its statusCode (a string or a number; none means
// 200), its responseParameters (method.response.header.<name> to a quoted
// literal, '*') and its responseTemplates, whose application/json template
// must be literal text (no Velocity: $ or #). An OpenAPI body's
// x-amazon-apigateway-integration and an AWS::ApiGateway::Method's
// Integration.IntegrationResponses give the same three.
func MockFrom(statusCode any, params, templates map[string]any) (*MockResponse, error) {
	mock := &MockResponse{StatusCode: 200, Headers: map[string]string{}}
	if statusCode != nil {
		s := fmt.Sprint(statusCode)
		code, err := strconv.Atoi(s)
		if err != nil || code < 100 || code > 599 {
			return nil, fmt.Errorf("the mock integration's statusCode %q is not an HTTP status", s)
		}
		mock.StatusCode = code
	}
	for k, v := range params {
		name, ok := strings.CutPrefix(k, "method.response.header.")
		s, _ := v.(string)
		if !ok || len(s) < 2 || s[0] != '\'' || s[len(s)-1] != '\'' {
			return nil, fmt.Errorf("the mock integration's response parameter %s = %v does not run locally; only literal header values ('...') do", k, v)
		}
		mock.Headers[name] = s[1 : len(s)-1]
	}
	if t, ok := templates["application/json"].(string); ok {
		if strings.ContainsAny(t, "$#") {
			return nil, errors.New("the mock integration's response template uses Velocity, which does not run locally; only literal templates do")
		}
		mock.Body = t
	}
	return mock, nil
}

var invocationURI = regexp.MustCompile(`^arn:aws[a-z-]*:apigateway:[a-z0-9-]+:lambda:path/2015-03-31/functions/(.+)/invocations$`)

// FunctionFromURI returns the function that a Lambda integration's URI
// (arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<function
// ARN>/invocations) invokes.
func FunctionFromURI(uri string) (string, error) {
	m := invocationURI.FindStringSubmatch(uri)
	if m == nil {
		return "", fmt.Errorf("integration uri %q does not invoke a Lambda function: want arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<function ARN>/invocations", uri)
	}
	return m[1], nil
}

// Resource is an AWS::ApiGateway::Resource: one path part under its
// parent.
type Resource struct {
	// ID is the resource's ID; ParentID its parent's (the API's root
	// resource or another Resource).
	ID, ParentID string
	// PathPart is the last segment of its path: "items", "{id}",
	// "{proxy+}".
	PathPart string
}

// Method is an AWS::ApiGateway::Method.
type Method struct {
	// ResourceID is the resource it belongs to: the API's root resource or
	// a Resource's ID.
	ResourceID string
	// HTTPMethod is GET, POST, ..., or ANY.
	HTTPMethod string
	// IntegrationType and IntegrationURI are its Integration's Type and Uri.
	IntegrationType, IntegrationURI string
	// Timeout is its Integration's TimeoutInMillis; 0 means the server's.
	Timeout time.Duration
	// Mock is the static answer of a MOCK integration (MockFrom).
	Mock *MockResponse
}

// ResourceRoutes returns the routes of a REST API built from
// AWS::ApiGateway::Resource and AWS::ApiGateway::Method resources rather
// than a body; rootID is the API's root resource ID (its RootResourceId).
func ResourceRoutes(rootID string, resources []Resource, methods []Method) ([]Route, error) {
	byID := map[string]Resource{}
	for _, r := range resources {
		if r.PathPart == "" || strings.Contains(r.PathPart, "/") {
			return nil, fmt.Errorf("resource %s: bad PathPart %q: want one path segment such as items, {id} or {proxy+}", r.ID, r.PathPart)
		}
		byID[r.ID] = r
	}
	path := func(id string) (string, error) {
		var parts []string
		for id != rootID {
			r, ok := byID[id]
			if !ok {
				return "", fmt.Errorf("resource %s is neither the API's root resource nor one of its resources", id)
			}
			if len(parts) > len(byID) {
				return "", fmt.Errorf("resource %s: its parents form a loop", id)
			}
			parts = append([]string{r.PathPart}, parts...)
			id = r.ParentID
		}
		return "/" + strings.Join(parts, "/"), nil
	}
	var routes []Route
	for _, m := range methods {
		p, err := path(m.ResourceID)
		if err != nil {
			return nil, fmt.Errorf("method %s: %w", m.HTTPMethod, err)
		}
		method := strings.ToUpper(m.HTTPMethod)
		if _, ok := methodNames[method]; !ok {
			return nil, fmt.Errorf("method %s %s: want GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS or ANY", m.HTTPMethod, p)
		}
		var r Route
		if strings.EqualFold(m.IntegrationType, "mock") {
			if m.Mock == nil {
				return nil, fmt.Errorf("%s %s: the mock integration has no static answer", method, p)
			}
			r.Mock = m.Mock
		} else if r, err = integration(method+" "+p, m.IntegrationType, m.IntegrationURI); err != nil {
			return nil, err
		}
		r.Path, r.Method, r.Timeout = p, method, m.Timeout
		routes = append(routes, r)
	}
	if _, err := newTree(routes); err != nil {
		return nil, err
	}
	return routes, nil
}

var methodNames = map[string]struct{}{
	"GET": {}, "POST": {}, "PUT": {}, "PATCH": {}, "DELETE": {}, "HEAD": {}, "OPTIONS": {}, AnyMethod: {},
}
