package dashboard

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/stackflow/stackflow/internal/approvals"
	"github.com/stackflow/stackflow/internal/locks"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/releases"
	"github.com/stackflow/stackflow/internal/runs"
)

// Source is what the dashboard reads: *runs.Client, as the command line
// reads it.
type Source interface {
	Runs(ctx context.Context, f runs.Filter) ([]runs.Run, error)
	Show(ctx context.Context, ref string) (*runs.Timeline, error)
	Logs(ctx context.Context, ref string, phase runs.Phase) (*runs.Log, error)
	Definition(ctx context.Context, ref string) (string, error)
	Pending(ctx context.Context, ref string) (string, []approvals.Request, error)
	Releases(ctx context.Context, repository, env string, limit int) ([]releases.Release, error)
	ReleasedEnvironments(ctx context.Context) ([]releases.Released, error)
	LockHolder(ctx context.Context, env pipeline.Environment) (locks.Holder, error)
}

// Operator is what the dashboard's actions call: *runs.Client, exactly as
// stackflow approve, reject, rollback, promote and retry call it.
type Operator interface {
	Approve(ctx context.Context, ref, app, env string) (approvals.Request, string, error)
	Reject(ctx context.Context, ref, app, env, reason string) (approvals.Request, string, error)
	RollbackAsCaller(ctx context.Context, repo pipeline.Repository, app, env, to string) (string, releases.Release, string, error)
	PromoteAsCaller(ctx context.Context, req runs.PromoteRequest) (string, releases.Release, string, error)
	RetryAsCaller(ctx context.Context, ref, app string, during *pipeline.FreezeOverride) (string, string, string, error)
}

var (
	_ Source   = (*runs.Client)(nil)
	_ Operator = (*runs.Client)(nil)
)

// Config says what a Server shows and may do.
type Config struct {
	// Source is what it reads.
	Source Source
	// Operator, when set, is what its actions call; nil makes it
	// read-only (no --actions).
	Operator Operator
	// Now is the clock of the DORA figures; nil means time.Now.
	Now func() time.Time
}

// TokenHeader carries the token on the dashboard's POSTs.
const TokenHeader = "X-Stackflow-Token"

//go:embed assets templates
var files embed.FS

// Server is the dashboard's HTTP server, on one loopback listener.
type Server struct {
	cfg      Config
	listener net.Listener
	token    string
	hosts    map[string]bool // the Host values it answers
	origins  map[string]bool // the Origin values it takes
	cookie   string
	pages    map[string]*template.Template
	mux      *http.ServeMux
}

// Listen listens on addr (host:port; port 0 picks one), which must be a
// loopback address: the dashboard is for this machine's user alone.
func Listen(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--addr %q: want HOST:PORT, such as 127.0.0.1:8321", addr)
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("--addr %q: the dashboard listens on a loopback address only, such as 127.0.0.1:8321 or [::1]:8321", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w: pick another port with --addr", addr, err)
	}
	return l, nil
}

// New returns the dashboard of cfg that serves on l (from Listen), with a
// new random token.
func New(cfg Config, l net.Listener) (*Server, error) {
	if cfg.Source == nil {
		return nil, errors.New("dashboard: no source to read")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	tcp, ok := l.Addr().(*net.TCPAddr)
	if !ok || !tcp.IP.IsLoopback() {
		return nil, fmt.Errorf("dashboard: %s is not a loopback address", l.Addr())
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("dashboard: make its token: %w", err)
	}
	s := &Server{cfg: cfg, listener: l, token: hex.EncodeToString(b), cookie: fmt.Sprintf("stackflow-dashboard-%d", tcp.Port)}
	own := l.Addr().String()
	s.hosts = map[string]bool{own: true, fmt.Sprintf("localhost:%d", tcp.Port): true}
	s.origins = map[string]bool{}
	for h := range s.hosts {
		s.origins["http://"+h] = true
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	s.pages = pages
	s.routes()
	return s, nil
}

// URL is the address to open, with the token.
func (s *Server) URL() string {
	return "http://" + s.listener.Addr().String() + "/?token=" + s.token
}

// Serve serves until ctx ends, then shuts down.
func (s *Server) Serve(ctx context.Context) error {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(s.listener) }()
	select {
	case err := <-done:
		return fmt.Errorf("serve the dashboard: %w", err)
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shut)
	return nil
}

// ServeHTTP checks the request's Host, Origin, method and token, then
// serves it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	if !s.hosts[r.Host] {
		refuse(w, http.StatusForbidden, "this dashboard answers requests to its own address only ("+s.listener.Addr().String()+"), not to "+r.Host)
		return
	}
	if o := r.Header.Get("Origin"); o != "" && !s.origins[o] {
		refuse(w, http.StatusForbidden, "requests from another site are refused: open the dashboard's own URL")
		return
	}
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		refuse(w, http.StatusForbidden, "requests from another site are refused: open the dashboard's own URL")
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		refuse(w, http.StatusMethodNotAllowed, r.Method+" is not served: pages are read with GET, actions are POSTs")
		return
	}
	if t := r.URL.Query().Get("token"); t != "" && r.Method != http.MethodPost {
		if !s.valid(t) {
			refuse(w, http.StatusForbidden, "wrong token: open the URL stackflow dashboard printed")
			return
		}
		http.SetCookie(w, &http.Cookie{Name: s.cookie, Value: s.token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		// The token leaves the address bar (and the history) at once.
		q := r.URL.Query()
		q.Del("token")
		to := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
		http.Redirect(w, r, to.String(), http.StatusSeeOther)
		return
	}
	c, err := r.Cookie(s.cookie)
	if err != nil || !s.valid(c.Value) {
		refuse(w, http.StatusForbidden, "no valid token: open the URL stackflow dashboard printed (it holds the token)")
		return
	}
	if r.Method == http.MethodPost && !s.valid(r.Header.Get(TokenHeader)) {
		refuse(w, http.StatusForbidden, "an action needs the token in the "+TokenHeader+" header, as the dashboard's pages send it")
		return
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Server) valid(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.token)) == 1
}

// refuse answers with status and a one-line reason, as plain text.
func refuse(w http.ResponseWriter, status int, why string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintln(w, why)
}

// assets are the embedded static files, served under /assets/.
func assets() http.Handler {
	sub, _ := fs.Sub(files, "assets")
	return http.StripPrefix("/assets/", http.FileServer(http.FS(sub)))
}

// isAPI tells a JSON API path.
func isAPI(path string) bool { return strings.HasPrefix(path, "/api/") }
