package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stackflow/stackflow/internal/local/apigw"
)

// IntegrationTimeout is how long an HTTP API waits for a function.
const IntegrationTimeout = 30 * time.Second

// API is an HTTP API to serve.
type API struct {
	// ID is the API's ID (10 lower-case alphanumerics on AWS).
	ID string
	// Stage is the stage the API is served at: "" or "$default" serve at
	// the root, any other name under /<name>.
	Stage string
	// Routes are the API's routes.
	Routes []Route
}

// Options configure a server (apigw.Options).
type Options = apigw.Options

// FunctionURL is the API that serves a Lambda function URL
// (AWS::Lambda::Url): every method and path goes to function, with the
// same payload 2.0 event and response format as an HTTP API's $default
// route (routeKey and stage "$default").
func FunctionURL(id, function string) API {
	return API{ID: id, Routes: []Route{{Key: DefaultRoute, Function: function}}}
}

// Server serves one HTTP API.
type Server struct {
	opts Options
	srv  *http.Server
	url  string

	mu     sync.RWMutex
	api    API
	routes []route
}

// Serve starts serving api and returns at once.
func Serve(api API, opts Options) (*Server, error) {
	if opts.Lambda == nil {
		return nil, errors.New("serve HTTP API: no Lambda client")
	}
	routes, err := parseRoutes(api.Routes)
	if err != nil {
		return nil, fmt.Errorf("serve HTTP API %s: %w", api.ID, err)
	}
	s := &Server{opts: opts, api: api, routes: routes}
	if s.srv, s.url, err = apigw.Listen(opts.Addr, s); err != nil {
		return nil, fmt.Errorf("serve HTTP API %s: %w", api.ID, err)
	}
	return s, nil
}

// URL is the base URL the API is served at, such as http://127.0.0.1:49152
// (without the stage).
func (s *Server) URL() string { return s.url }

// Update replaces the API's stage and routes; the port stays.
func (s *Server) Update(api API) error {
	routes, err := parseRoutes(api.Routes)
	if err != nil {
		return fmt.Errorf("update HTTP API %s: %w", api.ID, err)
	}
	s.mu.Lock()
	s.api, s.routes = api, routes
	s.mu.Unlock()
	return nil
}

// Close stops serving: the port is closed and requests in flight end.
func (s *Server) Close() error {
	return s.srv.Close()
}

