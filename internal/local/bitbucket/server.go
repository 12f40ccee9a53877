package bitbucket

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// closeGrace is how long Close waits for the requests under way.
const closeGrace = 5 * time.Second

// Options configure a Server.
type Options struct {
	// Repo is the repository the server plays: its workspace and slug are
	// the only ones it answers for, and they name archives and payloads.
	Repo pipeline.Repository
	// Dir is a git repository, or a folder inside one: the app's root.
	// Archives hold Dir's tree as their root. Empty means the current
	// directory.
	Dir string
	// Token is the only token the server accepts. Empty means a random one,
	// which Token returns.
	Token string
	// Log receives a line per request, build status and delivery (never a
	// token or a signature). Nil means no log.
	Log io.Writer
	// DefaultBranch is the repository's main branch (Bitbucket's
	// mainbranch), whose stackflow.yml decides where commits deploy. Empty
	// means the first of DefaultBranches the repository has.
	DefaultBranch string
	// OnStatus, when set, is called with every build status the server
	// records, after it is recorded, one call at a time in the order of
	// History. The request that posted the status waits for it.
	OnStatus func(Status)
}

// Server is a Bitbucket Cloud stand-in serving one local git repository on
// a loopback port. Its methods are safe for concurrent use.
type Server struct {
	repo     pipeline.Repository
	git      repoGit
	prefix   string // Dir relative to the repository's top, "" at the top
	token    string
	log      *slog.Logger
	onStatus func(Status)
	hookUUID string

	url    string
	srv    *http.Server
	served chan struct{}
	// hc sends webhook deliveries.
	hc *http.Client

	// onStatusMu keeps OnStatus calls in the order statuses are recorded.
	onStatusMu sync.Mutex
	mu         sync.Mutex
	current    map[statusID]Status
	history    []Status
	mainBranch string         // set by SetDefaultBranch; "" for the first of DefaultBranches
	pulls      []*PullRequest // by id - 1

	closeOnce sync.Once
}

// New starts a Server for the repository that holds opts.Dir, listening on
// 127.0.0.1 on a free port. Close it when done.
func New(opts Options) (*Server, error) {
	repo, err := pipeline.ParseRepository(opts.Repo.FullName())
	if err != nil {
		return nil, fmt.Errorf("local bitbucket: %w", err)
	}
	dir := opts.Dir
	if dir == "" {
		dir = "."
	}
	g, prefix, err := openRepo(context.Background(), dir)
	if err != nil {
		return nil, fmt.Errorf("local bitbucket: %w", err)
	}
	token := opts.Token
	if token == "" {
		token = rand.Text()
	}
	logw := opts.Log
	if logw == nil {
		logw = io.Discard
	}
	s := &Server{
		repo:     repo,
		git:      g,
		prefix:   prefix,
		token:    token,
		log:      slog.New(slog.NewTextHandler(logw, nil)).With("component", "bitbucket"),
		onStatus: opts.OnStatus,
		hookUUID: newUUID(),
		current:  map[statusID]Status{},
		served:   make(chan struct{}),
	}

	if err := s.SetDefaultBranch(opts.DefaultBranch); err != nil {
		return nil, fmt.Errorf("local bitbucket: %w", err)
	}

	tr := http.DefaultTransport.(*http.Transport).Clone()
	s.hc = &http.Client{
		Transport: tr,
		// Bitbucket does not follow a webhook's redirects.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("local bitbucket: listen: %w", err)
	}
	s.url = "http://" + ln.Addr().String()
	s.srv = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.served)
		_ = s.srv.Serve(ln) // ErrServerClosed after Close
	}()
	return s, nil
}

// URL is the server's base URL, http://127.0.0.1:<port>, without a
// trailing slash. It is both the web and the API address: give it to
// bitbucket.NewClient as both.
func (s *Server) URL() string { return s.url }

// Token is the token the server accepts.
func (s *Server) Token() string { return s.token }

// HookUUID is the X-Hook-UUID of every delivery this server sends.
func (s *Server) HookUUID() string { return s.hookUUID }

// Close stops the server: it lets the requests under way finish (for up to
// closeGrace), ends every connection and waits until the server has
// stopped. It may be called more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), closeGrace)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil {
			_ = s.srv.Close()
		}
		<-s.served
		s.hc.Transport.(*http.Transport).CloseIdleConnections()
	})
}

