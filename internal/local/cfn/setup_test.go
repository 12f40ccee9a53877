package cfn

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/stackflow/stackflow/internal/local/samtransform"
	"github.com/stackflow/stackflow/internal/testaws"
)

// handlerZip holds the test handler built for the host, by version.
var handlerZip = map[string][]byte{}

// testSAM is the SAM translator every test's engine shares: the test
// tools' Python (.venv, which .ci/run installs from requirements-test.txt
// with aws-sam-translator in it) when it is there, else the translator
// installed for real into the tests' cache directory, once per machine.
var testSAM *samtransform.Translator

func newTestSAM() *samtransform.Translator {
	if abs, err := filepath.Abs("../../../.venv/bin/python"); err == nil {
		if _, err := os.Stat(abs); err == nil {
			return samtransform.New(samtransform.Options{Interpreter: abs})
		}
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return samtransform.New(samtransform.Options{CacheDir: filepath.Join(dir, "stackflow-test", "samtranslator"), Log: os.Stderr})
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "stackflow-cfn-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := 1
	testSAM = newTestSAM()
	if err := buildHandlers(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		code = m.Run()
	}
	_ = testSAM.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildHandlers builds testdata/handler as v1 and v2 and zips each the way
// sam build does: a bootstrap at the root.
func buildHandlers(dir string) error {
	for _, v := range []string{"v1", "v2"} {
		bin := filepath.Join(dir, v, "bootstrap")
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-ldflags", "-X main.version="+v, "-o", bin, "./testdata/handler")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build the test handler: %v\n%s", err, out)
		}
		data, err := os.ReadFile(bin)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
		h.SetMode(0o755)
		w, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return err
		}
		handlerZip[v] = buf.Bytes()
	}
	// The events package's recorder: a function that appends each event
	// it gets to RECORD_FILE.
	bin := filepath.Join(dir, "recorder", "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bin, "../events/testdata/recorder")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build the recorder function: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	if handlerZip["recorder"], err = zipBootstrap(data); err != nil {
		return err
	}
	// A CodeDeploy lifecycle event hook (testdata/hook).
	bin = filepath.Join(dir, "hook", "bootstrap")
	cmd = exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bin, "./testdata/hook")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build the hook function: %v\n%s", err, out)
	}
	if data, err = os.ReadFile(bin); err != nil {
		return err
	}
	handlerZip["hook"], err = zipBootstrap(data)
	return err
}

// zipBootstrap zips data as an executable bootstrap at the root.
func zipBootstrap(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// env is one test's local AWS, engine and clients.
type env struct {
	t      *testing.T
	cfg    aws.Config
	engine *Engine
	cfn    *cloudformation.Client
	s3     *s3.Client
	bucket string
	url    string // the engine's API
}

// setup starts kumo, an engine and its API for one test; they stop in the
// right order (the engine before kumo) when the test ends.
func setup(t *testing.T) *env {
	t.Helper()
	return setupWith(t, func(*Options) {})
}

// engineURL, as the value of a variable of Options.FunctionEnv, is the
// URL of the engine's API (setupWith).
const engineURL = "<the engine's URL>"

// setupWith is setup with the engine's options changed by with.
func setupWith(t *testing.T, with func(*Options)) *env {
	t.Helper()
	cfg := testaws.Start(t)
	// The engine's API listens first, so that functions may be given its
	// URL (engineURL).
	srv := httptest.NewUnstartedServer(nil)
	opts := Options{AWS: cfg, WorkDir: t.TempDir(), SAM: testSAM, FunctionEnv: map[string]string{"FROM_ENGINE": "yes"}}
	with(&opts)
	for k, v := range opts.FunctionEnv {
		if v == engineURL {
			opts.FunctionEnv[k] = "http://" + srv.Listener.Addr().String()
		}
	}
	e, err := New(opts)
	if err != nil {
		srv.Listener.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	srv.Config.Handler = e.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	ccfg := cfg.Copy()
	ccfg.BaseEndpoint = aws.String(srv.URL)
	en := &env{t: t, cfg: cfg, engine: e, cfn: cloudformation.NewFromConfig(ccfg), s3: testaws.S3(cfg), url: srv.URL}
	en.bucket = testaws.Bucket(t, cfg, "artifacts")
	return en
}

// put stores data in the artifact bucket and returns its s3:// URI.
func (en *env) put(key string, data []byte) string {
	en.t.Helper()
	_, err := en.s3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(en.bucket), Key: aws.String(key), Body: bytes.NewReader(data)})
	if err != nil {
		en.t.Fatal(err)
	}
	return "s3://" + en.bucket + "/" + key
}

// changeSet creates a change set and waits until it is worked out.
func (en *env) changeSet(stack, name, typ, body string, params map[string]string, caps ...cfntypes.Capability) *cloudformation.DescribeChangeSetOutput {
	en.t.Helper()
	out, err := en.createChangeSet(stack, name, typ, body, params, caps...)
	if err != nil {
		en.t.Fatalf("create change set %s: %v", name, err)
	}
	return en.waitChangeSet(aws.ToString(out.Id))
}

