package smoke

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stackflow/stackflow/internal/local/cfn"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/testaws"
)

// workerCode is a Node.js function that greets, fails when asked to, and
// echoes a variable the check's output must hide.
const workerCode = `export const handler = async (event) => {
  if (event.fail) {
    const e = new Error("asked to fail: " + event.fail);
    e.name = "SmokeFailure";
    throw e;
  }
  return { greeting: "hello " + (event.name ?? "nobody") + " from " + process.env.STAGE, leak: process.env.LEAK };
};
`

// secretKey is the secret access key the smoke step signs with; the
// worker leaks it in its result when asked.
const secretKey = "smoke-secret-access-key-0123456789"

// stackTemplate is an app with a function, a resource that is none, and
// outputs naming them; extra outputs are added as they are.
func stackTemplate(codeURI, stage, extraOutputs string) string {
	return `Transform: AWS::Serverless-2016-10-31
Resources:
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs20.x
      Handler: index.handler
      CodeUri: ` + codeURI + `
      Environment:
        Variables:
          STAGE: ` + stage + `
          LEAK: ` + secretKey + `
  Setting:
    Type: AWS::SSM::Parameter
    Properties:
      Type: String
      Value: x
Outputs:
  WorkerName:
    Value: !Ref Worker
  WorkerArn:
    Value: !GetAtt Worker.Arn
  SettingName:
    Value: !Ref Setting
` + extraOutputs
}

// stacks are a staging and a prod stack of the worker app, deployed on
// kumo by the local CloudFormation engine, read through the real SDK
// client.
type stacks struct {
	cfg     aws.Config // reaches kumo (Lambda) and the engine (CloudFormation)
	staging pipeline.Deployment
	prod    pipeline.Deployment
}

func deployStacks(t *testing.T) stacks {
	t.Helper()
	cfg := testaws.Start(t)
	e, err := cfn.New(cfn.Options{AWS: cfg, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	srv := httptest.NewServer(e.Handler())
	t.Cleanup(srv.Close)

	var zipped bytes.Buffer
	zw := zip.NewWriter(&zipped)
	w, _ := zw.Create("index.mjs")
	w.Write([]byte(workerCode))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	bucket := testaws.Bucket(t, cfg, "smoke")
	if _, err := testaws.S3(cfg).PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String("worker.zip"), Body: bytes.NewReader(zipped.Bytes()),
	}); err != nil {
		t.Fatal(err)
	}
	code := "s3://" + bucket + "/worker.zip"

	ccfg := cfg.Copy()
	ccfg.BaseEndpoint = aws.String(srv.URL)
	client := cloudformation.NewFromConfig(ccfg)
	prodName := testaws.Name("worker-prod")
	prod := deployStack(t, client, prodName, stackTemplate(code, "prod", ""))
	stagingName := testaws.Name("worker-staging")
	staging := deployStack(t, client, stagingName, stackTemplate(code, "staging",
		"  ProdWorker:\n    Value: "+prod.Outputs["WorkerName"]+"\n  Nonsense:\n    Value: not a function\n"))

	// One configuration reaches both: CloudFormation at the engine, the
	// rest at kumo, as AWS_ENDPOINT_URL_CLOUDFORMATION does in a handler.
	return stacks{cfg: serviceConfig(t, cfg, srv.URL), staging: staging, prod: prod}
}

// serviceConfig reaches kumo, but CloudFormation at cfnURL, as
// AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_CLOUDFORMATION do in a handler: a
// front routes each request by the service its signature names. Its
// credentials' secret key is secretKey.
func serviceConfig(t *testing.T, kumo aws.Config, cfnURL string) aws.Config {
	t.Helper()
	proxy := func(to string) *httputil.ReverseProxy {
		u, err := url.Parse(to)
		if err != nil {
			t.Fatal(err)
		}
		return httputil.NewSingleHostReverseProxy(u)
	}
	toKumo, toEngine := proxy(aws.ToString(kumo.BaseEndpoint)), proxy(cfnURL)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("Authorization"), "/cloudformation/aws4_request") {
			toEngine.ServeHTTP(w, r)
			return
		}
		toKumo.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	c := kumo.Copy()
	c.Credentials = credentials.NewStaticCredentialsProvider("AKIDSMOKE", secretKey, "")
	c.BaseEndpoint = aws.String(front.URL)
	return c
}

