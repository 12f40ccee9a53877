package cfn

import (
	"context"
	"fmt"
	"regexp"
	"strings"
)

// op is what a resource type sees of the stack operation it serves.
type op struct {
	e         *Engine
	stackName string
	stackID   string
}

// kind is a resource type the engine can create.
type kind struct {
	// reported is the type shown in events, change sets and resource
	// listings: what the SAM transform turns a SAM type into.
	reported string
	// attrs are the attributes Fn::GetAtt may ask for.
	attrs []string
	// replace are the properties whose change replaces the resource.
	replace []string
	// create makes the resource from r.Props and sets r.Physical and
	// r.Attrs. On error it leaves nothing behind.
	create func(ctx context.Context, o *op, r *resource) error
	// update changes the resource prev in place into next (next.Props are
	// the new properties; next.Physical is prev's). nil means there is
	// nothing to do but record.
	update func(ctx context.Context, o *op, prev, next *resource) error
	// remove deletes the resource; nil means there is nothing to delete.
	remove func(ctx context.Context, o *op, r *resource) error
}

// kinds are the resource types the engine runs, by template type. Each
// file that implements types adds them in its init (register). Recorded-only
// types (IAM roles and policies, log groups, Lambda permissions, API stages)
// get a physical ID and attributes shaped like AWS's, and nothing else: the
// local AWS does not enforce IAM or keep logs.
var kinds = map[string]*kind{}

// register adds resource types to kinds, each seeing its properties'
// dynamic references resolved (dynref.go); a type registered twice is a
// programming error.
func register(types map[string]*kind) {
	for typ, k := range types {
		if kinds[typ] != nil {
			panic("cfn: resource type " + typ + " registered twice")
		}
		kinds[typ] = withDynamicReferences(typ, k)
	}
}

