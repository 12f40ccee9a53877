package samtransform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// venvPythonPath is the Python of the test tools that .ci/run installs
// from requirements-test.txt (aws-sam-translator Version among them),
// relative to this package.
const venvPythonPath = "../../../.venv/bin/python"

// testCacheDir is where the tests install the translator for real: under
// the user's cache folder, shared by every test and every test run, so the
// install is paid once per machine.
func testCacheDir(t testing.TB) string {
	t.Helper()
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "stackflow-test", "samtranslator")
}

var (
	sharedOnce sync.Once
	shared     *Translator
)

// translator returns one translator for the tests: the test tools'
// Python when it is there (no install), else the real install in the
// tests' cache directory. It lives as long as the test binary.
func translator(t testing.TB) *Translator {
	t.Helper()
	sharedOnce.Do(func() {
		opts := Options{CacheDir: testCacheDir(t)}
		if abs, err := filepath.Abs(venvPythonPath); err == nil {
			if _, err := os.Stat(abs); err == nil {
				opts = Options{Interpreter: abs}
			}
		}
		shared = New(opts)
	})
	return shared
}

// translate translates a template given as a Go value, in us-east-1.
func translate(t *testing.T, tr *Translator, tmpl any, params map[string]any) (map[string]any, error) {
	t.Helper()
	body, err := json.Marshal(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	p := map[string]any{"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws", "AWS::StackName": "hello-staging"}
	for k, v := range params {
		p[k] = v
	}
	out, err := tr.Translate(context.Background(), body, p)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("the translation is not JSON: %v\n%s", err, out)
	}
	return m, nil
}

func sam(resources map[string]any) map[string]any {
	return map[string]any{"Transform": "AWS::Serverless-2016-10-31", "Resources": resources}
}

// types returns "Logical Type" for each resource of a translated template.
func types(m map[string]any) []string {
	var out []string
	for name, r := range m["Resources"].(map[string]any) {
		out = append(out, name+" "+r.(map[string]any)["Type"].(string))
	}
	slices.Sort(out)
	return out
}

func resource(t *testing.T, m map[string]any, name string) map[string]any {
	t.Helper()
	r, ok := m["Resources"].(map[string]any)[name].(map[string]any)
	if !ok {
		t.Fatalf("no resource %s in %v", name, types(m))
	}
	return r
}

