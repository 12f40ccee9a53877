package tracing

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-xray-sdk-go/header"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/stackflow/stackflow/internal/testaws"
	"github.com/stackflow/stackflow/internal/tracing/daemon"
)

// listener is the daemon every test sends to; tests tell their documents
// apart by trace ID.
var listener *daemon.Listener

func TestMain(m *testing.M) {
	l, err := daemon.Listen("127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	listener = l
	os.Setenv(daemon.EnvAddress, l.Addr())
	os.Unsetenv(envTraceID)
	code := m.Run()
	l.Close()
	os.Exit(code)
}

var idPattern = regexp.MustCompile(`^[0-9a-f]{16}$`)

// invocation returns a context as aws-lambda-go hands a handler: with the
// invocation's trace header, whose trace ID and parent it returns.
func invocation(sampled bool) (ctx context.Context, traceID, parent string) {
	traceID, parent = daemon.NewTraceID(time.Now()), daemon.NewID()
	d := header.NotSampled
	if sampled {
		d = header.Sampled
	}
	h := header.Header{TraceID: traceID, ParentID: parent, SamplingDecision: d}
	return lambdaContext(h.String()), traceID, parent
}

// lambdaContext is a context with trace header v where aws-lambda-go puts it.
func lambdaContext(v string) context.Context {
	//lint:ignore SA1029 aws-lambda-go's own key is this string
	return context.WithValue(context.Background(), lambdaKey, v)
}

// documentsOf waits for n documents of the trace traceID.
func documentsOf(t *testing.T, traceID string, n int) []daemon.Document {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	docs, err := listener.Wait(ctx, func(all []daemon.Document) bool { return len(ofTrace(all, traceID)) >= n })
	if err != nil {
		t.Fatalf("got %d documents of trace %s, want %d: %v", len(ofTrace(docs, traceID)), traceID, n, err)
	}
	return ofTrace(docs, traceID)
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

// headerSeen records the X-Amzn-Trace-Id of each attempt that clients built
// from cfg send.
func headerSeen(cfg *aws.Config) *[]string {
	var mu sync.Mutex
	seen := &[]string{}
	cfg.APIOptions = append(cfg.APIOptions, func(stack *middleware.Stack) error {
		return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("test.headerSeen", func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
			if req, ok := in.Request.(*smithyhttp.Request); ok {
				mu.Lock()
				*seen = append(*seen, req.Header.Get(HeaderName))
				mu.Unlock()
			}
			return next.HandleDeserialize(ctx, in)
		}), middleware.After)
	})
	return seen
}

func TestAWSCallsAreSubsegments(t *testing.T) {
	cfg := testaws.Start(t)
	AWS(&cfg)
	seen := headerSeen(&cfg)
	bucket := testaws.Bucket(t, cfg, "traced")
	client := testaws.S3(cfg)
	tests := []struct {
		name      string
		call      func(context.Context) error
		operation string
		status    int
		errorCode string
	}{
		{
			name: "an answered call",
			call: func(ctx context.Context) error {
				_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("a"), Body: strings.NewReader("secret body")})
				return err
			},
			operation: "PutObject", status: 200,
		},
		{
			name: "a refused call",
			call: func(ctx context.Context) error {
				_, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("missing")})
				return err
			},
			operation: "GetObject", status: 404, errorCode: "NoSuchKey",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, traceID, parent := invocation(true)
			err := tt.call(ctx)
			if (err != nil) != (tt.errorCode != "") {
				t.Fatalf("call: got error %v, want error %q", err, tt.errorCode)
			}
			docs := documentsOf(t, traceID, 1)
			if len(docs) != 1 {
				t.Fatalf("got %d documents, want 1: %+v", len(docs), docs)
			}
			d := docs[0]
			if d.Name != "S3" || d.Namespace != "aws" || d.Type != "subsegment" || d.ParentID != parent || !idPattern.MatchString(d.ID) {
				t.Errorf("got name %q namespace %q type %q parent %q id %q, want S3 aws subsegment %s and a 16-digit ID", d.Name, d.Namespace, d.Type, d.ParentID, d.ID, parent)
			}
			if d.AWS == nil || d.AWS.Operation != tt.operation || d.AWS.Region != testaws.Region {
				t.Errorf("got aws %+v, want operation %s in %s", d.AWS, tt.operation, testaws.Region)
			}
			if d.AWS != nil && d.AWS.RequestID == "" {
				t.Error("got no request ID, want the one S3 answered with")
			}
			if d.HTTP == nil || d.HTTP.Response == nil || d.HTTP.Response.Status != tt.status {
				t.Errorf("got http %+v, want status %d", d.HTTP, tt.status)
			}
			if d.StartTime <= 0 || d.EndTime < d.StartTime {
				t.Errorf("got start %f end %f, want 0 < start <= end", d.StartTime, d.EndTime)
			}
			wantError := tt.errorCode != ""
			if d.Error != wantError || d.Fault || d.Throttle {
				t.Errorf("got error %v fault %v throttle %v, want error %v only", d.Error, d.Fault, d.Throttle, wantError)
			}
			if wantError && (d.Cause == nil || len(d.Cause.Exceptions) != 1 || d.Cause.Exceptions[0].Type != tt.errorCode) {
				t.Errorf("got cause %+v, want one exception of type %s", d.Cause, tt.errorCode)
			}
			want := fmt.Sprintf("Root=%s;Parent=%s;Sampled=1", traceID, d.ID)
			if got := (*seen)[len(*seen)-1]; got != want {
				t.Errorf("the request carried %s %q, want %q", HeaderName, got, want)
			}
		})
	}
}

