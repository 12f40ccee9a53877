package bitbucket

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/stackflow/stackflow/internal/bitbucket"
)

// Delivery limits of Bitbucket Cloud.
const (
	// DeliveryTimeout is how long Bitbucket waits for a webhook's answer.
	DeliveryTimeout = 10 * time.Second
	// DeliveryAttempts is how many times Bitbucket sends a delivery that
	// keeps getting a 5xx answer: the first and two more.
	DeliveryAttempts = 3
	// maxAnswer bounds how much of a webhook's answer is read.
	maxAnswer = 1 << 20
)

// PushPayload returns the body of a repo:push event for a push of branch to
// the commit sha, as Bitbucket Cloud sends it: one change from the commit's
// first parent (or creating the branch when it has none) to the commit,
// listing the commit, with its message, author and date read from git, and
// the repository and actor described. internal/bitbucket.ParseEvent
// accepts it.
func (s *Server) PushPayload(branch, sha string) ([]byte, error) {
	if branch == "" || branch == "HEAD" {
		return nil, errors.New("push payload: a branch name is needed")
	}
	return s.pushPayload(bitbucket.RefBranch, branch, sha)
}

// TagPushPayload returns the body of a repo:push event for the push of a
// new tag named tag at the commit sha, as Bitbucket Cloud sends it: one
// change with no old ref, created, whose new ref is of type "tag".
func (s *Server) TagPushPayload(tag, sha string) ([]byte, error) {
	if tag == "" {
		return nil, errors.New("push payload: a tag name is needed")
	}
	return s.pushPayload(bitbucket.RefTag, tag, sha)
}

// pushPayload is the payload of a push of the ref name, of type typ, to
// sha: a branch from sha's first parent, a tag created.
func (s *Server) pushPayload(typ bitbucket.RefType, branch, sha string) ([]byte, error) {
	ctx := context.Background()
	full, err := s.git.resolve(ctx, sha)
	if err != nil {
		return nil, fmt.Errorf("push payload of %s: %w", branch, err)
	}
	c, err := s.git.commit(ctx, full)
	if err != nil {
		return nil, fmt.Errorf("push payload of %s: %w", branch, err)
	}
	var parent *commitInfo
	if len(c.Parents) > 0 && typ == bitbucket.RefBranch {
		p, err := s.git.commit(ctx, c.Parents[0])
		if err != nil {
			return nil, fmt.Errorf("push payload of %s: %w", branch, err)
		}
		parent = &p
	}

	repoPath := url.PathEscape(s.repo.Workspace) + "/" + url.PathEscape(s.repo.Slug)
	webRepo := s.url + "/" + repoPath
	apiRepo := s.url + "/2.0/repositories/" + repoPath
	commitJSON := func(c commitInfo) payloadCommit {
		pc := payloadCommit{
			Type:    "commit",
			Hash:    c.Hash,
			Date:    c.Date,
			Message: c.Message,
			Author:  payloadAuthor{Type: "author", Raw: c.Author},
			Parents: []payloadParent{},
			Links: map[string]link{
				"self": {apiRepo + "/commit/" + c.Hash},
				"html": {webRepo + "/commits/" + c.Hash},
			},
		}
		for _, p := range c.Parents {
			pc.Parents = append(pc.Parents, payloadParent{Type: "commit", Hash: p, Links: map[string]link{
				"self": {apiRepo + "/commit/" + p},
			}})
		}
		return pc
	}
	ref := func(c commitInfo) *payloadRef {
		ref := &payloadRef{
			Type:   string(typ),
			Name:   branch,
			Target: commitJSON(c),
			Links: map[string]link{
				"html": {webRepo + "/branch/" + url.PathEscape(branch)},
			},
		}
		if typ == bitbucket.RefTag {
			ref.Links = map[string]link{"html": {webRepo + "/commits/tag/" + url.PathEscape(branch)}}
		}
		return ref
	}
	change := payloadChange{
		New:     ref(c),
		Created: parent == nil,
		Commits: []payloadCommit{commitJSON(c)},
	}
	if parent != nil {
		change.Old = ref(*parent)
		change.Links = map[string]link{
			"html": {webRepo + "/branches/compare/" + c.Hash + ".." + parent.Hash},
			"diff": {apiRepo + "/diff/" + c.Hash + ".." + parent.Hash},
		}
	}

	actor := accountOf(c)
	body := pushPayload{
		Actor:      actor,
		Repository: s.payloadRepository(),
		Push:       payloadPush{Changes: []payloadChange{change}},
	}
	out, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("push payload of %s: %w", branch, err)
	}
	return out, nil
}

