package restapi

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestParseReadsLambdaAuthorizers(t *testing.T) {
	t.Parallel()
	uri := "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/" + fnARN + "/invocations"
	authURI := "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:auth/invocations"
	op := func(security any) map[string]any {
		m := map[string]any{"x-amazon-apigateway-integration": map[string]any{"type": "aws_proxy", "httpMethod": "POST", "uri": uri}}
		if security != nil {
			m["security"] = security
		}
		return map[string]any{"get": m}
	}
	body := map[string]any{
		"swagger":  "2.0",
		"security": []any{map[string]any{"Token": []any{}}},
		"securityDefinitions": map[string]any{
			"Token": map[string]any{"type": "apiKey", "in": "header", "name": "Authorization", "x-amazon-apigateway-authtype": "custom",
				"x-amazon-apigateway-authorizer": map[string]any{"type": "token", "authorizerUri": authURI, "identityValidationExpression": "Bearer .+"}},
			"Req": map[string]any{"type": "apiKey", "in": "header", "name": "Unused", "x-amazon-apigateway-authtype": "custom",
				"x-amazon-apigateway-authorizer": map[string]any{"type": "request", "authorizerUri": authURI, "identitySource": "method.request.header.X-User, method.request.querystring.team"}},
			"Pool": map[string]any{"type": "apiKey", "in": "header", "name": "Authorization", "x-amazon-apigateway-authtype": "cognito_user_pools",
				"x-amazon-apigateway-authorizer": map[string]any{"type": "cognito_user_pools", "providerARNs": []any{"arn:aws:cognito-idp:us-east-1:1:userpool/x"}}},
		},
		"paths": map[string]any{
			"/token":   op([]any{map[string]any{"Token": []any{}}}),
			"/request": op([]any{map[string]any{"Req": []any{}}}),
			"/pool":    op([]any{map[string]any{"Pool": []any{}}}),
			"/default": op(nil),
			"/none":    op([]any{map[string]any{"NONE": []any{}}}),
		},
	}
	def, err := Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	token := &Authorizer{Name: "Token", Type: "token", Function: "arn:aws:lambda:us-east-1:000000000000:function:auth",
		IdentitySources: []string{"method.request.header.Authorization"}, ValidationExpression: "Bearer .+"}
	request := &Authorizer{Name: "Req", Type: "request", Function: "arn:aws:lambda:us-east-1:000000000000:function:auth",
		IdentitySources: []string{"method.request.header.X-User", "method.request.querystring.team"}}
	want := map[string]*Authorizer{"/token": token, "/request": request, "/pool": nil, "/default": token, "/none": nil}
	for _, r := range def.Routes {
		if !reflect.DeepEqual(r.Authorizer, want[r.Path]) {
			t.Errorf("%s: got authorizer %+v, want %+v", r.Path, r.Authorizer, want[r.Path])
		}
	}

	bad := body["securityDefinitions"].(map[string]any)["Token"].(map[string]any)["x-amazon-apigateway-authorizer"].(map[string]any)
	bad["identityValidationExpression"] = "("
	if _, err := Parse(body); err == nil || !strings.Contains(err.Error(), "is not a regular expression") {
		t.Errorf("a bad validation expression: got %v", err)
	}
}

func TestAuthorizerPoliciesAreEvaluatedAsIAMDoes(t *testing.T) {
	t.Parallel()
	arn := "arn:aws:execute-api:us-east-1:000000000000:abcdefghij/Prod/GET/hello/ann"
	tests := []struct {
		name            string
		statements      string
		allowed, denied bool
	}{
		{"allow the method", `[{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"` + arn + `"}]`, true, false},
		{"allow a wildcard", `[{"Effect":"Allow","Action":["execute-api:*"],"Resource":["arn:aws:execute-api:us-east-1:000000000000:abcdefghij/*/GET/*"]}]`, true, false},
		{"allow another method", `[{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:us-east-1:000000000000:abcdefghij/Prod/POST/*"}]`, false, false},
		{"a deny wins", `[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:*:*:abcdefghij/Prod/GET/hello/?nn"}]`, false, true},
		{"no statement", `[]`, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p policyAnswer
			if err := json.Unmarshal([]byte(`{"principalId":"ann","policyDocument":{"Version":"2012-10-17","Statement":`+tt.statements+`}}`), &p); err != nil {
				t.Fatal(err)
			}
			if allowed, denied := p.allows(arn); allowed != tt.allowed || denied != tt.denied {
				t.Errorf("got allowed %v denied %v, want %v %v", allowed, denied, tt.allowed, tt.denied)
			}
		})
	}
}