func TestTranslateMakesWhatAWSMakes(t *testing.T) {
	t.Parallel()
	tr := translator(t)
	fn := func(props map[string]any) map[string]any {
		p := map[string]any{"CodeUri": "s3://artifacts/hello.zip", "Runtime": "provided.al2023", "Handler": "bootstrap"}
		for k, v := range props {
			p[k] = v
		}
		return map[string]any{"Type": "AWS::Serverless::Function", "Properties": p}
	}
	tests := []struct {
		name      string
		resources map[string]any
		params    map[string]any
		want      []string
		check     func(t *testing.T, m map[string]any)
	}{
		{
			name: "an implicit HTTP API",
			resources: map[string]any{"Hello": fn(map[string]any{"Events": map[string]any{
				"Get": map[string]any{"Type": "HttpApi", "Properties": map[string]any{"Path": "/hello", "Method": "GET"}},
			}})},
			want: []string{
				"Hello AWS::Lambda::Function", "HelloGetPermission AWS::Lambda::Permission", "HelloRole AWS::IAM::Role",
				"ServerlessHttpApi AWS::ApiGatewayV2::Api", "ServerlessHttpApiApiGatewayDefaultStage AWS::ApiGatewayV2::Stage",
			},
			check: func(t *testing.T, m map[string]any) {
				code := resource(t, m, "Hello")["Properties"].(map[string]any)["Code"]
				if got, want := fmt.Sprint(code), "map[S3Bucket:artifacts S3Key:hello.zip]"; got != want {
					t.Errorf("Code: got %s, want %s", got, want)
				}
				body, _ := json.Marshal(resource(t, m, "ServerlessHttpApi")["Properties"].(map[string]any)["Body"])
				if !strings.Contains(string(body), `"/hello":{"get":{`) || !strings.Contains(string(body), `functions/${Hello.Arn}/invocations`) {
					t.Errorf("the API's body has no GET /hello integration: %s", body)
				}
			},
		},
		{
			name: "a policy template and a managed policy by name, offline",
			resources: map[string]any{
				"Table": map[string]any{"Type": "AWS::Serverless::SimpleTable"},
				"Hello": fn(map[string]any{"Policies": []any{
					"AmazonS3ReadOnlyAccess",
					map[string]any{"DynamoDBCrudPolicy": map[string]any{"TableName": map[string]any{"Ref": "Table"}}},
				}}),
			},
			want: []string{"Hello AWS::Lambda::Function", "HelloRole AWS::IAM::Role", "Table AWS::DynamoDB::Table"},
			check: func(t *testing.T, m map[string]any) {
				role, _ := json.Marshal(resource(t, m, "HelloRole")["Properties"])
				for _, want := range []string{"arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess", "dynamodb:PutItem", `"HelloRolePolicy1"`} {
					if !strings.Contains(string(role), want) {
						t.Errorf("the role has no %s: %s", want, role)
					}
				}
			},
		},
		{
			name:      "AutoPublishAlias from a parameter, with a DeploymentPreference",
			resources: map[string]any{"Hello": fn(map[string]any{"AutoPublishAlias": map[string]any{"Ref": "Alias"}, "DeploymentPreference": map[string]any{"Type": "AllAtOnce"}})},
			params:    map[string]any{"Alias": "live"},
			want: []string{
				"CodeDeployServiceRole AWS::IAM::Role", "Hello AWS::Lambda::Function", "HelloAliaslive AWS::Lambda::Alias",
				"HelloDeploymentGroup AWS::CodeDeploy::DeploymentGroup", "HelloRole AWS::IAM::Role",
				"ServerlessDeploymentApplication AWS::CodeDeploy::Application",
			},
			check: func(t *testing.T, m map[string]any) {
				for name := range m["Resources"].(map[string]any) {
					if strings.HasPrefix(name, "HelloVersion") {
						return
					}
				}
				t.Errorf("no HelloVersion... resource in %v", types(m))
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			params := map[string]any{}
			tmpl := sam(tt.resources)
			if tt.params != nil {
				defs := map[string]any{}
				for k, v := range tt.params {
					params[k] = v
					defs[k] = map[string]any{"Type": "String"}
				}
				tmpl["Parameters"] = defs
			}
			m, err := translate(t, tr, tmpl, params)
			if err != nil {
				t.Fatal(err)
			}
			got := slices.DeleteFunc(types(m), func(s string) bool { return strings.HasPrefix(s, "HelloVersion") })
			if !slices.Equal(got, tt.want) {
				t.Errorf("resources:\ngot  %v\nwant %v", got, tt.want)
			}
			if _, ok := m["Transform"]; ok {
				t.Errorf("the translation still has a Transform")
			}
			if tt.check != nil {
				tt.check(t, m)
			}
		})
	}
}

