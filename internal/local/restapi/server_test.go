//go:build unix

package restapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/stackflow/stackflow/internal/local/apigw"
	"github.com/stackflow/stackflow/internal/local/lambda"
	"github.com/stackflow/stackflow/internal/testaws"
)

// codeDir holds testdata/proxy's bootstrap, built once for the host.
var codeDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "stackflow-restapi-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := 1
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", filepath.Join(dir, "bootstrap"), "./testdata/proxy")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build the proxy handler: %v\n%s", err, out)
	} else {
		codeDir = dir
		code = m.Run()
	}
	if shared.sup != nil {
		_ = shared.sup.Close()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// local is kumo with a supervisor that runs testdata/proxy's functions.
type local struct {
	sup    *lambda.Supervisor
	client *awslambda.Client
}

var (
	localOnce sync.Once
	shared    local
	localErr  error
)

// setup returns the package's kumo and supervisor, started on first use.
func setup(t *testing.T) local {
	t.Helper()
	cfg := testaws.Start(t)
	localOnce.Do(func() {
		shared.client = awslambda.NewFromConfig(cfg)
		shared.sup, localErr = lambda.New(cfg, lambda.Options{})
	})
	if localErr != nil {
		t.Fatal(localErr)
	}
	return shared
}

// function starts a function of testdata/proxy and returns its ARN.
func (l local) function(t *testing.T, prefix string) string {
	t.Helper()
	arn, err := l.sup.Start(context.Background(), lambda.Function{
		Name: testaws.Name(prefix), Dir: codeDir, Runtime: "provided.al2023", Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return arn
}

func (l local) serve(t *testing.T, api API, opts Options) *Server {
	t.Helper()
	opts.Lambda, opts.Region, opts.AccountID = l.client, "us-east-1", "123456789012"
	s, err := Serve(api, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// answer is an HTTP response, read.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, method, url string, body io.Reader, header http.Header) answer {
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
	return answer{resp.StatusCode, resp.Header, b}
}

// event reads the event that testdata/proxy answered with.
func (a answer) event(t *testing.T) (events.APIGatewayProxyRequest, map[string]any) {
	t.Helper()
	if a.status != http.StatusOK {
		t.Fatalf("got %d %s, want 200 and the event", a.status, a.body)
	}
	var ev events.APIGatewayProxyRequest
	var raw map[string]any
	if err := json.Unmarshal(a.body, &ev); err != nil {
		t.Fatalf("read the event %s: %v", a.body, err)
	}
	if err := json.Unmarshal(a.body, &raw); err != nil {
		t.Fatal(err)
	}
	return ev, raw
}

// helloAPI serves testdata/hello.json's ServerlessRestApi with a real
// function behind every method, at the stages SAM makes: Prod, and the
// Deployment's Stage.
func helloAPI(t *testing.T, l local) (*Server, string) {
	t.Helper()
	arn := l.function(t, "hello")
	def, err := Parse(body(t, "hello.json", "ServerlessRestApi", map[string]string{"HelloWorldFunction": arn}))
	if err != nil {
		t.Fatal(err)
	}
	s := l.serve(t, API{ID: "abcde12345", Stages: []Stage{{Name: "Prod"}, {Name: "Stage"}}, Routes: def.Routes}, Options{})
	return s, arn
}

func TestServesTheTranslatorsAPIThroughARealFunction(t *testing.T) {
	t.Parallel()
	s, _ := helloAPI(t, setup(t))
	tests := []struct {
		name, method, path string
		wantResource       string
		wantPath           string
		wantParams         map[string]string
		wantStage          string
	}{
		{"sam init's output URL", "GET", "/Prod/hello/", "/hello", "/hello/", nil, "Prod"},
		{"no trailing slash", "GET", "/Prod/hello", "/hello", "/hello", nil, "Prod"},
		{"the Deployment's stage", "GET", "/Stage/hello", "/hello", "/hello", nil, "Stage"},
		{"parameter", "GET", "/Prod/items/42", "/items/{id}", "/items/42", map[string]string{"id": "42"}, "Prod"},
		{"escaped parameter", "GET", "/Prod/items/a%20b", "/items/{id}", "/items/a b", map[string]string{"id": "a b"}, "Prod"},
		{"ANY", "DELETE", "/Prod/items/42", "/items/{id}", "/items/42", map[string]string{"id": "42"}, "Prod"},
		{"literal over parameter", "GET", "/Prod/items/special", "/items/special", "/items/special", nil, "Prod"},
		{"ANY where the literal has no such method", "POST", "/Prod/items/special", "", "", nil, ""},
		{"greedy", "PUT", "/Prod/files/a/b%20c.txt", "/files/{proxy+}", "/files/a/b c.txt", map[string]string{"proxy": "a/b c.txt"}, "Prod"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := do(t, tt.method, s.URL()+tt.path, nil, nil)
			if tt.wantResource == "" {
				if a.status != http.StatusForbidden {
					t.Fatalf("got %d %s, want 403", a.status, a.body)
				}
				return
			}
			ev, _ := a.event(t)
			checks := []struct {
				name      string
				got, want any
			}{
				{"resource", ev.Resource, tt.wantResource},
				{"path", ev.Path, tt.wantPath},
				{"httpMethod", ev.HTTPMethod, tt.method},
				{"pathParameters", ev.PathParameters, tt.wantParams},
				{"stage", ev.RequestContext.Stage, tt.wantStage},
				{"resourcePath", ev.RequestContext.ResourcePath, tt.wantResource},
				{"context path", ev.RequestContext.Path, "/" + tt.wantStage + tt.wantPath},
				{"context httpMethod", ev.RequestContext.HTTPMethod, tt.method},
			}
			for _, c := range checks {
				if !reflect.DeepEqual(c.got, c.want) {
					t.Errorf("%s: got %#v, want %#v", c.name, c.got, c.want)
				}
			}
		})
	}
}

func TestEventCarriesTheRequest(t *testing.T) {
	t.Parallel()
	s, _ := helloAPI(t, setup(t))
	h := http.Header{}
	h.Add("X-Custom", "one")
	h.Add("X-Custom", "two")
	h.Set("User-Agent", "tester/1.0")
	h.Set("Content-Type", "application/json")
	a := do(t, "POST", s.URL()+"/Prod/items/ann?x=1&x=2&y=%20z", strings.NewReader(`{"name":"Ann"}`), h)
	ev, _ := a.event(t)
	host := strings.TrimPrefix(s.URL(), "http://")
	_, port, _ := strings.Cut(host, ":")
	requestTime, err := time.Parse("02/Jan/2006:15:04:05 -0700", ev.RequestContext.RequestTime)
	if err != nil {
		t.Errorf("requestTime %q: %v", ev.RequestContext.RequestTime, err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"last of a repeated header", ev.Headers["X-Custom"], "two"},
		{"all of a repeated header", ev.MultiValueHeaders["X-Custom"], []string{"one", "two"}},
		{"Content-Type", ev.Headers["Content-Type"], "application/json"},
		{"Host", ev.Headers["Host"], host},
		{"X-Forwarded-For", ev.Headers["X-Forwarded-For"], "127.0.0.1"},
		{"X-Forwarded-Port", ev.Headers["X-Forwarded-Port"], port},
		{"X-Forwarded-Proto", ev.MultiValueHeaders["X-Forwarded-Proto"], []string{"http"}},
		{"last of a repeated parameter", ev.QueryStringParameters, map[string]string{"x": "2", "y": " z"}},
		{"all of a repeated parameter", ev.MultiValueQueryStringParameters, map[string][]string{"x": {"1", "2"}, "y": {" z"}}},
		{"pathParameters", ev.PathParameters, map[string]string{"id": "ann"}},
		{"stageVariables", ev.StageVariables, map[string]string(nil)},
		{"body", ev.Body, `{"name":"Ann"}`},
		{"isBase64Encoded", ev.IsBase64Encoded, false},
		{"accountId", ev.RequestContext.AccountID, "123456789012"},
		{"apiId", ev.RequestContext.APIID, "abcde12345"},
		{"domainName", ev.RequestContext.DomainName, host},
		{"domainPrefix", ev.RequestContext.DomainPrefix, "abcde12345"},
		{"resourceId", ev.RequestContext.ResourceID, resourceID("/items/{id}")},
		{"protocol", ev.RequestContext.Protocol, "HTTP/1.1"},
		{"sourceIp", ev.RequestContext.Identity.SourceIP, "127.0.0.1"},
		{"userAgent", ev.RequestContext.Identity.UserAgent, "tester/1.0"},
		{"requestId", ev.RequestContext.RequestID, a.header.Get("X-Amzn-Requestid")},
		{"extendedRequestId", ev.RequestContext.ExtendedRequestID, a.header.Get("X-Amz-Apigw-Id")},
		{"requestTimeEpoch is requestTime", ev.RequestContext.RequestTimeEpoch / 1000, requestTime.Unix()},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %#v, want %#v", c.name, c.got, c.want)
		}
	}
	if len(ev.RequestContext.RequestID) != 36 || len(ev.RequestContext.ExtendedRequestID) != 15 {
		t.Errorf("got requestId %q and extendedRequestId %q, want a UUID and 15 characters", ev.RequestContext.RequestID, ev.RequestContext.ExtendedRequestID)
	}

	// What a request does not have is null, as API Gateway sends it.
	_, raw := do(t, "GET", s.URL()+"/Prod/hello", nil, nil).event(t)
	for _, k := range []string{"body", "queryStringParameters", "multiValueQueryStringParameters", "pathParameters", "stageVariables"} {
		if v, ok := raw[k]; !ok || v != nil {
			t.Errorf("%s: got %#v (present %v), want null", k, v, ok)
		}
	}
}

// openAPI serves testdata/openapi.json's MyApi (binary media types, stage
// variables, CORS) with a real function, at its stage dev.
func openAPI(t *testing.T, l local) *Server {
	t.Helper()
	def, err := Parse(body(t, "openapi.json", "MyApi", map[string]string{"Fn": l.function(t, "openapi")}))
	if err != nil {
		t.Fatal(err)
	}
	return l.serve(t, API{ID: "fghij67890", Stages: []Stage{{Name: "dev", Variables: map[string]string{"color": "blue"}}}, Routes: def.Routes, BinaryMediaTypes: def.BinaryMediaTypes}, Options{})
}

func TestBinaryMediaTypesAndStageVariables(t *testing.T) {
	t.Parallel()
	s := openAPI(t, setup(t))
	raw := []byte{0xff, 0x00, 0xfe, 'a'}

	t.Run("a binary request body is base64", func(t *testing.T) {
		ev, _ := do(t, "POST", s.URL()+"/dev/users/1/pets/2", bytes.NewReader(raw), http.Header{"Content-Type": {"image/png"}}).event(t)
		if !ev.IsBase64Encoded || ev.Body != base64.StdEncoding.EncodeToString(raw) {
			t.Errorf("got body %q base64 %v, want %q base64 true", ev.Body, ev.IsBase64Encoded, base64.StdEncoding.EncodeToString(raw))
		}
		if want := map[string]string{"id": "1", "pet": "2"}; !reflect.DeepEqual(ev.PathParameters, want) {
			t.Errorf("got path parameters %v, want %v", ev.PathParameters, want)
		}
	})
	t.Run("a text request body is text", func(t *testing.T) {
		ev, _ := do(t, "POST", s.URL()+"/dev/users/1/pets/2", strings.NewReader("héllo"), http.Header{"Content-Type": {"text/plain; charset=utf-8"}}).event(t)
		if ev.IsBase64Encoded || ev.Body != "héllo" {
			t.Errorf("got body %q base64 %v, want héllo as text", ev.Body, ev.IsBase64Encoded)
		}
	})
	t.Run("stage variables", func(t *testing.T) {
		ev, _ := do(t, "GET", s.URL()+"/dev", nil, nil).event(t)
		if want := map[string]string{"color": "blue"}; !reflect.DeepEqual(ev.StageVariables, want) {
			t.Errorf("got stage variables %v, want %v", ev.StageVariables, want)
		}
		if ev.Resource != "/" || ev.RequestContext.Stage != "dev" {
			t.Errorf("got resource %q stage %q, want / and dev", ev.Resource, ev.RequestContext.Stage)
		}
	})
	t.Run("a base64 answer is decoded for a binary Accept", func(t *testing.T) {
		a := do(t, "GET", s.URL()+"/dev/?answer=binary", nil, http.Header{"Accept": {"image/png, text/html"}})
		if a.status != 200 || !bytes.Equal(a.body, []byte{0x89, 'P', 'N', 'G', 0x00, 0xff}) || a.header.Get("Content-Type") != "image/png" {
			t.Errorf("got %d %q %s, want 200 and the PNG bytes", a.status, a.body, a.header.Get("Content-Type"))
		}
	})
	t.Run("and stays base64 for another", func(t *testing.T) {
		a := do(t, "GET", s.URL()+"/dev/?answer=binary", nil, http.Header{"Accept": {"text/html, image/png"}})
		if want := base64.StdEncoding.EncodeToString([]byte{0x89, 'P', 'N', 'G', 0x00, 0xff}); a.status != 200 || string(a.body) != want {
			t.Errorf("got %d %q, want 200 %q", a.status, a.body, want)
		}
	})
	t.Run("CORS preflight from the mock integration", func(t *testing.T) {
		a := do(t, "OPTIONS", s.URL()+"/dev/users/1/pets/2", nil, nil)
		if a.status != 200 || a.header.Get("Access-Control-Allow-Origin") != "*" || a.header.Get("Access-Control-Allow-Methods") != "OPTIONS,POST" || string(a.body) != "{}\n" {
			t.Errorf("got %d %v %q, want 200 with the CORS headers", a.status, a.header, a.body)
		}
	})
}

func TestBinaryMatchesWildcards(t *testing.T) {
	t.Parallel()
	tests := []struct {
		types     []string
		mediaType string
		want      bool
	}{
		{[]string{"image/png"}, "image/png", true},
		{[]string{"image~1png"}, "image/png", true},
		{[]string{"image/png"}, "IMAGE/PNG; q=1", true},
		{[]string{"image/*"}, "image/jpeg", true},
		{[]string{"*/*"}, "", true},
		{[]string{"image/png"}, "text/plain", false},
		{[]string{"image/png"}, "", false},
		{nil, "image/png", false},
	}
	for _, tt := range tests {
		if got := binary(tt.types, tt.mediaType); got != tt.want {
			t.Errorf("binary(%q, %q): got %v, want %v", tt.types, tt.mediaType, got, tt.want)
		}
	}
}

func TestAPIGatewaysOwnAnswers(t *testing.T) {
	t.Parallel()
	l := setup(t)
	s, _ := helloAPI(t, l)
	const (
		missing  = `{"message":"Missing Authentication Token"}`
		internal = `{"message": "Internal server error"}`
	)
	tests := []struct {
		name, method, path string
		wantStatus         int
		wantBody           string
	}{
		{"no stage", "GET", "/", 403, missing},
		{"unknown stage", "GET", "/prod/hello", 403, missing},
		{"unknown path", "GET", "/Prod/bye", 403, missing},
		{"undefined method", "POST", "/Prod/hello", 403, missing},
		{"intermediate resource", "GET", "/Prod/files", 403, missing},
		{"greedy needs a part", "GET", "/Prod/files/", 403, missing},
		{"function error", "GET", "/Prod/items/1?answer=error", 502, internal},
		{"body that is not a string", "GET", "/Prod/items/1?answer=malformed", 502, internal},
		{"key of payload 2.0", "GET", "/Prod/items/1?answer=other-key", 502, internal},
		{"not an object", "GET", "/Prod/items/1?answer=text", 502, internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := do(t, tt.method, s.URL()+tt.path, nil, nil)
			if a.status != tt.wantStatus || string(a.body) != tt.wantBody {
				t.Errorf("got %d %s, want %d %s", a.status, a.body, tt.wantStatus, tt.wantBody)
			}
			if a.header.Get("X-Amzn-Requestid") == "" || a.header.Get("Content-Type") != "application/json" {
				t.Errorf("got headers %v, want X-Amzn-RequestId and Content-Type application/json", a.header)
			}
		})
	}

	t.Run("headers and multiValueHeaders merged", func(t *testing.T) {
		a := do(t, "GET", s.URL()+"/Prod/items/1?answer=headers", nil, nil)
		if a.status != 201 || string(a.body) != "made" {
			t.Errorf("got %d %q, want 201 made", a.status, a.body)
		}
		checks := map[string][]string{"Set-Cookie": {"a=1", "b=2"}, "X-Many": {"x", "y"}, "X-One": {"1"}, "Content-Type": {"application/json"}}
		for k, want := range checks {
			if got := a.header.Values(k); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: got %q, want %q", k, got, want)
			}
		}
	})
	t.Run("no content", func(t *testing.T) {
		if a := do(t, "GET", s.URL()+"/Prod/items/1?answer=no-content", nil, nil); a.status != 204 || len(a.body) != 0 {
			t.Errorf("got %d %q, want 204 and no body", a.status, a.body)
		}
	})
	t.Run("invocation that fails", func(t *testing.T) {
		s := l.serve(t, API{ID: "x", Stages: []Stage{{Name: "Prod"}}, Routes: []Route{{Path: "/", Method: "GET", Function: "no-such-function"}}}, Options{})
		if a := do(t, "GET", s.URL()+"/Prod/", nil, nil); a.status != 500 || string(a.body) != internal {
			t.Errorf("got %d %s, want 500 %s", a.status, a.body, internal)
		}
	})
	t.Run("integration timeout", func(t *testing.T) {
		// The function never answers before its own 10 s timeout; the
		// API gives up after a much shorter integration timeout.
		arn := l.function(t, "hang")
		s := l.serve(t, API{ID: "x", Stages: []Stage{{Name: "Prod"}}, Routes: []Route{{Path: "/", Method: "GET", Function: arn}}}, Options{Timeout: 100 * time.Millisecond})
		if a := do(t, "GET", s.URL()+"/Prod/?answer=hang", nil, nil); a.status != 504 || string(a.body) != `{"message": "Endpoint request timed out"}` {
			t.Errorf("got %d %s, want 504", a.status, a.body)
		}
	})
	t.Run("body over the limit", func(t *testing.T) {
		a := do(t, "POST", s.URL()+"/Prod/items/1", strings.NewReader(strings.Repeat("a", apigw.MaxBodyBytes+1)), nil)
		if a.status != http.StatusRequestEntityTooLarge {
			t.Errorf("got %d %s, want 413", a.status, a.body)
		}
	})
}

