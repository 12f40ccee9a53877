package bitbucket

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// States of a pull request, as Bitbucket names them.
const (
	PullRequestOpen     = "OPEN"
	PullRequestMerged   = "MERGED"
	PullRequestDeclined = "DECLINED"
)

// PullRequest is a pull request the server keeps: one branch of its
// repository proposed for another.
type PullRequest struct {
	ID    int
	Title string
	// Source and Destination are branch names.
	Source      string
	Destination string
	// State is OPEN, MERGED or DECLINED.
	State string
	// Commit is the full hash of the source branch's head when the pull
	// request was opened or last updated.
	Commit  string
	Created time.Time
	Updated time.Time

	// author is the author of the commit it was opened at: the actor of
	// its events.
	author commitInfo
}

// ErrNoPullRequest is an id that names no pull request of the server.
var ErrNoPullRequest = errors.New("no such pull request")

// OpenPullRequest opens a pull request of the branch source into the
// branch dest, both branches of the repository, at source's head, titled
// with the head commit's subject. Ids count from 1, as Bitbucket's do.
func (s *Server) OpenPullRequest(source, dest string) (PullRequest, error) {
	ctx := context.Background()
	if source == dest {
		return PullRequest{}, fmt.Errorf("open pull request: %s into itself: name another destination branch", source)
	}
	head, err := s.branchHead(ctx, source)
	if err != nil {
		return PullRequest{}, fmt.Errorf("open pull request of %s: %w", source, err)
	}
	if _, err := s.branchHead(ctx, dest); err != nil {
		return PullRequest{}, fmt.Errorf("open pull request into %s: %w", dest, err)
	}
	c, err := s.git.commit(ctx, head)
	if err != nil {
		return PullRequest{}, fmt.Errorf("open pull request of %s: %w", source, err)
	}
	now := time.Now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	pr := &PullRequest{
		ID:          len(s.pulls) + 1,
		Title:       strings.TrimSpace(strings.SplitN(c.Message, "\n", 2)[0]),
		Source:      source,
		Destination: dest,
		State:       PullRequestOpen,
		Commit:      head,
		author:      c,
		Created:     now,
		Updated:     now,
	}
	s.pulls = append(s.pulls, pr)
	s.log.Info("pull request opened", "id", pr.ID, "source", source, "destination", dest, "commit", head[:12])
	return *pr, nil
}

// UpdatePullRequest moves open pull request id to its source branch's
// head, as a push to the branch does on Bitbucket.
func (s *Server) UpdatePullRequest(id int) (PullRequest, error) {
	pr, err := s.pullRequest(id)
	if err != nil {
		return PullRequest{}, err
	}
	if pr.State != PullRequestOpen {
		return PullRequest{}, fmt.Errorf("update pull request #%d: it is %s; only an open pull request is updated", id, pr.State)
	}
	head, err := s.branchHead(context.Background(), pr.Source)
	if err != nil {
		return PullRequest{}, fmt.Errorf("update pull request #%d: %w", id, err)
	}
	return s.changePullRequest(id, func(pr *PullRequest) { pr.Commit = head })
}

// MergePullRequest marks open pull request id merged. The server merges
// nothing: the destination branch stays as it is and no repo:push is sent.
func (s *Server) MergePullRequest(id int) (PullRequest, error) {
	return s.closePullRequest(id, PullRequestMerged)
}

// DeclinePullRequest marks open pull request id declined.
func (s *Server) DeclinePullRequest(id int) (PullRequest, error) {
	return s.closePullRequest(id, PullRequestDeclined)
}

func (s *Server) closePullRequest(id int, state string) (PullRequest, error) {
	pr, err := s.pullRequest(id)
	if err != nil {
		return PullRequest{}, err
	}
	if pr.State != PullRequestOpen {
		return PullRequest{}, fmt.Errorf("close pull request #%d: it is %s already", id, pr.State)
	}
	return s.changePullRequest(id, func(pr *PullRequest) { pr.State = state })
}