// payloadRepository describes the server's repository, as payloads do.
func (s *Server) payloadRepository() payloadRepository {
	repoPath := url.PathEscape(s.repo.Workspace) + "/" + url.PathEscape(s.repo.Slug)
	return payloadRepository{
		Type:      "repository",
		FullName:  s.repo.FullName(),
		Name:      s.repo.Slug,
		UUID:      "{" + stableUUID("repository:"+strings.ToLower(s.repo.FullName())) + "}",
		IsPrivate: true,
		SCM:       "git",
		Links: map[string]link{
			"self": {s.url + "/2.0/repositories/" + repoPath},
			"html": {s.url + "/" + repoPath},
		},
		Workspace: &payloadWorkspace{
			Type: "workspace",
			Slug: s.repo.Workspace,
			Name: s.repo.Workspace,
			UUID: "{" + stableUUID("workspace:"+strings.ToLower(s.repo.Workspace)) + "}",
		},
	}
}

// accountOf is the Bitbucket account of a commit's author: a stable UUID
// and account id made from the email, as Bitbucket sends no user names.
func accountOf(c commitInfo) payloadActor {
	return payloadActor{
		Type:        "user",
		DisplayName: c.Name,
		UUID:        "{" + stableUUID("account:"+c.Email) + "}",
		AccountID:   stableHex("account-id:"+c.Email, 24),
		Nickname:    c.Name,
	}
}

type pushPayload struct {
	Actor      payloadActor      `json:"actor"`
	Repository payloadRepository `json:"repository"`
	Push       payloadPush       `json:"push"`
}

type payloadActor struct {
	Type        string `json:"type"`
	DisplayName string `json:"display_name"`
	UUID        string `json:"uuid"`
	AccountID   string `json:"account_id"`
	Nickname    string `json:"nickname"`
}

type payloadRepository struct {
	Type      string            `json:"type"`
	FullName  string            `json:"full_name"`
	Name      string            `json:"name"`
	UUID      string            `json:"uuid"`
	IsPrivate bool              `json:"is_private"`
	SCM       string            `json:"scm"`
	Links     map[string]link   `json:"links"`
	Workspace *payloadWorkspace `json:"workspace,omitempty"`
}

type payloadWorkspace struct {
	Type string `json:"type"`
	Slug string `json:"slug"`
	Name string `json:"name"`
	UUID string `json:"uuid"`
}

type payloadPush struct {
	Changes []payloadChange `json:"changes"`
}

type payloadChange struct {
	Old       *payloadRef     `json:"old"`
	New       *payloadRef     `json:"new"`
	Created   bool            `json:"created"`
	Closed    bool            `json:"closed"`
	Forced    bool            `json:"forced"`
	Truncated bool            `json:"truncated"`
	Commits   []payloadCommit `json:"commits"`
	Links     map[string]link `json:"links,omitempty"`
}

type payloadRef struct {
	Type   string          `json:"type"`
	Name   string          `json:"name"`
	Target payloadCommit   `json:"target"`
	Links  map[string]link `json:"links"`
}

type payloadCommit struct {
	Type    string          `json:"type"`
	Hash    string          `json:"hash"`
	Date    string          `json:"date"`
	Message string          `json:"message"`
	Author  payloadAuthor   `json:"author"`
	Parents []payloadParent `json:"parents"`
	Links   map[string]link `json:"links"`
}