func TestStageVariablesNameTheFunction(t *testing.T) {
	t.Parallel()
	l := setup(t)
	arn := l.function(t, "by-variable")
	s := l.serve(t, API{ID: "x", Stages: []Stage{
		{Name: "live", Variables: map[string]string{"fn": arn}},
		{Name: "none"},
	}, Routes: []Route{{Path: "/{proxy+}", Method: "ANY", Function: "${stageVariables.fn}"}}}, Options{})
	ev, _ := do(t, "GET", s.URL()+"/live/a/b", nil, nil).event(t)
	if ev.PathParameters["proxy"] != "a/b" {
		t.Errorf("got path parameters %v, want proxy a/b", ev.PathParameters)
	}
	if a := do(t, "GET", s.URL()+"/none/a/b", nil, nil); a.status != 500 {
		t.Errorf("without the variable: got %d %s, want 500", a.status, a.body)
	}
}

func TestResourceRoutesServe(t *testing.T) {
	t.Parallel()
	l := setup(t)
	uri := "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/" + l.function(t, "resources") + "/invocations"
	routes, err := ResourceRoutes("root", []Resource{{ID: "r1", ParentID: "root", PathPart: "users"}, {ID: "r2", ParentID: "r1", PathPart: "{id}"}},
		[]Method{{ResourceID: "r2", HTTPMethod: "GET", IntegrationType: "AWS_PROXY", IntegrationURI: uri}})
	if err != nil {
		t.Fatal(err)
	}
	s := l.serve(t, API{ID: "x", Stages: []Stage{{Name: "v1"}}, Routes: routes}, Options{})
	ev, _ := do(t, "GET", s.URL()+"/v1/users/7", nil, nil).event(t)
	if ev.Resource != "/users/{id}" || ev.PathParameters["id"] != "7" {
		t.Errorf("got resource %q parameters %v, want /users/{id} and id 7", ev.Resource, ev.PathParameters)
	}
}

