package cfn

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// SAM resource types.
const (
	typeFunction     = "AWS::Serverless::Function"
	typeHTTPAPI      = "AWS::Serverless::HttpApi"
	typeStateMachine = "AWS::Serverless::StateMachine"
	typeSimpleTable  = "AWS::Serverless::SimpleTable"
)

// implicitAPI is the logical ID of the HTTP API SAM creates for HttpApi
// events that name none.
const implicitAPI = "ServerlessHttpApi"

// globalsSections are the Globals sections SAM knows, and the properties
// each one may not set.
var globalsSections = map[string][]string{
	"Function":         {"Role", "Policies", "FunctionName", "Events"},
	"Api":              nil,
	"HttpApi":          nil,
	"SimpleTable":      nil,
	"StateMachine":     nil,
	"LayerVersion":     nil,
	"CapacityProvider": nil,
}

func samError(format string, args ...any) error {
	return validationError("Transform " + serverlessTransform + " failed with: Invalid Serverless Application Specification document. " +
		"Number of errors found: 1. " + fmt.Sprintf(format, args...))
}

// transform returns t as CloudFormation runs it: for a SAM template, with
// the Globals merged into the resources and the resources SAM adds (the
// implicit HTTP API, execution roles, API stages, invoke permissions).
// SAM resources keep their types; the engine runs them directly.
func transform(t *template) (*template, error) {
	for _, name := range t.Transforms {
		if name != serverlessTransform {
			return nil, validationError(fmt.Sprintf("Transform %s is not supported by stackflow's local engine (only %s is)", name, serverlessTransform))
		}
	}
	if !t.serverless() {
		var sam []string
		for _, r := range t.Resources {
			if strings.HasPrefix(r.Type, "AWS::Serverless::") && !slices.Contains(sam, r.Type) {
				sam = append(sam, r.Type)
			}
		}
		if len(sam) > 0 {
			return nil, formatError("Unrecognized resource types: [%s]", strings.Join(sam, ", "))
		}
		return t, nil
	}
	globals, err := parseGlobals(t.Globals)
	if err != nil {
		return nil, err
	}
	out := *t
	out.Resources = nil
	var implicit []*resourceDef
	add := func(r *resourceDef) {
		if t.resource(r.Name) == nil && !slices.ContainsFunc(implicit, func(x *resourceDef) bool { return x.Name == r.Name }) {
			implicit = append(implicit, r)
		}
	}
	needAPI := false
	for _, orig := range t.Resources {
		r := *orig
		r.Properties = deepCopy(orig.Properties).(map[string]any)
		if g, ok := globals[strings.TrimPrefix(r.Type, "AWS::Serverless::")]; ok && strings.HasPrefix(r.Type, "AWS::Serverless::") {
			r.Properties = mergeGlobals(g, r.Properties).(map[string]any)
		}
		switch r.Type {
		case typeFunction:
			if err := functionImplicit(&r, add, &needAPI); err != nil {
				return nil, err
			}
		case typeStateMachine:
			if _, ok := r.Properties["Role"]; !ok {
				role := r.Name + "Role"
				add(&resourceDef{Name: role, Type: "AWS::IAM::Role", Condition: r.Condition, Implicit: true, Properties: map[string]any{
					"AssumeRolePolicyDocument": trustPolicy("states.amazonaws.com"),
					"Policies":                 r.Properties["Policies"],
				}})
				r.Properties["Role"] = map[string]any{"Fn::GetAtt": []any{role, "Arn"}}
			}
		case typeHTTPAPI:
			apiStage(&r, add)
		}
		out.Resources = append(out.Resources, &r)
	}
	if needAPI && t.resource(implicitAPI) == nil {
		api := &resourceDef{Name: implicitAPI, Type: typeHTTPAPI, Properties: map[string]any{}, Implicit: true}
		if g, ok := globals["HttpApi"]; ok {
			api.Properties = mergeGlobals(g, api.Properties).(map[string]any)
		}
		out.Resources = append(out.Resources, api)
		apiStage(api, add)
	}
	for _, r := range implicit {
		if r.Properties["Policies"] == nil {
			delete(r.Properties, "Policies")
		}
	}
	out.Resources = append(out.Resources, implicit...)
	return &out, nil
}

// functionImplicit adds what SAM adds for a function: its execution role
// when it names none, the implicit HTTP API for HttpApi events that name no
// API, and a permission per HttpApi event.
func functionImplicit(r *resourceDef, add func(*resourceDef), needAPI *bool) error {
	if _, ok := r.Properties["Role"]; !ok {
		role := r.Name + "Role"
		add(&resourceDef{Name: role, Type: "AWS::IAM::Role", Condition: r.Condition, Implicit: true, Properties: map[string]any{
			"AssumeRolePolicyDocument": trustPolicy("lambda.amazonaws.com"),
			"ManagedPolicyArns":        []any{map[string]any{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}},
			"Policies":                 r.Properties["Policies"],
		}})
		r.Properties["Role"] = map[string]any{"Fn::GetAtt": []any{role, "Arn"}}
	}
	events, ok := r.Properties["Events"].(map[string]any)
	if r.Properties["Events"] != nil && !ok {
		return samError("Resource with id [%s] is invalid. Events must be a map.", r.Name)
	}
	for _, name := range slices.Sorted(maps.Keys(events)) {
		ev, ok := events[name].(map[string]any)
		if !ok {
			return samError("Resource with id [%s] is invalid. Event with id [%s] is invalid.", r.Name, name)
		}
		if ev["Type"] != "HttpApi" {
			continue
		}
		props, _ := ev["Properties"].(map[string]any)
		if props == nil {
			props = map[string]any{}
			ev["Properties"] = props
		}
		if _, ok := props["ApiId"]; !ok {
			props["ApiId"] = map[string]any{"Ref": implicitAPI}
			*needAPI = true
		}
		add(&resourceDef{Name: r.Name + name + "Permission", Type: "AWS::Lambda::Permission", Condition: r.Condition, Implicit: true, Properties: map[string]any{
			"Action":       "lambda:InvokeFunction",
			"FunctionName": map[string]any{"Ref": r.Name},
			"Principal":    "apigateway.amazonaws.com",
			"SourceArn": map[string]any{"Fn::Join": []any{"", []any{
				map[string]any{"Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:"},
				deepCopy(props["ApiId"]), "/*",
			}}},
		}})
	}
	return nil
}