func (en *env) createChangeSet(stack, name, typ, body string, params map[string]string, caps ...cfntypes.Capability) (*cloudformation.CreateChangeSetOutput, error) {
	in := &cloudformation.CreateChangeSetInput{
		StackName:     aws.String(stack),
		ChangeSetName: aws.String(name),
		ChangeSetType: cfntypes.ChangeSetType(typ),
		TemplateBody:  aws.String(body),
		Capabilities:  caps,
	}
	for k, v := range params {
		in.Parameters = append(in.Parameters, cfntypes.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(v)})
	}
	return en.cfn.CreateChangeSet(context.Background(), in)
}

// waitChangeSet waits until a change set is no longer being worked out.
func (en *env) waitChangeSet(id string) *cloudformation.DescribeChangeSetOutput {
	en.t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		out, err := en.cfn.DescribeChangeSet(context.Background(), &cloudformation.DescribeChangeSetInput{ChangeSetName: aws.String(id)})
		if err != nil {
			en.t.Fatalf("describe change set: %v", err)
		}
		if out.Status != cfntypes.ChangeSetStatusCreatePending && out.Status != cfntypes.ChangeSetStatusCreateInProgress {
			return out
		}
	}
	en.t.Fatalf("change set %s is still being created after a minute", id)
	return nil
}

// execute executes a change set and waits for the stack to settle.
func (en *env) execute(cs *cloudformation.DescribeChangeSetOutput) cfntypes.Stack {
	en.t.Helper()
	if cs.Status != cfntypes.ChangeSetStatusCreateComplete {
		en.t.Fatalf("change set %s is %s (%s), want CREATE_COMPLETE", aws.ToString(cs.ChangeSetName), cs.Status, aws.ToString(cs.StatusReason))
	}
	if _, err := en.cfn.ExecuteChangeSet(context.Background(), &cloudformation.ExecuteChangeSetInput{ChangeSetName: cs.ChangeSetId}); err != nil {
		en.t.Fatalf("execute change set: %v", err)
	}
	return en.waitStack(aws.ToString(cs.StackId))
}

// deploy creates and executes a change set.
func (en *env) deploy(stack, name, typ, body string, params map[string]string, caps ...cfntypes.Capability) cfntypes.Stack {
	en.t.Helper()
	return en.execute(en.changeSet(stack, name, typ, body, params, caps...))
}

// waitStack waits until a stack is in a status that does not end in
// _IN_PROGRESS (REVIEW_IN_PROGRESS aside).
func (en *env) waitStack(id string) cfntypes.Stack {
	en.t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		out, err := en.cfn.DescribeStacks(context.Background(), &cloudformation.DescribeStacksInput{StackName: aws.String(id)})
		if err != nil {
			en.t.Fatalf("describe stack: %v", err)
		}
		s := out.Stacks[0]
		if !strings.HasSuffix(string(s.StackStatus), "_IN_PROGRESS") || s.StackStatus == cfntypes.StackStatusReviewInProgress {
			return s
		}
	}
	en.t.Fatalf("stack %s is still in progress after a minute", id)
	return cfntypes.Stack{}
}

// events returns a stack's events, oldest first.
func (en *env) events(stack string) []cfntypes.StackEvent {
	en.t.Helper()
	var all []cfntypes.StackEvent
	var next *string
	for {
		out, err := en.cfn.DescribeStackEvents(context.Background(), &cloudformation.DescribeStackEventsInput{StackName: aws.String(stack), NextToken: next})
		if err != nil {
			en.t.Fatal(err)
		}
		all = append(all, out.StackEvents...)
		if out.NextToken == nil {
			break
		}
		next = out.NextToken
	}
	for i, j := 0, len(all)-1; i < j; i, j = i+1, j-1 {
		all[i], all[j] = all[j], all[i]
	}
	return all
}

func outputsOf(s cfntypes.Stack) map[string]string {
	m := map[string]string{}
	for _, o := range s.Outputs {
		m[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	return m
}

func paramsOf(s cfntypes.Stack) map[string]string {
	m := map[string]string{}
	for _, p := range s.Parameters {
		m[aws.ToString(p.ParameterKey)] = aws.ToString(p.ParameterValue)
	}
	return m
}

// changesOf returns "Action Logical Type Replacement" per change.
func changesOf(cs *cloudformation.DescribeChangeSetOutput) []string {
	var out []string
	for _, c := range cs.Changes {
		rc := c.ResourceChange
		line := fmt.Sprintf("%s %s %s", rc.Action, aws.ToString(rc.LogicalResourceId), aws.ToString(rc.ResourceType))
		if rc.Replacement != "" {
			line += " " + string(rc.Replacement)
		}
		out = append(out, line)
	}
	return out
}

// apiCode returns the error code and message of an API error.
func apiCode(err error) (string, string) {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode(), ae.ErrorMessage()
	}
	return "", ""
}
