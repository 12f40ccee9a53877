package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/stackflow/stackflow/internal/approvals"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/runs"
)

// maxLog is the most of a step's output a page shows: the end of it.
const maxLog = 256 << 10

// Statuses are the run statuses the runs page filters by.
var Statuses = []string{"RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}

func (s *Server) routes() {
	m := http.NewServeMux()
	m.Handle("GET /assets/", assets())
	m.HandleFunc("GET /{$}", s.environmentsPage)
	m.HandleFunc("GET /runs", s.runsPage)
	m.HandleFunc("GET /runs/{run}", s.runPage)
	m.HandleFunc("GET /api/environments", s.apiEnvironments)
	m.HandleFunc("GET /api/runs", s.apiRuns)
	m.HandleFunc("GET /api/runs/{run}", s.apiRun)
	m.HandleFunc("GET /api/runs/{run}/graph", s.apiGraph)
	m.HandleFunc("GET /api/runs/{run}/logs/{phase}", s.apiLog)
	m.HandleFunc("POST /api/actions/{action}", s.action)
	s.mux = m
}

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	"short": pipeline.ShortSHA,
	"name":  pipeline.ExecutionNameOf,
	"clock": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"iso":     func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"seconds": runs.FormatSeconds,
	"duration": func(p *float64) string {
		if p == nil {
			return "—"
		}
		return humanDuration(*p)
	},
	"percent": func(p *float64) string {
		if p == nil {
			return "—"
		}
		return fmt.Sprintf("%.0f%%", *p*100)
	},
	"perDay": func(f float64) string { return fmt.Sprintf("%.2f", f) },
	"mark":   mark,
	"lower":  strings.ToLower,
	"statusClass": func(status string) string {
		return strings.ToLower(strings.ReplaceAll(status, "_", "-"))
	},
}

// mark is a status's symbol, which goes with its word so that colour is
// never the only sign.
func mark(status string) string {
	switch status {
	case "SUCCEEDED", "DELIVERED", "SUCCESSFUL":
		return "✓"
	case "FAILED", "TIMED_OUT":
		return "✗"
	case "RUNNING", "IN_PROGRESS", "INPROGRESS":
		return "▸"
	case "ABORTED", "STOPPED":
		return "■"
	}
	return "·"
}

// humanDuration is seconds as people read a duration: 45s, 12m, 3.5h, 2.1d.
func humanDuration(sec float64) string {
	switch {
	case sec < 90:
		return fmt.Sprintf("%.0fs", sec)
	case sec < 90*60:
		return fmt.Sprintf("%.0fm", sec/60)
	case sec < 36*3600:
		return fmt.Sprintf("%.1fh", sec/3600)
	}
	return fmt.Sprintf("%.1fd", sec/86400)
}

func parsePages() (map[string]*template.Template, error) {
	pages := map[string]*template.Template{}
	for _, p := range []string{"environments", "runs", "run"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/"+p+".html")
		if err != nil {
			return nil, fmt.Errorf("dashboard: parse the %s page: %w", p, err)
		}
		pages[p] = t
	}
	return pages, nil
}

// page is what every page's layout reads.
type page struct {
	Title   string
	Nav     string
	Token   string
	Actions bool
	Data    any
}

