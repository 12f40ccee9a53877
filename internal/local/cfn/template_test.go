package cfn

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

func TestParseTemplateShortForms(t *testing.T) {
	t.Parallel()
	body := `
Resources:
  R:
    Type: AWS::Logs::LogGroup
    Properties:
      Ref: !Ref P
      Att: !GetAtt Res.Attr.Nested
      AttList: !GetAtt [Res, Attr]
      Sub: !Sub "${A}-${B.C}"
      SubList: !Sub ["${X}", {X: !Ref P}]
      If: !If [C, !Join ["-", [a, b]], !Ref "AWS::NoValue"]
      Select: !Select [0, !Split [",", "a,b"]]
      Map: !FindInMap [M, K, V]
      B64: !Base64 text
      AZs: !GetAZs ""
      Cond: !Equals [!Ref P, x]
      Int: 30
      Float: 1.5
      Bool: true
      Null: null
      Date: 2010-09-09
`
	tmpl, err := parseTemplate(body)
	if err != nil {
		t.Fatal(err)
	}
	got := tmpl.Resources[0].Properties
	want := map[string]any{
		"Ref":     map[string]any{"Ref": "P"},
		"Att":     map[string]any{"Fn::GetAtt": []any{"Res", "Attr.Nested"}},
		"AttList": map[string]any{"Fn::GetAtt": []any{"Res", "Attr"}},
		"Sub":     map[string]any{"Fn::Sub": "${A}-${B.C}"},
		"SubList": map[string]any{"Fn::Sub": []any{"${X}", map[string]any{"X": map[string]any{"Ref": "P"}}}},
		"If": map[string]any{"Fn::If": []any{"C",
			map[string]any{"Fn::Join": []any{"-", []any{"a", "b"}}},
			map[string]any{"Ref": "AWS::NoValue"}}},
		"Select": map[string]any{"Fn::Select": []any{int64(0), map[string]any{"Fn::Split": []any{",", "a,b"}}}},
		"Map":    map[string]any{"Fn::FindInMap": []any{"M", "K", "V"}},
		"B64":    map[string]any{"Fn::Base64": "text"},
		"AZs":    map[string]any{"Fn::GetAZs": ""},
		"Cond":   map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "P"}, "x"}},
		"Int":    int64(30),
		"Float":  1.5,
		"Bool":   true,
		"Null":   nil,
		"Date":   "2010-09-09",
	}
	for k, w := range want {
		if !reflect.DeepEqual(got[k], w) {
			t.Errorf("%s: got %#v, want %#v", k, got[k], w)
		}
	}
}

func TestParseTemplateJSON(t *testing.T) {
	t.Parallel()
	body := `{"AWSTemplateFormatVersion": "2010-09-09", "Parameters": {"P": {"Type": "Number", "Default": 3}},
	  "Resources": {"B": {"Type": "AWS::S3::Bucket", "DependsOn": "C"}, "C": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain"}},
	  "Outputs": {"O": {"Value": {"Fn::GetAtt": ["B", "Arn"]}, "Condition": "X"}}}`
	tmpl, err := parseTemplate(body)
	if err != nil {
		t.Fatal(err)
	}
	if got := []string{tmpl.Resources[0].Name, tmpl.Resources[1].Name}; !reflect.DeepEqual(got, []string{"B", "C"}) {
		t.Errorf("got resources %v, want [B C] in document order", got)
	}
	if got := tmpl.Resources[0].DependsOn; !reflect.DeepEqual(got, []string{"C"}) {
		t.Errorf("got DependsOn %v, want [C]", got)
	}
	if got := tmpl.Resources[1].DeletionPolicy; got != "Retain" {
		t.Errorf("got DeletionPolicy %q, want Retain", got)
	}
	if p := tmpl.Parameters[0]; p.Default != "3" || !p.HasDefault || p.Type != "Number" {
		t.Errorf("got parameter %+v, want Number with default 3", p)
	}
	if o := tmpl.Outputs[0]; o.Condition != "X" || !reflect.DeepEqual(o.Value, map[string]any{"Fn::GetAtt": []any{"B", "Arn"}}) {
		t.Errorf("got output %+v", o)
	}
}

func TestParseTemplateErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body, want string
	}{
		{"not YAML", "Resources: [", "Template format error: YAML not well-formed."},
		{"not JSON", `{"Resources": `, "Template format error: JSON not well-formed."},
		{"not a map", "- a\n- b", "the template must be a map of sections"},
		{"no resources", "Description: x", "Template format error: At least one Resources member must be defined."},
		{"no type", "Resources:\n  A: {Properties: {}}", "[/Resources/A] Every Resources object must contain a Type member."},
		{"unknown section", "Resources:\n  A: {Type: T}\nFoo: 1", "Template format error: Invalid template property or properties [Foo]"},
		{"globals without transform", "Globals: {}\nResources:\n  A: {Type: T}", "Invalid template property or properties [Globals]"},
		{"bad version", "AWSTemplateFormatVersion: 2011-01-01\nResources:\n  A: {Type: T}", "2011-01-01 is not a supported value for AWSTemplateFormatVersion."},
		{"unknown tag", "Resources:\n  A: {Type: T, Properties: {X: !Nope y}}", "unknown tag !Nope"},
		{"bad parameter type", "Parameters: {P: {Type: Strung}}\nResources:\n  A: {Type: T}", "Unrecognized parameter type: Strung"},
		{"bad logical ID", "Resources:\n  my-bucket: {Type: T}", "Resource name my-bucket is non alphanumeric."},
		{"output without value", "Resources:\n  A: {Type: T}\nOutputs: {O: {Description: x}}", "Every Outputs member must contain a Value object."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseTemplate(tt.body)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestIntrinsicFunctions(t *testing.T) {
	t.Parallel()
	params := map[string]paramValue{
		"Env":   {Key: "Env", Value: "prod", def: &paramDef{Name: "Env", Type: "String"}},
		"Zones": {Key: "Zones", Value: "a, b,c", def: &paramDef{Name: "Zones", Type: "CommaDelimitedList"}},
		"Size":  {Key: "Size", Value: "3", def: &paramDef{Name: "Size", Type: "Number"}},
	}
	pseudo := pseudoParams("eu-west-1", "123456789012", "app", "arn:stack")
	mappings := map[string]any{"Sizes": map[string]any{"prod": map[string]any{"Mem": int64(512)}}}
	conds := newConditions(map[string]any{
		"IsProd": map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "Env"}, "prod"}},
		"IsDev":  map[string]any{"Fn::Not": []any{map[string]any{"Condition": "IsProd"}}},
	}, params, pseudo, mappings)
	ev := &evaluator{
		params: params, pseudo: pseudo, mappings: mappings, conds: conds,
		ref: func(name string) (any, error) {
			if name == "Bucket" {
				return "bucket-1", nil
			}
			return nil, templateError("no %s", name)
		},
		attr: func(name, att string) (any, error) {
			if name == "Bucket" && att == "Arn" {
				return "arn:aws:s3:::bucket-1", nil
			}
			return nil, templateError("no %s.%s", name, att)
		},
	}
	tests := []struct {
		name string
		in   any
		want any
		err  string
	}{
		{"ref parameter", map[string]any{"Ref": "Env"}, "prod", ""},
		{"ref list parameter", map[string]any{"Ref": "Zones"}, []any{"a", "b", "c"}, ""},
		{"ref number parameter is a string", map[string]any{"Ref": "Size"}, "3", ""},
		{"ref resource", map[string]any{"Ref": "Bucket"}, "bucket-1", ""},
		{"ref pseudo", map[string]any{"Ref": "AWS::Partition"}, "aws", ""},
		{"getatt", map[string]any{"Fn::GetAtt": []any{"Bucket", "Arn"}}, "arn:aws:s3:::bucket-1", ""},
		{"getatt dotted", map[string]any{"Fn::GetAtt": "Bucket.Arn"}, "arn:aws:s3:::bucket-1", ""},
		{"sub", map[string]any{"Fn::Sub": "${AWS::StackName}-${Env}-${Bucket}-${Bucket.Arn}-${!Env}"}, "app-prod-bucket-1-arn:aws:s3:::bucket-1-${Env}", ""},
		{"sub variables", map[string]any{"Fn::Sub": []any{"${A}/${Env}", map[string]any{"A": map[string]any{"Ref": "AWS::Region"}}}}, "eu-west-1/prod", ""},
		{"sub unclosed", map[string]any{"Fn::Sub": "a ${b"}, "a ${b", ""},
		{"join", map[string]any{"Fn::Join": []any{",", []any{"x", map[string]any{"Ref": "Env"}, int64(1)}}}, "x,prod,1", ""},
		{"join list parameter", map[string]any{"Fn::Join": []any{"+", map[string]any{"Ref": "Zones"}}}, "a+b+c", ""},
		{"select", map[string]any{"Fn::Select": []any{"1", map[string]any{"Ref": "Zones"}}}, "b", ""},
		{"select out of range", map[string]any{"Fn::Select": []any{int64(5), []any{"a"}}}, nil, "Fn::Select cannot select nonexistent value at index 5"},
		{"split", map[string]any{"Fn::Split": []any{"/", "a/b"}}, []any{"a", "b"}, ""},
		{"if true", map[string]any{"Fn::If": []any{"IsProd", "big", "small"}}, "big", ""},
		{"if false", map[string]any{"Fn::If": []any{"IsDev", "big", "small"}}, "small", ""},
		{"no value in a map", map[string]any{"A": map[string]any{"Fn::If": []any{"IsDev", "x", map[string]any{"Ref": "AWS::NoValue"}}}, "B": "b"}, map[string]any{"B": "b"}, ""},
		{"no value in a list", []any{"a", map[string]any{"Ref": "AWS::NoValue"}}, []any{"a"}, ""},
		{"find in map", map[string]any{"Fn::FindInMap": []any{"Sizes", map[string]any{"Ref": "Env"}, "Mem"}}, int64(512), ""},
		{"find in map missing", map[string]any{"Fn::FindInMap": []any{"Sizes", "dev", "Mem"}}, nil, "Unable to get mapping for Sizes::dev::Mem"},
		{"base64", map[string]any{"Fn::Base64": "hi"}, "aGk=", ""},
		{"getazs", map[string]any{"Fn::GetAZs": ""}, []any{"eu-west-1a", "eu-west-1b", "eu-west-1c"}, ""},
		{"and or", map[string]any{"Fn::Or": []any{map[string]any{"Condition": "IsDev"}, map[string]any{"Fn::And": []any{true, map[string]any{"Condition": "IsProd"}}}}}, true, ""},
		{"import value", map[string]any{"Fn::ImportValue": "x"}, nil, "Fn::ImportValue is not supported by stackflow's local engine"},
		{"unknown ref", map[string]any{"Ref": "Nope"}, nil, "no Nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ev.eval(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("got %v, %v; want an error containing %q", got, err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, %v; want %#v", got, err, tt.want)
			}
		})
	}
}

