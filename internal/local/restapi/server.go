package restapi

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stackflow/stackflow/internal/local/apigw"
)

// IntegrationTimeout is how long a REST API waits for a function by
// default (29 s).
const IntegrationTimeout = 29 * time.Second

// Stage is a stage of a REST API: the first part of every request's path.
type Stage struct {
	// Name is the stage's name, such as Prod.
	Name string
	// Variables are its stage variables.
	Variables map[string]string
}

// API is a REST API to serve.
type API struct {
	// ID is the API's ID (10 lower-case alphanumerics on AWS).
	ID string
	// Stages are the stages it is served at, each under /<name>.
	Stages []Stage
	// Routes are its methods (Parse, ResourceRoutes).
	Routes []Route
	// BinaryMediaTypes are the media types it treats as binary, such as
	// image/png, image/* or */*.
	BinaryMediaTypes []string
}

// Options configure a server (apigw.Options).
type Options = apigw.Options

// Server serves one REST API.
type Server struct {
	opts Options
	srv  *http.Server
	url  string

	mu   sync.RWMutex
	api  API
	tree *node
}

// Serve starts serving api and returns at once.
func Serve(api API, opts Options) (*Server, error) {
	if opts.Lambda == nil {
		return nil, errors.New("serve REST API: no Lambda client")
	}
	tree, err := check(api)
	if err != nil {
		return nil, fmt.Errorf("serve REST API %s: %w", api.ID, err)
	}
	s := &Server{opts: opts, api: api, tree: tree}
	if s.srv, s.url, err = apigw.Listen(opts.Addr, s); err != nil {
		return nil, fmt.Errorf("serve REST API %s: %w", api.ID, err)
	}
	return s, nil
}

func check(api API) (*node, error) {
	seen := map[string]bool{}
	for _, st := range api.Stages {
		if st.Name == "" || strings.ContainsAny(st.Name, "/?#") {
			return nil, fmt.Errorf("bad stage name %q: want letters, digits, - and _", st.Name)
		}
		if seen[st.Name] {
			return nil, fmt.Errorf("stage %s is given twice", st.Name)
		}
		seen[st.Name] = true
	}
	return newTree(api.Routes)
}

// URL is the base URL the API is served at, such as http://127.0.0.1:49152;
// each stage is under it (http://127.0.0.1:49152/Prod).
func (s *Server) URL() string { return s.url }

// Update replaces the API's stages, routes and binary media types; the
// port stays.
func (s *Server) Update(api API) error {
	tree, err := check(api)
	if err != nil {
		return fmt.Errorf("update REST API %s: %w", api.ID, err)
	}
	s.mu.Lock()
	s.api, s.tree = api, tree
	s.mu.Unlock()
	return nil
}

// Close stops serving: the port is closed and requests in flight end.
func (s *Server) Close() error {
	return s.srv.Close()
}