// render writes the page (or, with ?fragment=NAME, the template NAME of
// it alone, which the page's script polls).
func (s *Server) render(w http.ResponseWriter, r *http.Request, name, title string, data any) {
	t := s.pages[name]
	var buf bytes.Buffer
	what := "layout.html"
	if f := r.URL.Query().Get("fragment"); f != "" {
		what = f
		if t.Lookup(f) == nil {
			refuse(w, http.StatusNotFound, "no fragment "+f)
			return
		}
	}
	p := page{Title: title, Nav: name, Token: s.token, Actions: s.cfg.Operator != nil, Data: data}
	if err := t.ExecuteTemplate(&buf, what, p); err != nil {
		s.fail(w, r, fmt.Errorf("render the %s page: %w", name, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = buf.WriteTo(w)
}

// fail answers err: its message names the problem (the runs package's
// errors say what to do), never a token.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	var nf *runs.ExecutionNotFoundError
	var nl *runs.NoLogError
	if errors.As(err, &nf) || errors.As(err, &nl) {
		status = http.StatusNotFound
	}
	if isAPI(r.URL.Path) {
		writeJSON(w, status, map[string]string{"error": err.Error()})
		return
	}
	refuse(w, status, err.Error())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func (s *Server) environmentsPage(w http.ResponseWriter, r *http.Request) {
	repos, err := s.environments(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// ?repo=WORKSPACE/SLUG shows one repository's.
	if only := r.URL.Query().Get("repo"); only != "" {
		repos = slices.DeleteFunc(repos, func(x Repository) bool { return x.Name != only })
	}
	s.render(w, r, "environments", "Environments", repos)
}

func (s *Server) apiEnvironments(w http.ResponseWriter, r *http.Request) {
	repos, err := s.environments(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for i := range repos {
		for j := range repos[i].Environments {
			for k := range repos[i].Environments[j].Pending {
				repos[i].Environments[j].Pending[k].Token = ""
			}
		}
	}
	writeJSON(w, http.StatusOK, repos)
}

// RunsView is the runs page: the filter and the runs it keeps.
type RunsView struct {
	Repository, Branch, Status string
	Statuses                   []string
	Runs                       []runs.Run
}

func (s *Server) runsOf(r *http.Request) (RunsView, error) {
	q := r.URL.Query()
	v := RunsView{Repository: q.Get("repo"), Branch: q.Get("branch"), Status: q.Get("status"), Statuses: Statuses}
	if v.Repository != "" {
		if _, err := pipeline.ParseRepository(v.Repository); err != nil {
			return v, err
		}
	}
	if v.Status != "" && !slices.Contains(Statuses, v.Status) {
		return v, fmt.Errorf("status %q: want one of %s", v.Status, strings.Join(Statuses, ", "))
	}
	list, err := s.cfg.Source.Runs(r.Context(), runs.Filter{Repository: v.Repository, Branch: v.Branch, Limit: 100})
	if err != nil {
		return v, err
	}
	v.Runs = []runs.Run{}
	for _, run := range list {
		if v.Status == "" || run.Status == v.Status {
			v.Runs = append(v.Runs, run)
		}
	}
	return v, nil
}

func (s *Server) runsPage(w http.ResponseWriter, r *http.Request) {
	v, err := s.runsOf(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "runs", "Runs", v)
}

func (s *Server) apiRuns(w http.ResponseWriter, r *http.Request) {
	v, err := s.runsOf(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v.Runs)
}

// RunView is a run's page.
type RunView struct {
	*runs.Timeline
	// Pending are its deploys that wait for approval (no tokens).
	Pending []approvals.Request
	// Statuses are the commit statuses it posted, from its Report states.
	Statuses []runs.Step
	// Phases are the steps whose output can be read.
	Phases []runs.Phase
	// Retryable is true for a run that stopped in an environment.
	Retryable bool
}

func (s *Server) runOf(r *http.Request) (*RunView, error) {
	t, err := s.cfg.Source.Show(r.Context(), r.PathValue("run"))
	if err != nil {
		return nil, err
	}
	v := &RunView{Timeline: t}
	if t.Status == "RUNNING" {
		if _, p, err := s.cfg.Source.Pending(r.Context(), t.ARN); err == nil {
			for i := range p {
				p[i].Token = ""
			}
			v.Pending = p
		}
	}
	for _, st := range t.Steps {
		if st.Phase == runs.PhaseStatus && st.Type == "Task" {
			v.Statuses = append(v.Statuses, st)
		}
	}
	for _, p := range runs.LogPhases {
		if _, ok := t.Links.Logs[p]; ok || slices.ContainsFunc(t.Steps, func(st runs.Step) bool { return st.Phase == p }) {
			v.Phases = append(v.Phases, p)
		}
	}
	v.Retryable = (t.Status == "FAILED" || t.Status == "ABORTED" || t.Status == "TIMED_OUT") && t.Failure != nil && t.Failure.Environment != ""
	return v, nil
}

func (s *Server) runPage(w http.ResponseWriter, r *http.Request) {
	v, err := s.runOf(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "run", v.Execution, v)
}

func (s *Server) apiRun(w http.ResponseWriter, r *http.Request) {
	t, err := s.cfg.Source.Show(r.Context(), r.PathValue("run"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *Server) apiGraph(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("run")
	def, err := s.cfg.Source.Definition(r.Context(), ref)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	t, err := s.cfg.Source.Show(r.Context(), ref)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	g, err := GraphOf(def, t)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, g)
}

// apiLog is the end of a step's output (the last maxLog bytes), as text;
// the page polls it while the run goes on.
func (s *Server) apiLog(w http.ResponseWriter, r *http.Request) {
	phase := runs.Phase(r.PathValue("phase"))
	if !slices.Contains(runs.LogPhases, phase) {
		refuse(w, http.StatusNotFound, fmt.Sprintf("no step %q", phase))
		return
	}
	log, err := s.cfg.Source.Logs(r.Context(), r.PathValue("run"), phase)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer log.Body.Close()
	data, err := io.ReadAll(log.Body)
	if err != nil {
		s.fail(w, r, fmt.Errorf("read %s: %w", log.Location, err))
		return
	}
	if len(data) > maxLog {
		data = append([]byte("[… the start is cut: stackflow logs "+log.Execution+" --step "+string(phase)+" prints it all]\n"), data[len(data)-maxLog:]...)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Log-Location", log.Location)
	_, _ = w.Write(data)
}

// ActionRequest is the body of an action's POST.
type ActionRequest struct {
	// Run is the run (execution name, ARN or commit SHA) of approve,
	// reject and retry.
	Run string `json:"run,omitempty"`
	// Repository and Environment name the environment of rollback and
	// promote; Environment also picks the deploy to approve or reject.
	Repository  string `json:"repository,omitempty"`
	Environment string `json:"environment,omitempty"`
	// App is the app whose environment or run it is, in a repository of
	// several apps, as the commands' --app.
	App string `json:"app,omitempty"`
	// Reason is a rejection's, or a deploy's during a freeze.
	Reason string `json:"reason,omitempty"`
	// To is the commit a rollback puts back (default: the release before
	// the current one); From and Commit what a promotion deploys.
	To     string `json:"to,omitempty"`
	From   string `json:"from,omitempty"`
	Commit string `json:"commit,omitempty"`
	// DuringFreeze lets a promotion or retry deploy in a freeze window,
	// with Reason.
	DuringFreeze bool `json:"duringFreeze,omitempty"`
}

// ActionResult is what an action did, in the words the command prints.
type ActionResult struct {
	Message string `json:"message"`
	// Run is the run it started or answered, for a link.
	Run string `json:"run,omitempty"`
}

// action runs one operator command, as the command line runs it.
func (s *Server) action(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Operator == nil {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "the dashboard is read-only: start it with stackflow dashboard --actions to act on runs"})
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{"error": "an action's body is JSON (Content-Type: application/json)"})
		return
	}
	var req ActionRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "read the action: " + err.Error()})
		return
	}
	res, err := s.act(r, r.PathValue("action"), req)
	if err != nil {
		var bad *badRequest
		status := http.StatusConflict
		if errors.As(err, &bad) {
			status = http.StatusBadRequest
		}
		writeJSON(w, status, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// badRequest is an action asked for wrongly: nothing ran.
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

func (s *Server) act(r *http.Request, action string, req ActionRequest) (ActionResult, error) {
	ctx, op := r.Context(), s.cfg.Operator
	override := func() (*pipeline.FreezeOverride, error) {
		if !req.DuringFreeze {
			return nil, nil
		}
		if strings.TrimSpace(req.Reason) == "" {
			return nil, &badRequest{"give the reason: a deploy during a freeze records why"}
		}
		// Who asks is the caller AWS names to the approval function.
		return &pipeline.FreezeOverride{Reason: strings.TrimSpace(req.Reason)}, nil
	}
	repo := func() (pipeline.Repository, error) {
		rp, err := pipeline.ParseRepository(req.Repository)
		if err != nil {
			return rp, &badRequest{err.Error()}
		}
		if req.Environment == "" {
			return rp, &badRequest{"name the environment"}
		}
		return rp, nil
	}
	switch action {
	case "approve":
		q, by, err := op.Approve(ctx, req.Run, req.App, req.Environment)
		if err != nil {
			return ActionResult{}, err
		}
		return ActionResult{Run: pipeline.ExecutionNameOf(q.Execution), Message: fmt.Sprintf("approved the deploy of %s to %s (%s) as %s: the run goes on", pipeline.ShortSHA(q.Commit), q.Environment, q.Summary, by)}, nil
	case "reject":
		if strings.TrimSpace(req.Reason) == "" {
			return ActionResult{}, &badRequest{"give the reason: the commit status shows it"}
		}
		q, by, err := op.Reject(ctx, req.Run, req.App, req.Environment, req.Reason)
		if err != nil {
			return ActionResult{}, err
		}
		return ActionResult{Run: pipeline.ExecutionNameOf(q.Execution), Message: fmt.Sprintf("rejected the deploy of %s to %s as %s: the run fails, %s keeps its release", pipeline.ShortSHA(q.Commit), q.Environment, by, q.Environment)}, nil
	case "rollback":
		rp, err := repo()
		if err != nil {
			return ActionResult{}, err
		}
		arn, rel, by, err := op.RollbackAsCaller(ctx, rp, req.App, req.Environment, req.To)
		if err != nil {
			return ActionResult{}, err
		}
		return ActionResult{Run: pipeline.ExecutionNameOf(arn), Message: fmt.Sprintf("rolling %s back to %s (released %s) as %s", req.Environment, pipeline.ShortSHA(rel.Commit), rel.DeployedAt.UTC().Format("2006-01-02 15:04 UTC"), by)}, nil
	case "promote":
		rp, err := repo()
		if err != nil {
			return ActionResult{}, err
		}
		during, err := override()
		if err != nil {
			return ActionResult{}, err
		}
		arn, rel, by, err := op.PromoteAsCaller(ctx, runs.PromoteRequest{Repository: rp, App: req.App, Environment: req.Environment, From: req.From, Commit: req.Commit, DuringFreeze: during})
		if err != nil {
			return ActionResult{}, err
		}
		return ActionResult{Run: pipeline.ExecutionNameOf(arn), Message: fmt.Sprintf("promoting %s from %s to %s as %s", pipeline.ShortSHA(rel.Commit), rel.Environment, req.Environment, by)}, nil
	case "retry":
		during, err := override()
		if err != nil {
			return ActionResult{}, err
		}
		arn, env, by, err := op.RetryAsCaller(ctx, req.Run, req.App, during)
		if err != nil {
			return ActionResult{}, err
		}
		return ActionResult{Run: pipeline.ExecutionNameOf(arn), Message: fmt.Sprintf("retrying %s from %s on, with its package, as %s", req.Run, env, by)}, nil
	}
	return ActionResult{}, &badRequest{fmt.Sprintf("no action %q: want approve, reject, rollback, promote or retry", action)}
}