func TestHTTPCallsAreSubsegments(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get(HeaderName))
		mu.Unlock()
		var status int
		fmt.Sscan(strings.TrimPrefix(r.URL.Path, "/status/"), &status)
		w.WriteHeader(status)
	}))
	defer srv.Close()
	client := HTTPClient(&http.Client{Timeout: 5 * time.Second})
	tests := []struct {
		status                 int
		isError, fault, thrott bool
	}{
		{status: 200},
		{status: 404, isError: true},
		{status: 429, isError: true, thrott: true},
		{status: 503, fault: true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			ctx, traceID, parent := invocation(true)
			u := strings.Replace(srv.URL, "http://", "http://user-ximena:hunter2@", 1) + fmt.Sprintf("/status/%d?token=s3cret#frag", tt.status)
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			req.Header.Set("Authorization", "Bearer s3cret")
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tt.status {
				t.Fatalf("got status %d, want %d", res.StatusCode, tt.status)
			}
			d := documentsOf(t, traceID, 1)[0]
			host := strings.TrimPrefix(srv.URL, "http://")
			if d.Name != host || d.Namespace != "remote" || d.Type != "subsegment" || d.ParentID != parent {
				t.Errorf("got name %q namespace %q type %q parent %q, want %s remote subsegment %s", d.Name, d.Namespace, d.Type, d.ParentID, host, parent)
			}
			wantURL := fmt.Sprintf("%s/status/%d", srv.URL, tt.status)
			if d.HTTP == nil || d.HTTP.Request == nil || d.HTTP.Request.Method != "GET" || d.HTTP.Request.URL != wantURL {
				t.Errorf("got request %+v, want GET %s", d.HTTP, wantURL)
			} else if d.HTTP.Response == nil || d.HTTP.Response.Status != tt.status {
				t.Errorf("got response %+v, want status %d", d.HTTP.Response, tt.status)
			}
			if d.Error != tt.isError || d.Fault != tt.fault || d.Throttle != tt.thrott {
				t.Errorf("got error %v fault %v throttle %v, want %v %v %v", d.Error, d.Fault, d.Throttle, tt.isError, tt.fault, tt.thrott)
			}
			raw, _ := json.Marshal(d)
			for _, secret := range []string{"s3cret", "hunter2", "user-ximena", "Bearer", "frag"} {
				if strings.Contains(string(raw), secret) {
					t.Errorf("document %s holds %q", raw, secret)
				}
			}
			mu.Lock()
			last := got[len(got)-1]
			mu.Unlock()
			if want := fmt.Sprintf("Root=%s;Parent=%s;Sampled=1", traceID, d.ID); last != want {
				t.Errorf("the server got %s %q, want %q", HeaderName, last, want)
			}
		})
	}
	if req, _ := http.NewRequest(http.MethodGet, srv.URL, nil); req.Header.Get(HeaderName) != "" {
		t.Error("the caller's request was changed")
	}
}

