package restapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/stackflow/stackflow/internal/local/apigw"
)

// Authorizer is a Lambda authorizer of a REST API: an OpenAPI body's
// security scheme with an x-amazon-apigateway-authorizer of type token
// or request (what SAM's Auth.Authorizers with a FunctionArn writes).
type Authorizer struct {
	// Name is the security scheme's name.
	Name string
	// Type is "token" or "request".
	Type string
	// Function is the name or ARN of the function its authorizerUri
	// invokes.
	Function string
	// IdentitySources are where a request's identity is read:
	// method.request.header.<name>, method.request.querystring.<name> or
	// stageVariables.<name>. A request that lacks one is refused with 401
	// without running the function. A token authorizer has one header.
	IdentitySources []string
	// ValidationExpression, for a token authorizer, is a regular
	// expression the token must match, or it is refused with 401.
	ValidationExpression string
}

// API Gateway's answers when an authorizer refuses a request.
const (
	unauthorized  = `{"message":"Unauthorized"}`
	notAuthorized = `{"Message":"User is not authorized to access this resource"}`
	deniedByName  = `{"Message":"User is not authorized to access this resource with an explicit deny"}`
	authorizerBad = `{"message": null}`
)

// authorizers reads the Lambda authorizers of an OpenAPI body's security
// schemes (securityDefinitions in Swagger 2.0, components.securitySchemes
// in OpenAPI 3.0), by name. Other schemes (Cognito user pools, IAM, API
// keys) are left out: they are not enforced.
func authorizers(body map[string]any) (map[string]*Authorizer, error) {
	schemes, _ := body["securityDefinitions"].(map[string]any)
	if components, ok := body["components"].(map[string]any); ok && schemes == nil {
		schemes, _ = components["securitySchemes"].(map[string]any)
	}
	out := map[string]*Authorizer{}
	for name, v := range schemes {
		scheme, _ := v.(map[string]any)
		ext, _ := scheme["x-amazon-apigateway-authorizer"].(map[string]any)
		typ, _ := ext["type"].(string)
		typ = strings.ToLower(typ)
		if typ != "token" && typ != "request" {
			continue
		}
		uri, _ := ext["authorizerUri"].(string)
		fn, err := FunctionFromURI(uri)
		if err != nil {
			return nil, fmt.Errorf("authorizer %s: %w", name, err)
		}
		a := &Authorizer{Name: name, Type: typ, Function: fn}
		if src, _ := ext["identitySource"].(string); src != "" {
			for _, s := range strings.Split(src, ",") {
				a.IdentitySources = append(a.IdentitySources, strings.TrimSpace(s))
			}
		} else if header, _ := scheme["name"].(string); typ == "token" && header != "" {
			a.IdentitySources = []string{"method.request.header." + header}
		}
		if typ == "token" && len(a.IdentitySources) != 1 {
			return nil, fmt.Errorf("authorizer %s: a token authorizer reads one header: give the security scheme's name (or identitySource)", name)
		}
		if expr, _ := ext["identityValidationExpression"].(string); expr != "" {
			if _, err := regexp.Compile("^(?:" + expr + ")$"); err != nil {
				return nil, fmt.Errorf("authorizer %s: identityValidationExpression %q is not a regular expression: %w", name, expr, err)
			}
			a.ValidationExpression = expr
		}
		out[name] = a
	}
	return out, nil
}

// securedBy returns the Lambda authorizer an operation's security
// requirements (or, when it has none, the document's) name, if any.
func securedBy(op, doc any, auths map[string]*Authorizer) *Authorizer {
	reqs, ok := op.([]any)
	if !ok {
		reqs, _ = doc.([]any)
	}
	for _, r := range reqs {
		m, _ := r.(map[string]any)
		for name := range m {
			if a := auths[name]; a != nil {
				return a
			}
		}
	}
	return nil
}

// identity reads a request's identity sources; ok is false when one is
// missing or empty.
func identity(r *http.Request, stage Stage, sources []string) (values []string, ok bool) {
	for _, src := range sources {
		var v string
		switch {
		case strings.HasPrefix(src, "method.request.header."):
			v = r.Header.Get(strings.TrimPrefix(src, "method.request.header."))
		case strings.HasPrefix(src, "method.request.querystring."):
			v = r.URL.Query().Get(strings.TrimPrefix(src, "method.request.querystring."))
		case strings.HasPrefix(src, "stageVariables."):
			v = stage.Variables[strings.TrimPrefix(src, "stageVariables.")]
		default:
			continue // context variables and the like: not read locally
		}
		if v == "" {
			return nil, false
		}
		values = append(values, v)
	}
	return values, true
}

// policyAnswer is what a Lambda authorizer returns.
type policyAnswer struct {
	PrincipalID    string `json:"principalId"`
	PolicyDocument struct {
		Statement []statement `json:"Statement"`
	} `json:"policyDocument"`
	Context map[string]any `json:"context"`
}

// statement is one statement of an authorizer's policy; Action and
// Resource may be a string or a list.
type statement struct {
	Effect   string `json:"Effect"`
	Action   any    `json:"Action"`
	Resource any    `json:"Resource"`
}