// apiStage adds the stage SAM creates for an HTTP API.
func apiStage(r *resourceDef, add func(*resourceDef)) {
	stage := toStringOr(r.Properties["StageName"], "$default")
	name := r.Name + "ApiGatewayDefaultStage"
	if stage != "$default" {
		var b strings.Builder
		for _, c := range stage {
			if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
				b.WriteRune(c)
			}
		}
		name = r.Name + b.String() + "Stage"
	}
	add(&resourceDef{Name: name, Type: "AWS::ApiGatewayV2::Stage", Condition: r.Condition, Implicit: true, Properties: map[string]any{
		"ApiId":      map[string]any{"Ref": r.Name},
		"StageName":  stage,
		"AutoDeploy": true,
	}})
}

func trustPolicy(service string) map[string]any {
	return map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Effect":    "Allow",
			"Principal": map[string]any{"Service": []any{service}},
			"Action":    []any{"sts:AssumeRole"},
		}},
	}
}

// parseGlobals checks the Globals section as SAM does.
func parseGlobals(g map[string]any) (map[string]map[string]any, error) {
	out := map[string]map[string]any{}
	for _, section := range slices.Sorted(maps.Keys(g)) {
		banned, ok := globalsSections[section]
		if !ok {
			return nil, samError("'Globals' section is invalid. '%s' is not supported. Must be one of the following values - %s",
				section, strings.Join(slices.Sorted(maps.Keys(globalsSections)), ", "))
		}
		props, ok := g[section].(map[string]any)
		if !ok {
			return nil, samError("'Globals' section is invalid. Value of %s must be a dictionary", section)
		}
		for _, p := range slices.Sorted(maps.Keys(props)) {
			if slices.Contains(banned, p) {
				return nil, samError("'Globals' section is invalid. '%s' is not a supported property of '%s'.", p, section)
			}
		}
		out[section] = props
	}
	return out, nil
}

// mergeGlobals merges a global value into a resource's as SAM does: maps
// are merged key by key, lists are concatenated (the global elements
// first), and otherwise, or when the types differ, the resource's value
// wins. Intrinsic functions count as plain values.
func mergeGlobals(global, local any) any {
	gm, gIsMap := global.(map[string]any)
	lm, lIsMap := local.(map[string]any)
	_, _, gFn := intrinsic(global)
	_, _, lFn := intrinsic(local)
	if gIsMap && lIsMap && !gFn && !lFn {
		out := deepCopy(gm).(map[string]any)
		for k, v := range lm {
			if g, ok := out[k]; ok {
				out[k] = mergeGlobals(g, v)
			} else {
				out[k] = v
			}
		}
		return out
	}
	gl, gIsList := global.([]any)
	ll, lIsList := local.([]any)
	if gIsList && lIsList {
		return append(deepCopy(gl).([]any), ll...)
	}
	return local
}

// requiredCapability returns the capability a processed template needs:
// CAPABILITY_NAMED_IAM for IAM resources with custom names, CAPABILITY_IAM
// for other IAM resources, or "".
func requiredCapability(t *template) string {
	names := map[string]string{
		"AWS::IAM::Role":                "RoleName",
		"AWS::IAM::ManagedPolicy":       "ManagedPolicyName",
		"AWS::IAM::User":                "UserName",
		"AWS::IAM::Group":               "GroupName",
		"AWS::IAM::InstanceProfile":     "InstanceProfileName",
		"AWS::IAM::Policy":              "",
		"AWS::IAM::AccessKey":           "",
		"AWS::IAM::UserToGroupAddition": "",
	}
	need := ""
	for _, r := range t.Resources {
		prop, ok := names[r.Type]
		if !ok {
			continue
		}
		if prop != "" && r.Properties[prop] != nil {
			return "CAPABILITY_NAMED_IAM"
		}
		need = "CAPABILITY_IAM"
	}
	return need
}

// checkCapabilities refuses a template that needs a capability that was
// not acknowledged.
func checkCapabilities(t *template, have []string) error {
	need := requiredCapability(t)
	switch {
	case need == "":
		return nil
	case slices.Contains(have, need):
		return nil
	case need == "CAPABILITY_IAM" && slices.Contains(have, "CAPABILITY_NAMED_IAM"):
		return nil
	}
	return &apiError{Code: "InsufficientCapabilitiesException", Message: "Requires capabilities : [" + need + "]", Status: 400}
}