// ServeHTTP answers one request as API Gateway would.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := uuid()
	w.Header().Set("X-Amzn-Requestid", id)
	extended := apigw.RequestID()
	w.Header().Set("X-Amz-Apigw-Id", extended)
	s.mu.RLock()
	api, tree := s.api, s.tree
	s.mu.RUnlock()

	stageName, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	stage, ok := findStage(api.Stages, unescape(stageName))
	if !ok {
		missingToken(w)
		return
	}
	res, params := tree.match(splitPath(rest))
	if res == nil {
		missingToken(w)
		return
	}
	rt, ok := res.route(r.Method)
	if !ok {
		missingToken(w)
		return
	}
	body, err := apigw.ReadBody(r)
	switch {
	case errors.Is(err, apigw.ErrBodyTooLarge):
		message(w, http.StatusRequestEntityTooLarge, tooLarge)
		return
	case err != nil:
		message(w, http.StatusBadRequest, badRequest)
		return
	}
	ev := s.event(r, api, stage, res, rt, params, body, id, extended, start)
	if rt.Authorizer != nil {
		auth, ok := s.authorize(w, r, rt.Authorizer, stage, ev, api)
		if !ok {
			return
		}
		ev.RequestContext.Authorizer = auth
	}
	if rt.Mock != nil {
		for k, v := range rt.Mock.Headers {
			w.Header().Set(k, v)
		}
		write(w, r, rt.Mock.StatusCode, "application/json", []byte(rt.Mock.Body))
		return
	}
	fn, err := withStageVariables(rt.Function, stage.Variables)
	if err != nil {
		message(w, http.StatusInternalServerError, internalError)
		return
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		message(w, http.StatusInternalServerError, internalError)
		return
	}
	timeout := rt.Timeout
	if timeout <= 0 {
		timeout = s.opts.Timeout
	}
	if timeout <= 0 {
		timeout = IntegrationTimeout
	}
	if s.opts.Authorize != nil {
		source := fmt.Sprintf("arn:aws:execute-api:%s:%s:%s/%s/%s/%s", s.opts.Region, s.opts.AccountID, api.ID, stage.Name, r.Method, rest)
		if err := s.opts.Authorize(r.Context(), fn, source); err != nil {
			message(w, http.StatusInternalServerError, internalError)
			return
		}
	}
	answer, err := apigw.Invoke(r.Context(), s.opts.Lambda, fn, payload, timeout)
	var failed *apigw.FunctionError
	switch {
	case errors.Is(err, apigw.ErrTimedOut):
		message(w, http.StatusGatewayTimeout, timedOut)
		return
	case errors.As(err, &failed):
		message(w, http.StatusBadGateway, internalError)
		return
	case err != nil:
		message(w, http.StatusInternalServerError, internalError)
		return
	}
	resp, err := readResponse(answer)
	if err != nil {
		message(w, http.StatusBadGateway, internalError)
		return
	}
	for k, vs := range resp.headers {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if resp.base64 {
		if binary(api.BinaryMediaTypes, firstAccept(r.Header.Get("Accept"))) {
			b, err := base64.StdEncoding.DecodeString(string(resp.body))
			if err != nil {
				message(w, http.StatusBadGateway, internalError)
				return
			}
			resp.body = b
		}
	}
	write(w, r, resp.status, "application/json", resp.body)
}

func findStage(stages []Stage, name string) (Stage, bool) {
	for _, st := range stages {
		if st.Name == name {
			return st, true
		}
	}
	return Stage{}, false
}

var stageVariable = regexp.MustCompile(`\$\{stageVariables\.([A-Za-z0-9_]+)\}`)

// withStageVariables fills ${stageVariables.<name>} in a function name.
func withStageVariables(fn string, vars map[string]string) (string, error) {
	var missing string
	out := stageVariable.ReplaceAllStringFunc(fn, func(m string) string {
		name := stageVariable.FindStringSubmatch(m)[1]
		v, ok := vars[name]
		if !ok {
			missing = name
		}
		return v
	})
	if missing != "" {
		return "", fmt.Errorf("the integration names stage variable %s, which the stage does not set", missing)
	}
	return out, nil
}

// proxyEvent is the Lambda proxy event (payload format 1.0). Its body is
// null, not "", when the request has none, as API Gateway sends it.
type proxyEvent struct {
	events.APIGatewayProxyRequest
	Body *string `json:"body"`
}

