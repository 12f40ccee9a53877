//go:build unix

package lambda

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-xray-sdk-go/header"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/stackflow/stackflow/internal/testaws"
	"github.com/stackflow/stackflow/internal/tracing/daemon"
)

// setupFront starts a front before kumo, sending to the daemon at
// traceDaemon, and a supervisor whose functions poll through it; it returns
// the supervisor and a Lambda client that invokes through the front.
func setupFront(t *testing.T, traceDaemon string) (*Supervisor, *awslambda.Client) {
	t.Helper()
	cfg := testaws.Start(t)
	f, err := NewFront(FrontOptions{Kumo: aws.ToString(cfg.BaseEndpoint), TraceDaemon: traceDaemon})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	cfg.BaseEndpoint = aws.String(f.URL())
	s, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() }) // before the front's
	return s, awslambda.NewFromConfig(cfg)
}

// withTrace makes an Invoke carry X-Amzn-Trace-Id h.
func withTrace(h string) func(*awslambda.Options) {
	return func(o *awslambda.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Build.Add(middleware.BuildMiddlewareFunc("test.trace", func(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
				if h != "" {
					in.Request.(*smithyhttp.Request).Header.Set("X-Amzn-Trace-Id", h)
				}
				return next.HandleBuild(ctx, in)
			}), middleware.After)
		})
	}
}

func invokeTraced(t *testing.T, c *awslambda.Client, fn, payload, trace string) (echo, *awslambda.InvokeOutput) {
	t.Helper()
	out, err := c.Invoke(context.Background(), &awslambda.InvokeInput{FunctionName: aws.String(fn), Payload: []byte(payload)}, withTrace(trace))
	if err != nil {
		t.Fatalf("invoke %s: %v", fn, err)
	}
	var e echo
	if out.FunctionError == nil {
		if err := json.Unmarshal(out.Payload, &e); err != nil {
			t.Fatalf("invoke %s: %v in %s", fn, err, out.Payload)
		}
	}
	return e, out
}

// waitDocs waits for a segment of traceID among the documents the listener
// got after its first skip ones (those sent before the invocation under
// test: several invocations share a trace, and segments arrive
// asynchronously), and returns those of traceID.
func waitDocs(t *testing.T, l *daemon.Listener, skip int, traceID string) []daemon.Document {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	docs, err := l.Wait(ctx, func(all []daemon.Document) bool { return len(all) > skip && len(ofTrace(all[skip:], traceID)) > 0 })
	if err != nil {
		t.Fatalf("no segment of trace %s: %v", traceID, err)
	}
	return ofTrace(docs[skip:], traceID)
}

func ofTrace(docs []daemon.Document, traceID string) []daemon.Document {
	var out []daemon.Document
	for _, d := range docs {
		if d.TraceID == traceID {
			out = append(out, d)
		}
	}
	return out
}

var segmentID = regexp.MustCompile(`^[0-9a-f]{16}$`)

