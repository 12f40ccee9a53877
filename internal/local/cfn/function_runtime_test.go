//go:build unix

package cfn

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/stackflow/stackflow/internal/local/lambda"
)

// zipFiles returns a zip of files, by name.
func zipFiles(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, content := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const layeredApp = `
Transform: AWS::Serverless-2016-10-31
Resources:
  PyLayer:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: PYLAYER, CompatibleRuntimes: [python3.12]}
  NodeLayer:
    Type: AWS::Lambda::LayerVersion
    Properties: {Content: {S3Bucket: code-bucket, S3Key: layers/node.zip}, CompatibleRuntimes: [nodejs22.x]}
  Py:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: src/app.handler
      CodeUri: PYCODE
      Layers: [!Ref PyLayer]
      Environment: {Variables: {STAGE: test}}
  Node:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs22.x
      Handler: src/handlers/hello.handler
      CodeUri: NODECODE
      Layers: [!Ref NodeLayer]
      Environment: {Variables: {STAGE: test}}
Outputs:
  Py: {Value: !Ref Py}
  Node: {Value: !Ref Node}
  PyLayer: {Value: !Ref PyLayer}
  NodeLayer: {Value: !GetAtt NodeLayer.LayerVersionArn}
`

// TestPythonAndNodeFunctionsRunWithTheirLayers: a SAM template's Python
// and Node.js functions run, each with its layer under its stand-in for
// /opt, and answer invocations through Lambda's Invoke.
func TestPythonAndNodeFunctionsRunWithTheirLayers(t *testing.T) {
	t.Parallel()
	en := setup(t)
	r := strings.NewReplacer(
		"code-bucket", en.bucket,
		"PYLAYER", en.put("layers/python.zip", zipFiles(t, map[string]string{
			"python/greeting.py": "def hello():\n    return 'hello from the layer'\n",
		})),
		"PYCODE", en.put("code/python.zip", zipFiles(t, map[string]string{
			"src/app.py": "import os\nimport greeting\n\n\ndef handler(event, context):\n" +
				"    return {'greeting': greeting.hello(), 'stage': os.environ['STAGE'], 'name': event['name'], 'function': context.function_name}\n",
		})),
		"NODECODE", en.put("code/node.zip", zipFiles(t, map[string]string{
			"src/handlers/hello.js": "const greeting = require('greeting');\n" +
				"exports.handler = async (event, context) => ({ greeting: greeting.hello(), stage: process.env.STAGE, name: event.name, function: context.functionName });\n",
		})),
	)
	en.put("layers/node.zip", zipFiles(t, map[string]string{
		"nodejs/node_modules/greeting/index.js": "exports.hello = () => 'hello from the layer';\n",
	}))
	st := en.deploy("layered", "create", "CREATE", r.Replace(layeredApp), nil, iam...)
	if st.StackStatus != cfntypes.StackStatusCreateComplete {
		for _, ev := range en.events("layered") {
			t.Logf("%s %s: %s", aws.ToString(ev.LogicalResourceId), ev.ResourceStatus, aws.ToString(ev.ResourceStatusReason))
		}
		t.Fatalf("got %s (%s), want CREATE_COMPLETE", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	out := outputsOf(st)
	for _, k := range []string{"PyLayer", "NodeLayer"} {
		if !regexp.MustCompile(`^arn:aws:lambda:us-east-1:000000000000:layer:[A-Za-z0-9-_]+:1$`).MatchString(out[k]) {
			t.Errorf("got %s %q, want a layer version ARN, version 1", k, out[k])
		}
	}
	lc := awslambda.NewFromConfig(en.cfg)
	for _, fn := range []string{"Py", "Node"} {
		t.Run(fn, func(t *testing.T) {
			res, err := lc.Invoke(context.Background(), &awslambda.InvokeInput{FunctionName: aws.String(out[fn]), Payload: []byte(`{"name":"ann"}`)})
			if err != nil {
				t.Fatal(err)
			}
			if res.FunctionError != nil {
				t.Fatalf("got function error %s: %s", aws.ToString(res.FunctionError), res.Payload)
			}
			var got map[string]string
			if err := json.Unmarshal(res.Payload, &got); err != nil {
				t.Fatalf("%v in %s", err, res.Payload)
			}
			want := map[string]string{"greeting": "hello from the layer", "stage": "test", "name": "ann", "function": out[fn]}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}

	// New content publishes another layer version, and the function that
	// names it runs with it.
	en.put("layers/node2.zip", zipFiles(t, map[string]string{
		"nodejs/node_modules/greeting/index.js": "exports.hello = () => 'hello from version two';\n",
	}))
	st = en.deploy("layered", "update", "UPDATE", strings.Replace(r.Replace(layeredApp), "layers/node.zip", "layers/node2.zip", 1), nil, iam...)
	en.mustBe(st, cfntypes.StackStatusUpdateComplete)
	if got := outputsOf(st)["NodeLayer"]; got == out["NodeLayer"] || !strings.HasPrefix(got, "arn:aws:lambda:us-east-1:000000000000:layer:") {
		t.Errorf("got the layer %s after the update, want another layer version than %s", got, out["NodeLayer"])
	}
	res, err := lc.Invoke(context.Background(), &awslambda.InvokeInput{FunctionName: aws.String(out["Node"]), Payload: []byte(`{"name":"ann"}`)})
	if err != nil || res.FunctionError != nil || !strings.Contains(string(res.Payload), "hello from version two") {
		t.Errorf("invoke Node after the update: got %s (%v), want the layer's version two", res.Payload, err)
	}

	if _, err := en.cfn.DeleteStack(context.Background(), &cloudformation.DeleteStackInput{StackName: aws.String("layered")}); err != nil {
		t.Fatal(err)
	}
	en.mustBe(en.waitStack(aws.ToString(st.StackId)), cfntypes.StackStatusDeleteComplete)
	for _, fn := range []string{"Py", "Node"} {
		if _, err := lc.GetFunction(context.Background(), &awslambda.GetFunctionInput{FunctionName: aws.String(out[fn])}); err == nil {
			t.Errorf("the function %s is still there after the delete", out[fn])
		}
	}
}

// TestFunctionsThatCannotRunFailTheirCreation: the resource fails, and
// its reason says why and what to do.
func TestFunctionsThatCannotRunFailTheirCreation(t *testing.T) {
	t.Parallel()
	en := setupWith(t, func(o *Options) { o.Runtimes = lambda.Options{Python: "stackflow-no-such-python"} })
	code := en.put("code/app.zip", zipFiles(t, map[string]string{"app.py": "def handler(event, context):\n    return {}\n"}))
	tests := []struct {
		name       string
		properties string
		want       string
	}{
		{"no interpreter", "Runtime: python3.12, Handler: app.handler",
			"runtime python3.12 needs Python 3.12 on this machine: stackflow-no-such-python was not found on PATH: install Python",
		},
		{"no such runtime", "Runtime: java21, Handler: app.Handler::handleRequest",
			"Runtime java21 is not supported by stackflow's local engine: it runs " + strings.Join(lambda.Runtimes(), ", "),
		},
		{"a layer that is not local", "Runtime: python3.12, Handler: app.handler, Layers: [arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-x86_64:7]",
			"Layers: arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-x86_64:7 is not a layer version of stackflow's local engine",
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stack := "missing-" + string(rune('0'+i))
			body := "Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties: {CodeUri: " + code + ", " + tt.properties + "}\n"
			st := en.deploy(stack, "create", "CREATE", body, nil, iam...)
			if st.StackStatus != cfntypes.StackStatusRollbackComplete {
				t.Fatalf("got %s, want ROLLBACK_COMPLETE", st.StackStatus)
			}
			var reason string
			for _, ev := range en.events(stack) {
				if ev.ResourceStatus == cfntypes.ResourceStatusCreateFailed {
					reason = aws.ToString(ev.ResourceStatusReason)
				}
			}
			if !strings.Contains(reason, tt.want) {
				t.Errorf("got reason %q, want one containing %q", reason, tt.want)
			}
		})
	}
}
