package bitbucket

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
)

// The repository, its branches and its files, as Bitbucket Cloud's API
// serves them: what the pipeline reads to learn who may deploy where.

// DefaultBranches are the branch names a repository's main branch is
// taken from when Options.DefaultBranch names none, the first that exists.
var DefaultBranches = []string{"main", "master", "trunk"}

// DefaultBranch returns the repository's main branch, as GET
// /2.0/repositories/{workspace}/{slug} answers it (mainbranch.name): the
// one given to New or SetDefaultBranch, else the first of DefaultBranches
// the repository has; "" when it has none of them.
func (s *Server) DefaultBranch() string {
	s.mu.Lock()
	name := s.mainBranch
	s.mu.Unlock()
	if name != "" {
		return name
	}
	for _, b := range DefaultBranches {
		if _, err := s.git.branch(context.Background(), b); err == nil {
			return b
		}
	}
	return ""
}

// SetDefaultBranch makes name the repository's main branch, as a
// repository's settings do on Bitbucket; "" goes back to the first of
// DefaultBranches. A name that is not a branch of the repository is an
// error.
func (s *Server) SetDefaultBranch(name string) error {
	if name != "" {
		if _, err := s.git.branch(context.Background(), name); err != nil {
			return fmt.Errorf("default branch %q of %s: %w", name, s.git.top, err)
		}
	}
	s.mu.Lock()
	s.mainBranch = name
	s.mu.Unlock()
	return nil
}

func (s *Server) handleRepository(w http.ResponseWriter, r *http.Request) {
	if !s.ours(r) {
		apiError(w, http.StatusNotFound, "Repository "+r.PathValue("workspace")+"/"+r.PathValue("slug")+" not found", nil)
		return
	}
	type ref struct {
		Type string `json:"type"`
		Name string `json:"name"`
	}
	var main *ref
	if name := s.DefaultBranch(); name != "" {
		main = &ref{Type: "branch", Name: name}
	}
	repoPath := url.PathEscape(s.repo.Workspace) + "/" + url.PathEscape(s.repo.Slug)
	writeJSON(w, http.StatusOK, struct {
		Type       string          `json:"type"`
		FullName   string          `json:"full_name"`
		Name       string          `json:"name"`
		Slug       string          `json:"slug"`
		SCM        string          `json:"scm"`
		IsPrivate  bool            `json:"is_private"`
		MainBranch *ref            `json:"mainbranch"`
		Links      map[string]link `json:"links"`
	}{
		Type: "repository", FullName: s.repo.FullName(), Name: s.repo.Slug, Slug: s.repo.Slug, SCM: "git", IsPrivate: true,
		MainBranch: main,
		Links: map[string]link{
			"self": {s.url + "/2.0/repositories/" + repoPath},
			"html": {s.url + "/" + repoPath},
		},
	})
}

func (s *Server) handleBranch(w http.ResponseWriter, r *http.Request) {
	if !s.ours(r) {
		apiError(w, http.StatusNotFound, "Repository not found", nil)
		return
	}
	name := r.PathValue("name")
	hash, err := s.git.branch(r.Context(), name)
	if errors.Is(err, errNoCommit) {
		apiError(w, http.StatusNotFound, fmt.Sprintf("Branch %q not found", name), nil)
		return
	}
	if err != nil {
		s.internal(w, "read branch", err)
		return
	}
	c, err := s.git.commit(r.Context(), hash)
	if err != nil {
		s.internal(w, "read commit", err)
		return
	}
	repoPath := url.PathEscape(s.repo.Workspace) + "/" + url.PathEscape(s.repo.Slug)
	apiRepo := s.url + "/2.0/repositories/" + repoPath
	writeJSON(w, http.StatusOK, struct {
		Type   string          `json:"type"`
		Name   string          `json:"name"`
		Target payloadCommit   `json:"target"`
		Links  map[string]link `json:"links"`
	}{
		Type: "branch", Name: name,
		Target: payloadCommit{Type: "commit", Hash: c.Hash, Date: c.Date, Message: c.Message,
			Author: payloadAuthor{Type: "author", Raw: c.Author}, Parents: []payloadParent{},
			Links: map[string]link{"self": {apiRepo + "/commit/" + c.Hash}}},
		Links: map[string]link{
			"self": {apiRepo + "/refs/branches/" + url.PathEscape(name)},
			"html": {s.url + "/" + repoPath + "/branch/" + url.PathEscape(name)},
		},
	})
}

// handleSource answers GET .../src/{commit}/{path}: a file's raw content,
// or a folder's entries as a page of commit_file and commit_directory
// objects. {commit} is a commit hash or a branch name.
func (s *Server) handleSource(w http.ResponseWriter, r *http.Request) {
	if !s.ours(r) {
		apiError(w, http.StatusNotFound, "Repository not found", nil)
		return
	}
	ctx := r.Context()
	ref := r.PathValue("commit")
	hash, err := s.git.resolve(ctx, ref)
	if errors.Is(err, errNoCommit) {
		hash, err = s.git.branch(ctx, ref)
	}
	if errors.Is(err, errNoCommit) {
		apiError(w, http.StatusNotFound, "Commit not found", nil)
		return
	}
	if err != nil {
		s.internal(w, "resolve commit", err)
		return
	}
	rel := strings.Trim(r.PathValue("path"), "/")
	missing := func() { apiError(w, http.StatusNotFound, "No such file or directory: "+rel, nil) }
	if rel != path.Clean("/" + rel)[1:] {
		missing()
		return
	}
	// The app's folder is the repository's root, as in its archives.
	object := hash + ":" + path.Join(s.prefix, rel)
	switch s.git.objectType(ctx, object) {
	case "blob":
		out, err := s.git.run(ctx, "cat-file", "blob", object)
		if err != nil {
			s.internal(w, "read file", err)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(out)))
		_, _ = w.Write(out)
	case "tree":
		s.listFolder(w, r, hash, rel, object)
	default:
		missing()
	}
}

// listFolder answers the entries of the folder object (rel in commit hash)
// as one page.
func (s *Server) listFolder(w http.ResponseWriter, r *http.Request, hash, rel, object string) {
	out, err := s.git.run(r.Context(), "ls-tree", "-z", "--long", object)
	if err != nil {
		s.internal(w, "list folder", err)
		return
	}
	type entry struct {
		Type   string `json:"type"`
		Path   string `json:"path"`
		Size   int64  `json:"size,omitempty"`
		Commit struct {
			Type string `json:"type"`
			Hash string `json:"hash"`
		} `json:"commit"`
	}
	values := []entry{}
	for _, line := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		// "<mode> <type> <object> <size>\t<name>"
		meta, name, ok := strings.Cut(line, "\t")
		f := strings.Fields(meta)
		if !ok || len(f) != 4 {
			continue
		}
		e := entry{Type: "commit_file", Path: path.Join(rel, name)}
		if f[1] == "tree" {
			e.Type = "commit_directory"
		} else {
			e.Size, _ = strconv.ParseInt(f[3], 10, 64)
		}
		e.Commit.Type, e.Commit.Hash = "commit", hash
		values = append(values, e)
	}
	writeJSON(w, http.StatusOK, struct {
		PageLen int     `json:"pagelen"`
		Page    int     `json:"page"`
		Values  []entry `json:"values"`
	}{PageLen: len(values), Page: 1, Values: values})
}
