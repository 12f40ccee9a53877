package bitbucket

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// Default addresses of Bitbucket Cloud.
const (
	DefaultAPIURL = "https://api.bitbucket.org"
	DefaultWebURL = "https://bitbucket.org"
)

// Credentials authenticate stackflow to Bitbucket: either an API token of
// an Atlassian account, sent as Basic auth with the account's email, or a
// repository or workspace access token, sent as a Bearer token. They are
// only ever sent in the Authorization header, and they print as a
// description that leaves the token out.
type Credentials struct {
	email string
	token string
}

// ParseCredentials reads credentials from a secret's value: "email:token"
// is an API token; anything else is an access token. Surrounding white
// space is ignored. Its errors never hold the value.
func ParseCredentials(s string) (Credentials, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Credentials{}, errors.New("bitbucket credentials are empty: store an access token, or email:token for an API token")
	}
	if email, token, ok := strings.Cut(s, ":"); ok {
		if email == "" || token == "" {
			return Credentials{}, errors.New("bitbucket API token: want email:token")
		}
		return Credentials{email: email, token: token}, nil
	}
	return Credentials{token: s}, nil
}

// String describes the credentials without their token.
func (c Credentials) String() string {
	switch {
	case c.token == "":
		return "no Bitbucket credentials"
	case c.email != "":
		return "Bitbucket API token of " + c.email
	default:
		return "Bitbucket access token"
	}
}

// GoString is String, so that %#v does not print the token either.
func (c Credentials) GoString() string { return c.String() }

func (c Credentials) authorize(r *http.Request) {
	switch {
	case c.token == "":
	case c.email != "":
		r.SetBasicAuth(c.email, c.token)
	default:
		r.Header.Set("Authorization", "Bearer "+c.token)
	}
}

// Client calls Bitbucket Cloud on behalf of one set of credentials.
type Client struct {
	apiURL string
	webURL string
	// creds is a pointer so that printing a Client with %v shows an
	// address, not the token: fmt cannot call String on unexported fields.
	creds *Credentials
	hc    *http.Client
}

// NewClient returns a client of the REST API at apiURL and of the web site
// at webURL (DefaultAPIURL and DefaultWebURL when empty), sending requests
// through hc (http.DefaultClient when nil).
func NewClient(apiURL, webURL string, creds Credentials, hc *http.Client) *Client {
	if apiURL == "" {
		apiURL = DefaultAPIURL
	}
	if webURL == "" {
		webURL = DefaultWebURL
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{
		apiURL: strings.TrimRight(apiURL, "/"),
		webURL: strings.TrimRight(webURL, "/"),
		creds:  &creds,
		hc:     hc,
	}
}

// Archive downloads the tar.gz archive of repo at commit. The caller closes
// it. When Bitbucket redirects the download to another host, Go's client
// does not forward the Authorization header there.
//
// It returns a *pipeline.SourceUnavailable when Bitbucket refuses the token
// or knows no such commit, and a *pipeline.BitbucketUnavailable when it is
// rate limited, failing or out of reach.
func (c *Client) Archive(ctx context.Context, repo pipeline.Repository, commit string) (io.ReadCloser, error) {
	const op = "download archive"
	if !isHash(commit) {
		return nil, fmt.Errorf("%s of %s: %q is not a commit hash", op, repo.FullName(), commit)
	}
	u := c.webURL + "/" + url.PathEscape(repo.Workspace) + "/" + url.PathEscape(repo.Slug) +
		"/get/" + commit + ".tar.gz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%s of %s: %w", op, repo.FullName(), err)
	}
	c.creds.authorize(req)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, unreachable(op, err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp.Body, nil
	}
	defer discard(resp.Body)

	unavailable := func(reason string) error {
		return &pipeline.SourceUnavailable{Repository: repo.FullName(), Commit: commit, Reason: reason}
	}
	switch code := resp.StatusCode; code {
	case http.StatusUnauthorized, http.StatusForbidden:
		return nil, unavailable(status(code) + ": " + refusal(code))
	case http.StatusNotFound:
		return nil, unavailable(status(code) + ": check that the commit exists in the repository and that the token's repository read scope covers it")
	default:
		if err := retryable(op, code); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%s of %s at %s: unexpected answer %s", op, repo.FullName(), pipeline.ShortSHA(commit), status(code))
	}
}

