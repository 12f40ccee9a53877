package lambda

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-xray-sdk-go/header"

	"github.com/stackflow/stackflow/internal/tracing/daemon"
)

// Headers the front reads and writes.
const (
	traceHeader         = "X-Amzn-Trace-Id"
	runtimeTraceHeader  = "Lambda-Runtime-Trace-Id"
	runtimeRequestID    = "Lambda-Runtime-Aws-Request-Id"
	runtimeFunctionARN  = "Lambda-Runtime-Invoked-Function-Arn"
	functionSegmentType = "AWS::Lambda::Function"
)

// forgetAfter is how long the front keeps the trace of an invocation that
// no handler took or answered: longer than Lambda's longest timeout.
const forgetAfter = 16 * time.Minute

// FrontOptions configure a Front.
type FrontOptions struct {
	// Kumo is kumo's URL ("http://127.0.0.1:port"). Required.
	Kumo string
	// TraceDaemon is the X-Ray daemon ("host:port") that the front sends a
	// function segment per invocation to. Empty means no tracing: the
	// front only forwards.
	TraceDaemon string
	// Log receives a line per request the front could not forward; nil
	// discards them.
	Log io.Writer
}

// Front stands before kumo's Lambda service and gives functions the trace
// of each invocation, as Lambda does with active tracing. kumo neither
// passes an Invoke's X-Amzn-Trace-Id on nor says which invocation a
// handler's next event came from, so the front serves both sides:
//
//   - Invoke (POST /2015-03-31/functions/<name>/invocations): the front
//     notes the caller's X-Amzn-Trace-Id (or starts a new trace when there
//     is none) under the function and the SHA-256 of the payload, and
//     forwards the call.
//   - The Runtime API (/_runtime/<name>/2018-06-01/runtime/...): on each
//     next event it finds the noted trace by the event's payload, makes a
//     function segment ID and adds Lambda-Runtime-Trace-Id
//     (Root=...;Parent=<segment>;Sampled=...), which aws-lambda-go hands
//     the handler; when the handler answers, the front sends the function
//     segment (origin AWS::Lambda::Function, parent the caller's Parent)
//     to the trace daemon.
//   - Everything else is forwarded to kumo as it is.
//
// Limits: invocations made straight to kumo (not through the front), and
// ones whose trace the front cannot find, start a new trace. Two
// invocations of one function with identical payloads in flight at once
// may swap traces (each still gets one: first noted, first taken).
type Front struct {
	kumo   *url.URL
	proxy  *httputil.ReverseProxy
	client *daemon.Client // nil: no tracing
	log    io.Writer
	ln     net.Listener
	srv    *http.Server

	mu      sync.Mutex
	pending map[string][]*noted  // function and payload digest -> traces, oldest first
	running map[string]*function // request ID -> the invocation's segment
}

// noted is the trace an Invoke came with.
type noted struct {
	traceID string
	parent  string
	sampled bool
	at      time.Time
}

// function is the segment of an invocation a handler took.
type function struct {
	name    string
	arn     string
	id      string
	traceID string
	parent  string
	start   time.Time
}

// NewFront starts a front for kumo on a loopback port. Close stops it.
func NewFront(opts FrontOptions) (*Front, error) {
	u, err := url.Parse(opts.Kumo)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("start the Lambda front: kumo's endpoint %q is not a URL", opts.Kumo)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start the Lambda front: %w", err)
	}
	f := &Front{
		kumo:    u,
		log:     orDiscard(opts.Log),
		ln:      ln,
		pending: map[string][]*noted{},
		running: map[string]*function{},
	}
	if opts.TraceDaemon != "" {
		f.client = daemon.NewClient(opts.TraceDaemon)
	}
	f.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(u) },
		// Many handlers long-poll at once.
		Transport:      &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second},
		ModifyResponse: f.modify,
		ErrorHandler:   f.proxyError,
	}
	f.srv = &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second}
	go f.srv.Serve(ln) //nolint:errcheck // ends with Close
	return f, nil
}