func TestTranslateKeepsTheResourcesOrder(t *testing.T) {
	t.Parallel()
	// JSON objects have no order, but CloudFormation keeps the template's
	// where dependencies leave it free: the translator must too.
	body := `{"Transform":"AWS::Serverless-2016-10-31","Resources":{` +
		`"Zebra":{"Type":"AWS::SNS::Topic"},"Apple":{"Type":"AWS::SNS::Topic"},"Mango":{"Type":"AWS::SNS::Topic"}}}`
	out, err := translator(t).Translate(context.Background(), []byte(body), map[string]any{"AWS::Region": "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	z, a, m := strings.Index(string(out), `"Zebra"`), strings.Index(string(out), `"Apple"`), strings.Index(string(out), `"Mango"`)
	if z < 0 || !(z < a && a < m) {
		t.Errorf("order: got %s, want Zebra, Apple, Mango", out)
	}
}

func TestTheRegionDecidesThePartition(t *testing.T) {
	t.Parallel()
	body := `{"Transform":"AWS::Serverless-2016-10-31","Resources":{"F":{"Type":"AWS::Serverless::Function",` +
		`"Properties":{"CodeUri":"s3://b/k","Runtime":"provided.al2023","Handler":"bootstrap"}}}}`
	out, err := translator(t).Translate(context.Background(), []byte(body), map[string]any{"AWS::Region": "cn-north-1", "AWS::Partition": "aws-cn"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "arn:aws-cn:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"; !strings.Contains(string(out), want) {
		t.Errorf("got %s, want the role's managed policy %s", out, want)
	}
}

func TestInvalidSAMIsTheTranslatorsError(t *testing.T) {
	t.Parallel()
	tr := translator(t)
	tests := []struct {
		name string
		res  map[string]any
		want string
	}{
		{
			name: "no code",
			res:  map[string]any{"F": map[string]any{"Type": "AWS::Serverless::Function", "Properties": map[string]any{"Runtime": "provided.al2023"}}},
			want: "Invalid Serverless Application Specification document. Number of errors found: 1. Resource with id [F] is invalid. Only one of 'InlineCode' or 'CodeUri' can be set.",
		},
		{
			name: "an event of no type",
			res: map[string]any{"F": map[string]any{"Type": "AWS::Serverless::Function", "Properties": map[string]any{
				"CodeUri": "s3://b/k", "Runtime": "provided.al2023", "Handler": "bootstrap",
				"Events": map[string]any{"E": map[string]any{"Type": "Carrier"}},
			}}},
			want: "Invalid Serverless Application Specification document. Number of errors found: 1. Resource with id [F] is invalid. Event with id [E] is invalid. Resource dict has missing or invalid value for key Type. Event Type is: Carrier.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := translate(t, tr, sam(tt.res), nil)
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want an *Error", err)
			}
			if se.Message != tt.want {
				t.Errorf("message:\ngot  %s\nwant %s", se.Message, tt.want)
			}
		})
	}
}

func TestConcurrentTranslationsGetTheirOwnAnswers(t *testing.T) {
	t.Parallel()
	tr := translator(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("Topic%d", i)
			body := fmt.Sprintf(`{"Transform":"AWS::Serverless-2016-10-31","Resources":{"%s":{"Type":"AWS::SNS::Topic"}}}`, name)
			out, err := tr.Translate(context.Background(), []byte(body), map[string]any{"AWS::Region": "us-east-1"})
			if err == nil && !strings.Contains(string(out), `"`+name+`"`) {
				err = fmt.Errorf("asked for %s, got %s", name, out)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestAWorkerThatDiesIsStartedAgain(t *testing.T) {
	t.Parallel()
	tr := New(translator(t).opts)
	t.Cleanup(func() { _ = tr.Close() })
	body := []byte(`{"Transform":"AWS::Serverless-2016-10-31","Resources":{"T":{"Type":"AWS::SNS::Topic"}}}`)
	params := map[string]any{"AWS::Region": "us-east-1"}
	if _, err := tr.Translate(context.Background(), body, params); err != nil {
		t.Fatal(err)
	}
	first := tr.w
	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-first.over
	if _, err := tr.Translate(context.Background(), body, params); err != nil {
		t.Fatalf("after the worker died: %v", err)
	}
	if tr.w == first {
		t.Error("the dead worker is still the translator's")
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Translate(context.Background(), body, params); !errors.Is(err, errClosed) {
		t.Errorf("after Close: got %v, want %v", err, errClosed)
	}
}

func TestTranslateNeedsARegion(t *testing.T) {
	t.Parallel()
	_, err := New(Options{Interpreter: "/nonexistent"}).Translate(context.Background(), []byte(`{}`), map[string]any{})
	if err == nil || !strings.Contains(err.Error(), "AWS::Region") {
		t.Errorf("got %v, want an error naming AWS::Region", err)
	}
}

// BenchmarkTranslate measures a warm translation of examples/hello's
// template: the worker is running.
func BenchmarkTranslate(b *testing.B) {
	tr := translator(b)
	body := []byte(`{"AWSTemplateFormatVersion":"2010-09-09","Transform":"AWS::Serverless-2016-10-31",
"Parameters":{"Stage":{"Type":"String","Default":"dev"}},
"Globals":{"Function":{"Runtime":"provided.al2023","Architectures":["arm64"],"Handler":"bootstrap","Timeout":5,"MemorySize":128}},
"Resources":{"HelloApi":{"Type":"AWS::Serverless::HttpApi"},
"HelloFunction":{"Type":"AWS::Serverless::Function","Properties":{"CodeUri":"s3://artifacts/hello.zip",
"Environment":{"Variables":{"STAGE":{"Ref":"Stage"}}},
"Events":{"Hello":{"Type":"HttpApi","Properties":{"ApiId":{"Ref":"HelloApi"},"Path":"/hello","Method":"GET"}}}}}},
"Outputs":{"ApiUrl":{"Value":{"Fn::Sub":"https://${HelloApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/"}}}}`)
	params := map[string]any{"AWS::Region": "us-east-1", "Stage": "staging"}
	if err := tr.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := tr.Translate(context.Background(), body, params); err != nil {
			b.Fatal(err)
		}
	}
}