func TestUpdateKeepsThePortAndCloseEndsIt(t *testing.T) {
	t.Parallel()
	l := setup(t)
	arn := l.function(t, "update")
	s := l.serve(t, API{ID: "x", Stages: []Stage{{Name: "Prod"}}, Routes: []Route{{Path: "/a", Method: "GET", Function: arn}}}, Options{})
	url := s.URL()
	if err := s.Update(API{ID: "x", Stages: []Stage{{Name: "Prod"}, {Name: "v2"}}, Routes: []Route{{Path: "/b", Method: "GET", Function: arn}}}); err != nil {
		t.Fatal(err)
	}
	if s.URL() != url {
		t.Errorf("got URL %s after update, want %s", s.URL(), url)
	}
	if a := do(t, "GET", url+"/Prod/a", nil, nil); a.status != http.StatusForbidden {
		t.Errorf("old route: got %d, want 403", a.status)
	}
	for _, p := range []string{"/Prod/b", "/v2/b"} {
		if a := do(t, "GET", url+p, nil, nil); a.status != http.StatusOK {
			t.Errorf("%s: got %d %s, want 200", p, a.status, a.body)
		}
	}
	if err := s.Update(API{ID: "x", Stages: []Stage{{Name: "a/b"}}}); err == nil {
		t.Error("a stage name with a slash: got no error, want one")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if resp, err := c.Get(url + "/Prod/b"); err == nil {
		resp.Body.Close()
		t.Errorf("after close: got status %d, want the connection refused", resp.StatusCode)
	}
}
