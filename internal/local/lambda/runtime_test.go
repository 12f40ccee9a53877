//go:build unix

package lambda

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/stackflow/stackflow/internal/testaws"

	"github.com/stackflow/stackflow/internal/local/cachedir"
)

// code copies testdata/dir to a fresh directory, as the engine unpacks a
// function's zip, so that interpreters write nothing into testdata.
func code(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "code")
	if err := os.CopyFS(out, os.DirFS(filepath.Join("testdata", dir))); err != nil {
		t.Fatal(err)
	}
	return out
}

// result is an invocation's outcome: its FunctionError and payload.
type result struct {
	functionError string
	payload       []byte
}

func call(t *testing.T, c *awslambda.Client, name, payload string) result {
	t.Helper()
	out, err := c.Invoke(context.Background(), &awslambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(payload)})
	if err != nil {
		t.Fatalf("invoke %s: %v", name, err)
	}
	return result{functionError: aws.ToString(out.FunctionError), payload: out.Payload}
}

// errorDoc is an error as Lambda returns it: Python's runtimes give a
// stackTrace, Node.js's a trace.
type errorDoc struct {
	ErrorType    string   `json:"errorType"`
	ErrorMessage string   `json:"errorMessage"`
	StackTrace   []string `json:"stackTrace"`
	Trace        []string `json:"trace"`
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

// invocationCase is a handler, what it is invoked with and what it answers.
type invocationCase struct {
	name    string
	runtime string
	handler string
	opt     string // testdata directory standing in for /opt
	payload string
	// want is the payload of a success; wantError, when set, the
	// FunctionError Unhandled that is expected instead.
	want      map[string]any
	wantError *errorDoc
}

// runCases starts a function per case from testdata/dir and checks its
// answer.
func runCases(t *testing.T, dir string, tests []invocationCase) {
	s, c := setup(t)
	codeDir := code(t, dir)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := strings.ReplaceAll(dir, "/", "-") + "-" + string(rune('a'+i))
			fn := Function{Name: name, Dir: codeDir, Runtime: tt.runtime, Handler: tt.handler, Timeout: 30 * time.Second}
			if tt.opt != "" {
				fn.Opt = code(t, tt.opt)
			}
			log := &syncBuffer{}
			fn.Log = log
			if _, err := s.Start(context.Background(), fn); err != nil {
				t.Fatal(err)
			}
			got := call(t, c, name, tt.payload)
			if tt.wantError == nil {
				if got.functionError != "" {
					t.Fatalf("got function error %s: %s, want success\nlog:\n%s", got.functionError, got.payload, log)
				}
				if g := decode[map[string]any](t, got.payload); !reflect.DeepEqual(g, tt.want) {
					t.Errorf("got %v, want %v", g, tt.want)
				}
				return
			}
			if got.functionError != "Unhandled" {
				t.Fatalf("got function error %q (%s), want Unhandled\nlog:\n%s", got.functionError, got.payload, log)
			}
			g := decode[errorDoc](t, got.payload)
			// The first line: Node.js's messages go on with a require stack.
			msg, _, _ := strings.Cut(g.ErrorMessage, "\n")
			if g.ErrorType != tt.wantError.ErrorType || msg != tt.wantError.ErrorMessage {
				t.Errorf("got %s: %q, want %s: %q\nlog:\n%s", g.ErrorType, g.ErrorMessage, tt.wantError.ErrorType, tt.wantError.ErrorMessage, log)
			}
			if gotTrace, wantTrace := len(g.StackTrace)+len(g.Trace) > 0, len(tt.wantError.StackTrace)+len(tt.wantError.Trace) > 0; gotTrace != wantTrace {
				t.Errorf("got stack trace %q %q, want one: %v", g.StackTrace, g.Trace, wantTrace)
			}
		})
	}
}

// someTrace marks an expected error that has a stack trace.
var someTrace = []string{"..."}