// ServeHTTP answers one request as API Gateway would.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := apigw.RequestID()
	w.Header().Set("Apigw-Requestid", id)
	s.mu.RLock()
	api, routes := s.api, s.routes
	s.mu.RUnlock()

	path := r.URL.EscapedPath()
	stage := api.Stage
	if stage == "" {
		stage = DefaultRoute
	}
	if stage != DefaultRoute {
		prefix := "/" + stage
		if path != prefix && !strings.HasPrefix(path, prefix+"/") {
			message(w, http.StatusNotFound, "Not Found")
			return
		}
		path = strings.TrimPrefix(path, prefix)
	}
	rt, params := match(routes, r.Method, path)
	if rt == nil {
		message(w, http.StatusNotFound, "Not Found")
		return
	}
	body, err := apigw.ReadBody(r)
	switch {
	case errors.Is(err, apigw.ErrBodyTooLarge):
		message(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return
	case err != nil:
		message(w, http.StatusBadRequest, "Bad Request")
		return
	}
	var caller events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription
	if s.opts.AuthorizeRequest != nil {
		if caller, err = s.opts.AuthorizeRequest(r, body); err != nil {
			forbidden(w)
			return
		}
	}
	if s.opts.Authorize != nil {
		source := fmt.Sprintf("arn:aws:execute-api:%s:%s:%s/%s/%s%s", s.opts.Region, s.opts.AccountID, api.ID, stage, r.Method, path)
		if err := s.opts.Authorize(r.Context(), rt.Function, source); err != nil {
			message(w, http.StatusInternalServerError, "Internal Server Error")
			return
		}
	}
	ev := s.event(r, api, rt, params, body, stage, id)
	if caller.UserARN != "" || caller.AccessKey != "" {
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{IAM: &caller}
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		message(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	timeout := s.opts.Timeout
	if timeout <= 0 {
		timeout = IntegrationTimeout
	}
	answer, err := apigw.Invoke(r.Context(), s.opts.Lambda, rt.Function, payload, timeout)
	switch {
	case errors.Is(err, apigw.ErrTimedOut):
		message(w, http.StatusServiceUnavailable, "Service Unavailable")
		return
	case err != nil:
		message(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	resp, err := readResponse(answer)
	if err != nil {
		message(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	for k, v := range resp.headers {
		w.Header().Set(k, v)
	}
	for _, c := range resp.cookies {
		w.Header().Add("Set-Cookie", c)
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(resp.body)))
	w.WriteHeader(resp.status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(resp.body)
	}
}

// event builds the payload 2.0 event of a request.
func (s *Server) event(r *http.Request, api API, rt *route, params map[string]string, body []byte, stage, id string) events.APIGatewayV2HTTPRequest {
	now := time.Now().UTC()
	headers := map[string]string{}
	var cookies []string
	for k, vs := range r.Header {
		lk := strings.ToLower(k)
		if lk == "cookie" {
			for _, v := range vs {
				for c := range strings.SplitSeq(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						cookies = append(cookies, c)
					}
				}
			}
			continue
		}
		headers[lk] = strings.Join(vs, ",")
	}
	host := r.Host
	headers["host"] = host
	if r.ContentLength > 0 {
		headers["content-length"] = strconv.FormatInt(r.ContentLength, 10)
	}
	sourceIP, port, _ := net.SplitHostPort(r.RemoteAddr)
	headers["x-forwarded-for"] = sourceIP
	if _, p, err := net.SplitHostPort(host); err == nil {
		port = p
	}
	headers["x-forwarded-port"] = port
	headers["x-forwarded-proto"] = "http"

	var query map[string]string
	if r.URL.RawQuery != "" {
		values, _ := url.ParseQuery(r.URL.RawQuery)
		for k, vs := range values {
			if query == nil {
				query = map[string]string{}
			}
			query[k] = strings.Join(vs, ",")
		}
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              rt.Key,
		RawPath:               r.URL.EscapedPath(),
		RawQueryString:        r.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: query,
		PathParameters:        params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     rt.Key,
			AccountID:    s.opts.AccountID,
			Stage:        stage,
			RequestID:    id,
			APIID:        api.ID,
			DomainName:   host,
			DomainPrefix: api.ID,
			Time:         now.Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:    now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      r.URL.Path,
				Protocol:  r.Proto,
				SourceIP:  sourceIP,
				UserAgent: r.UserAgent(),
			},
		},
	}
	if len(body) > 0 {
		if utf8.Valid(body) {
			ev.Body = string(body)
		} else {
			ev.Body = base64.StdEncoding.EncodeToString(body)
			ev.IsBase64Encoded = true
		}
	}
	return ev
}

// response is what API Gateway sends for a function's answer.
type response struct {
	status  int
	headers map[string]string
	cookies []string
	body    []byte
}

// readResponse reads a function's answer as API Gateway reads payload
// format 2.0: a JSON object with a statusCode is a structured response;
// any other JSON value is the body of a 200.
func readResponse(payload []byte) (response, error) {
	payload = bytes.TrimSpace(payload)
	if !json.Valid(payload) {
		return response{}, errors.New("the answer is not JSON")
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(payload, &fields) == nil && fields != nil {
		if _, ok := fields["statusCode"]; ok {
			return structured(payload)
		}
	}
	body := payload
	var text string
	if json.Unmarshal(payload, &text) == nil {
		body = []byte(text)
	}
	return response{status: http.StatusOK, headers: map[string]string{"Content-Type": "application/json"}, body: body}, nil
}

func structured(payload []byte) (response, error) {
	var out struct {
		StatusCode      json.Number      `json:"statusCode"`
		Headers         map[string]any   `json:"headers"`
		MultiValue      map[string][]any `json:"multiValueHeaders"`
		Cookies         []string         `json:"cookies"`
		Body            *string          `json:"body"`
		IsBase64Encoded bool             `json:"isBase64Encoded"`
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return response{}, fmt.Errorf("read the structured answer: %w", err)
	}
	status, err := strconv.Atoi(out.StatusCode.String())
	if err != nil || status < 100 || status > 599 {
		return response{}, fmt.Errorf("bad statusCode %q", out.StatusCode)
	}
	resp := response{status: status, headers: map[string]string{}, cookies: out.Cookies}
	for k, vs := range out.MultiValue {
		var parts []string
		for _, v := range vs {
			parts = append(parts, fmt.Sprint(v))
		}
		resp.headers[k] = strings.Join(parts, ",")
	}
	for k, v := range out.Headers {
		resp.headers[k] = fmt.Sprint(v)
	}
	if out.Body != nil {
		resp.body = []byte(*out.Body)
		if out.IsBase64Encoded {
			b, err := base64.StdEncoding.DecodeString(*out.Body)
			if err != nil {
				return response{}, fmt.Errorf("the body is not base64: %w", err)
			}
			resp.body = b
		}
	}
	return resp, nil
}

// message writes API Gateway's own JSON answer.
// forbidden answers a request a function URL refuses as Lambda does: 403
// {"Message":"Forbidden"}, saying nothing of why (the local IAM's log
// does).
func forbidden(w http.ResponseWriter) {
	b := []byte(`{"Message":"Forbidden"}`)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusForbidden)
	_, _ = w.Write(b)
}

func message(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(map[string]string{"message": msg})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
