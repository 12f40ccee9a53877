package tracing

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-xray-sdk-go/header"

	"github.com/stackflow/stackflow/internal/tracing/daemon"
)

// HeaderName is the HTTP header that carries a trace to the next service.
const HeaderName = "X-Amzn-Trace-Id"

// lambdaKey is the context key aws-lambda-go stores each invocation's trace
// header under.
const lambdaKey = "x-amzn-trace-id"

// envTraceID is where aws-lambda-go also puts the trace header.
const envTraceID = "_X_AMZN_TRACE_ID"

// trace is the trace a call belongs to and the segment it hangs from.
type trace struct {
	id      string
	parent  string
	sampled bool
}

// current returns the trace of ctx: the invocation's, from aws-lambda-go.
func current(ctx context.Context) (trace, bool) {
	v, _ := ctx.Value(lambdaKey).(string)
	if v == "" {
		v = os.Getenv(envTraceID)
	}
	if v == "" {
		return trace{}, false
	}
	h := header.FromString(v)
	if h.TraceID == "" || h.ParentID == "" {
		return trace{}, false
	}
	return trace{id: h.TraceID, parent: h.ParentID, sampled: h.SamplingDecision == header.Sampled}, true
}

// downstream is the trace header for a call whose subsegment is id.
func (t trace) downstream(id string) string {
	d := header.NotSampled
	if t.sampled {
		d = header.Sampled
	}
	return header.Header{TraceID: t.id, ParentID: id, SamplingDecision: d}.String()
}

// handoffKey keys the subsegment ID that Handoff reserved.
type handoffKey struct{}

type reserved struct {
	id   string
	used atomic.Bool
}

// Handoff returns the trace header to give a service that continues the
// trace out of band (StartExecution's TraceHeader) and a context in which
// the next traced call records its subsegment under the ID the header names
// as the parent, so the execution hangs from the call that started it. It
// returns ctx and "" when ctx has no trace.
func Handoff(ctx context.Context) (context.Context, string) {
	t, ok := current(ctx)
	if !ok {
		return ctx, ""
	}
	r := &reserved{id: daemon.NewID()}
	return context.WithValue(ctx, handoffKey{}, r), t.downstream(r.id)
}

// subsegmentID returns the ID for the next subsegment of ctx: the one
// Handoff reserved, once, or a new one.
func subsegmentID(ctx context.Context) string {
	if r, ok := ctx.Value(handoffKey{}).(*reserved); ok && r.used.CompareAndSwap(false, true) {
		return r.id
	}
	return daemon.NewID()
}

// newSubsegment starts the document of a call of t.
func newSubsegment(t trace, id, name, namespace string, start time.Time) *daemon.Document {
	return &daemon.Document{
		Name:      name,
		ID:        id,
		TraceID:   t.id,
		ParentID:  t.parent,
		Type:      "subsegment",
		StartTime: daemon.Seconds(start),
		Namespace: namespace,
	}
}

// setStatus records an HTTP answer's status and what it says of the call.
func setStatus(d *daemon.Document, status int) {
	if status == 0 {
		return
	}
	if d.HTTP == nil {
		d.HTTP = &daemon.HTTP{}
	}
	d.HTTP.Response = &daemon.Response{Status: status}
	switch {
	case status == 429:
		d.Error, d.Throttle = true, true
	case status >= 400 && status < 500:
		d.Error = true
	case status >= 500:
		d.Fault = true
	}
}

// setFailure records a call that failed with the error kind kind: a fault
// when there was no answer.
func setFailure(d *daemon.Document, kind string) {
	if !d.Error && !d.Fault {
		d.Fault = true
	}
	d.Cause = &daemon.Cause{Exceptions: []daemon.Exception{{ID: daemon.NewID(), Type: kind}}}
}

// emitter sends to the daemon AWS_XRAY_DAEMON_ADDRESS names, read at each
// send (Lambda sets it once; tests change it).
var emitter struct {
	mu     sync.Mutex
	client *daemon.Client
}

func emit(d *daemon.Document) {
	addr := daemon.Address(os.Getenv(daemon.EnvAddress))
	emitter.mu.Lock()
	c := emitter.client
	if c == nil || c.Addr() != addr {
		if c != nil {
			c.Close()
		}
		c = daemon.NewClient(addr)
		emitter.client = c
	}
	emitter.mu.Unlock()
	c.Send(d)
}
