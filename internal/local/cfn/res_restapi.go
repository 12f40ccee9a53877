package cfn

import (
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/stackflow/stackflow/internal/local/restapi"
)

// REST APIs (API Gateway's v1, SAM's Api events and AWS::Serverless::Api):
// AWS::ApiGateway::RestApi from an OpenAPI body or from
// AWS::ApiGateway::Resource and AWS::ApiGateway::Method resources, served
// by package internal/local/restapi on a loopback port of its own once a
// stage exists (an AWS::ApiGateway::Stage, or the stage an
// AWS::ApiGateway::Deployment's StageName makes, as SAM's Stage stage).
// Every stage serves the API as it is now.
func init() {
	var (
		bodySecurity = "Lambda authorizers (token and request) run; Cognito user pool and IAM authorizers and API keys are not enforced locally"
		keys         = "API keys and usage plans are not enforced locally: a request needs no key"
		authorizers  = "authorizers made as AWS::ApiGateway::Authorizer resources are not enforced locally: every request reaches its method"
	)
	register(map[string]*kind{
		"AWS::ApiGateway::RestApi": {
			attrs:   []string{"RestApiId", "RootResourceId"},
			create:  createRestAPI,
			update:  updateRestAPI,
			remove:  removeRestAPI,
			refused: map[string]string{"CloneFrom": "give the API's Body or its resources and methods"},
			ignored: map[string]string{
				"Body.securityDefinitions":                    bodySecurity,
				"Body.components.securitySchemes":             bodySecurity,
				"Body.x-amazon-apigateway-api-key-source":     keys,
				"Body.x-amazon-apigateway-policy":             "resource policies are not applied locally",
				"Policy":                                      "resource policies are not applied locally",
				"Body.x-amazon-apigateway-gateway-responses":  "gateway responses are not applied locally: API Gateway's own answers are its defaults",
				"Body.x-amazon-apigateway-request-validators": "requests are not validated locally",
				"ApiKeySourceType":                            keys,
				"EndpointConfiguration":                       "every API is served on plain HTTP on 127.0.0.1",
				"MinimumCompressionSize":                      "answers are not compressed locally",
			},
		},
		"AWS::ApiGateway::Resource": {
			attrs:   []string{"ResourceId"},
			replace: []string{"RestApiId", "ParentId", "PathPart"},
			create:  createAPIResource,
			remove:  removeAPIResource,
		},
		"AWS::ApiGateway::Method": {
			attrs:   []string{},
			replace: []string{"RestApiId", "ResourceId", "HttpMethod"},
			create:  createMethod,
			update:  updateMethod,
			remove:  removeMethod,
			ignored: map[string]string{
				"AuthorizerId":       authorizers,
				"ApiKeyRequired":     keys,
				"RequestValidatorId": "requests are not validated locally",
			},
		},
		"AWS::ApiGateway::Deployment": {
			attrs:   []string{"DeploymentId"},
			replace: []string{"RestApiId", "StageName"},
			create:  createDeployment,
			update:  updateDeployment,
			remove:  removeDeployment,
			ignored: map[string]string{
				"DeploymentCanarySettings":        "a deployment serves all of the API's requests locally",
				"StageDescription.MethodSettings": "throttling, caching and logging settings are not applied locally",
			},
		},
		"AWS::ApiGateway::Stage": {
			attrs:   []string{},
			replace: []string{"RestApiId", "StageName"},
			create:  createAPIStage,
			update:  updateAPIStage,
			remove:  removeAPIStage,
			ignored: map[string]string{
				"MethodSettings":      "throttling, caching and logging settings are not applied locally",
				"AccessLogSetting":    "access logs are not written locally",
				"CacheClusterEnabled": "answers are not cached locally",
				"CanarySetting":       "every stage serves the API as it is now",
			},
		},
		"AWS::ApiGateway::Authorizer":       apiPart("AuthorizerId", []string{"RestApiId"}, authorizers),
		"AWS::ApiGateway::ApiKey":           apiPart("APIKeyId", []string{"Name", "Value"}, keys),
		"AWS::ApiGateway::UsagePlan":        apiPart("Id", nil, keys),
		"AWS::ApiGateway::UsagePlanKey":     apiPart("Id", []string{"KeyId", "KeyType", "UsagePlanId"}, keys),
		"AWS::ApiGateway::RequestValidator": apiPart("RequestValidatorId", []string{"RestApiId"}, "requests are not validated locally"),
		"AWS::ApiGateway::GatewayResponse":  apiPart("Id", []string{"RestApiId", "ResponseType"}, "gateway responses are not applied locally: API Gateway's own answers are its defaults"),
		"AWS::ApiGateway::Account": withNote(recorded([]string{"Id"}, nil, func(o *op, r *resource) {
			r.Physical = r.physicalName(o.stackName, 64, false)
			r.Attrs = map[string]any{"Id": r.Physical}
		}), "API Gateway's logs are not written locally"),
	})
}

