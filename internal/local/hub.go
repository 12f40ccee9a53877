package local

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// hub is the one Bitbucket address the installed pipeline knows. It routes
// each request to the stand-in of the repository its path names, so one
// pipeline can deliver any number of local repositories, as one Bitbucket
// serves many.
type hub struct {
	srv *http.Server
	url string

	mu    sync.Mutex
	repos map[string]*httputil.ReverseProxy
}

func newHub() (*hub, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := &hub{url: "http://" + ln.Addr().String(), repos: map[string]*httputil.ReverseProxy{}}
	h.srv = &http.Server{Handler: h}
	go h.srv.Serve(ln) //nolint:errcheck // ends with Close
	return h, nil
}

// add routes repo's paths to the stand-in at target.
func (h *hub) add(repo pipeline.Repository, target string) error {
	u, err := url.Parse(target)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.repos[repo.FullName()] = httputil.NewSingleHostReverseProxy(u)
	return nil
}

// ServeHTTP routes /{workspace}/{slug}/... (the web side: archives) and
// /2.0/repositories/{workspace}/{slug}/... (the API: statuses).
func (h *hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if len(parts) > 3 && parts[0] == "2.0" && parts[1] == "repositories" {
		parts = parts[2:]
	}
	if len(parts) < 2 {
		http.NotFound(w, r)
		return
	}
	h.mu.Lock()
	p := h.repos[parts[0]+"/"+parts[1]]
	h.mu.Unlock()
	if p == nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"type":"error","error":{"message":"Repository not found"}}`)) //nolint:errcheck
		return
	}
	p.ServeHTTP(w, r)
}

func (h *hub) close() error { return h.srv.Close() }