// event builds the payload 1.0 event of a request.
func (s *Server) event(r *http.Request, api API, stage Stage, res *node, rt Route, params map[string]string, body []byte, id, extended string, now time.Time) proxyEvent {
	now = now.UTC()
	headers := map[string]string{}
	multi := map[string][]string{}
	for k, vs := range r.Header {
		headers[k] = vs[len(vs)-1]
		multi[k] = append([]string(nil), vs...)
	}
	sourceIP, port, _ := net.SplitHostPort(r.RemoteAddr)
	if _, p, err := net.SplitHostPort(r.Host); err == nil {
		port = p
	}
	set := func(k, v string) {
		headers[k] = v
		multi[k] = []string{v}
	}
	set("Host", r.Host)
	forwarded := sourceIP
	if prior := r.Header.Get("X-Forwarded-For"); prior != "" {
		forwarded = prior + ", " + sourceIP
	}
	set("X-Forwarded-For", forwarded)
	set("X-Forwarded-Port", port)
	set("X-Forwarded-Proto", "http")

	var query map[string]string
	var multiQuery map[string][]string
	if values := r.URL.Query(); len(values) > 0 {
		query, multiQuery = map[string]string{}, map[string][]string{}
		for k, vs := range values {
			query[k] = vs[len(vs)-1]
			multiQuery[k] = vs
		}
	}
	var vars map[string]string
	if len(stage.Variables) > 0 {
		vars = stage.Variables
	}
	// The path after the stage, as the client wrote it but decoded.
	_, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	path := "/" + unescape(rest)
	ev := proxyEvent{APIGatewayProxyRequest: events.APIGatewayProxyRequest{
		Resource:                        res.path,
		Path:                            path,
		HTTPMethod:                      r.Method,
		Headers:                         headers,
		MultiValueHeaders:               multi,
		QueryStringParameters:           query,
		MultiValueQueryStringParameters: multiQuery,
		PathParameters:                  params,
		StageVariables:                  vars,
		RequestContext: events.APIGatewayProxyRequestContext{
			AccountID:         s.opts.AccountID,
			ResourceID:        res.id,
			Stage:             stage.Name,
			DomainName:        r.Host,
			DomainPrefix:      api.ID,
			RequestID:         id,
			ExtendedRequestID: extended,
			Protocol:          r.Proto,
			Identity: events.APIGatewayRequestIdentity{
				SourceIP:  sourceIP,
				UserAgent: r.UserAgent(),
			},
			ResourcePath:     res.path,
			Path:             "/" + stage.Name + path,
			HTTPMethod:       r.Method,
			RequestTime:      now.Format("02/Jan/2006:15:04:05 -0700"),
			RequestTimeEpoch: now.UnixMilli(),
			APIID:            api.ID,
		},
	}}
	if len(body) > 0 {
		text := string(body)
		if binary(api.BinaryMediaTypes, r.Header.Get("Content-Type")) {
			text = base64.StdEncoding.EncodeToString(body)
			ev.IsBase64Encoded = true
		}
		ev.Body = &text
	}
	return ev
}

// binary reports whether a media type (a Content-Type or an Accept value)
// is one of the API's binary media types, which may use * for a type or
// subtype.
func binary(types []string, mediaType string) bool {
	mt, _, err := mime.ParseMediaType(mediaType)
	if err != nil {
		mt = ""
	}
	typ, sub, _ := strings.Cut(mt, "/")
	for _, b := range types {
		b = strings.ToLower(strings.ReplaceAll(b, "~1", "/"))
		if b == "*/*" {
			return true
		}
		bt, bs, _ := strings.Cut(b, "/")
		if mt != "" && (bt == "*" || bt == typ) && (bs == "*" || bs == sub) {
			return true
		}
	}
	return false
}

// firstAccept returns the first media type of an Accept header, which is
// the one API Gateway looks at.
func firstAccept(accept string) string {
	first, _, _ := strings.Cut(accept, ",")
	return strings.TrimSpace(first)
}

// response is what API Gateway sends for a function's answer.
type response struct {
	status  int
	headers map[string][]string
	body    []byte
	base64  bool
}

// responseKeys are the keys a Lambda proxy response may have; any other
// makes it malformed.
var responseKeys = map[string]bool{
	"statusCode": true, "headers": true, "multiValueHeaders": true,
	"body": true, "isBase64Encoded": true, "base64Encoded": true,
}