// Commit resolves hash, a commit hash of at least seven hexadecimal digits
// (pull-request events carry only twelve), to the full 40-digit hash of
// the commit of repo it names, with GET
// /2.0/repositories/{workspace}/{slug}/commit/{hash}.
//
// It returns a *pipeline.SourceUnavailable when Bitbucket refuses the token
// or knows no such commit, and a *pipeline.BitbucketUnavailable when it is
// rate limited, failing or out of reach.
func (c *Client) Commit(ctx context.Context, repo pipeline.Repository, hash string) (string, error) {
	const op = "resolve commit"
	if !isHash(hash) {
		return "", fmt.Errorf("%s of %s: %q is not a commit hash", op, repo.FullName(), hash)
	}
	hash = strings.ToLower(hash)
	u := c.apiURL + "/2.0/repositories/" + url.PathEscape(repo.Workspace) + "/" + url.PathEscape(repo.Slug) +
		"/commit/" + hash
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("%s of %s: %w", op, repo.FullName(), err)
	}
	req.Header.Set("Accept", "application/json")
	c.creds.authorize(req)
	resp, err := c.hc.Do(req)
	if err != nil {
		return "", unreachable(op, err)
	}
	defer discard(resp.Body)

	unavailable := func(reason string) error {
		return &pipeline.SourceUnavailable{Repository: repo.FullName(), Commit: hash, Reason: reason}
	}
	switch code := resp.StatusCode; code {
	case http.StatusOK:
	case http.StatusUnauthorized, http.StatusForbidden:
		return "", unavailable(status(code) + ": " + refusal(code))
	case http.StatusNotFound:
		return "", unavailable(status(code) + ": check that the commit exists in the repository and that the token's repository read scope covers it")
	default:
		if err := retryable(op, code); err != nil {
			return "", err
		}
		return "", fmt.Errorf("%s %s of %s: unexpected answer %s", op, hash, repo.FullName(), status(code))
	}
	var commit struct {
		Hash string `json:"hash"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&commit); err != nil {
		return "", &pipeline.BitbucketUnavailable{Operation: op, Reason: "the answer is not a commit: " + err.Error()}
	}
	full := strings.ToLower(commit.Hash)
	if len(full) != 40 || !isHash(full) || !strings.HasPrefix(full, hash) {
		return "", fmt.Errorf("%s %s of %s: Bitbucket answered the commit %q, not a full hash that starts with it", op, hash, repo.FullName(), Truncate(commit.Hash, 64))
	}
	return full, nil
}

// MaxFileBytes is the largest file File reads.
const MaxFileBytes = 1 << 20

// MainBranch returns repo's main branch (its default branch, Bitbucket's
// mainbranch) and the commit at its head, with GET
// /2.0/repositories/{workspace}/{slug} and GET
// /2.0/repositories/{workspace}/{slug}/refs/branches/{name}.
//
// It returns a *pipeline.SourceUnavailable when Bitbucket refuses the token,
// knows no such repository or the repository has no main branch (it has
// no commits yet), and a *pipeline.BitbucketUnavailable when it is rate
// limited, failing or out of reach.
func (c *Client) MainBranch(ctx context.Context, repo pipeline.Repository) (pipeline.DefaultBranch, error) {
	const op = "read the main branch"
	var r struct {
		MainBranch *struct {
			Name string `json:"name"`
		} `json:"mainbranch"`
	}
	if err := c.getJSON(ctx, op, repo, c.repoURL(repo), &r); err != nil {
		return pipeline.DefaultBranch{}, err
	}
	if r.MainBranch == nil || r.MainBranch.Name == "" {
		return pipeline.DefaultBranch{}, &pipeline.SourceUnavailable{Repository: repo.FullName(),
			Reason: "the repository has no main branch yet: push one, or choose it in the repository's settings"}
	}
	name := r.MainBranch.Name
	var b struct {
		Target struct {
			Hash string `json:"hash"`
		} `json:"target"`
	}
	if err := c.getJSON(ctx, op, repo, c.repoURL(repo)+"/refs/branches/"+url.PathEscape(name), &b); err != nil {
		return pipeline.DefaultBranch{}, err
	}
	hash := strings.ToLower(b.Target.Hash)
	if len(hash) != 40 || !isHash(hash) {
		return pipeline.DefaultBranch{}, &pipeline.BitbucketUnavailable{Operation: op, Reason: fmt.Sprintf("the branch %s has no commit hash in the answer", Truncate(name, 64))}
	}
	return pipeline.DefaultBranch{Name: name, Commit: hash}, nil
}

// File returns the file at path (slash-separated, from the repository's
// root) of repo at commit, with GET
// /2.0/repositories/{workspace}/{slug}/src/{commit}/{path}. A file the
// commit does not have is an error wrapping fs.ErrNotExist; one larger than
// MaxFileBytes is an error.
//
// It returns a *pipeline.SourceUnavailable when Bitbucket refuses the
// token, and a *pipeline.BitbucketUnavailable when it is rate limited,
// failing or out of reach.
func (c *Client) File(ctx context.Context, repo pipeline.Repository, commit, path string) ([]byte, error) {
	const op = "read a file"
	if !isHash(commit) {
		return nil, fmt.Errorf("%s of %s: %q is not a commit hash", op, repo.FullName(), commit)
	}
	var parts []string
	for _, p := range strings.Split(strings.Trim(path, "/"), "/") {
		if p == "" || p == "." || p == ".." {
			return nil, fmt.Errorf("%s of %s: %q is not a path in the repository", op, repo.FullName(), path)
		}
		parts = append(parts, url.PathEscape(p))
	}
	resp, err := c.get(ctx, op, repo, c.repoURL(repo)+"/src/"+strings.ToLower(commit)+"/"+strings.Join(parts, "/"), "*/*")
	if errors.Is(err, errNotFound) {
		return nil, fmt.Errorf("%s %s at %s of %s: %w", op, path, pipeline.ShortSHA(commit), repo.FullName(), fs.ErrNotExist)
	}
	if err != nil {
		return nil, err
	}
	defer discard(resp.Body)
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxFileBytes+1))
	if err != nil {
		return nil, &pipeline.BitbucketUnavailable{Operation: op, Reason: "the answer broke off: " + err.Error()}
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("%s %s at %s of %s: it is larger than %d KiB", op, path, pipeline.ShortSHA(commit), repo.FullName(), MaxFileBytes>>10)
	}
	return data, nil
}

func (c *Client) repoURL(repo pipeline.Repository) string {
	return c.apiURL + "/2.0/repositories/" + url.PathEscape(repo.Workspace) + "/" + url.PathEscape(repo.Slug)
}

// errNotFound is a 404 answer, which get leaves to its caller to word.
var errNotFound = errors.New("not found")

// get sends GET u for op and returns a 200 answer, whose body the caller
// closes. A 404 is errNotFound; 401 and 403 are a
// *pipeline.SourceUnavailable; 429 and 5xx a *pipeline.BitbucketUnavailable.
func (c *Client) get(ctx context.Context, op string, repo pipeline.Repository, u, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%s of %s: %w", op, repo.FullName(), err)
	}
	req.Header.Set("Accept", accept)
	c.creds.authorize(req)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, unreachable(op, err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer discard(resp.Body)
	unavailable := func(reason string) error {
		return &pipeline.SourceUnavailable{Repository: repo.FullName(), Reason: op + ": " + reason}
	}
	switch code := resp.StatusCode; code {
	case http.StatusNotFound:
		return nil, errNotFound
	case http.StatusUnauthorized, http.StatusForbidden:
		return nil, unavailable(status(code) + ": " + refusal(code))
	default:
		if err := retryable(op, code); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%s of %s: unexpected answer %s", op, repo.FullName(), status(code))
	}
}

// getJSON gets u for op and decodes its JSON answer into v. A 404 is a
// *pipeline.SourceUnavailable: no such repository or branch.
func (c *Client) getJSON(ctx context.Context, op string, repo pipeline.Repository, u string, v any) error {
	resp, err := c.get(ctx, op, repo, u, "application/json")
	if errors.Is(err, errNotFound) {
		return &pipeline.SourceUnavailable{Repository: repo.FullName(),
			Reason: op + ": 404 Not Found: check that the repository exists and that the token's repository read scope covers it"}
	}
	if err != nil {
		return err
	}
	defer discard(resp.Body)
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v); err != nil {
		return &pipeline.BitbucketUnavailable{Operation: op, Reason: "the answer is not JSON: " + err.Error()}
	}
	return nil
}

// BuildStatus is a build status on a commit, as Bitbucket's statuses/build
// resource takes it.
type BuildStatus struct {
	// Key identifies the status among the commit's statuses; posting the
	// same key again overwrites it. At most MaxStatusKey characters.
	Key string `json:"key"`
	// State is one of INPROGRESS, SUCCESSFUL, FAILED, STOPPED.
	State string `json:"state"`
	// Name is what Bitbucket shows for the status.
	Name string `json:"name,omitempty"`
	// URL links the status to its details.
	URL string `json:"url,omitempty"`
	// Description is one short line.
	Description string `json:"description,omitempty"`
	// RefName is the branch the status belongs to; for a pull request, its
	// source branch, so that the status shows on the pull request.
	RefName string `json:"refname,omitempty"`
}

// Limits of BuildStatus fields, in characters.
const (
	// MaxStatusKey is the longest key Bitbucket accepts; a longer one is
	// a 400.
	MaxStatusKey = 40
	// MaxStatusName is the longest name kept; Bitbucket wants fewer than
	// 255 characters.
	MaxStatusName = 254
	// MaxStatusURL is the longest URL kept; Bitbucket wants fewer than
	// 450 characters.
	MaxStatusURL = 449
	// MaxStatusDescription is the longest description kept.
	MaxStatusDescription = 255
)

// ErrStatusRejected is a build status that Bitbucket refused for a reason
// that retrying will not cure.
var ErrStatusRejected = errors.New("bitbucket rejected the build status")

// Validate reports whether s has a key and a state Bitbucket accepts.
func (s BuildStatus) Validate() error {
	switch n := utf8.RuneCountInString(s.Key); {
	case n == 0:
		return errors.New("build status has no key")
	case n > MaxStatusKey:
		return fmt.Errorf("build status key %q is %d characters long, want at most %d", s.Key, n, MaxStatusKey)
	}
	switch s.State {
	case pipeline.StateInProgress, pipeline.StateSuccessful, pipeline.StateFailed, pipeline.StateStopped:
		return nil
	}
	return fmt.Errorf("build status state %q: want INPROGRESS, SUCCESSFUL, FAILED or STOPPED", s.State)
}

// Fit returns s with its name and description cut to Bitbucket's limits,
// ending in an ellipsis when cut, and without its URL when that is too long
// to be accepted.
func (s BuildStatus) Fit() BuildStatus {
	s.Name = Truncate(s.Name, MaxStatusName)
	s.Description = Truncate(s.Description, MaxStatusDescription)
	if utf8.RuneCountInString(s.URL) > MaxStatusURL {
		s.URL = ""
	}
	return s
}

// Truncate returns s cut to at most n characters, the last of them an
// ellipsis when anything was cut.
func Truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	r := []rune(s)[:n-1]
	return strings.TrimRight(string(r), " ") + "…"
}

// PostStatus sets the build status s on commit of repo, after Validate and
// Fit. It returns a *pipeline.BitbucketUnavailable when Bitbucket is rate
// limited, failing or out of reach, and an error wrapping
// ErrStatusRejected when it refuses the status.
func (c *Client) PostStatus(ctx context.Context, repo pipeline.Repository, commit string, s BuildStatus) error {
	const op = "post build status"
	if err := s.Validate(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if !isHash(commit) {
		return fmt.Errorf("%s on %s: %q is not a commit hash", op, repo.FullName(), commit)
	}
	body, err := json.Marshal(s.Fit())
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	u := c.apiURL + "/2.0/repositories/" + url.PathEscape(repo.Workspace) + "/" + url.PathEscape(repo.Slug) +
		"/commit/" + commit + "/statuses/build"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s on %s: %w", op, repo.FullName(), err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	c.creds.authorize(req)
	resp, err := c.hc.Do(req)
	if err != nil {
		return unreachable(op, err)
	}
	defer discard(resp.Body)
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return nil
	}
	if err := retryable(op, code); err != nil {
		return err
	}

	var reason string
	switch code {
	case http.StatusUnauthorized:
		reason = "check that the token secret holds a valid, unexpired token"
	case http.StatusForbidden:
		reason = fmt.Sprintf("the token needs the repository read scope, and only the creator of the status with key %q may overwrite it", s.Key)
	case http.StatusNotFound:
		reason = "check that the commit exists in the repository and that the token can read it"
	default:
		reason = apiMessage(resp.Body)
	}
	msg := fmt.Sprintf("%s on %s at %s: %s", op, repo.FullName(), pipeline.ShortSHA(commit), status(code))
	if reason != "" {
		msg += ": " + reason
	}
	return fmt.Errorf("%s: %w", msg, ErrStatusRejected)
}

// refusal says what to do about a 401 or 403 answer to a read.
func refusal(code int) string {
	if code == http.StatusUnauthorized {
		return "Bitbucket refused the token; check that the token secret holds a valid, unexpired token"
	}
	return "the token may not read this repository; give it the repository read scope"
}

// retryable returns a *pipeline.BitbucketUnavailable for an answer worth
// retrying (429 and server errors), or nil.
func retryable(op string, code int) error {
	switch {
	case code == http.StatusTooManyRequests:
		return &pipeline.BitbucketUnavailable{Operation: op, Reason: "rate limited (" + status(code) + ")"}
	case code >= 500:
		return &pipeline.BitbucketUnavailable{Operation: op, Reason: "server error (" + status(code) + ")"}
	}
	return nil
}

// unreachable is a request that got no answer. The URL of a request holds
// no credentials, but it is left out all the same: the operation says
// enough.
func unreachable(op string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &pipeline.BitbucketUnavailable{Operation: op, Reason: "no answer: " + err.Error()}
}

func status(code int) string {
	return fmt.Sprintf("%d %s", code, http.StatusText(code))
}

// apiMessage reads the message of a Bitbucket API error body
// ({"type": "error", "error": {"message": "..."}}), shortened.
func apiMessage(body io.Reader) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(body, 16<<10)).Decode(&e); err != nil {
		return ""
	}
	return Truncate(strings.Join(strings.Fields(e.Error.Message), " "), 200)
}

func discard(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 64<<10))
	_ = body.Close()
}

// isHash reports whether s is a hexadecimal commit hash, whole or
// abbreviated to at least seven digits.
func isHash(s string) bool {
	if len(s) < 7 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F') {
			return false
		}
	}
	return true
}