func init() {
	register(map[string]*kind{
		typeFunction: {
			reported: "AWS::Lambda::Function",
			attrs:    []string{"Arn"},
			replace:  []string{"FunctionName"},
			create:   createFunction,
			update:   updateFunction,
			remove:   removeFunction,
		},
		typeServerlessLayer: {
			reported: typeLambdaLayer,
			attrs:    []string{"LayerVersionArn"},
			replace:  layerReplace,
			create:   createLayer,
			remove:   removeLayer,
		},
		typeLambdaLayer: {
			reported: typeLambdaLayer,
			attrs:    []string{"LayerVersionArn"},
			replace:  layerReplace,
			create:   createLayer,
			remove:   removeLayer,
		},
		typeHTTPAPI: {
			reported: "AWS::ApiGatewayV2::Api",
			attrs:    []string{"ApiEndpoint", "ApiId"},
			create:   createHTTPAPI,
			update:   updateHTTPAPI,
			remove:   removeHTTPAPI,
		},
		typeStateMachine: {
			reported: "AWS::StepFunctions::StateMachine",
			attrs:    []string{"Arn", "Name"},
			replace:  []string{"Name"},
			create:   createStateMachine,
			update:   updateStateMachine,
			remove:   removeStateMachine,
		},
		typeSimpleTable: {
			reported: "AWS::DynamoDB::Table",
			attrs:    []string{"Arn", "StreamArn"},
			replace:  []string{"TableName", "PrimaryKey"},
			create:   createSimpleTable,
			remove:   removeTable,
		},
		"AWS::DynamoDB::Table": {
			reported: "AWS::DynamoDB::Table",
			attrs:    []string{"Arn", "StreamArn"},
			replace:  []string{"TableName", "KeySchema", "LocalSecondaryIndexes"},
			create:   createTable,
			remove:   removeTable,
		},
		"AWS::S3::Bucket": {
			reported: "AWS::S3::Bucket",
			attrs:    []string{"Arn", "DomainName", "DualStackDomainName", "RegionalDomainName", "WebsiteURL"},
			replace:  []string{"BucketName"},
			create:   createBucket,
			update:   updateBucket,
			remove:   removeBucket,
		},
		"AWS::S3::BucketPolicy": {
			reported: "AWS::S3::BucketPolicy",
			attrs:    []string{},
			replace:  []string{"Bucket"},
			create:   createBucketPolicy,
			update:   func(ctx context.Context, o *op, _, next *resource) error { return putBucketPolicy(ctx, o, next) },
			remove:   removeBucketPolicy,
		},
		"AWS::SecretsManager::Secret": {
			reported: "AWS::SecretsManager::Secret",
			attrs:    []string{"Id"},
			replace:  []string{"Name"},
			create:   createSecret,
			update:   updateSecret,
			remove:   removeSecret,
		},
		"AWS::SSM::Parameter": {
			reported: "AWS::SSM::Parameter",
			attrs:    []string{"Type", "Value"},
			replace:  []string{"Name"},
			create:   createParameter,
			update:   updateParameter,
			remove:   removeParameter,
		},
		"AWS::IAM::Role": recorded("AWS::IAM::Role", []string{"Arn", "RoleId"}, []string{"RoleName", "Path"}, func(o *op, r *resource) {
			name := toStringOr(r.Props["RoleName"], "")
			if name == "" {
				name = physicalName(o.stackName, r.Logical, 64, false)
			}
			path := toStringOr(r.Props["Path"], "/")
			r.Physical = name
			r.Attrs = map[string]any{
				"Arn":    fmt.Sprintf("arn:aws:iam::%s:role%s%s", o.e.account, path, name),
				"RoleId": "AROA" + randomString(upperAlnum, 17),
			}
		}),
		"AWS::IAM::Policy": recorded("AWS::IAM::Policy", []string{"Id"}, nil, func(o *op, r *resource) {
			r.Physical = physicalName(o.stackName, r.Logical, 64, false)
			r.Attrs = map[string]any{"Id": r.Physical}
		}),
		"AWS::IAM::ManagedPolicy": recorded("AWS::IAM::ManagedPolicy", []string{"PolicyArn"}, []string{"ManagedPolicyName", "Path"}, func(o *op, r *resource) {
			name := toStringOr(r.Props["ManagedPolicyName"], "")
			if name == "" {
				name = physicalName(o.stackName, r.Logical, 128, false)
			}
			arn := fmt.Sprintf("arn:aws:iam::%s:policy%s%s", o.e.account, toStringOr(r.Props["Path"], "/"), name)
			r.Physical = arn
			r.Attrs = map[string]any{"PolicyArn": arn}
		}),
		"AWS::Logs::LogGroup": recorded("AWS::Logs::LogGroup", []string{"Arn"}, []string{"LogGroupName"}, func(o *op, r *resource) {
			name := toStringOr(r.Props["LogGroupName"], "")
			if name == "" {
				name = physicalName(o.stackName, r.Logical, 512, false)
			}
			r.Physical = name
			r.Attrs = map[string]any{"Arn": fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s:*", o.e.region, o.e.account, name)}
		}),
		"AWS::Lambda::Permission": recorded("AWS::Lambda::Permission", []string{}, []string{"FunctionName", "Principal", "SourceArn", "Action"}, func(o *op, r *resource) {
			r.Physical = physicalName(o.stackName, r.Logical, 100, false)
			r.Attrs = map[string]any{}
		}),
		"AWS::ApiGatewayV2::Stage": recorded("AWS::ApiGatewayV2::Stage", []string{}, []string{"ApiId", "StageName"}, func(_ *op, r *resource) {
			r.Physical = toStringOr(r.Props["StageName"], "$default")
			r.Attrs = map[string]any{}
		}),
	})
}

// recorded is a type whose resources are only recorded.
func recorded(typ string, attrs, replace []string, name func(o *op, r *resource)) *kind {
	return &kind{
		reported: typ,
		attrs:    attrs,
		replace:  replace,
		create: func(_ context.Context, o *op, r *resource) error {
			name(o, r)
			return nil
		},
	}
}

// reason is a resource's failure worded as CloudFormation words them: a
// sentence that often starts with the name of a property or a type.
type reason string

func (r reason) Error() string { return string(r) }

func reasonf(format string, args ...any) error {
	return reason(fmt.Sprintf(format, args...))
}

// kindOf returns the kind of typ, or an error that says it is not
// supported.
func kindOf(typ string) (*kind, error) {
	if k := kinds[typ]; k != nil {
		return k, nil
	}
	return nil, reasonf("Resource type %s is not supported by stackflow's local engine", typ)
}

// reportedType is the type shown for a template's type.
func reportedType(typ string) string {
	if k := kinds[typ]; k != nil {
		return k.reported
	}
	return typ
}

// localServer is an API that the engine serves on a loopback port (an HTTP
// API, a REST API, a function URL), by the ID in its AWS URL.
type localServer interface {
	// URL is where it is served: http://127.0.0.1:<port>.
	URL() string
	// Close stops serving.
	Close() error
}

// apiURL matches the URL API Gateway serves an HTTP API at.
var apiURL = regexp.MustCompile(`https://([a-z0-9]{10})\.execute-api\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?`)

// localURLsLocked replaces, in every string of v, the URL of an HTTP API
// that runs locally by its local URL; the caller holds e.mu.
func (e *Engine) localURLsLocked(v any) any {
	if len(e.apis) == 0 {
		return v
	}
	return mapStrings(v, func(s string) string {
		if !strings.Contains(s, ".execute-api.") {
			return s
		}
		return apiURL.ReplaceAllStringFunc(s, func(u string) string {
			id := apiURL.FindStringSubmatch(u)[1]
			if srv, ok := e.apis[id]; ok {
				return srv.URL()
			}
			return u
		})
	})
}