// URL is the front's address: give it where kumo's would go (Lambda
// clients, and the supervisor, whose functions then poll the Runtime API
// through the front).
func (f *Front) URL() string { return "http://" + f.ln.Addr().String() }

// Close stops the front; requests in flight end.
func (f *Front) Close() error {
	err := f.srv.Close()
	if f.client != nil {
		f.client.Close()
	}
	return err
}

// ServeHTTP forwards r to kumo, noting and passing on traces on the way.
func (f *Front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.client == nil {
		f.proxy.ServeHTTP(w, r)
		return
	}
	if fn := invokedFunction(r); fn != "" {
		f.invoke(w, r, fn)
		return
	}
	if fn, id, errored, ok := runtimeResult(r); ok {
		f.finish(fn, id, errored)
	}
	f.proxy.ServeHTTP(w, r)
}

// invoke notes the trace of an Invoke of fn and forwards it.
func (f *Front) invoke(w http.ResponseWriter, r *http.Request, fn string) {
	payload, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, `{"message":"cannot read the payload"}`, http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(payload))
	r.ContentLength = int64(len(payload))
	key := pendingKey(fn, payload)
	n := incoming(r.Header.Get(traceHeader), time.Now())

	f.mu.Lock()
	f.forgetOld(n.at)
	f.pending[key] = append(f.pending[key], n)
	f.mu.Unlock()

	sw := &statusWriter{ResponseWriter: w}
	f.proxy.ServeHTTP(sw, r)
	if sw.status != http.StatusAccepted {
		// Answered (its handler took the trace) or refused: either way no
		// handler will take it now. 202 is an Event invocation, queued.
		f.drop(key, n)
	}
}

// incoming is the trace an Invoke carries, or a new one, sampled, as Lambda
// with active tracing starts for a call that has none.
func incoming(v string, now time.Time) *noted {
	h := header.FromString(v)
	if v == "" || h.TraceID == "" {
		return &noted{traceID: daemon.NewTraceID(now), sampled: true, at: now}
	}
	return &noted{traceID: h.TraceID, parent: h.ParentID, sampled: h.SamplingDecision != header.NotSampled, at: now}
}

func (f *Front) drop(key string, n *noted) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := f.pending[key]
	for i, x := range q {
		if x == n {
			q = append(q[:i:i], q[i+1:]...)
			break
		}
	}
	if len(q) == 0 {
		delete(f.pending, key)
	} else {
		f.pending[key] = q
	}
}

// take removes and returns the oldest trace noted under key, or nil.
func (f *Front) take(key string) *noted {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := f.pending[key]
	if len(q) == 0 {
		return nil
	}
	n := q[0]
	if len(q) == 1 {
		delete(f.pending, key)
	} else {
		f.pending[key] = q[1:]
	}
	return n
}

// forgetOld drops what no handler took or answered in time. Callers hold
// f.mu.
func (f *Front) forgetOld(now time.Time) {
	for k, q := range f.pending {
		if len(q) > 0 && now.Sub(q[0].at) > forgetAfter {
			var keep []*noted
			for _, n := range q {
				if now.Sub(n.at) <= forgetAfter {
					keep = append(keep, n)
				}
			}
			if len(keep) == 0 {
				delete(f.pending, k)
			} else {
				f.pending[k] = keep
			}
		}
	}
	for id, fn := range f.running {
		if now.Sub(fn.start) > forgetAfter {
			delete(f.running, id)
		}
	}
}

