package bitbucket

import (
	"encoding/json"
	"errors"
	"fmt"
)

// EventKey is the kind of a webhook delivery, as Bitbucket names it in the
// X-Event-Key header.
type EventKey string

// The events stackflow understands.
const (
	EventRepoPush             EventKey = "repo:push"
	EventPullRequestCreated   EventKey = "pullrequest:created"
	EventPullRequestUpdated   EventKey = "pullrequest:updated"
	EventPullRequestFulfilled EventKey = "pullrequest:fulfilled"
	EventPullRequestRejected  EventKey = "pullrequest:rejected"
)

// ErrUnknownEvent is an event key that stackflow does not handle. Answering
// it is harmless: the delivery is acknowledged and ignored.
var ErrUnknownEvent = errors.New("event is not handled")

// ErrMalformedPayload is a body that is not the payload its event key says.
var ErrMalformedPayload = errors.New("malformed payload")

// Event is a parsed webhook payload: a *PushEvent or a *PullRequestEvent.
type Event interface {
	// Repo is the repository the event happened in.
	Repo() Repository
}

var (
	_ Event = (*PushEvent)(nil)
	_ Event = (*PullRequestEvent)(nil)
)

// Account is the user who caused an event. Bitbucket Cloud no longer sends
// user names; the UUID and the Atlassian account ID identify a user.
type Account struct {
	DisplayName string `json:"display_name"`
	UUID        string `json:"uuid"`
	AccountID   string `json:"account_id,omitempty"`
}

// Repository is the repository of an event. FullName is "workspace/slug".
type Repository struct {
	FullName string `json:"full_name"`
	Name     string `json:"name"`
	UUID     string `json:"uuid"`
}

// Commit is a commit as events refer to it.
type Commit struct {
	// Hash is the full hash in push events and only its first 12
	// characters in pull-request events.
	Hash    string `json:"hash"`
	Message string `json:"message,omitempty"`
}

// PushEvent is the payload of repo:push: one push of one or more refs.
type PushEvent struct {
	Actor      Account    `json:"actor"`
	Repository Repository `json:"repository"`
	Push       Push       `json:"push"`
}

// Repo is the repository that was pushed to.
func (e *PushEvent) Repo() Repository { return e.Repository }

// Push lists what one push changed.
type Push struct {
	// Changes has one entry per updated branch or tag.
	Changes []Change `json:"changes"`
}

// Change is one ref updated by a push.
type Change struct {
	// Old is the ref before the push; nil when the push created it.
	Old *Ref `json:"old"`
	// New is the ref after the push; nil when the push deleted it.
	New     *Ref `json:"new"`
	Created bool `json:"created"`
	Closed  bool `json:"closed"`
	Forced  bool `json:"forced"`
	// Truncated is true when Commits does not list every pushed commit.
	Truncated bool `json:"truncated"`
	// Commits are the newest pushed commits, at most five.
	Commits []Commit `json:"commits"`
}

// RefType is the kind of a ref.
type RefType string

// The kinds of refs a git repository pushes.
const (
	RefBranch RefType = "branch"
	RefTag    RefType = "tag"
)

// Ref is a branch or a tag and the commit it points at.
type Ref struct {
	Type   RefType `json:"type"`
	Name   string  `json:"name"`
	Target Commit  `json:"target"`
}

// PullRequestEvent is the payload of the pullrequest:* events.
type PullRequestEvent struct {
	Actor       Account     `json:"actor"`
	Repository  Repository  `json:"repository"`
	PullRequest PullRequest `json:"pullrequest"`
}

// Repo is the repository of the pull request's destination.
func (e *PullRequestEvent) Repo() Repository { return e.Repository }

// PullRequest is the pull request an event is about.
type PullRequest struct {
	ID    int    `json:"id"`
	Title string `json:"title"`
	// State is OPEN, MERGED, DECLINED or SUPERSEDED.
	State       string   `json:"state"`
	Source      Endpoint `json:"source"`
	Destination Endpoint `json:"destination"`
}

// Endpoint is one side of a pull request.
type Endpoint struct {
	Branch Branch `json:"branch"`
	// Commit holds a 12-character abbreviated hash: resolve it through the
	// API before using it.
	Commit     Commit     `json:"commit"`
	Repository Repository `json:"repository"`
}

// Branch names a branch.
type Branch struct {
	Name string `json:"name"`
}

// maxKeyInError bounds how much of an unknown event key goes into an error.
const maxKeyInError = 64

// ParseEvent parses the body of a delivery whose X-Event-Key is key. Verify
// the delivery's signature first. It returns a *PushEvent for repo:push and
// a *PullRequestEvent for the pullrequest events; an error wrapping
// ErrUnknownEvent for any other key; an error wrapping ErrMalformedPayload
// for a body that is not the payload key announces.
func ParseEvent(key EventKey, body []byte) (Event, error) {
	var ev Event
	switch key {
	case EventRepoPush:
		ev = new(PushEvent)
	case EventPullRequestCreated, EventPullRequestUpdated, EventPullRequestFulfilled, EventPullRequestRejected:
		ev = new(PullRequestEvent)
	default:
		k := string(key)
		if len(k) > maxKeyInError {
			k = k[:maxKeyInError] + "..."
		}
		return nil, fmt.Errorf("%q: %w", k, ErrUnknownEvent)
	}
	if err := json.Unmarshal(body, ev); err != nil {
		return nil, fmt.Errorf("%s %w: %w", key, ErrMalformedPayload, err)
	}
	if ev.Repo().FullName == "" {
		return nil, fmt.Errorf("%s %w: no repository.full_name", key, ErrMalformedPayload)
	}
	return ev, nil
}
