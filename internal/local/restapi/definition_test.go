package restapi

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// venvPython is the Python of the repository's .venv, where .ci/run
// installs the pinned aws-sam-cli and with it aws-sam-translator.
const venvPython = "../../../.venv/bin/python"

// template reads a translated template of testdata.
func template(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

// body returns the Body of the REST API api in a translated template of
// testdata, its intrinsic functions resolved as the engine resolves them:
// the region us-east-1, <Function>.Arn the ARN fns gives.
func body(t *testing.T, name, api string, fns map[string]string) map[string]any {
	t.Helper()
	res := template(t, name)["Resources"].(map[string]any)[api].(map[string]any)
	b := res["Properties"].(map[string]any)["Body"]
	return resolve(b, fns).(map[string]any)
}

func resolve(v any, fns map[string]string) any {
	switch v := v.(type) {
	case map[string]any:
		if s, ok := v["Fn::Sub"].(string); ok && len(v) == 1 {
			s = strings.ReplaceAll(s, "${AWS::Region}", "us-east-1")
			for fn, arn := range fns {
				s = strings.ReplaceAll(s, "${"+fn+".Arn}", arn)
			}
			return s
		}
		if r, ok := v["Ref"].(string); ok && len(v) == 1 && r == "AWS::StackName" {
			return "test-stack"
		}
		out := map[string]any{}
		for k, e := range v {
			out[k] = resolve(e, fns)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = resolve(e, fns)
		}
		return out
	}
	return v
}

func TestFixturesAreWhatTheTranslatorWrites(t *testing.T) {
	t.Parallel()
	python, err := filepath.Abs(venvPython)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("no %s (%v): install the test tools with python3 -m venv .venv && .venv/bin/pip install -r requirements-test.txt at the repository's root", venvPython, err)
	}
	for _, name := range []string{"hello", "openapi"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(python, "translate.py", name+".yaml")
			cmd.Dir = "testdata"
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("translate %s.yaml: %v\n%s", name, err, stderr.String())
			}
			var got map[string]any
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			if want := template(t, name+".json"); !reflect.DeepEqual(got, want) {
				t.Errorf("testdata/%s.json is not what aws-sam-translator writes of %s.yaml now; regenerate it: cd testdata && %s translate.py %s.yaml > %s.json", name, name, "../"+venvPython, name, name)
			}
		})
	}
}

const fnARN = "arn:aws:lambda:us-east-1:123456789012:function:hello"

