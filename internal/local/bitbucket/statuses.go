package bitbucket

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stackflow/stackflow/internal/bitbucket"
	"github.com/stackflow/stackflow/internal/pipeline"
)

// Status is a build status the server recorded on a commit.
type Status struct {
	// Commit is the full hash of the commit the status is on.
	Commit      string
	Key         string
	State       string
	Name        string
	URL         string
	Description string
	RefName     string
	// Created is when the first status with this key was posted on the
	// commit; Updated when this one was.
	Created time.Time
	Updated time.Time
}

type statusID struct{ commit, key string }

// maxStatusBody bounds the body of a posted status.
const maxStatusBody = 1 << 20

// Statuses returns the current build statuses of the commit whose hash is
// sha (or starts with sha), one per key, sorted by key.
func (s *Server) Statuses(sha string) []Status {
	sha = strings.ToLower(sha)
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Status
	for id, st := range s.current {
		if id.commit == sha || len(sha) >= 7 && strings.HasPrefix(id.commit, sha) {
			out = append(out, st)
		}
	}
	slices.SortFunc(out, func(a, b Status) int {
		if c := strings.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		return strings.Compare(a.Commit, b.Commit)
	})
	return out
}

// History returns every build status posted to the server, in the order
// they were recorded, overwritten ones included.
func (s *Server) History() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.history)
}

// record stores st, keeping the creation time of the status it
// overwrites, and returns what was stored.
func (s *Server) record(st Status) Status {
	s.onStatusMu.Lock()
	defer s.onStatusMu.Unlock()
	s.mu.Lock()
	id := statusID{st.Commit, st.Key}
	if old, ok := s.current[id]; ok {
		st.Created = old.Created
	}
	s.current[id] = st
	s.history = append(s.history, st)
	s.mu.Unlock()

	s.log.Info("build status", "commit", pipeline.ShortSHA(st.Commit), "key", st.Key, "state", st.State, "name", st.Name)
	if s.onStatus != nil {
		s.onStatus(st)
	}
	return st
}

// postedStatus is the body of a POST to statuses/build. Every field is a
// JSON string; anything else is a 400, as Bitbucket answers.
type postedStatus struct {
	Key         *string `json:"key"`
	State       *string `json:"state"`
	Name        *string `json:"name"`
	URL         *string `json:"url"`
	Description *string `json:"description"`
	RefName     *string `json:"refname"`
}

// validate returns the problems of p by field, as Bitbucket lists them.
func (p postedStatus) validate() map[string][]string {
	fields := map[string][]string{}
	add := func(field, msg string) { fields[field] = append(fields[field], msg) }
	switch n := length(p.Key); {
	case p.Key == nil || n == 0:
		add("key", "This field is required.")
	case n > bitbucket.MaxStatusKey:
		add("key", fmt.Sprintf("Ensure this value has at most %d characters (it has %d).", bitbucket.MaxStatusKey, n))
	}
	switch {
	case p.State == nil || *p.State == "":
		add("state", "This field is required.")
	case !validState(*p.State):
		add("state", fmt.Sprintf("%q is not a valid choice: want INPROGRESS, SUCCESSFUL, FAILED or STOPPED.", *p.State))
	}
	if n := length(p.URL); n > bitbucket.MaxStatusURL {
		add("url", fmt.Sprintf("Ensure this value has fewer than %d characters (it has %d).", bitbucket.MaxStatusURL+1, n))
	} else if n > 0 {
		if u, err := url.Parse(*p.URL); err != nil || u.Scheme == "" || u.Host == "" {
			add("url", "Enter a valid URL.")
		}
	}
	if n := length(p.Name); n > bitbucket.MaxStatusName {
		add("name", fmt.Sprintf("Ensure this value has fewer than %d characters (it has %d).", bitbucket.MaxStatusName+1, n))
	}
	return fields
}

func length(p *string) int {
	if p == nil {
		return 0
	}
	return utf8.RuneCountInString(*p)
}