func (s *Server) changePullRequest(id int, change func(*PullRequest)) (PullRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id < 1 || id > len(s.pulls) {
		return PullRequest{}, fmt.Errorf("pull request #%d: %w", id, ErrNoPullRequest)
	}
	pr := s.pulls[id-1]
	change(pr)
	pr.Updated = time.Now().UTC()
	s.log.Info("pull request changed", "id", pr.ID, "state", pr.State, "commit", pr.Commit[:12])
	return *pr, nil
}

// PullRequests returns the server's pull requests, by id.
func (s *Server) PullRequests() []PullRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]PullRequest, len(s.pulls))
	for i, pr := range s.pulls {
		out[i] = *pr
	}
	return out
}

func (s *Server) pullRequest(id int) (PullRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id < 1 || id > len(s.pulls) {
		return PullRequest{}, fmt.Errorf("pull request #%d: %w", id, ErrNoPullRequest)
	}
	return *s.pulls[id-1], nil
}

// branchHead returns the full hash of branch's head.
func (s *Server) branchHead(ctx context.Context, branch string) (string, error) {
	if branch == "" || strings.HasPrefix(branch, "-") {
		return "", fmt.Errorf("%q is not a branch name", branch)
	}
	out, err := s.git.run(ctx, "rev-parse", "--verify", "--quiet", "refs/heads/"+branch+"^{commit}")
	if err != nil {
		return "", fmt.Errorf("branch %s is not in %s: create it with git branch", branch, s.git.top)
	}
	return strings.TrimSpace(string(out)), nil
}

// PullRequestPayload returns the body of the pullrequest:* event of pull
// request id as it is now, as Bitbucket Cloud sends it: the pull request
// with its id, title, state (OPEN, MERGED, DECLINED), source and
// destination, each with its branch, the repository and only the first
// 12 characters of its commit's hash; the actor is the author of the
// commit the pull request was opened at. internal/bitbucket.ParseEvent
// accepts it.
func (s *Server) PullRequestPayload(id int) ([]byte, error) {
	pr, err := s.pullRequest(id)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	destHead, err := s.branchHead(ctx, pr.Destination)
	if err != nil {
		return nil, fmt.Errorf("pull request #%d payload: %w", id, err)
	}
	repoPath := url.PathEscape(s.repo.Workspace) + "/" + url.PathEscape(s.repo.Slug)
	apiRepo := s.url + "/2.0/repositories/" + repoPath
	repo := s.payloadRepository()
	repo.Workspace = nil // endpoints describe the repository more briefly
	endpoint := func(branch, hash string) payloadEndpoint {
		return payloadEndpoint{
			Branch: payloadBranch{Name: branch},
			Commit: payloadShortCommit{Type: "commit", Hash: hash[:12], Links: map[string]link{
				"self": {apiRepo + "/commit/" + hash[:12]},
				"html": {s.url + "/" + repoPath + "/commits/" + hash[:12]},
			}},
			Repository: repo,
		}
	}
	actor := accountOf(pr.author)
	body := pullRequestPayload{
		Actor:      actor,
		Repository: s.payloadRepository(),
		PullRequest: payloadPullRequest{
			Type:        "pullrequest",
			ID:          pr.ID,
			Title:       pr.Title,
			Description: "",
			State:       pr.State,
			Author:      actor,
			Source:      endpoint(pr.Source, pr.Commit),
			Destination: endpoint(pr.Destination, destHead),
			CreatedOn:   bitbucketTime(pr.Created),
			UpdatedOn:   bitbucketTime(pr.Updated),
			Links: map[string]link{
				"self": {apiRepo + "/pullrequests/" + strconv.Itoa(pr.ID)},
				"html": {s.url + "/" + repoPath + "/pull-requests/" + strconv.Itoa(pr.ID)},
			},
		},
	}
	if pr.State != PullRequestOpen {
		body.PullRequest.ClosedBy = &actor
	}
	out, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("pull request #%d payload: %w", id, err)
	}
	return out, nil
}

