package lambda

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"
)

// Runtime API paths and headers.
const (
	runtimeAPIPrefix   = "/2018-06-01/runtime/"
	runtimeErrorType   = "Lambda-Runtime-Function-Error-Type"
	exitErrorType      = "Runtime.ExitError"
	relayDrainDeadline = 2 * time.Second
)

// relay is the Runtime API of one process, at a loopback host:port of its
// own as Lambda's is (AWS_LAMBDA_RUNTIME_API=127.0.0.1:<port>, no path:
// AWS's runtime clients take nothing else). It forwards every request to
// the function's Runtime API at kumo (<endpoint>/_runtime/<name>/...) and
// keeps what the supervisor must know when the process dies, which kumo
// does not: whether it asked for work, the invocation it holds, and the
// error it reported on /runtime/init/error (kumo ignores those).
type relay struct {
	name     string
	upstream *url.URL // kumo's, or a front's, base URL
	arn      string   // the function's ARN
	proxy    *httputil.ReverseProxy
	client   *http.Client // for the supervisor's own calls; no timeout (next waits)
	ln       net.Listener
	srv      *http.Server

	inflight sync.WaitGroup
	mu       sync.Mutex
	state    relayState
	// busy is the invocation the process took and has not answered
	// (whether kumo took the answer or not), and freed is closed when it
	// answers it or dies: a request for the next invocation made while it
	// is busy waits for it.
	busy  string
	freed chan struct{}
}

// relayState is what a relay saw of one run of its process.
type relayState struct {
	polled  bool       // the process asked for an invocation
	held    string     // the request ID of the invocation it took and has not answered
	initErr *initError // what it posted to /runtime/init/error
}

// initError is an error a runtime reported on /runtime/init/error.
type initError struct {
	errorType string
	body      []byte
}

// newRelay starts a relay for the function name at kumo's (or a front's)
// base URL.
func newRelay(name, arn string, upstream *url.URL) (*relay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start the runtime API of %s: %w", name, err)
	}
	transport := &http.Transport{MaxIdleConnsPerHost: 8, IdleConnTimeout: 90 * time.Second}
	r := &relay{
		name:     name,
		upstream: upstream,
		arn:      arn,
		client:   &http.Client{Transport: transport},
		ln:       ln,
	}
	r.proxy = &httputil.ReverseProxy{
		Rewrite:        func(pr *httputil.ProxyRequest) { pr.SetURL(r.upstreamURL("")) },
		Transport:      transport,
		ModifyResponse: r.observe,
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) {
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go r.srv.Serve(ln) //nolint:errcheck // ends with close
	return r, nil
}

// addr is the relay's host:port, for AWS_LAMBDA_RUNTIME_API.
func (r *relay) addr() string { return r.ln.Addr().String() }

func (r *relay) close() {
	_ = r.srv.Close()
	r.client.CloseIdleConnections()
}

// upstreamURL is the function's Runtime API path at kumo.
func (r *relay) upstreamURL(p string) *url.URL {
	u := *r.upstream
	u.Path, u.RawPath = path.Join("/", u.Path, "_runtime", r.name, p), ""
	return &u
}

// reset forgets what the relay saw of the previous run of its process.
func (r *relay) reset() {
	r.mu.Lock()
	r.state = relayState{}
	r.free()
	r.mu.Unlock()
}