func TestPythonHandlers(t *testing.T) {
	runCases(t, "python", []invocationCase{
		{
			name: "returns a dict", runtime: "python3.12", handler: "app.lambda_handler", payload: `{"name":"ann"}`,
			want: map[string]any{"message": "hello ann"},
		},
		{
			name: "module in a subfolder", runtime: "python3.13", handler: "src/app.handler", payload: `{}`,
			want: map[string]any{"where": "src/app.py"},
		},
		{
			name: "raises ValueError", runtime: "python3.11", handler: "app.fail", payload: `{}`,
			wantError: &errorDoc{ErrorType: "ValueError", ErrorMessage: "no name given", StackTrace: someTrace},
		},
		{
			name: "imports a module that is not there", runtime: "python3.12", handler: "broken.handler", payload: `{}`,
			wantError: &errorDoc{ErrorType: "Runtime.ImportModuleError", ErrorMessage: "Unable to import module 'broken': No module named 'not_a_module_anywhere'"},
		},
		{
			name: "handler not in the module", runtime: "python3.14", handler: "app.nope", payload: `{}`,
			wantError: &errorDoc{ErrorType: "Runtime.HandlerNotFound", ErrorMessage: "Handler 'nope' missing on module 'app'"},
		},
		{
			name: "imports a module of its layer", runtime: "python3.12", handler: "app.layered", opt: "python-layer", payload: `{}`,
			want: map[string]any{"greeting": "hello from the layer"},
		},
	})
}

func TestNodeHandlers(t *testing.T) {
	runCases(t, "nodejs", []invocationCase{
		{
			name: "CommonJS async", runtime: "nodejs22.x", handler: "cjs.handler", payload: `{"name":"ann"}`,
			want: map[string]any{"message": "hello ann", "style": "commonjs"},
		},
		{
			name: "ES module by .mjs", runtime: "nodejs22.x", handler: "esm.handler", payload: `{"name":"ann"}`,
			want: map[string]any{"message": "hello ann", "style": "esm"},
		},
		{
			name: "ES module by package.json", runtime: "nodejs24.x", handler: "esmpkg/app.handler", payload: `{"name":"ann"}`,
			want: map[string]any{"message": "hello ann", "style": "esm by package.json"},
		},
		{
			name: "callback waits for the empty event loop", runtime: "nodejs20.x", handler: "callback.handler", payload: `{"name":"ann"}`,
			want: map[string]any{"message": "hello ann", "style": "callback", "late": true},
		},
		{
			name: "module in src/handlers", runtime: "nodejs20.x", handler: "src/handlers/get-all-items.getAllItemsHandler", payload: `{}`,
			want: map[string]any{"items": []any{}, "where": "src/handlers/get-all-items.js"},
		},
		{
			name: "throws an Error with its own name", runtime: "nodejs22.x", handler: "errors.handler", payload: `{}`,
			wantError: &errorDoc{ErrorType: "ValidationError", ErrorMessage: "no name given", Trace: someTrace},
		},
		{
			name: "requires a module that is not there", runtime: "nodejs22.x", handler: "broken.handler", payload: `{}`,
			wantError: &errorDoc{ErrorType: "Runtime.ImportModuleError", ErrorMessage: "Error: Cannot find module 'not-a-module-anywhere'", Trace: someTrace},
		},
		{
			name: "handler not in the module", runtime: "nodejs22.x", handler: "cjs.nope", payload: `{}`,
			wantError: &errorDoc{ErrorType: "Runtime.HandlerNotFound", ErrorMessage: "cjs.nope is undefined or not exported", Trace: someTrace},
		},
		{
			name: "callback handler on nodejs24.x", runtime: "nodejs24.x", handler: "callback.handler", payload: `{}`,
			wantError: &errorDoc{ErrorType: "Runtime.CallbackHandlerDeprecated", ErrorMessage: callbackRemoved, Trace: someTrace},
		},
		{
			name: "requires a module of its layer", runtime: "nodejs20.x", handler: "layered.handler", opt: "nodejs-layer", payload: `{}`,
			want: map[string]any{"greeting": "hello from the layer"},
		},
	})
}