// bitbucketTime writes t as Bitbucket writes times in payloads:
// "2026-03-02T10:35:18.402948+00:00".
func bitbucketTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000-07:00")
}

type pullRequestPayload struct {
	Actor       payloadActor       `json:"actor"`
	Repository  payloadRepository  `json:"repository"`
	PullRequest payloadPullRequest `json:"pullrequest"`
}

type payloadPullRequest struct {
	Type        string          `json:"type"`
	ID          int             `json:"id"`
	Title       string          `json:"title"`
	Description string          `json:"description"`
	State       string          `json:"state"`
	Draft       bool            `json:"draft"`
	Author      payloadActor    `json:"author"`
	Source      payloadEndpoint `json:"source"`
	Destination payloadEndpoint `json:"destination"`
	// MergeCommit stays null: the server merges nothing.
	MergeCommit       *payloadShortCommit `json:"merge_commit"`
	CloseSourceBranch bool                `json:"close_source_branch"`
	ClosedBy          *payloadActor       `json:"closed_by"`
	Reason            string              `json:"reason"`
	CommentCount      int                 `json:"comment_count"`
	TaskCount         int                 `json:"task_count"`
	CreatedOn         string              `json:"created_on"`
	UpdatedOn         string              `json:"updated_on"`
	Links             map[string]link     `json:"links"`
}

type payloadEndpoint struct {
	Branch     payloadBranch      `json:"branch"`
	Commit     payloadShortCommit `json:"commit"`
	Repository payloadRepository  `json:"repository"`
}

type payloadBranch struct {
	Name string `json:"name"`
}

type payloadShortCommit struct {
	Type  string          `json:"type"`
	Hash  string          `json:"hash"`
	Links map[string]link `json:"links"`
}

// handleGetCommit answers GET /2.0/repositories/{workspace}/{slug}/commit/
// {commit} as Bitbucket does: the commit that the hash, whole or
// abbreviated, names, with its full hash; 404 when it names none.
func (s *Server) handleGetCommit(w http.ResponseWriter, r *http.Request) {
	notFound := func() { apiError(w, http.StatusNotFound, "Commit not found", nil) }
	if !s.ours(r) {
		apiError(w, http.StatusNotFound, "Repository not found", nil)
		return
	}
	full, err := s.git.resolve(r.Context(), r.PathValue("commit"))
	if errors.Is(err, errNoCommit) {
		notFound()
		return
	}
	if err != nil {
		s.internal(w, "resolve commit", err)
		return
	}
	c, err := s.git.commit(r.Context(), full)
	if err != nil {
		s.internal(w, "read commit", err)
		return
	}
	repoPath := url.PathEscape(s.repo.Workspace) + "/" + url.PathEscape(s.repo.Slug)
	apiRepo := s.url + "/2.0/repositories/" + repoPath
	parents := []payloadParent{}
	for _, p := range c.Parents {
		parents = append(parents, payloadParent{Type: "commit", Hash: p, Links: map[string]link{"self": {apiRepo + "/commit/" + p}}})
	}
	repo := s.payloadRepository()
	repo.Workspace = nil
	writeJSON(w, http.StatusOK, struct {
		Type       string            `json:"type"`
		Hash       string            `json:"hash"`
		Date       string            `json:"date"`
		Message    string            `json:"message"`
		Author     payloadAuthor     `json:"author"`
		Parents    []payloadParent   `json:"parents"`
		Repository payloadRepository `json:"repository"`
		Links      map[string]link   `json:"links"`
	}{
		Type: "commit", Hash: c.Hash, Date: c.Date, Message: c.Message,
		Author:     payloadAuthor{Type: "author", Raw: c.Author},
		Parents:    parents,
		Repository: repo,
		Links: map[string]link{
			"self": {apiRepo + "/commit/" + c.Hash},
			"html": {s.url + "/" + repoPath + "/commits/" + c.Hash},
		},
	})
}