func deployStack(t *testing.T, client *cloudformation.Client, name, body string) pipeline.Deployment {
	t.Helper()
	ctx := context.Background()
	cs, err := client.CreateChangeSet(ctx, &cloudformation.CreateChangeSetInput{
		StackName: aws.String(name), ChangeSetName: aws.String("create"), ChangeSetType: cfntypes.ChangeSetTypeCreate,
		TemplateBody: aws.String(body), Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam, cfntypes.CapabilityCapabilityAutoExpand},
	})
	if err != nil {
		t.Fatal(err)
	}
	wait := func(done func() bool) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if done() {
				return
			}
		}
		t.Fatalf("stack %s: no change after a minute", name)
	}
	wait(func() bool {
		out, err := client.DescribeChangeSet(ctx, &cloudformation.DescribeChangeSetInput{ChangeSetName: cs.Id})
		if err != nil {
			t.Fatal(err)
		}
		if out.Status == cfntypes.ChangeSetStatusFailed {
			t.Fatalf("change set of %s failed: %s", name, aws.ToString(out.StatusReason))
		}
		return out.Status == cfntypes.ChangeSetStatusCreateComplete
	})
	if _, err := client.ExecuteChangeSet(ctx, &cloudformation.ExecuteChangeSetInput{ChangeSetName: cs.Id}); err != nil {
		t.Fatal(err)
	}
	var stack cfntypes.Stack
	wait(func() bool {
		out, err := client.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		stack = out.Stacks[0]
		return !strings.HasSuffix(string(stack.StackStatus), "_IN_PROGRESS")
	})
	if stack.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("stack %s is %s: %s", name, stack.StackStatus, aws.ToString(stack.StackStatusReason))
	}
	d := pipeline.Deployment{Stack: name, Done: true, Outputs: map[string]string{}}
	for _, o := range stack.Outputs {
		d.Outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	return d
}

// newInvokeService is a Service for invoke checks on st, on a fake clock.
func newInvokeService(st stacks) (*Service, *fakeClock) {
	c := &fakeClock{t: time.Now()}
	s := NewWithAWS(http.DefaultClient, st.cfg)
	s.now, s.sleep = c.now, c.sleep
	return s, c
}