// readResponse reads a function's answer as API Gateway reads a Lambda
// proxy response: a JSON object of statusCode, headers,
// multiValueHeaders, body (a string) and isBase64Encoded, and nothing
// else.
func readResponse(payload []byte) (response, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(payload, &fields); err != nil || fields == nil {
		return response{}, errors.New("the answer is not a JSON object")
	}
	for k := range fields {
		if !responseKeys[k] {
			return response{}, fmt.Errorf("the answer has the key %q", k)
		}
	}
	resp := response{status: http.StatusOK, headers: map[string][]string{}}
	if raw, ok := fields["statusCode"]; ok && string(raw) != "null" {
		var code json.Number
		var text string
		if json.Unmarshal(raw, &code) != nil {
			if json.Unmarshal(raw, &text) != nil {
				return response{}, fmt.Errorf("statusCode %s is not a number", raw)
			}
			code = json.Number(text)
		}
		n, err := strconv.Atoi(code.String())
		if err != nil || n < 100 || n > 599 {
			return response{}, fmt.Errorf("statusCode %s is not an HTTP status", raw)
		}
		resp.status = n
	}
	var multi map[string][]any
	if err := decodeField(fields, "multiValueHeaders", &multi); err != nil {
		return response{}, err
	}
	for k, vs := range multi {
		for _, v := range vs {
			resp.headers[k] = append(resp.headers[k], scalar(v))
		}
	}
	var single map[string]any
	if err := decodeField(fields, "headers", &single); err != nil {
		return response{}, err
	}
	for k, v := range single {
		s := scalar(v)
		dup := false
		for _, have := range resp.headers[k] {
			dup = dup || have == s
		}
		if !dup {
			resp.headers[k] = append(resp.headers[k], s)
		}
	}
	var body *string
	if err := decodeField(fields, "body", &body); err != nil {
		return response{}, err
	}
	if body != nil {
		resp.body = []byte(*body)
	}
	// API Gateway reads base64Encoded first, then isBase64Encoded.
	for _, key := range []string{"base64Encoded", "isBase64Encoded"} {
		raw, ok := fields[key]
		if !ok || string(raw) == "null" {
			continue
		}
		var b bool
		var s string
		switch {
		case json.Unmarshal(raw, &b) == nil:
		case json.Unmarshal(raw, &s) == nil && (s == "true" || s == "false"):
			b = s == "true"
		default:
			return response{}, fmt.Errorf("%s %s is not a boolean", key, raw)
		}
		resp.base64 = b
		break
	}
	return resp, nil
}

func decodeField(fields map[string]json.RawMessage, key string, v any) error {
	raw, ok := fields[key]
	if !ok {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

// scalar writes a header value as text.
func scalar(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// write sends an answer, with contentType when the answer names none.
func write(w http.ResponseWriter, r *http.Request, status int, contentType string, body []byte) {
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", contentType)
	}
	if status == http.StatusNoContent || status == http.StatusNotModified || status < 200 {
		// No body is allowed: HTTP drops whatever the function sent.
		w.Header().Del("Content-Length")
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// API Gateway's own answers, byte for byte (some with a space after the
// colon, some without).
const (
	missingTokenBody = `{"message":"Missing Authentication Token"}`
	internalError    = `{"message": "Internal server error"}`
	timedOut         = `{"message": "Endpoint request timed out"}`
	tooLarge         = `{"message":"Request Entity Too Large"}`
	badRequest       = `{"message":"Bad Request"}`
)

// message writes one of API Gateway's own answers.
func message(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// missingToken is API Gateway's answer to a request that no stage,
// resource or method matches.
func missingToken(w http.ResponseWriter) {
	w.Header().Set("X-Amzn-Errortype", "MissingAuthenticationTokenException")
	message(w, http.StatusForbidden, missingTokenBody)
}

// uuid returns a random UUID, the shape of a REST API's request IDs.
func uuid() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