// modify gives a handler's next event its trace.
func (f *Front) modify(resp *http.Response) error {
	if f.client == nil || resp.StatusCode != http.StatusOK || resp.Request.Method != http.MethodGet {
		return nil
	}
	fn, ok := runtimeNext(resp.Request.URL.Path)
	id := resp.Header.Get(runtimeRequestID)
	if !ok || id == "" {
		return nil
	}
	payload, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("read the next event of %s: %w", fn, err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(payload))
	resp.ContentLength = int64(len(payload))
	resp.Header.Del("Content-Length")

	now := time.Now()
	n := f.take(pendingKey(fn, payload))
	if n == nil {
		n = incoming("", now)
	}
	seg := &function{
		name: fn, arn: resp.Header.Get(runtimeFunctionARN), id: daemon.NewID(),
		traceID: n.traceID, parent: n.parent, start: now,
	}
	decision := header.NotSampled
	if n.sampled {
		decision = header.Sampled
		f.mu.Lock()
		f.running[id] = seg
		f.mu.Unlock()
	}
	resp.Header.Set(runtimeTraceHeader, header.Header{TraceID: seg.traceID, ParentID: seg.id, SamplingDecision: decision}.String())
	return nil
}

// finish sends the segment of the invocation id of fn that its handler
// answers now.
func (f *Front) finish(fn, id string, errored bool) {
	now := time.Now()
	f.mu.Lock()
	seg := f.running[id]
	delete(f.running, id)
	f.mu.Unlock()
	if seg == nil || seg.name != fn {
		return
	}
	f.client.Send(&daemon.Document{
		Name:        seg.name,
		ID:          seg.id,
		TraceID:     seg.traceID,
		ParentID:    seg.parent,
		StartTime:   daemon.Seconds(seg.start),
		EndTime:     daemon.Seconds(now),
		Origin:      functionSegmentType,
		ResourceARN: seg.arn,
		Fault:       errored,
		AWS:         &daemon.AWS{RequestID: id},
	})
}

func (f *Front) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil || errors.Is(err, http.ErrAbortHandler) {
		// The caller left: a handler that stopped polling, say.
		return
	}
	fmt.Fprintf(f.log, "lambda front: %s %s: %v\n", r.Method, r.URL.Path, err)
	w.WriteHeader(http.StatusBadGateway)
}

// pendingKey is the key of an invocation of fn with payload.
func pendingKey(fn string, payload []byte) string {
	sum := sha256.Sum256(payload)
	return fn + "\x00" + string(sum[:])
}

// invokedFunction returns the name of the function that r invokes, or ""
// when r is not an Invoke.
func invokedFunction(r *http.Request) string {
	if r.Method != http.MethodPost {
		return ""
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) != 4 || parts[0] != "2015-03-31" || parts[1] != "functions" || parts[3] != "invocations" {
		return ""
	}
	return functionName(parts[2])
}

// functionName is the name in a function name, a name with a qualifier,
// a partial ARN or an ARN.
func functionName(s string) string {
	if _, after, ok := strings.Cut(s, ":function:"); ok {
		s = after
	}
	name, _, _ := strings.Cut(s, ":")
	return name
}

// runtimeNext reports whether path is a handler's request for its next
// event, and of which function.
func runtimeNext(path string) (string, bool) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) != 6 || parts[0] != "_runtime" || parts[2] != "2018-06-01" || parts[3] != "runtime" || parts[4] != "invocation" || parts[5] != "next" {
		return "", false
	}
	return parts[1], true
}

// runtimeResult reports whether r is a handler's answer (response or error)
// to an invocation, of which function and request ID.
func runtimeResult(r *http.Request) (fn, id string, errored, ok bool) {
	if r.Method != http.MethodPost {
		return "", "", false, false
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) != 7 || parts[0] != "_runtime" || parts[2] != "2018-06-01" || parts[3] != "runtime" || parts[4] != "invocation" {
		return "", "", false, false
	}
	switch parts[6] {
	case "response":
		return parts[1], parts[5], false, true
	case "error":
		return parts[1], parts[5], true, true
	}
	return "", "", false, false
}

// statusWriter keeps the status written through it.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Flush lets the proxy flush through the writer.
func (s *statusWriter) Flush() {
	if fl, ok := s.ResponseWriter.(http.Flusher); ok {
		fl.Flush()
	}
}