// apiPart is a part of a REST API that is only recorded: Ref and GetAtt
// attr give an ID shaped like API Gateway's.
func apiPart(attr string, replace []string, note string) *kind {
	return withNote(recorded([]string{attr}, replace, func(_ *op, r *resource) {
		r.Physical = randomString(lowerAlnum, 10)
		r.Attrs = map[string]any{attr: r.Physical}
	}), note)
}

// withNote is k with a note on what it does not do locally.
func withNote(k *kind, note string) *kind {
	k.note = note
	return k
}

// restAPI is a REST API the engine serves.
type restAPI struct {
	srv    *restapi.Server
	rootID string
	// body is what its Body (or BodyS3Location) defines; binary its
	// BinaryMediaTypes property.
	body   restapi.Definition
	binary []string
	// resources and methods are its AWS::ApiGateway::Resource and
	// AWS::ApiGateway::Method resources, by physical ID.
	resources map[string]restapi.Resource
	methods   map[string]restapi.Method
	// stages are the stages it is served at, by name.
	stages map[string]*apiStage
}

// apiStage is a stage of a REST API: made by an AWS::ApiGateway::Stage, or
// by the Deployments whose StageName it is (SAM's Stage stage).
type apiStage struct {
	variables   map[string]string
	resource    bool            // an AWS::ApiGateway::Stage made it
	deployments map[string]bool // the Deployments that name it
}

// routesLocked returns every route of the API, of its body and of its
// methods. The caller holds e.mu.
func (a *restAPI) routesLocked(methods map[string]restapi.Method) ([]restapi.Route, error) {
	var ms []restapi.Method
	for _, id := range slices.Sorted(maps.Keys(methods)) {
		ms = append(ms, methods[id])
	}
	routes, err := restapi.ResourceRoutes(a.rootID, slices.Collect(maps.Values(a.resources)), ms)
	if err != nil {
		return nil, err
	}
	return append(slices.Clone(a.body.Routes), routes...), nil
}

// serveLocked gives the API's server its stages, routes and binary media
// types; with methods given, those replace the API's (and are kept only
// when they serve). The caller holds e.mu.
func (a *restAPI) serveLocked(e *Engine, id string, methods map[string]restapi.Method) error {
	if methods == nil {
		methods = a.methods
	}
	routes, err := a.routesLocked(methods)
	if err != nil {
		return err
	}
	api := restapi.API{ID: id, Routes: routes}
	for _, name := range slices.Sorted(maps.Keys(a.stages)) {
		api.Stages = append(api.Stages, restapi.Stage{Name: name, Variables: a.stages[name].variables})
	}
	for _, t := range append(slices.Clone(a.body.BinaryMediaTypes), a.binary...) {
		if !slices.Contains(api.BinaryMediaTypes, t) {
			api.BinaryMediaTypes = append(api.BinaryMediaTypes, t)
		}
	}
	for i := range api.Routes {
		api.Routes[i].Function = e.functionTargetLocked(api.Routes[i].Function)
	}
	if err := a.srv.Update(api); err != nil {
		return err
	}
	a.methods = methods
	return nil
}

// restAPIBody reads what a RestApi's Body or BodyS3Location defines, and
// its BinaryMediaTypes (where SAM keeps ~1 for /, as the API's PATCH
// paths do, API Gateway takes either).
func (e *Engine) restAPIBody(ctx context.Context, p map[string]any) (restapi.Definition, []string, error) {
	var body any
	switch {
	case p["Body"] != nil:
		body = p["Body"]
	case p["BodyS3Location"] != nil:
		m, _ := p["BodyS3Location"].(map[string]any)
		loc := s3Location{Bucket: toStringOr(m["Bucket"], ""), Key: toStringOr(m["Key"], ""), Version: toStringOr(m["Version"], "")}
		b, err := e.getObject(ctx, loc, 10<<20)
		if err != nil {
			return restapi.Definition{}, nil, err
		}
		if err := yaml.Unmarshal(b, &body); err != nil {
			return restapi.Definition{}, nil, reasonf("BodyS3Location: %s is not an OpenAPI document: %v", loc, err)
		}
	}
	var def restapi.Definition
	if body != nil {
		doc, ok := body.(map[string]any)
		if !ok {
			return def, nil, reasonf("Body must be an OpenAPI (or Swagger) document, a map")
		}
		var err error
		if def, err = restapi.Parse(doc); err != nil {
			return def, nil, reasonf("Body: %s", strings.TrimPrefix(err.Error(), "read the REST API's body: "))
		}
	}
	var binary []string
	if v := p["BinaryMediaTypes"]; v != nil {
		list, ok := v.([]any)
		if !ok {
			return def, nil, reasonf("BinaryMediaTypes must be a list of media types")
		}
		for _, t := range list {
			s, ok := t.(string)
			if !ok {
				return def, nil, reasonf("BinaryMediaTypes must be a list of media types, and holds %s", typeName(t))
			}
			binary = append(binary, strings.ReplaceAll(s, "~1", "/"))
		}
	}
	return def, binary, nil
}

