package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/stackflow/stackflow/internal/local/apigw"
)

// fakeLambda answers every invocation with its answer and records the
// events it was given.
type fakeLambda struct {
	mu       sync.Mutex
	events   []events.APIGatewayV2HTTPRequest
	function []string
	answer   func(fn string) (*awslambda.InvokeOutput, error)
}

func (f *fakeLambda) Invoke(_ context.Context, in *awslambda.InvokeInput, _ ...func(*awslambda.Options)) (*awslambda.InvokeOutput, error) {
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(in.Payload, &ev); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.events = append(f.events, ev)
	f.function = append(f.function, aws.ToString(in.FunctionName))
	answer := f.answer
	f.mu.Unlock()
	if answer == nil {
		return &awslambda.InvokeOutput{StatusCode: 200, Payload: []byte(`{"statusCode":200,"body":"ok"}`)}, nil
	}
	return answer(aws.ToString(in.FunctionName))
}

func (f *fakeLambda) last(t *testing.T) (string, events.APIGatewayV2HTTPRequest) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.events) == 0 {
		t.Fatal("got no invocation, want one")
	}
	return f.function[len(f.function)-1], f.events[len(f.events)-1]
}

func serve(t *testing.T, api API, fake *fakeLambda) *Server {
	t.Helper()
	s, err := Serve(api, Options{Lambda: fake, Region: "us-east-1", AccountID: "123456789012"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func do(t *testing.T, method, url string, body io.Reader, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestRoutesPickTheMostSpecificRoute(t *testing.T) {
	t.Parallel()
	fake := &fakeLambda{}
	s := serve(t, API{ID: "abcde12345", Routes: []Route{
		{Key: "GET /items", Function: "list"},
		{Key: "GET /items/{id}", Function: "get"},
		{Key: "ANY /items/{id}", Function: "any-item"},
		{Key: "GET /items/special", Function: "special"},
		{Key: "ANY /files/{proxy+}", Function: "files"},
		{Key: "GET /", Function: "root"},
		{Key: "$default", Function: "default"},
	}}, fake)
	tests := []struct {
		name, method, path string
		wantFn, wantKey    string
		wantParams         map[string]string
	}{
		{"literal", "GET", "/items", "list", "GET /items", nil},
		{"trailing slash", "GET", "/items/", "list", "GET /items", nil},
		{"literal over variable", "GET", "/items/special", "special", "GET /items/special", nil},
		{"variable", "GET", "/items/42", "get", "GET /items/{id}", map[string]string{"id": "42"}},
		{"escaped variable", "GET", "/items/a%20b", "get", "GET /items/{id}", map[string]string{"id": "a b"}},
		{"method over ANY", "GET", "/items/7", "get", "GET /items/{id}", map[string]string{"id": "7"}},
		{"ANY", "DELETE", "/items/7", "any-item", "ANY /items/{id}", map[string]string{"id": "7"}},
		{"greedy", "PUT", "/files/a/b/c.txt", "files", "ANY /files/{proxy+}", map[string]string{"proxy": "a/b/c.txt"}},
		{"greedy needs a segment", "GET", "/files", "default", "$default", nil},
		{"root", "GET", "/", "root", "GET /", nil},
		{"default", "POST", "/nothing/here", "default", "$default", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := do(t, tt.method, s.URL()+tt.path, nil, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("got status %d, want 200", resp.StatusCode)
			}
			// The fake is shared: find this request's event by its path.
			fake.mu.Lock()
			var fn string
			var ev events.APIGatewayV2HTTPRequest
			for i := len(fake.events) - 1; i >= 0; i-- {
				if fake.events[i].RequestContext.RequestID == resp.Header.Get("Apigw-Requestid") {
					fn, ev = fake.function[i], fake.events[i]
					break
				}
			}
			fake.mu.Unlock()
			if fn != tt.wantFn {
				t.Errorf("got function %q, want %q", fn, tt.wantFn)
			}
			if ev.RouteKey != tt.wantKey || ev.RequestContext.RouteKey != tt.wantKey {
				t.Errorf("got route key %q (context %q), want %q", ev.RouteKey, ev.RequestContext.RouteKey, tt.wantKey)
			}
			if !reflect.DeepEqual(ev.PathParameters, tt.wantParams) {
				t.Errorf("got path parameters %v, want %v", ev.PathParameters, tt.wantParams)
			}
		})
	}
}

func TestNoRouteIsNotFound(t *testing.T) {
	t.Parallel()
	fake := &fakeLambda{}
	s := serve(t, API{ID: "abcde12345", Routes: []Route{{Key: "GET /hello", Function: "hello"}}}, fake)
	tests := []struct{ name, method, path string }{
		{"other path", "GET", "/bye"},
		{"other method", "POST", "/hello"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, tt.method, s.URL()+tt.path, nil, nil)
			if resp.StatusCode != http.StatusNotFound || body != `{"message":"Not Found"}` {
				t.Errorf("got %d %s, want 404 {\"message\":\"Not Found\"}", resp.StatusCode, body)
			}
		})
	}
	if len(fake.events) != 0 {
		t.Errorf("got %d invocations, want none", len(fake.events))
	}
}

func TestEventCarriesTheRequest(t *testing.T) {
	t.Parallel()
	fake := &fakeLambda{}
	s := serve(t, API{ID: "abcde12345", Routes: []Route{{Key: "POST /users/{id}", Function: "users"}}}, fake)
	h := http.Header{}
	h.Add("X-Custom", "one")
	h.Add("X-Custom", "two")
	h.Add("Cookie", "a=1; b=2")
	h.Set("User-Agent", "tester/1.0")
	h.Set("Content-Type", "application/json")
	resp, _ := do(t, "POST", s.URL()+"/users/ann?x=1&x=2&y=%20z", strings.NewReader(`{"name":"Ann"}`), h)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("got status %d, want 200", resp.StatusCode)
	}
	fn, ev := fake.last(t)
	if fn != "users" {
		t.Errorf("got function %q, want users", fn)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"version", ev.Version, "2.0"},
		{"rawPath", ev.RawPath, "/users/ann"},
		{"rawQueryString", ev.RawQueryString, "x=1&x=2&y=%20z"},
		{"cookies", ev.Cookies, []string{"a=1", "b=2"}},
		{"cookie header", ev.Headers["cookie"], ""},
		{"repeated header", ev.Headers["x-custom"], "one,two"},
		{"content-type", ev.Headers["content-type"], "application/json"},
		{"query", ev.QueryStringParameters, map[string]string{"x": "1,2", "y": " z"}},
		{"path parameters", ev.PathParameters, map[string]string{"id": "ann"}},
		{"body", ev.Body, `{"name":"Ann"}`},
		{"isBase64Encoded", ev.IsBase64Encoded, false},
		{"accountId", ev.RequestContext.AccountID, "123456789012"},
		{"apiId", ev.RequestContext.APIID, "abcde12345"},
		{"domainPrefix", ev.RequestContext.DomainPrefix, "abcde12345"},
		{"domainName", ev.RequestContext.DomainName, strings.TrimPrefix(s.URL(), "http://")},
		{"stage", ev.RequestContext.Stage, "$default"},
		{"method", ev.RequestContext.HTTP.Method, "POST"},
		{"path", ev.RequestContext.HTTP.Path, "/users/ann"},
		{"protocol", ev.RequestContext.HTTP.Protocol, "HTTP/1.1"},
		{"sourceIp", ev.RequestContext.HTTP.SourceIP, "127.0.0.1"},
		{"userAgent", ev.RequestContext.HTTP.UserAgent, "tester/1.0"},
		{"requestId", ev.RequestContext.RequestID, resp.Header.Get("Apigw-Requestid")},
		{"timeEpoch set", ev.RequestContext.TimeEpoch > 0, true},
		{"time set", ev.RequestContext.Time != "", true},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

func TestBinaryBodyIsBase64(t *testing.T) {
	t.Parallel()
	fake := &fakeLambda{}
	s := serve(t, API{ID: "abcde12345", Routes: []Route{{Key: "$default", Function: "f"}}}, fake)
	raw := []byte{0xff, 0x00, 0xfe, 'a'}
	do(t, "PUT", s.URL()+"/blob", strings.NewReader(string(raw)), nil)
	_, ev := fake.last(t)
	if !ev.IsBase64Encoded || ev.Body != base64.StdEncoding.EncodeToString(raw) {
		t.Errorf("got body %q base64 %v, want %q base64 true", ev.Body, ev.IsBase64Encoded, base64.StdEncoding.EncodeToString(raw))
	}
}

func TestStageIsAPathPrefix(t *testing.T) {
	t.Parallel()
	fake := &fakeLambda{}
	s := serve(t, API{ID: "abcde12345", Stage: "prod", Routes: []Route{{Key: "GET /hello", Function: "f"}}}, fake)
	resp, _ := do(t, "GET", s.URL()+"/prod/hello", nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("got status %d, want 200", resp.StatusCode)
	}
	_, ev := fake.last(t)
	if ev.RequestContext.Stage != "prod" || ev.RawPath != "/prod/hello" {
		t.Errorf("got stage %q raw path %q, want prod and /prod/hello", ev.RequestContext.Stage, ev.RawPath)
	}
	if resp, _ := do(t, "GET", s.URL()+"/hello", nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("without the stage: got status %d, want 404", resp.StatusCode)
	}
}

func TestResponsesAreReadAsAPIGatewayDoes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		out         *awslambda.InvokeOutput
		err         error
		wantStatus  int
		wantBody    string
		wantHeaders map[string]string
		wantCookies []string
	}{
		{
			name: "structured",
			out: &awslambda.InvokeOutput{Payload: []byte(`{"statusCode":201,"headers":{"Content-Type":"text/plain","X-N":3},` +
				`"cookies":["s=1; Path=/","t=2"],"body":"made"}`)},
			wantStatus:  201,
			wantBody:    "made",
			wantHeaders: map[string]string{"Content-Type": "text/plain", "X-N": "3"},
			wantCookies: []string{"s=1; Path=/", "t=2"},
		},
		{
			name:        "structured base64",
			out:         &awslambda.InvokeOutput{Payload: []byte(`{"statusCode":200,"body":"aGk=","isBase64Encoded":true}`)},
			wantStatus:  200,
			wantBody:    "hi",
			wantHeaders: map[string]string{"Content-Type": "application/json"},
		},
		{
			name:        "object without statusCode",
			out:         &awslambda.InvokeOutput{Payload: []byte(`{"message":"hi"}`)},
			wantStatus:  200,
			wantBody:    `{"message":"hi"}`,
			wantHeaders: map[string]string{"Content-Type": "application/json"},
		},
		{
			name:       "string",
			out:        &awslambda.InvokeOutput{Payload: []byte(`"Hello from Lambda!"`)},
			wantStatus: 200,
			wantBody:   "Hello from Lambda!",
		},
		{
			name:       "function error",
			out:        &awslambda.InvokeOutput{FunctionError: aws.String("Unhandled"), Payload: []byte(`{"errorType":"Boom","errorMessage":"x"}`)},
			wantStatus: 500,
			wantBody:   `{"message":"Internal Server Error"}`,
		},
		{
			name:       "invoke error",
			err:        errors.New("no such function"),
			wantStatus: 500,
			wantBody:   `{"message":"Internal Server Error"}`,
		},
		{
			name:       "bad status code",
			out:        &awslambda.InvokeOutput{Payload: []byte(`{"statusCode":"soon"}`)},
			wantStatus: 500,
			wantBody:   `{"message":"Internal Server Error"}`,
		},
		{
			name:       "not JSON",
			out:        &awslambda.InvokeOutput{Payload: []byte(`oops`)},
			wantStatus: 500,
			wantBody:   `{"message":"Internal Server Error"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := &fakeLambda{answer: func(string) (*awslambda.InvokeOutput, error) { return tt.out, tt.err }}
			s := serve(t, API{ID: "abcde12345", Routes: []Route{{Key: "$default", Function: "f"}}}, fake)
			resp, body := do(t, "GET", s.URL()+"/", nil, nil)
			if resp.StatusCode != tt.wantStatus || body != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
			for k, v := range tt.wantHeaders {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("header %s: got %q, want %q", k, got, v)
				}
			}
			if got := resp.Header.Values("Set-Cookie"); !reflect.DeepEqual(got, tt.wantCookies) && len(tt.wantCookies)+len(got) > 0 {
				t.Errorf("got cookies %q, want %q", got, tt.wantCookies)
			}
		})
	}
}

func TestBodyOverTheLimitIsRefused(t *testing.T) {
	t.Parallel()
	fake := &fakeLambda{}
	s := serve(t, API{ID: "abcde12345", Routes: []Route{{Key: "$default", Function: "f"}}}, fake)
	resp, body := do(t, "POST", s.URL()+"/", strings.NewReader(strings.Repeat("a", apigw.MaxBodyBytes+1)), nil)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || body != `{"message":"Request Entity Too Large"}` {
		t.Errorf("got %d %s, want 413", resp.StatusCode, body)
	}
	if len(fake.events) != 0 {
		t.Errorf("got %d invocations, want none", len(fake.events))
	}
}

func TestUpdateKeepsThePortAndCloseEndsIt(t *testing.T) {
	t.Parallel()
	fake := &fakeLambda{}
	s := serve(t, API{ID: "abcde12345", Routes: []Route{{Key: "GET /a", Function: "a"}}}, fake)
	url := s.URL()
	if err := s.Update(API{ID: "abcde12345", Routes: []Route{{Key: "GET /b", Function: "b"}}}); err != nil {
		t.Fatal(err)
	}
	if s.URL() != url {
		t.Errorf("got URL %s after update, want %s", s.URL(), url)
	}
	if resp, _ := do(t, "GET", url+"/a", nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("old route: got status %d, want 404", resp.StatusCode)
	}
	if resp, _ := do(t, "GET", url+"/b", nil, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("new route: got status %d, want 200", resp.StatusCode)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if resp, err := c.Get(url + "/b"); err == nil {
		resp.Body.Close()
		t.Errorf("after close: got status %d, want the connection refused", resp.StatusCode)
	}
}

func TestBadRoutesAreRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		routes []Route
		want   string
	}{
		{"bad method", []Route{{Key: "FETCH /a", Function: "f"}}, "want \"$default\""},
		{"no slash", []Route{{Key: "GET a", Function: "f"}}, "must start with /"},
		{"greedy not last", []Route{{Key: "GET /{p+}/a", Function: "f"}}, "last segment"},
		{"partial variable", []Route{{Key: "GET /a{b}", Function: "f"}}, "whole segment"},
		{"duplicate", []Route{{Key: "GET /{a}", Function: "f"}, {Key: "GET /{b}", Function: "g"}}, "already exists"},
		{"no function", []Route{{Key: "GET /a"}}, "no function"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Serve(API{ID: "x", Routes: tt.routes}, Options{Lambda: &fakeLambda{}})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestFunctionURLSendsEveryRequestToItsFunction(t *testing.T) {
	t.Parallel()
	fake := &fakeLambda{}
	s := serve(t, FunctionURL("urlid12345", "fn"), fake)
	for _, tt := range []struct{ method, path string }{{"GET", "/"}, {"POST", "/any/path"}, {"DELETE", "/x?y=1"}} {
		resp, _ := do(t, tt.method, s.URL()+tt.path, nil, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: got status %d, want 200", tt.method, tt.path, resp.StatusCode)
		}
		fn, ev := fake.last(t)
		path, _, _ := strings.Cut(tt.path, "?")
		if fn != "fn" || ev.RouteKey != DefaultRoute || ev.RequestContext.Stage != DefaultRoute || ev.RawPath != path || ev.RequestContext.APIID != "urlid12345" {
			t.Errorf("%s %s: got function %q routeKey %q stage %q rawPath %q apiId %q, want fn, $default, $default, %s, urlid12345",
				tt.method, tt.path, fn, ev.RouteKey, ev.RequestContext.Stage, ev.RawPath, ev.RequestContext.APIID, path)
		}
	}
}

func TestTimeoutIsTheOptions(t *testing.T) {
	t.Parallel()
	// The function answers only when its invocation is given up.
	fake := &hangingLambda{}
	s, err := Serve(FunctionURL("urlid12345", "fn"), Options{Lambda: fake, Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	resp, body := do(t, "GET", s.URL()+"/", nil, nil)
	if resp.StatusCode != http.StatusServiceUnavailable || body != `{"message":"Service Unavailable"}` {
		t.Errorf("got %d %s, want 503", resp.StatusCode, body)
	}
}

// hangingLambda never answers an invocation before its context ends.
type hangingLambda struct{}

func (hangingLambda) Invoke(ctx context.Context, _ *awslambda.InvokeInput, _ ...func(*awslambda.Options)) (*awslambda.InvokeOutput, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