type payloadAuthor struct {
	Type string `json:"type"`
	Raw  string `json:"raw"`
}

type payloadParent struct {
	Type  string          `json:"type"`
	Hash  string          `json:"hash"`
	Links map[string]link `json:"links"`
}

// stableHex returns n hexadecimal digits derived from s.
func stableHex(s string, n int) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:n]
}

// stableUUID returns a UUID-shaped name derived from s, the same for the
// same s on every machine.
func stableUUID(s string) string {
	h := stableHex(s, 32)
	return h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-8" + h[17:20] + "-" + h[20:32]
}

// Deliver POSTs a webhook delivery of the event key with body to
// webhookURL as Bitbucket Cloud does, under a new X-Request-UUID, and
// returns the final answer's status code and body (at most 1 MiB of it).
//
// Each attempt has Bitbucket's headers: X-Event-Key, X-Request-UUID,
// X-Hook-UUID (HookUUID), X-Attempt-Number, User-Agent
// Bitbucket-Webhooks/2.0, Content-Type application/json and, when secret is
// not empty, X-Hub-Signature: sha256=<HMAC of body>. An attempt that gets
// no answer within DeliveryTimeout fails the delivery with an error; a
// 5xx answer is redelivered at once, up to DeliveryAttempts attempts in
// all, under the same X-Request-UUID. Redirects are not followed. A body
// over bitbucket.MaxPayloadBytes is refused, as Bitbucket sends none.
func (s *Server) Deliver(ctx context.Context, webhookURL, secret string, eventKey bitbucket.EventKey, body []byte) (status int, respBody []byte, err error) {
	return s.Redeliver(ctx, newUUID(), webhookURL, secret, eventKey, body)
}

// Redeliver is Deliver under the given X-Request-UUID, so that a receiver
// sees a delivery it has already had again.
func (s *Server) Redeliver(ctx context.Context, requestUUID, webhookURL, secret string, eventKey bitbucket.EventKey, body []byte) (status int, respBody []byte, err error) {
	if len(body) > bitbucket.MaxPayloadBytes {
		return 0, nil, fmt.Errorf("deliver %s: payload of %d bytes is over Bitbucket's %d KiB", eventKey, len(body), bitbucket.MaxPayloadBytes>>10)
	}
	if requestUUID == "" {
		requestUUID = newUUID()
	}
	for attempt := 1; ; attempt++ {
		status, respBody, err = s.attempt(ctx, requestUUID, webhookURL, secret, eventKey, body, attempt)
		if err != nil {
			return 0, nil, fmt.Errorf("deliver %s (attempt %d): %w", eventKey, attempt, err)
		}
		s.log.Info("webhook delivery", "event", string(eventKey), "requestUUID", requestUUID, "attempt", attempt, "status", status)
		if status < 500 || status > 599 || attempt == DeliveryAttempts {
			return status, respBody, nil
		}
	}
}

func (s *Server) attempt(ctx context.Context, requestUUID, webhookURL, secret string, eventKey bitbucket.EventKey, body []byte, attempt int) (int, []byte, error) {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, DeliveryTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, webhookURL, bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("webhook URL: %w", err)
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "Bitbucket-Webhooks/2.0")
	h.Set(bitbucket.HeaderEventKey, string(eventKey))
	h.Set(bitbucket.HeaderRequestUUID, requestUUID)
	h.Set(bitbucket.HeaderHookUUID, s.hookUUID)
	h.Set(bitbucket.HeaderAttemptNumber, strconv.Itoa(attempt))
	if secret != "" {
		h.Set(bitbucket.HeaderSignature, bitbucket.Signature([]byte(secret), body))
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if parent.Err() == nil && ctx.Err() != nil {
			return 0, nil, fmt.Errorf("no answer within %s (TIMEOUT)", DeliveryTimeout)
		}
		return 0, nil, fmt.Errorf("no answer (NETWORK ERROR): %w", err)
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return 0, nil, fmt.Errorf("read answer: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, respBody, nil
}