// createRestAPI serves a new REST API on a loopback port: it answers
// 403 Missing Authentication Token until it has a stage.
func createRestAPI(ctx context.Context, o *op, r *resource) error {
	def, binary, err := o.e.restAPIBody(ctx, r.Props)
	if err != nil {
		return err
	}
	id := randomString(lowerAlnum, 10)
	opts := restapi.Options{Lambda: o.e.lambda, Region: o.e.region, AccountID: o.e.account}
	if iam := o.e.opts.IAM; iam != nil {
		opts.Authorize = func(_ context.Context, function, sourceARN string) error {
			return iam.AllowInvoke("apigateway.amazonaws.com", function, sourceARN, o.e.account)
		}
	}
	srv, err := restapi.Serve(restapi.API{ID: id}, opts)
	if err != nil {
		return err
	}
	a := &restAPI{srv: srv, rootID: randomString(lowerAlnum, 10), body: def, binary: binary,
		resources: map[string]restapi.Resource{}, methods: map[string]restapi.Method{}, stages: map[string]*apiStage{}}
	o.e.mu.Lock()
	defer o.e.mu.Unlock()
	if err := a.serveLocked(o.e, id, nil); err != nil {
		_ = srv.Close()
		return reasonf("Body: %v", err)
	}
	o.e.apis[id] = srv
	o.e.restAPIs[id] = a
	r.Physical = id
	r.Attrs = map[string]any{"RestApiId": id, "RootResourceId": a.rootID}
	return nil
}

// updateRestAPI serves the API's new body on the same port.
func updateRestAPI(ctx context.Context, o *op, prev, next *resource) error {
	def, binary, err := o.e.restAPIBody(ctx, next.Props)
	if err != nil {
		return err
	}
	o.e.mu.Lock()
	defer o.e.mu.Unlock()
	a := o.e.restAPIs[prev.Physical]
	if a == nil {
		return reasonf("the REST API %s is no longer served", prev.Physical)
	}
	old, oldBinary := a.body, a.binary
	a.body, a.binary = def, binary
	if err := a.serveLocked(o.e, prev.Physical, nil); err != nil {
		a.body, a.binary = old, oldBinary
		return reasonf("Body: %v", err)
	}
	next.Attrs = map[string]any{"RestApiId": prev.Physical, "RootResourceId": a.rootID}
	return nil
}

// removeRestAPI stops serving the API: its port closes.
func removeRestAPI(_ context.Context, o *op, r *resource) error {
	o.e.mu.Lock()
	a := o.e.restAPIs[r.Physical]
	delete(o.e.apis, r.Physical)
	delete(o.e.restAPIs, r.Physical)
	o.e.mu.Unlock()
	if a != nil {
		return a.srv.Close()
	}
	return nil
}

// restAPILocked returns the REST API a RestApiId property names; the
// caller holds e.mu.
func (e *Engine) restAPILocked(props map[string]any) (string, *restAPI, error) {
	id := toStringOr(props["RestApiId"], "")
	if id == "" {
		return "", nil, reasonf("RestApiId is required")
	}
	a := e.restAPIs[id]
	if a == nil {
		return id, nil, reasonf("Invalid API identifier specified %s:%s", e.account, id)
	}
	return id, a, nil
}

func createAPIResource(_ context.Context, o *op, r *resource) error {
	o.e.mu.Lock()
	defer o.e.mu.Unlock()
	apiID, a, err := o.e.restAPILocked(r.Props)
	if err != nil {
		return err
	}
	parent, part := toStringOr(r.Props["ParentId"], ""), toStringOr(r.Props["PathPart"], "")
	if parent != a.rootID && a.resources[parent].ID == "" {
		return reasonf("Invalid Resource identifier specified: ParentId %s is neither the API's RootResourceId nor one of its resources", parent)
	}
	id := randomString(lowerAlnum, 6)
	a.resources[id] = restapi.Resource{ID: id, ParentID: parent, PathPart: part}
	if err := a.serveLocked(o.e, apiID, nil); err != nil {
		delete(a.resources, id)
		return reasonf("PathPart: %v", err)
	}
	r.Physical = id
	r.Attrs = map[string]any{"ResourceId": id}
	return nil
}