// TestNothingIsSentWithoutASampledTrace makes untraced and unsampled calls,
// then a traced one: once the traced call's document is in, the others'
// (sent earlier on the same socket) would be too.
func TestNothingIsSentWithoutASampledTrace(t *testing.T) {
	cfg := testaws.Start(t)
	AWS(&cfg)
	client := testaws.S3(cfg)
	var mu sync.Mutex
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		got = r.Header.Get(HeaderName)
	}))
	defer srv.Close()
	hc := HTTPClient(nil)

	unsampled, unsampledID, _ := invocation(false)
	tests := []struct {
		name       string
		ctx        context.Context
		wantHeader string // prefix of what the server gets
	}{
		{name: "no trace", ctx: context.Background(), wantHeader: ""},
		{name: "an invocation without a trace header", ctx: lambdaContext(""), wantHeader: ""},
		{name: "an unsampled invocation", ctx: unsampled, wantHeader: "Root=" + unsampledID + ";Parent="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := client.ListBuckets(tt.ctx, &s3.ListBucketsInput{}); err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequestWithContext(tt.ctx, http.MethodGet, srv.URL, nil)
			res, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			mu.Lock()
			got := got
			mu.Unlock()
			if !strings.HasPrefix(got, tt.wantHeader) || (tt.wantHeader == "") != (got == "") {
				t.Errorf("the server got %s %q, want %q...", HeaderName, got, tt.wantHeader)
			}
			if tt.wantHeader != "" && !strings.HasSuffix(got, ";Sampled=0") {
				t.Errorf("the server got %s %q, want Sampled=0 passed on", HeaderName, got)
			}
		})
	}
	before := len(listener.Documents())
	ctx, traceID, _ := invocation(true)
	if _, err := client.ListBuckets(ctx, &s3.ListBucketsInput{}); err != nil {
		t.Fatal(err)
	}
	documentsOf(t, traceID, 1)
	for _, d := range listener.Documents()[before:] {
		if d.TraceID != traceID {
			t.Errorf("got a document of trace %s (%s %s), want none but the sampled call's", d.TraceID, d.Name, d.Namespace)
		}
	}
}

func TestWithoutADaemonCallsGoThrough(t *testing.T) {
	// A port nothing listens on: the datagrams are refused.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	t.Setenv(daemon.EnvAddress, addr)
	cfg := testaws.Start(t)
	AWS(&cfg)
	client := testaws.S3(cfg)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	defer srv.Close()
	hc := HTTPClient(nil)
	ctx, _, _ := invocation(true)
	for i := range 3 {
		if _, err := client.ListBuckets(ctx, &s3.ListBucketsInput{}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		res, err := hc.Do(req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusTeapot {
			t.Errorf("request %d: got status %d, want %d", i, res.StatusCode, http.StatusTeapot)
		}
	}
}

func TestTheTraceComesFromTheEnvironmentToo(t *testing.T) {
	traceID, parent := daemon.NewTraceID(time.Now()), daemon.NewID()
	t.Setenv(envTraceID, "Root="+traceID+";Parent="+parent+";Sampled=1")
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	res, err := HTTPClient(nil).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if d := documentsOf(t, traceID, 1)[0]; d.ParentID != parent {
		t.Errorf("got parent %q, want %q", d.ParentID, parent)
	}
}

func TestHandoffNamesTheNextCallAsTheParent(t *testing.T) {
	cfg := testaws.Start(t)
	AWS(&cfg)
	client := testaws.S3(cfg)
	ctx, traceID, parent := invocation(true)
	ctx, th := Handoff(ctx)
	h := header.FromString(th)
	if h.TraceID != traceID || h.SamplingDecision != header.Sampled || !idPattern.MatchString(h.ParentID) || h.ParentID == parent {
		t.Fatalf("got trace header %q, want Root=%s, a new Parent and Sampled=1", th, traceID)
	}
	for range 2 {
		if _, err := client.ListBuckets(ctx, &s3.ListBucketsInput{}); err != nil {
			t.Fatal(err)
		}
	}
	docs := documentsOf(t, traceID, 2)
	if docs[0].ID != h.ParentID {
		t.Errorf("first call: got ID %s, want %s, the handed-off parent", docs[0].ID, h.ParentID)
	}
	if docs[1].ID == h.ParentID {
		t.Errorf("second call: got ID %s again, want a new one", docs[1].ID)
	}

	plain := context.Background()
	if got, th := Handoff(plain); got != plain || th != "" {
		t.Errorf("without a trace: got %q and another context, want \"\" and the same", th)
	}
}

func TestHTTPClientKeepsTheClientsSettings(t *testing.T) {
	orig := &http.Client{Timeout: 7 * time.Second}
	c := HTTPClient(orig)
	if c == orig || orig.Transport != nil {
		t.Error("HTTPClient changed the client it was given")
	}
	if c.Timeout != 7*time.Second {
		t.Errorf("got timeout %s, want 7s", c.Timeout)
	}
	if again := HTTPClient(c); again.Transport != c.Transport {
		t.Error("wrapping twice traced each request twice")
	}
}