func validState(s string) bool {
	switch s {
	case pipeline.StateInProgress, pipeline.StateSuccessful, pipeline.StateFailed, pipeline.StateStopped:
		return true
	}
	return false
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// commitOf resolves the {commit} of an API request, answering 404 itself
// when it is not a commit of the server's repository.
func (s *Server) commitOf(w http.ResponseWriter, r *http.Request) (string, bool) {
	if !s.ours(r) {
		apiError(w, http.StatusNotFound, fmt.Sprintf("Repository %s/%s not found", r.PathValue("workspace"), r.PathValue("slug")), nil)
		return "", false
	}
	full, err := s.git.resolve(r.Context(), r.PathValue("commit"))
	switch {
	case errors.Is(err, errNoCommit):
		apiError(w, http.StatusNotFound, "Commit not found", nil)
		return "", false
	case err != nil:
		s.log.Error("resolve commit", "error", err)
		apiError(w, http.StatusInternalServerError, "Something went wrong", nil)
		return "", false
	}
	return full, true
}

func (s *Server) handlePostStatus(w http.ResponseWriter, r *http.Request) {
	full, ok := s.commitOf(w, r)
	if !ok {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxStatusBody+1))
	if err != nil {
		apiError(w, http.StatusBadRequest, "Could not read the request body", nil)
		return
	}
	if len(body) > maxStatusBody {
		apiError(w, http.StatusRequestEntityTooLarge, "Request body is too large", nil)
		return
	}
	var p postedStatus
	if err := json.Unmarshal(body, &p); err != nil {
		apiError(w, http.StatusBadRequest, "Bad request: the body must be a JSON object of strings: "+err.Error(), nil)
		return
	}
	if fields := p.validate(); len(fields) > 0 {
		apiError(w, http.StatusBadRequest, fieldMessage(fields), fields)
		return
	}
	now := time.Now().UTC()
	st := s.record(Status{
		Commit:      full,
		Key:         *p.Key,
		State:       *p.State,
		Name:        deref(p.Name),
		URL:         deref(p.URL),
		Description: deref(p.Description),
		RefName:     deref(p.RefName),
		Created:     now,
		Updated:     now,
	})
	writeJSON(w, http.StatusCreated, s.statusJSON(st))
}

// fieldMessage is Bitbucket's one-line message for field errors:
// "<field>: <problem>", the fields in a stable order.
func fieldMessage(fields map[string][]string) string {
	var parts []string
	for _, f := range []string{"key", "state", "url", "name"} {
		for _, msg := range fields[f] {
			parts = append(parts, f+": "+msg)
		}
	}
	return strings.Join(parts, " ")
}

func (s *Server) handleGetStatus(w http.ResponseWriter, r *http.Request) {
	full, ok := s.commitOf(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	st, found := s.current[statusID{full, r.PathValue("key")}]
	s.mu.Unlock()
	if !found {
		apiError(w, http.StatusNotFound, "Build status not found", nil)
		return
	}
	writeJSON(w, http.StatusOK, s.statusJSON(st))
}

func (s *Server) handleListStatuses(w http.ResponseWriter, r *http.Request) {
	full, ok := s.commitOf(w, r)
	if !ok {
		return
	}
	values := []statusJSON{}
	for _, st := range s.Statuses(full) {
		values = append(values, s.statusJSON(st))
	}
	writeJSON(w, http.StatusOK, struct {
		Size    int          `json:"size"`
		Page    int          `json:"page"`
		PageLen int          `json:"pagelen"`
		Values  []statusJSON `json:"values"`
	}{len(values), 1, max(len(values), 10), values})
}

// statusJSON is a build status as Bitbucket answers it.
type statusJSON struct {
	Type        string `json:"type"`
	Key         string `json:"key"`
	State       string `json:"state"`
	Name        string `json:"name"`
	URL         string `json:"url"`
	Description string `json:"description"`
	RefName     string `json:"refname,omitempty"`
	CreatedOn   string `json:"created_on"`
	UpdatedOn   string `json:"updated_on"`
	Commit      struct {
		Type string `json:"type"`
		Hash string `json:"hash"`
	} `json:"commit"`
	Links map[string]link `json:"links"`
}

type link struct {
	Href string `json:"href"`
}

func (s *Server) statusJSON(st Status) statusJSON {
	commitURL := s.url + "/2.0/repositories/" + url.PathEscape(s.repo.Workspace) + "/" + url.PathEscape(s.repo.Slug) + "/commit/" + st.Commit
	j := statusJSON{
		Type:        "build",
		Key:         st.Key,
		State:       st.State,
		Name:        st.Name,
		URL:         st.URL,
		Description: st.Description,
		RefName:     st.RefName,
		CreatedOn:   st.Created.Format(time.RFC3339Nano),
		UpdatedOn:   st.Updated.Format(time.RFC3339Nano),
		Links: map[string]link{
			"self":   {commitURL + "/statuses/build/" + url.PathEscape(st.Key)},
			"commit": {commitURL},
		},
	}
	j.Commit.Type = "commit"
	j.Commit.Hash = st.Commit
	return j
}