func removeAPIResource(_ context.Context, o *op, r *resource) error {
	o.e.mu.Lock()
	defer o.e.mu.Unlock()
	apiID, a, err := o.e.restAPILocked(r.Props)
	if a == nil || err != nil {
		return nil // the API is gone, and its resources with it
	}
	delete(a.resources, r.Physical)
	// Its methods and the resources under it go first (they depend on
	// it); should one be left, the API keeps serving as it was.
	_ = a.serveLocked(o.e, apiID, nil)
	return nil
}

// methodOf reads an AWS::ApiGateway::Method's properties.
func methodOf(p map[string]any) (restapi.Method, error) {
	m := restapi.Method{ResourceID: toStringOr(p["ResourceId"], ""), HTTPMethod: toStringOr(p["HttpMethod"], "")}
	if m.ResourceID == "" || m.HTTPMethod == "" {
		return m, reasonf("ResourceId and HttpMethod are required")
	}
	integ, _ := p["Integration"].(map[string]any)
	if integ == nil {
		return m, reasonf("Integration is required by stackflow's local engine: a method without one cannot be called on AWS either")
	}
	m.IntegrationType = strings.ToUpper(toStringOr(integ["Type"], ""))
	switch m.IntegrationType {
	case "AWS_PROXY":
		m.IntegrationURI = toStringOr(integ["Uri"], "")
		if ms, ok := toInt(integ["TimeoutInMillis"]); ok && ms > 0 {
			m.Timeout = time.Duration(ms) * time.Millisecond
		}
	case "MOCK":
		// The default integration response (no SelectionPattern) is the
		// answer.
		responses, _ := integ["IntegrationResponses"].([]any)
		var def map[string]any
		for _, x := range responses {
			if resp, ok := x.(map[string]any); ok && toStringOr(resp["SelectionPattern"], "") == "" {
				def = resp
			}
		}
		params, _ := def["ResponseParameters"].(map[string]any)
		templates, _ := def["ResponseTemplates"].(map[string]any)
		mock, err := restapi.MockFrom(def["StatusCode"], params, templates)
		if err != nil {
			return m, reasonf("Integration: %v", err)
		}
		m.Mock = mock
	default:
		return m, reasonf("Integration.Type %s is not supported by stackflow's local engine: it runs AWS_PROXY (Lambda proxy) and MOCK integrations", m.IntegrationType)
	}
	return m, nil
}

// putMethod adds (or changes) the method id of the API its properties
// name, keeping the API as it was when the method cannot serve.
func putMethod(o *op, id string, p map[string]any) error {
	m, err := methodOf(p)
	if err != nil {
		return err
	}
	o.e.mu.Lock()
	defer o.e.mu.Unlock()
	apiID, a, err := o.e.restAPILocked(p)
	if err != nil {
		return err
	}
	methods := maps.Clone(a.methods)
	methods[id] = m
	if err := a.serveLocked(o.e, apiID, methods); err != nil {
		return reasonf("%v", err)
	}
	return nil
}

func createMethod(_ context.Context, o *op, r *resource) error {
	id := r.physicalName(o.stackName, 100, false)
	if err := putMethod(o, id, r.Props); err != nil {
		return err
	}
	r.Physical = id
	r.Attrs = map[string]any{}
	return nil
}

func updateMethod(_ context.Context, o *op, prev, next *resource) error {
	return putMethod(o, prev.Physical, next.Props)
}

func removeMethod(_ context.Context, o *op, r *resource) error {
	o.e.mu.Lock()
	defer o.e.mu.Unlock()
	apiID, a, err := o.e.restAPILocked(r.Props)
	if a == nil || err != nil {
		return nil
	}
	methods := maps.Clone(a.methods)
	delete(methods, r.Physical)
	return a.serveLocked(o.e, apiID, methods)
}