// allows evaluates an authorizer's policy for execute-api:Invoke on
// methodARN as IAM does: an explicit deny wins, then an allow; nothing
// that matches is a deny.
func (p policyAnswer) allows(methodARN string) (allowed, explicitDeny bool) {
	for _, st := range p.PolicyDocument.Statement {
		if !matchesAny(st.Action, "execute-api:Invoke", true) || !matchesAny(st.Resource, methodARN, false) {
			continue
		}
		switch st.Effect {
		case "Deny":
			return false, true
		case "Allow":
			allowed = true
		}
	}
	return allowed, false
}

// matchesAny reports whether one of the patterns in v (a string or a
// list of them) matches s, with IAM's wildcards * and ?.
func matchesAny(v any, s string, fold bool) bool {
	var patterns []string
	switch x := v.(type) {
	case string:
		patterns = []string{x}
	case []any:
		for _, e := range x {
			if p, ok := e.(string); ok {
				patterns = append(patterns, p)
			}
		}
	}
	for _, p := range patterns {
		if wildcard(p, s, fold) {
			return true
		}
	}
	return false
}

// wildcard matches s against an IAM pattern: * is any run of characters,
// ? one character.
func wildcard(pattern, s string, fold bool) bool {
	var re strings.Builder
	re.WriteString("^")
	if fold {
		re.WriteString("(?i)")
	}
	for _, c := range pattern {
		switch c {
		case '*':
			re.WriteString(".*")
		case '?':
			re.WriteString(".")
		default:
			re.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	re.WriteString("$")
	ok, _ := regexp.MatchString(re.String(), s)
	return ok
}

// authorize runs a route's Lambda authorizer for a request, as API Gateway
// does before the integration: a request without its identity is 401, the
// function's "Unauthorized" error is 401, a policy that does not allow
// execute-api:Invoke on the method's ARN is 403, and a function that
// fails otherwise or answers something else is 500. It returns what the
// event's requestContext.authorizer gets (principalId and the answer's
// context), or false when it has written the refusal.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, a *Authorizer, stage Stage, ev proxyEvent, api API) (map[string]any, bool) {
	values, ok := identity(r, stage, a.IdentitySources)
	if !ok {
		message(w, http.StatusUnauthorized, unauthorized)
		return nil, false
	}
	if a.ValidationExpression != "" && !regexp.MustCompile("^(?:"+a.ValidationExpression+")$").MatchString(values[0]) {
		message(w, http.StatusUnauthorized, unauthorized)
		return nil, false
	}
	methodARN := fmt.Sprintf("arn:aws:execute-api:%s:%s:%s/%s/%s%s", s.opts.Region, s.opts.AccountID, api.ID, stage.Name, r.Method, ev.Path)
	var in any
	if a.Type == "token" {
		in = map[string]string{"type": "TOKEN", "authorizationToken": values[0], "methodArn": methodARN}
	} else {
		in = struct {
			Type      string `json:"type"`
			MethodArn string `json:"methodArn"`
			proxyEvent
		}{"REQUEST", methodARN, ev}
	}
	payload, err := json.Marshal(in)
	if err != nil {
		message(w, http.StatusInternalServerError, authorizerBad)
		return nil, false
	}
	if s.opts.Authorize != nil {
		source := fmt.Sprintf("arn:aws:execute-api:%s:%s:%s/authorizers/%s", s.opts.Region, s.opts.AccountID, api.ID, a.Name)
		if err := s.opts.Authorize(r.Context(), a.Function, source); err != nil {
			message(w, http.StatusInternalServerError, authorizerBad)
			return nil, false
		}
	}
	out, err := apigw.Invoke(r.Context(), s.opts.Lambda, a.Function, payload, IntegrationTimeout)
	if failed := (*apigw.FunctionError)(nil); errors.As(err, &failed) {
		var fe struct {
			ErrorMessage string `json:"errorMessage"`
		}
		if json.Unmarshal(failed.Payload, &fe) == nil && fe.ErrorMessage == "Unauthorized" {
			message(w, http.StatusUnauthorized, unauthorized)
		} else {
			message(w, http.StatusInternalServerError, authorizerBad)
		}
		return nil, false
	}
	if err != nil {
		message(w, http.StatusInternalServerError, authorizerBad)
		return nil, false
	}
	var answer policyAnswer
	if err := json.Unmarshal(out, &answer); err != nil || answer.PrincipalID == "" && len(answer.PolicyDocument.Statement) == 0 {
		message(w, http.StatusInternalServerError, authorizerBad)
		return nil, false
	}
	switch allowed, denied := answer.allows(methodARN); {
	case denied:
		message(w, http.StatusForbidden, deniedByName)
		return nil, false
	case !allowed:
		message(w, http.StatusForbidden, notAuthorized)
		return nil, false
	}
	auth := map[string]any{"principalId": answer.PrincipalID}
	for k, v := range answer.Context {
		auth[k] = v
	}
	return auth, true
}