const callbackRemoved = "ERROR: AWS Lambda has removed support for callback-based function handlers starting with Node.js 24. " +
	"You need to modify this function to use a supported handler signature to use Node.js 24 or later. " +
	"For more information see https://docs.aws.amazon.com/lambda/latest/dg/nodejs-handler.html."

// TestHandlersSeeLambdasEnvironmentAndContext: the variables Lambda sets,
// the function's own, and the context object, in each language.
func TestHandlersSeeLambdasEnvironmentAndContext(t *testing.T) {
	s, c := setup(t)
	names := []string{
		"_HANDLER", "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_REGION", "AWS_LAMBDA_INITIALIZATION_TYPE",
		"TZ", "STAGE",
	}
	payload, _ := json.Marshal(map[string]any{"env": append(names, "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "PYTHONPATH", "NODE_PATH")})
	tests := []struct {
		name    string
		runtime string
		handler string
		dir     string
		// context maps the language's names of the context's fields to
		// the want's.
		context map[string]string
	}{
		{"python", "python3.12", "app.context_handler", "python", map[string]string{
			"aws_request_id": "id", "function_name": "name", "function_version": "version", "memory_limit_in_mb": "memory",
			"invoked_function_arn": "arn", "log_group_name": "logGroup", "remaining_time_within_timeout": "remaining",
		}},
		{"node", "nodejs22.x", "context.handler", "nodejs", map[string]string{
			"awsRequestId": "id", "functionName": "name", "functionVersion": "version", "memoryLimitInMB": "memory",
			"invokedFunctionArn": "arn", "logGroupName": "logGroup", "remainingTimeWithinTimeout": "remaining",
			"callbackWaitsForEmptyEventLoop": "waits",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "context-" + tt.name
			dir := code(t, tt.dir)
			log := &syncBuffer{}
			arn, err := s.Start(context.Background(), Function{
				Name: name, Dir: dir, Runtime: tt.runtime, Handler: tt.handler, MemorySize: 256,
				Timeout: 30 * time.Second, Env: map[string]string{"STAGE": "test"}, Log: log,
			})
			if err != nil {
				t.Fatal(err)
			}
			got := call(t, c, name, string(payload))
			if got.functionError != "" {
				t.Fatalf("got function error %s: %s\nlog:\n%s", got.functionError, got.payload, log)
			}
			out := decode[struct {
				Env     map[string]*string `json:"env"`
				Context map[string]any     `json:"context"`
				Cwd     string             `json:"cwd"`
			}](t, got.payload)

			wantEnv := map[string]string{
				"_HANDLER": tt.handler, "AWS_EXECUTION_ENV": "AWS_Lambda_" + tt.runtime, "AWS_LAMBDA_FUNCTION_NAME": name,
				"AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
				"AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/" + name, "AWS_REGION": "us-east-1",
				"AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand", "TZ": ":UTC", "STAGE": "test",
			}
			for _, k := range names {
				if g := out.Env[k]; g == nil || *g != wantEnv[k] {
					t.Errorf("got %s=%v, want %q", k, deref(g), wantEnv[k])
				}
			}
			if g := deref(out.Env["LAMBDA_TASK_ROOT"]); g != dir {
				t.Errorf("got LAMBDA_TASK_ROOT=%q, want %q", g, dir)
			}
			if out.Cwd != dir {
				t.Errorf("got working directory %q, want %q", out.Cwd, dir)
			}
			runtimeDir := deref(out.Env["LAMBDA_RUNTIME_DIR"])
			if st, err := os.Stat(runtimeDir); err != nil || !st.IsDir() {
				t.Errorf("got LAMBDA_RUNTIME_DIR=%q, want the runtime client's directory", runtimeDir)
			}
			switch tt.name {
			case "python":
				// As Lambda's bootstrap.py sets it, once sys.path is made.
				if g := deref(out.Env["PYTHONPATH"]); g != runtimeDir {
					t.Errorf("got PYTHONPATH=%q, want LAMBDA_RUNTIME_DIR %q", g, runtimeDir)
				}
			case "node":
				want := strings.Join([]string{filepath.Join(runtimeDir, "node_modules"), runtimeDir, dir}, ":")
				if g := deref(out.Env["NODE_PATH"]); g != want {
					t.Errorf("got NODE_PATH=%q, want %q", g, want)
				}
			}

			gotContext := map[string]any{}
			for field, key := range tt.context {
				gotContext[key] = out.Context[field]
			}
			id, _ := gotContext["id"].(string)
			if len(id) != 36 {
				t.Errorf("got request ID %q, want a UUID", id)
			}
			delete(gotContext, "id")
			wantContext := map[string]any{
				"name": name, "version": "$LATEST", "memory": "256", "arn": arn,
				"logGroup": "/aws/lambda/" + name, "remaining": true,
			}
			if tt.name == "node" {
				wantContext["waits"] = true
			}
			if !reflect.DeepEqual(gotContext, wantContext) {
				t.Errorf("got context %v, want %v", gotContext, wantContext)
			}
		})
	}
}

func deref(s *string) string {
	if s == nil {
		return "<unset>"
	}
	return *s
}

// hostVersion asks the host's program for its version, with args.
func hostVersion(t *testing.T, program string, args ...string) string {
	t.Helper()
	out, err := exec.Command(program, args...).Output()
	if err != nil {
		t.Fatalf("%s %v: %v", program, args, err)
	}
	return strings.TrimSpace(string(out))
}

// TestStartSaysWhichInterpreterRuns: a line names the host's interpreter
// and its version, and a warning follows when it is not the runtime's.
func TestStartSaysWhichInterpreterRuns(t *testing.T) {
	s, _ := setup(t)
	python := hostVersion(t, "python3", "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])")
	node := hostVersion(t, "node", "--version")
	// A runtime that is the host's and one that is not.
	samePython, otherPython := "python"+cachedir.MinorVersion(python), "python3.99"
	if _, ok := runtimes[samePython]; !ok {
		samePython = ""
	}
	for _, r := range Runtimes() {
		if strings.HasPrefix(r, "python") && r != samePython {
			otherPython = r
		}
	}
	major, _, _ := strings.Cut(strings.TrimPrefix(node, "v"), ".")
	sameNode, otherNode := "nodejs"+major+".x", ""
	if _, ok := runtimes[sameNode]; !ok {
		sameNode = ""
	}
	for _, r := range Runtimes() {
		if strings.HasPrefix(r, "nodejs") && r != sameNode {
			otherNode = r
		}
	}
	tests := []struct {
		runtime, handler, dir string
		line                  string
		warn                  bool
	}{
		{samePython, "app.lambda_handler", "python", "runs on this machine's Python " + python, false},
		{otherPython, "app.lambda_handler", "python", "runs on this machine's Python " + python, true},
		{sameNode, "cjs.handler", "nodejs", "runs on this machine's Node.js " + node, false},
		{otherNode, "cjs.handler", "nodejs", "runs on this machine's Node.js " + node, true},
	}
	for _, tt := range tests {
		if tt.runtime == "" {
			continue // the host's version is no runtime's
		}
		t.Run(tt.runtime, func(t *testing.T) {
			log := &syncBuffer{}
			name := "version-" + strings.ReplaceAll(tt.runtime, ".", "-")
			if _, err := s.Start(context.Background(), Function{Name: name, Dir: code(t, tt.dir), Runtime: tt.runtime, Handler: tt.handler, Log: log}); err != nil {
				t.Fatal(err)
			}
			if got := log.String(); !strings.Contains(got, "function "+name+" ("+tt.runtime+") "+tt.line) {
				t.Errorf("got log %q, want a line that function %s (%s) %s", got, name, tt.runtime, tt.line)
			}
			if got := strings.Contains(log.String(), "warning: function "+name+" asks for "+tt.runtime); got != tt.warn {
				t.Errorf("got a warning %v, want %v; log %q", got, tt.warn, log.String())
			}
		})
	}
}

// TestStartFailsWithoutTheInterpreter: the error names what to install.
func TestStartFailsWithoutTheInterpreter(t *testing.T) {
	cfg := testaws.Start(t)
	s, err := New(cfg, Options{Python: "stackflow-no-such-python", Node: "stackflow-no-such-node"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	tests := []struct {
		runtime, handler string
		want             string
	}{
		{"python3.13", "app.lambda_handler", "runtime python3.13 needs Python 3.13 on this machine: stackflow-no-such-python was not found on PATH: install Python"},
		{"nodejs24.x", "cjs.handler", "runtime nodejs24.x needs Node.js 24 on this machine: stackflow-no-such-node was not found on PATH: install Node.js"},
		{"java21", "Handler::handleRequest", "runtime java21 does not run locally: stackflow runs nodejs20.x, nodejs22.x, nodejs24.x, provided, provided.al2, provided.al2023, python3.11"},
	}
	for _, tt := range tests {
		t.Run(tt.runtime, func(t *testing.T) {
			_, err := s.Start(context.Background(), Function{Name: "missing-" + strings.ReplaceAll(tt.runtime, ".", "-"), Dir: t.TempDir(), Runtime: tt.runtime, Handler: tt.handler})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestAProcessThatDiesFailsItsInvocation: an invocation whose process
// exits fails at once with Runtime.ExitError, as on Lambda, instead of
// waiting out kumo's timeout, and the next one runs on a new process. A
// failed init fails each invocation with its error, with a new process
// (a new init) each time.
func TestAProcessThatDiesFailsItsInvocation(t *testing.T) {
	s, c := setup(t)
	start := func(name, runtime, handler, dir string) {
		t.Helper()
		if _, err := s.Start(context.Background(), Function{Name: name, Dir: dir, Runtime: runtime, Handler: handler, Timeout: 30 * time.Second}); err != nil {
			t.Fatal(err)
		}
	}
	start("dies-go", "", "", codeDir)
	start("dies-python", "python3.12", "app.exit", code(t, "python"))
	start("dies-init", "nodejs22.x", "broken.handler", code(t, "nodejs"))
	tests := []struct {
		name      string
		function  string
		payload   string
		wantType  string
		wantFirst string // the start of the error message
	}{
		{"go exits", "dies-go", `{"exit":true}`, "Runtime.ExitError", "RequestId: "},
		{"go runs again", "dies-go", `{}`, "", ""},
		{"python exits", "dies-python", `{"exit":true}`, "Runtime.ExitError", "RequestId: "},
		{"python runs again", "dies-python", `{}`, "", ""},
		{"init fails", "dies-init", `{}`, "Runtime.ImportModuleError", "Error: Cannot find module 'not-a-module-anywhere'"},
		{"init fails again", "dies-init", `{}`, "Runtime.ImportModuleError", "Error: Cannot find module 'not-a-module-anywhere'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := call(t, c, tt.function, tt.payload)
			if tt.wantType == "" {
				if got.functionError != "" {
					t.Fatalf("got function error %s: %s, want success", got.functionError, got.payload)
				}
				return
			}
			doc := decode[errorDoc](t, got.payload)
			if got.functionError != "Unhandled" || doc.ErrorType != tt.wantType || !strings.HasPrefix(doc.ErrorMessage, tt.wantFirst) {
				t.Errorf("got %q %s: %q, want Unhandled %s: %q...", got.functionError, doc.ErrorType, doc.ErrorMessage, tt.wantType, tt.wantFirst)
			}
			if tt.wantType == "Runtime.ExitError" && !strings.HasSuffix(doc.ErrorMessage, "Error: Runtime exited with error: exit status 3") {
				t.Errorf("got message %q, want it to end in the exit status", doc.ErrorMessage)
			}
		})
	}
}