func (s *Server) routes() http.Handler {
	// Bitbucket serves the web site and the API on two hosts; here they
	// share one, and two muxes keep their paths apart
	// (/{workspace}/{slug}/get/... and /2.0/repositories/... overlap as
	// patterns).
	web := http.NewServeMux()
	web.HandleFunc("GET /{workspace}/{slug}/get/{file}", s.handleArchive)
	api := http.NewServeMux()
	const repo = "/2.0/repositories/{workspace}/{slug}"
	const commit = repo + "/commit/{commit}"
	api.HandleFunc("POST "+commit+"/statuses/build", s.handlePostStatus)
	api.HandleFunc("GET "+commit+"/statuses/build/{key}", s.handleGetStatus)
	api.HandleFunc("GET "+commit+"/statuses", s.handleListStatuses)
	api.HandleFunc("GET "+commit, s.handleGetCommit)
	api.HandleFunc("GET "+repo, s.handleRepository)
	api.HandleFunc("GET "+repo+"/refs/branches/{name...}", s.handleBranch)
	api.HandleFunc("GET "+repo+"/src/{commit}/{path...}", s.handleSource)
	api.HandleFunc("GET "+repo+"/diffstat/{spec}", s.handleDiffstat)
	api.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		apiError(w, http.StatusNotFound, "Resource not found", nil)
	})
	both := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/2.0/") {
			api.ServeHTTP(w, r)
			return
		}
		web.ServeHTTP(w, r)
	})
	return s.logged(s.authenticated(both))
}

// logged logs each request's method, path and answer.
func (s *Server) logged(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		s.log.Info("request", "method", r.Method, "path", r.URL.Path, "status", rec.code)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

// authenticated answers 401 to a request without the server's token, as
// Bitbucket does for a private repository.
func (s *Server) authenticated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.authorized(r) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="Bitbucket.org HTTP"`)
		if strings.HasPrefix(r.URL.Path, "/2.0/") {
			apiError(w, http.StatusUnauthorized, "Access denied. You must have read access to this repository and a valid token.", nil)
			return
		}
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
	})
}

// authorized accepts "Bearer <token>" (an access token) and Basic auth with
// the token as password (an API token, with any user).
func (s *Server) authorized(r *http.Request) bool {
	var got string
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		got = tok
	} else if _, pass, ok := r.BasicAuth(); ok {
		got = pass
	} else {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(s.token)) == 1
}

// ours reports whether the request's workspace and slug are the server's.
func (s *Server) ours(r *http.Request) bool {
	return strings.EqualFold(r.PathValue("workspace"), s.repo.Workspace) &&
		strings.EqualFold(r.PathValue("slug"), s.repo.Slug)
}

func (s *Server) handleArchive(w http.ResponseWriter, r *http.Request) {
	sha, ok := strings.CutSuffix(r.PathValue("file"), ".tar.gz")
	if !ok || !s.ours(r) {
		http.NotFound(w, r)
		return
	}
	full, err := s.git.resolve(r.Context(), sha)
	if errors.Is(err, errNoCommit) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		s.internal(w, "resolve commit", err)
		return
	}
	treeish := full
	if s.prefix != "" {
		treeish = full + ":" + s.prefix
		if s.git.objectType(r.Context(), treeish) != "tree" {
			http.Error(w, fmt.Sprintf("The app's folder %s is not in commit %s", s.prefix, full[:12]), http.StatusNotFound)
			return
		}
	}
	name := s.repo.Workspace + "-" + s.repo.Slug + "-" + full[:12]
	out, err := s.git.run(r.Context(), "archive", "--format=tar.gz", "--prefix="+name+"/", treeish)
	if err != nil {
		s.internal(w, "archive commit", err)
		return
	}
	w.Header().Set("Content-Type", "application/x-gzip")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.tar.gz"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	_, _ = w.Write(out)
}

// internal answers 500 and logs the cause, which the client never sees.
func (s *Server) internal(w http.ResponseWriter, op string, err error) {
	s.log.Error(op, "error", err)
	http.Error(w, "Internal Server Error", http.StatusInternalServerError)
}

// apiError writes Bitbucket's error body,
// {"type": "error", "error": {"message": ..., "fields": {...}}}.
func apiError(w http.ResponseWriter, code int, msg string, fields map[string][]string) {
	type detail struct {
		Message string              `json:"message"`
		Fields  map[string][]string `json:"fields,omitempty"`
	}
	writeJSON(w, code, struct {
		Type  string `json:"type"`
		Error detail `json:"error"`
	}{"error", detail{msg, fields}})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// newUUID returns a random version 4 UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