// settle waits, a little, for the requests of a process that has died
// to end, and returns what the relay saw of it.
func (r *relay) settle() relayState {
	done := make(chan struct{})
	go func() {
		r.inflight.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(relayDrainDeadline):
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state
}

// ServeHTTP forwards a runtime's request to kumo, keeping its init errors.
func (r *relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.inflight.Add(1)
	defer r.inflight.Done()
	rest, ok := strings.CutPrefix(req.URL.Path, runtimeAPIPrefix)
	if !ok {
		http.NotFound(w, req)
		return
	}
	switch {
	case req.Method == http.MethodGet && rest == "invocation/next":
		if !r.awaitFree(req.Context()) {
			return
		}
		r.mu.Lock()
		r.state.polled = true
		r.mu.Unlock()
	case req.Method == http.MethodPost && rest == "init/error":
		body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
		r.mu.Lock()
		r.state.initErr = &initError{errorType: req.Header.Get(runtimeErrorType), body: body}
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"status":"OK"}`)
		return
	}
	r.proxy.ServeHTTP(w, req)
	if req.Method == http.MethodPost && strings.HasPrefix(rest, "invocation/") {
		// Answered, even when kumo did not take the answer (too late,
		// say): the runtime asks for work next.
		answered, _, _ := strings.Cut(strings.TrimPrefix(rest, "invocation/"), "/")
		if answered, err := url.PathUnescape(answered); err == nil {
			r.mu.Lock()
			if r.busy == answered {
				r.free()
			}
			r.mu.Unlock()
		}
	}
}

// awaitFree waits while the process holds an invocation, as Lambda gives
// an execution environment one invocation at a time: a second request for
// the next invocation (a child of the handler's, say, that found
// AWS_LAMBDA_RUNTIME_API) gets none until the handler has answered. It
// reports whether to go on: false when ctx ended first.
func (r *relay) awaitFree(ctx context.Context) bool {
	r.mu.Lock()
	freed := r.freed
	r.mu.Unlock()
	if freed == nil {
		return true
	}
	select {
	case <-freed:
		return true
	case <-ctx.Done():
		return false
	}
}

// free ends the waits of awaitFree; r.mu is held.
func (r *relay) free() {
	if r.freed != nil {
		close(r.freed)
	}
	r.busy, r.freed = "", nil
}

// observe notes the invocation a process takes and the answers it gives,
// and gives the handler the function's ARN: kumo's is in region "local".
func (r *relay) observe(resp *http.Response) error {
	_, rest, _ := strings.Cut(resp.Request.URL.Path, runtimeAPIPrefix)
	id := resp.Header.Get(runtimeRequestID)
	switch {
	case rest == "invocation/next" && resp.StatusCode == http.StatusOK && id != "":
		if r.arn != "" {
			resp.Header.Set(runtimeFunctionARN, r.arn)
		}
		r.mu.Lock()
		r.state.held = id
		r.free()
		r.busy, r.freed = id, make(chan struct{})
		r.mu.Unlock()
	case strings.HasPrefix(rest, "invocation/") && resp.StatusCode/100 == 2:
		answered, _, _ := strings.Cut(strings.TrimPrefix(rest, "invocation/"), "/")
		if answered, err := url.PathUnescape(answered); err == nil {
			r.mu.Lock()
			if r.state.held == answered {
				r.state.held = ""
			}
			r.mu.Unlock()
		}
	}
	return nil
}

// fail answers the invocation id with a function error, as a runtime
// would: body is Lambda's error document, errorType its type.
func (r *relay) fail(ctx context.Context, id, errorType string, body []byte) error {
	u := r.upstreamURL("/2018-06-01/runtime/invocation/" + url.PathEscape(id) + "/error")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("answer invocation %s of %s: %w", id, r.name, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(runtimeErrorType, errorType)
	resp, err := r.client.Do(req)
	if err != nil {
		return fmt.Errorf("answer invocation %s of %s: %w", id, r.name, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("answer invocation %s of %s: HTTP %d", id, r.name, resp.StatusCode)
	}
	return nil
}

// next waits for the function's next invocation, as a runtime does, and
// returns its request ID.
func (r *relay) next(ctx context.Context) (string, error) {
	u := r.upstreamURL("/2018-06-01/runtime/invocation/next")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("wait for an invocation of %s: %w", r.name, err)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("wait for an invocation of %s: %w", r.name, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	id := resp.Header.Get(runtimeRequestID)
	if resp.StatusCode != http.StatusOK || id == "" {
		return "", fmt.Errorf("wait for an invocation of %s: HTTP %d", r.name, resp.StatusCode)
	}
	return id, nil
}

// exitError is the error document Lambda gives an invocation whose runtime
// exited: during it, or during the init that should have served it.
func exitError(id, reason string) []byte {
	b, _ := json.Marshal(map[string]string{
		"errorType":    exitErrorType,
		"errorMessage": fmt.Sprintf("RequestId: %s Error: Runtime exited with error: %s", id, reason),
	})
	return b
}