func TestParseReadsWhatTheTranslatorWrites(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, file, api string
		want            Definition
	}{
		{
			name: "implicit API, Swagger 2.0",
			file: "hello.json", api: "ServerlessRestApi",
			want: Definition{Routes: []Route{
				{Path: "/files/{proxy+}", Method: "ANY", Function: fnARN},
				{Path: "/hello", Method: "GET", Function: fnARN},
				{Path: "/items/special", Method: "GET", Function: fnARN},
				{Path: "/items/{id}", Method: "ANY", Function: fnARN},
			}},
		},
		{
			name: "explicit API, OpenAPI 3.0 with binary media types and CORS",
			file: "openapi.json", api: "MyApi",
			want: Definition{
				Routes: []Route{
					{Path: "/", Method: "GET", Function: fnARN},
					{Path: "/", Method: "OPTIONS", Mock: &MockResponse{StatusCode: 200, Body: "{}\n", Headers: map[string]string{
						"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET,OPTIONS",
					}}},
					{Path: "/users/{id}/pets/{pet}", Method: "OPTIONS", Mock: &MockResponse{StatusCode: 200, Body: "{}\n", Headers: map[string]string{
						"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "OPTIONS,POST",
					}}},
					{Path: "/users/{id}/pets/{pet}", Method: "POST", Function: fnARN},
				},
				BinaryMediaTypes: []string{"image/png", "application/octet-stream"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fns := map[string]string{"HelloWorldFunction": fnARN, "Fn": fnARN}
			got, err := Parse(body(t, tt.file, tt.api, fns))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestParseReadsIntegrationTimeouts: as JSON decodes numbers (float64)
// and as YAML does (int, int64).
func TestParseReadsIntegrationTimeouts(t *testing.T) {
	t.Parallel()
	for _, ms := range []any{float64(1500), 1500, int64(1500)} {
		def, err := Parse(map[string]any{"paths": map[string]any{"/slow": map[string]any{"get": map[string]any{
			"x-amazon-apigateway-integration": map[string]any{
				"type": "aws_proxy", "httpMethod": "POST", "timeoutInMillis": ms,
				"uri": "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:1:function:slow:live/invocations",
			},
		}}}})
		if err != nil {
			t.Fatal(err)
		}
		want := []Route{{Path: "/slow", Method: "GET", Function: "arn:aws:lambda:eu-west-1:1:function:slow:live", Timeout: 1500 * time.Millisecond}}
		if !reflect.DeepEqual(def.Routes, want) {
			t.Errorf("timeoutInMillis %T: got %+v, want %+v", ms, def.Routes, want)
		}
	}
}

func TestParseRefusesWhatDoesNotRunLocally(t *testing.T) {
	t.Parallel()
	uri := "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/" + fnARN + "/invocations"
	proxy := map[string]any{"x-amazon-apigateway-integration": map[string]any{"type": "aws_proxy", "httpMethod": "POST", "uri": uri}}
	tests := []struct {
		name  string
		paths map[string]any
		want  string
	}{
		{"no integration", map[string]any{"/a": map[string]any{"get": map[string]any{"responses": map[string]any{}}}}, "GET /a has no x-amazon-apigateway-integration"},
		{"HTTP integration", map[string]any{"/a": map[string]any{"get": map[string]any{"x-amazon-apigateway-integration": map[string]any{"type": "http_proxy", "uri": "https://example.com"}}}}, `GET /a: integration type "http_proxy" does not run locally`},
		{"not a Lambda URI", map[string]any{"/a": map[string]any{"get": map[string]any{"x-amazon-apigateway-integration": map[string]any{"type": "aws_proxy", "uri": "arn:aws:apigateway:us-east-1:sqs:path/1/q"}}}}, "does not invoke a Lambda function"},
		{"unresolved URI", map[string]any{"/a": map[string]any{"get": map[string]any{"x-amazon-apigateway-integration": map[string]any{"type": "aws_proxy", "uri": map[string]any{"Fn::Sub": "x"}}}}}, "resolve its intrinsic functions first"},
		{"two variables side by side", map[string]any{"/a/{id}": map[string]any{"get": proxy}, "/a/{name}/b": map[string]any{"get": proxy}}, "only one path variable is allowed under /a"},
		{"greedy beside a variable", map[string]any{"/a/{id}": map[string]any{"get": proxy}, "/a/{proxy+}": map[string]any{"get": proxy}}, "only one path variable is allowed under /a"},
		{"greedy not last", map[string]any{"/{proxy+}/a": map[string]any{"get": proxy}}, "must be the last part"},
		{"partial variable", map[string]any{"/a{id}": map[string]any{"get": proxy}}, "must be a whole part"},
		{"Velocity mock", map[string]any{"/a": map[string]any{"options": map[string]any{"x-amazon-apigateway-integration": map[string]any{
			"type": "mock", "responses": map[string]any{"default": map[string]any{"statusCode": "200", "responseTemplates": map[string]any{"application/json": `{"id": "$context.requestId"}`}}},
		}}}}, "uses Velocity"},
		{"mapped mock header", map[string]any{"/a": map[string]any{"options": map[string]any{"x-amazon-apigateway-integration": map[string]any{
			"type": "mock", "responses": map[string]any{"default": map[string]any{"responseParameters": map[string]any{"method.response.header.X": "method.request.header.Y"}}},
		}}}}, "only literal header values"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(map[string]any{"paths": tt.paths})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestResourceRoutesFollowParents(t *testing.T) {
	t.Parallel()
	uri := "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/" + fnARN + "/invocations"
	resources := []Resource{
		{ID: "users", ParentID: "root", PathPart: "users"},
		{ID: "user", ParentID: "users", PathPart: "{id}"},
		{ID: "rest", ParentID: "user", PathPart: "{proxy+}"},
	}
	methods := []Method{
		{ResourceID: "root", HTTPMethod: "get", IntegrationType: "AWS_PROXY", IntegrationURI: uri},
		{ResourceID: "user", HTTPMethod: "ANY", IntegrationType: "AWS_PROXY", IntegrationURI: uri, Timeout: time.Second},
		{ResourceID: "rest", HTTPMethod: "POST", IntegrationType: "AWS_PROXY", IntegrationURI: uri},
		{ResourceID: "users", HTTPMethod: "OPTIONS", IntegrationType: "MOCK", Mock: &MockResponse{StatusCode: 204}},
	}
	got, err := ResourceRoutes("root", resources, methods)
	if err != nil {
		t.Fatal(err)
	}
	want := []Route{
		{Path: "/", Method: "GET", Function: fnARN},
		{Path: "/users/{id}", Method: "ANY", Function: fnARN, Timeout: time.Second},
		{Path: "/users/{id}/{proxy+}", Method: "POST", Function: fnARN},
		{Path: "/users", Method: "OPTIONS", Mock: &MockResponse{StatusCode: 204}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}

	bad := []struct {
		name      string
		resources []Resource
		methods   []Method
		want      string
	}{
		{"unknown parent", []Resource{{ID: "a", ParentID: "nowhere", PathPart: "a"}}, []Method{{ResourceID: "a", HTTPMethod: "GET", IntegrationType: "AWS_PROXY", IntegrationURI: uri}}, "resource nowhere is neither"},
		{"loop", []Resource{{ID: "a", ParentID: "b", PathPart: "a"}, {ID: "b", ParentID: "a", PathPart: "b"}}, []Method{{ResourceID: "a", HTTPMethod: "GET", IntegrationType: "AWS_PROXY", IntegrationURI: uri}}, "loop"},
		{"two parts", []Resource{{ID: "a", ParentID: "root", PathPart: "a/b"}}, nil, "bad PathPart"},
		{"bad method", nil, []Method{{ResourceID: "root", HTTPMethod: "FETCH", IntegrationType: "AWS_PROXY", IntegrationURI: uri}}, "want GET, POST"},
		{"Lambda custom integration", nil, []Method{{ResourceID: "root", HTTPMethod: "GET", IntegrationType: "AWS", IntegrationURI: uri}}, `integration type "AWS" does not run locally`},
		{"mock without an answer", nil, []Method{{ResourceID: "root", HTTPMethod: "OPTIONS", IntegrationType: "MOCK"}}, "no static answer"},
		{"twice", nil, []Method{{ResourceID: "root", HTTPMethod: "GET", IntegrationType: "AWS_PROXY", IntegrationURI: uri}, {ResourceID: "root", HTTPMethod: "GET", IntegrationType: "AWS_PROXY", IntegrationURI: uri}}, "defined twice"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ResourceRoutes("root", tt.resources, tt.methods)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