func TestInvokeChecks(t *testing.T) {
	t.Parallel()
	st := deployStacks(t)
	worker := st.staging.Outputs["WorkerName"]
	tests := []struct {
		name  string
		check pipeline.SmokeCheck
		role  string
		// When the check passes:
		wantFunction string
		// When it fails: a *pipeline.SmokeTestFailed, or a
		// *pipeline.ConfigInvalid whose Problem holds wantProblem.
		wantErr     *pipeline.SmokeTestFailed
		wantProblem string
	}{
		{
			name:         "by logical ID",
			check:        pipeline.SmokeCheck{Name: "greets", Function: "Worker", Contains: "hello nobody from staging"},
			wantFunction: worker,
		},
		{
			name:         "by an output holding its ARN, with a payload",
			check:        pipeline.SmokeCheck{Name: "greets", Function: "${WorkerArn}", Payload: `{"name":"smoke"}`, Contains: "hello smoke from staging"},
			wantFunction: st.staging.Outputs["WorkerArn"],
		},
		{
			name:         "as the environment's role",
			check:        pipeline.SmokeCheck{Name: "greets", Function: "${WorkerName}", Contains: "from staging"},
			role:         "arn:aws:iam::000000000000:role/stackflow/staging-deploy",
			wantFunction: worker,
		},
		{
			name:  "text missing, the secret hidden",
			check: pipeline.SmokeCheck{Name: "greets", Function: "Worker", Contains: "from prod"},
			wantErr: &pipeline.SmokeTestFailed{Environment: "staging", Check: "greets", Function: worker,
				Got:  `result {"greeting":"hello nobody from staging","leak":"****"} (the last of 4 attempts)`,
				Want: `no function error and a result containing "from prod"`},
		},
		{
			name:  "function error",
			check: pipeline.SmokeCheck{Name: "works", Function: "${WorkerName}", Payload: `{"fail":"boom"}`},
			wantErr: &pipeline.SmokeTestFailed{Environment: "staging", Check: "works", Function: worker,
				Got:  `function error Unhandled, result {"errorType":"SmokeFailure","errorMessage":"asked to fail: boom"`,
				Want: "no function error"},
		},
		{
			name:        "another stack's function",
			check:       pipeline.SmokeCheck{Name: "sneaky", Function: "${ProdWorker}"},
			wantProblem: "invokes ${ProdWorker} (" + st.prod.Outputs["WorkerName"] + "), which is not a function of stack " + st.staging.Stack + " (its functions are " + worker + ")",
		},
		{
			name:        "an output that names no function",
			check:       pipeline.SmokeCheck{Name: "odd", Function: "${Nonsense}"},
			wantProblem: `invokes ${Nonsense}, whose value "not a function" is not a function's name or ARN`,
		},
		{
			name:        "a missing output",
			check:       pipeline.SmokeCheck{Name: "typo", Function: "${WorkerNam}"},
			wantProblem: "invokes ${WorkerNam}, but " + st.staging.Stack + " has outputs Nonsense, ProdWorker, SettingName, WorkerArn, WorkerName",
		},
		{
			name:        "a missing resource",
			check:       pipeline.SmokeCheck{Name: "typo", Function: "Worke"},
			wantProblem: "invokes Worke, but " + st.staging.Stack + " has no resource Worke",
		},
		{
			name:        "a resource that is no function",
			check:       pipeline.SmokeCheck{Name: "odd", Function: "Setting"},
			wantProblem: "invokes Setting, but Setting is a resource of type AWS::SSM::Parameter in " + st.staging.Stack + ", not a function",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc, _ := newInvokeService(st)
			in := pipeline.SmokeInput{
				Environment: pipeline.Environment{Name: "staging", Stack: st.staging.Stack, RoleARN: tt.role,
					Smoke: []pipeline.SmokeCheck{tt.check}, SmokeTimeoutSeconds: 1},
				Deployment: st.staging,
			}
			res, err := svc.Handle(context.Background(), in)
			switch {
			case tt.wantProblem != "":
				var ci *pipeline.ConfigInvalid
				if !errors.As(err, &ci) || !strings.Contains(ci.Problem, tt.wantProblem) {
					t.Fatalf("got %T %v, want a *pipeline.ConfigInvalid with %q", err, err, tt.wantProblem)
				}
			case tt.wantErr != nil:
				var got *pipeline.SmokeTestFailed
				if !errors.As(err, &got) {
					t.Fatalf("got %T %v, want a *pipeline.SmokeTestFailed", err, err)
				}
				want := *tt.wantErr
				if !strings.HasPrefix(got.Got, want.Got) {
					t.Errorf("got Got %q, want it to start with %q", got.Got, want.Got)
				}
				got.Got, want.Got = "", ""
				if !reflect.DeepEqual(*got, want) {
					t.Errorf("got %+v, want %+v", *got, want)
				}
				if strings.Contains(err.Error(), secretKey) {
					t.Errorf("the error shows the secret key: %v", err)
				}
			default:
				if err != nil {
					t.Fatalf("smoke test: %v", err)
				}
				if len(res.Checks) != 1 || !res.Checks[0].Passed || res.Checks[0].Function != tt.wantFunction || res.Checks[0].Status != 200 {
					t.Errorf("got checks %+v, want one passed invoking %s with status 200", res.Checks, tt.wantFunction)
				}
			}
		})
	}
}

// TestInvokeTimeout: an invocation that outlasts the check's timeout is
// given up, and said so.
func TestInvokeTimeout(t *testing.T) {
	t.Parallel()
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	svc, _ := newTestService(http.DefaultClient)
	c := check{name: "slow", function: "slow", payload: []byte("{}"), timeout: 20 * time.Millisecond, invoke: hangingLambda(hang)}
	_, got, ok := svc.tryInvoke(context.Background(), c, nil)
	if ok || got != "no result within 20ms" {
		t.Errorf("got %q (ok %v), want no result within 20ms", got, ok)
	}
}

// hangingLambda is a Lambda API whose invocations end only with their
// context, or when hang is closed.
type hangingLambda chan struct{}

func (h hangingLambda) Invoke(ctx context.Context, _ *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-h:
		return nil, errors.New("released")
	}
}