func TestFrontGivesEachInvocationItsTrace(t *testing.T) {
	l, err := daemon.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s, c := setupFront(t, l.Addr())
	name := testaws.Name("traced")
	arn, err := s.Start(context.Background(), Function{Name: name, Dir: codeDir})
	if err != nil {
		t.Fatal(err)
	}
	callerTrace, callerParent := daemon.NewTraceID(time.Now()), daemon.NewID()
	unsampled := daemon.NewTraceID(time.Now())
	tests := []struct {
		name, function, payload, trace string
		wantRoot                       string // "" means a new one
		wantParent                     string // of the function segment
		sampled, fault                 bool
	}{
		{name: "the caller's trace", function: name, payload: `{"tag":"1"}`, trace: "Root=" + callerTrace + ";Parent=" + callerParent + ";Sampled=1",
			wantRoot: callerTrace, wantParent: callerParent, sampled: true},
		{name: "by ARN", function: arn, payload: `{"tag":"2"}`, trace: "Root=" + callerTrace + ";Parent=" + callerParent + ";Sampled=1",
			wantRoot: callerTrace, wantParent: callerParent, sampled: true},
		{name: "no trace: a new one", function: name, payload: `{"tag":"3"}`, sampled: true},
		{name: "a failed invocation", function: name, payload: `{"fail":true}`, trace: "Root=" + callerTrace + ";Parent=" + callerParent + ";Sampled=1",
			wantRoot: callerTrace, wantParent: callerParent, sampled: true, fault: true},
		{name: "not sampled", function: name, payload: `{"tag":"5"}`, trace: "Root=" + unsampled + ";Parent=" + callerParent + ";Sampled=0",
			wantRoot: unsampled, wantParent: callerParent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(l.Documents())
			e, out := invokeTraced(t, c, tt.function, tt.payload, tt.trace)
			if (out.FunctionError != nil) != tt.fault {
				t.Fatalf("got function error %v, want one: %v", aws.ToString(out.FunctionError), tt.fault)
			}
			root := tt.wantRoot
			if !tt.fault {
				h := header.FromString(e.Trace)
				if root == "" {
					root = h.TraceID
				}
				wantDecision := header.NotSampled
				if tt.sampled {
					wantDecision = header.Sampled
				}
				if h.TraceID != root || !regexp.MustCompile(`^1-[0-9a-f]{8}-[0-9a-f]{24}$`).MatchString(h.TraceID) || !segmentID.MatchString(h.ParentID) || h.SamplingDecision != wantDecision {
					t.Fatalf("the handler got trace %q, want Root=%s;Parent=<segment>;%s", e.Trace, root, wantDecision)
				}
			}
			if !tt.sampled {
				return
			}
			docs := waitDocs(t, l, before, root)
			d := docs[len(docs)-1]
			if len(l.Documents())-before != 1 {
				t.Errorf("got %d documents, want 1", len(l.Documents())-before)
			}
			if d.Name != name || d.Origin != "AWS::Lambda::Function" || d.Type != "" || d.ParentID != tt.wantParent || d.ResourceARN == "" {
				t.Errorf("got segment %+v, want %s, origin AWS::Lambda::Function, parent %q", d, name, tt.wantParent)
			}
			if !tt.fault && d.ID != header.FromString(e.Trace).ParentID {
				t.Errorf("got segment ID %s, want %s, the handler's parent", d.ID, header.FromString(e.Trace).ParentID)
			}
			if d.Fault != tt.fault || d.StartTime <= 0 || d.EndTime < d.StartTime || d.AWS == nil || d.AWS.RequestID == "" {
				t.Errorf("got fault %v start %f end %f aws %+v, want fault %v, 0 < start <= end and a request ID", d.Fault, d.StartTime, d.EndTime, d.AWS, tt.fault)
			}
		})
	}
	// The unsampled invocation sent nothing: a later sampled one's segment,
	// sent after it on the same socket, is in, and it is not.
	sentinel := daemon.NewTraceID(time.Now())
	before := len(l.Documents())
	invokeTraced(t, c, name, `{"tag":"sentinel"}`, "Root="+sentinel+";Parent="+callerParent+";Sampled=1")
	waitDocs(t, l, before, sentinel)
	if docs := ofTrace(l.Documents(), unsampled); len(docs) != 0 {
		t.Errorf("got %d segments of the unsampled trace, want none", len(docs))
	}
}

// TestFrontTellsOverlappingInvocationsApart invokes one function twice at
// once, each call with its own trace: each handler gets its caller's.
func TestFrontTellsOverlappingInvocationsApart(t *testing.T) {
	l, err := daemon.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s, c := setupFront(t, l.Addr())
	name := testaws.Name("overlap")
	if _, err := s.Start(context.Background(), Function{Name: name, Dir: codeDir, Concurrency: 2}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		payloads [2]string
	}{
		{name: "different payloads", payloads: [2]string{`{"sleepMs":300,"tag":"a"}`, `{"sleepMs":300,"tag":"b"}`}},
		// The front cannot tell these apart; each still gets one of the two.
		{name: "identical payloads", payloads: [2]string{`{"sleepMs":300,"tag":"same"}`, `{"sleepMs":300,"tag":"same"}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var roots, got [2]string
			var wg sync.WaitGroup
			for i := range 2 {
				roots[i] = daemon.NewTraceID(time.Now())
				wg.Go(func() {
					e, _ := invokeTraced(t, c, name, tt.payloads[i], fmt.Sprintf("Root=%s;Parent=%s;Sampled=1", roots[i], daemon.NewID()))
					got[i] = header.FromString(e.Trace).TraceID
				})
			}
			wg.Wait()
			if tt.payloads[0] != tt.payloads[1] {
				if got != roots {
					t.Errorf("got traces %v, want %v", got, roots)
				}
				return
			}
			gs, rs := got[:], roots[:]
			sort.Strings(gs)
			sort.Strings(rs)
			if gs[0] != rs[0] || gs[1] != rs[1] {
				t.Errorf("got traces %v, want the two callers' %v", gs, rs)
			}
		})
	}
}

func TestFrontWithoutADaemonOnlyForwards(t *testing.T) {
	s, c := setupFront(t, "")
	name := testaws.Name("untraced")
	if _, err := s.Start(context.Background(), Function{Name: name, Dir: codeDir}); err != nil {
		t.Fatal(err)
	}
	e, _ := invokeTraced(t, c, name, `{"tag":"x"}`, "Root="+daemon.NewTraceID(time.Now())+";Parent="+daemon.NewID()+";Sampled=1")
	if e.Tag != "x" || e.Trace != "" {
		t.Errorf("got tag %q trace %q, want x and no trace", e.Tag, e.Trace)
	}
}

func TestFunctionName(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{in: "hello", want: "hello"},
		{in: "hello:live", want: "hello"},
		{in: "000000000000:function:hello", want: "hello"},
		{in: "arn:aws:lambda:us-east-1:000000000000:function:hello", want: "hello"},
		{in: "arn:aws:lambda:us-east-1:000000000000:function:hello:$LATEST", want: "hello"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			if got := functionName(tt.in); got != tt.want {
				t.Errorf("functionName(%q): got %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
