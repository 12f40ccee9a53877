package tracing

import (
	"net/http"
	"net/url"
	"time"

	"github.com/stackflow/stackflow/internal/tracing/daemon"
)

// HTTPClient returns a copy of c (nil means a new client) whose requests
// are recorded as subsegments (namespace "remote", named after the host)
// and carry the trace on in X-Amzn-Trace-Id.
func HTTPClient(c *http.Client) *http.Client {
	var cc http.Client
	if c != nil {
		cc = *c
	}
	if _, ok := cc.Transport.(*transport); ok {
		return &cc
	}
	base := cc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	cc.Transport = &transport{base: base}
	return &cc
}

// transport traces each request it sends through base.
type transport struct {
	base http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	tr, ok := current(ctx)
	if !ok {
		return t.base.RoundTrip(req)
	}
	doc := newSubsegment(tr, subsegmentID(ctx), req.URL.Host, "remote", time.Now())
	// A RoundTripper must not change the request it is given.
	out := req.Clone(ctx)
	out.Header.Set(HeaderName, tr.downstream(doc.ID))
	resp, err := t.base.RoundTrip(out)
	if !tr.sampled {
		return resp, err
	}
	doc.EndTime = daemon.Seconds(time.Now())
	doc.HTTP = &daemon.HTTP{Request: &daemon.Request{Method: req.Method, URL: cleanURL(req.URL)}}
	if err != nil {
		kind := "RequestFailed"
		if ctx.Err() != nil {
			kind = "Canceled"
		}
		setFailure(doc, kind)
	} else {
		setStatus(doc, resp.StatusCode)
	}
	emit(doc)
	return resp, err
}

// cleanURL is u without user, password, query or fragment: those may hold
// credentials.
func cleanURL(u *url.URL) string {
	c := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	return c.String()
}