// createDeployment deploys the API: as on AWS, it needs a method, and its
// StageName, when given, makes that stage (or takes it over).
func createDeployment(_ context.Context, o *op, r *resource) error {
	o.e.mu.Lock()
	defer o.e.mu.Unlock()
	apiID, a, err := o.e.restAPILocked(r.Props)
	if err != nil {
		return err
	}
	if routes, _ := a.routesLocked(a.methods); len(routes) == 0 {
		return reasonf("The REST API doesn't contain any methods")
	}
	id := randomString(lowerAlnum, 6)
	if stage := toStringOr(r.Props["StageName"], ""); stage != "" {
		vars, err := stringMap(prop(r.Props, "StageDescription.Variables"))
		if err != nil {
			return reasonf("StageDescription.Variables: %v", err)
		}
		st := a.stages[stage]
		if st == nil {
			st = &apiStage{deployments: map[string]bool{}}
			a.stages[stage] = st
		}
		st.deployments[id] = true
		if vars != nil || !st.resource {
			st.variables = vars
		}
		if err := a.serveLocked(o.e, apiID, nil); err != nil {
			delete(st.deployments, id)
			if len(st.deployments) == 0 && !st.resource {
				delete(a.stages, stage)
			}
			return reasonf("StageName: %v", err)
		}
	}
	r.Physical = id
	r.Attrs = map[string]any{"DeploymentId": id}
	return nil
}

// updateDeployment takes the stage's new variables.
func updateDeployment(_ context.Context, o *op, prev, next *resource) error {
	stage := toStringOr(next.Props["StageName"], "")
	if stage == "" {
		return nil
	}
	vars, err := stringMap(prop(next.Props, "StageDescription.Variables"))
	if err != nil {
		return reasonf("StageDescription.Variables: %v", err)
	}
	o.e.mu.Lock()
	defer o.e.mu.Unlock()
	apiID, a, err := o.e.restAPILocked(next.Props)
	if err != nil {
		return err
	}
	if st := a.stages[stage]; st != nil && !st.resource {
		st.variables = vars
	}
	return a.serveLocked(o.e, apiID, nil)
}

// removeDeployment removes the stage it made, unless another Deployment
// or a Stage resource holds it.
func removeDeployment(_ context.Context, o *op, r *resource) error {
	o.e.mu.Lock()
	defer o.e.mu.Unlock()
	apiID, a, err := o.e.restAPILocked(r.Props)
	if a == nil || err != nil {
		return nil
	}
	stage := toStringOr(r.Props["StageName"], "")
	st := a.stages[stage]
	if st == nil {
		return nil
	}
	delete(st.deployments, r.Physical)
	if len(st.deployments) == 0 && !st.resource {
		delete(a.stages, stage)
	}
	return a.serveLocked(o.e, apiID, nil)
}

// createAPIStage serves the API at /<StageName>.
func createAPIStage(_ context.Context, o *op, r *resource) error {
	name := toStringOr(r.Props["StageName"], "")
	if name == "" {
		return reasonf("StageName is required")
	}
	vars, err := stringMap(r.Props["Variables"])
	if err != nil {
		return reasonf("Variables: %v", err)
	}
	o.e.mu.Lock()
	defer o.e.mu.Unlock()
	apiID, a, err := o.e.restAPILocked(r.Props)
	if err != nil {
		return err
	}
	if st := a.stages[name]; st != nil {
		return reasonf("Stage already exists: %s of REST API %s", name, apiID)
	}
	a.stages[name] = &apiStage{variables: vars, resource: true, deployments: map[string]bool{}}
	if err := a.serveLocked(o.e, apiID, nil); err != nil {
		delete(a.stages, name)
		return reasonf("StageName: %v", err)
	}
	r.Physical = name
	r.Attrs = map[string]any{}
	return nil
}

// updateAPIStage takes the stage's new variables (a new DeploymentId
// changes nothing locally: every stage serves the API as it is now).
func updateAPIStage(_ context.Context, o *op, prev, next *resource) error {
	vars, err := stringMap(next.Props["Variables"])
	if err != nil {
		return reasonf("Variables: %v", err)
	}
	o.e.mu.Lock()
	defer o.e.mu.Unlock()
	apiID, a, err := o.e.restAPILocked(next.Props)
	if err != nil {
		return err
	}
	st := a.stages[prev.Physical]
	if st == nil {
		return reasonf("the stage %s of REST API %s is no longer served", prev.Physical, apiID)
	}
	st.variables = vars
	return a.serveLocked(o.e, apiID, nil)
}

func removeAPIStage(_ context.Context, o *op, r *resource) error {
	o.e.mu.Lock()
	defer o.e.mu.Unlock()
	apiID, a, err := o.e.restAPILocked(r.Props)
	if a == nil || err != nil {
		return nil
	}
	st := a.stages[r.Physical]
	if st == nil {
		return nil
	}
	st.resource = false
	if len(st.deployments) == 0 {
		delete(a.stages, r.Physical)
	}
	return a.serveLocked(o.e, apiID, nil)
}