func TestOrderedJSONKeepsTheTemplatesOrder(t *testing.T) {
	t.Parallel()
	body := `
Transform: AWS::Serverless-2016-10-31
Resources:
  Zebra:
    Type: AWS::SNS::Topic
    Properties: {TopicName: !Sub "${AWS::StackName}-z", Tags: [{Key: k, Value: !Ref Apple}]}
  Apple: {Type: AWS::SNS::Topic}
Outputs:
  Second: {Value: !GetAtt Zebra.TopicName}
  First: {Value: 1}
`
	got, err := orderedJSON(body)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Transform":"AWS::Serverless-2016-10-31","Resources":{"Zebra":{"Type":"AWS::SNS::Topic","Properties":{"TopicName":{"Fn::Sub":"${AWS::StackName}-z"},"Tags":[{"Key":"k","Value":{"Ref":"Apple"}}]}},"Apple":{"Type":"AWS::SNS::Topic"}},"Outputs":{"Second":{"Value":{"Fn::GetAtt":["Zebra","TopicName"]}},"First":{"Value":1}}}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestTransformFailuresAreWordedAsCloudFormationWordsThem(t *testing.T) {
	t.Parallel()
	e := &Engine{region: "us-east-1", account: DefaultAccountID, sam: testSAM}
	tests := []struct {
		name, globals, want string
	}{
		{"unknown section", "Widget: {A: 1}", "Transform AWS::Serverless-2016-10-31 failed with: Invalid Serverless Application Specification document. Number of errors found: 1. 'Globals' section is invalid. 'Widget' is not supported."},
		{"banned property", "Function: {Events: {}}", "Transform AWS::Serverless-2016-10-31 failed with: Invalid Serverless Application Specification document. Number of errors found: 1. 'Globals' section is invalid. 'Events' is not a supported property of 'Function'."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tmpl, err := parseTemplate("Transform: AWS::Serverless-2016-10-31\nGlobals: {" + tt.globals + "}\nResources:\n  T: {Type: AWS::Serverless::SimpleTable}")
			if err != nil {
				t.Fatal(err)
			}
			_, err = e.process(context.Background(), tmpl, nil, "s", "")
			if err == nil || !strings.HasPrefix(errorMessage(err), tt.want) {
				t.Errorf("got  %v\nwant %s...", err, tt.want)
			}
		})
	}
}

func TestParseTemplateURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url  string
		want s3Location
		ok   bool
	}{
		{"https://artifacts.s3.us-east-1.amazonaws.com/packages/a/template.yaml", s3Location{Bucket: "artifacts", Key: "packages/a/template.yaml"}, true},
		{"https://my.bucket.s3.amazonaws.com/t.yaml", s3Location{Bucket: "my.bucket", Key: "t.yaml"}, true},
		{"https://b.s3-eu-west-1.amazonaws.com/t.yaml", s3Location{Bucket: "b", Key: "t.yaml"}, true},
		{"https://s3.us-east-1.amazonaws.com/artifacts/k/t.yaml", s3Location{Bucket: "artifacts", Key: "k/t.yaml"}, true},
		{"https://s3.amazonaws.com/artifacts/t.yaml?versionId=3", s3Location{Bucket: "artifacts", Key: "t.yaml", Version: "3"}, true},
		{"http://127.0.0.1:4566/artifacts/a%20b.yaml", s3Location{Bucket: "artifacts", Key: "a b.yaml"}, true},
		{"ftp://x/y/z", s3Location{}, false},
		{"https://s3.amazonaws.com/only-bucket", s3Location{}, false},
		{"not a url", s3Location{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			got, err := parseTemplateURL(tt.url)
			if tt.ok != (err == nil) || got != tt.want {
				t.Errorf("got %+v, %v; want %+v (ok %v)", got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestPhysicalNamesFit(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 100)
	tests := []struct {
		stack, logical string
		max            int
		lower          bool
	}{
		{"app", "Bucket", 63, true},
		{long, long, 64, false},
		{"Short", long, 63, true},
	}
	for _, tt := range tests {
		got := physicalName(tt.stack, tt.logical, tt.max, tt.lower)
		if len(got) > tt.max || (tt.lower && strings.ToLower(got) != got) || strings.Count(got, "-") < 2 {
			t.Errorf("physicalName(%d chars, %d chars, %d): got %q", len(tt.stack), len(tt.logical), tt.max, got)
		}
	}
}

func TestGeneratedSecretsFollowTheirRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		props map[string]any
		check func(string) bool
	}{
		{"length", map[string]any{"GenerateSecretString": map[string]any{"PasswordLength": int64(48), "ExcludePunctuation": true}}, func(s string) bool {
			return len(s) == 48 && !strings.ContainsAny(s, "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ ")
		}},
		{"excluded characters", map[string]any{"GenerateSecretString": map[string]any{"ExcludeCharacters": "abcdefghijklmnopqrstuvwxyz"}}, func(s string) bool {
			return len(s) == 32 && !strings.ContainsAny(s, "abcdefghijklmnopqrstuvwxyz")
		}},
		{"template", map[string]any{"GenerateSecretString": map[string]any{"SecretStringTemplate": `{"user":"app"}`, "GenerateStringKey": "password"}}, func(s string) bool {
			return strings.HasPrefix(s, `{"password":"`) && strings.Contains(s, `"user":"app"`)
		}},
		{"string", map[string]any{"SecretString": "given"}, func(s string) bool { return s == "given" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := secretValue(tt.props)
			if err != nil || !tt.check(got) {
				t.Errorf("got a value of %d characters, %v; it does not follow %v", len(got), err, tt.props)
			}
		})
	}
}
