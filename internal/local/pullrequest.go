package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/stackflow/stackflow/internal/bitbucket"
	localbb "github.com/stackflow/stackflow/internal/local/bitbucket"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/webhook"
)

// PullRequestEvent is what one change of a local pull request did: the
// pull request as the local Bitbucket keeps it afterwards, the event it
// delivered and the webhook's answer.
type PullRequestEvent struct {
	Repo        pipeline.Repository
	PullRequest localbb.PullRequest
	Event       bitbucket.EventKey
	Response    webhook.Response
	// Delivered is when the event was delivered.
	Delivered time.Time
}

// Executions are the executions the event started, and those a delivery
// before it had started (the webhook found them by name).
func (e *PullRequestEvent) Executions() []webhook.Execution {
	return append(append([]webhook.Execution(nil), e.Response.Started...), e.Response.Duplicates...)
}

// OpenPullRequest opens a pull request of branch into dest in the local
// Bitbucket of repo, served from dir, at branch's head, and delivers its
// signed pullrequest:created event to the pipeline. Its run deploys the
// pull request's preview stack when the commit's stackflow.yml has
// previews.pull_requests: true; AwaitPullRequest follows it.
func (p *Pipeline) OpenPullRequest(ctx context.Context, repo pipeline.Repository, dir, branch, dest string) (*PullRequestEvent, error) {
	srv, err := p.Repository(repo, dir)
	if err != nil {
		return nil, err
	}
	pr, err := srv.OpenPullRequest(branch, dest)
	if err != nil {
		return nil, err
	}
	return p.deliverPullRequest(ctx, repo, srv, pr, bitbucket.EventPullRequestCreated)
}

// UpdatePullRequest moves open pull request id of repo to its branch's
// head (commit to the branch first) and delivers pullrequest:updated: its
// run updates the preview.
func (p *Pipeline) UpdatePullRequest(ctx context.Context, repo pipeline.Repository, id int) (*PullRequestEvent, error) {
	return p.changePullRequest(ctx, repo, id, bitbucket.EventPullRequestUpdated, (*localbb.Server).UpdatePullRequest)
}

// MergePullRequest marks open pull request id of repo merged and delivers
// pullrequest:fulfilled: its run deletes the preview. The local Bitbucket
// merges nothing in git.
func (p *Pipeline) MergePullRequest(ctx context.Context, repo pipeline.Repository, id int) (*PullRequestEvent, error) {
	return p.changePullRequest(ctx, repo, id, bitbucket.EventPullRequestFulfilled, (*localbb.Server).MergePullRequest)
}

// DeclinePullRequest marks open pull request id of repo declined and
// delivers pullrequest:rejected: its run deletes the preview.
func (p *Pipeline) DeclinePullRequest(ctx context.Context, repo pipeline.Repository, id int) (*PullRequestEvent, error) {
	return p.changePullRequest(ctx, repo, id, bitbucket.EventPullRequestRejected, (*localbb.Server).DeclinePullRequest)
}

func (p *Pipeline) changePullRequest(ctx context.Context, repo pipeline.Repository, id int, key bitbucket.EventKey,
	change func(*localbb.Server, int) (localbb.PullRequest, error)) (*PullRequestEvent, error) {
	p.mu.Lock()
	r, ok := p.repos[repo.FullName()]
	p.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("pull request #%d of %s: the repository has no pull requests here: open one first", id, repo.FullName())
	}
	pr, err := change(r.srv, id)
	if err != nil {
		return nil, err
	}
	return p.deliverPullRequest(ctx, repo, r.srv, pr, key)
}

// deliverPullRequest sends the signed event key of pr to the pipeline.
func (p *Pipeline) deliverPullRequest(ctx context.Context, repo pipeline.Repository, srv *localbb.Server, pr localbb.PullRequest, key bitbucket.EventKey) (*PullRequestEvent, error) {
	ev := &PullRequestEvent{Repo: repo, PullRequest: pr, Event: key, Delivered: time.Now()}
	body, err := srv.PullRequestPayload(pr.ID)
	if err != nil {
		return nil, fmt.Errorf("make the %s event: %w", key, err)
	}
	status, answer, err := srv.Deliver(ctx, p.WebhookURL(), p.secret, key, body)
	if err != nil {
		return nil, fmt.Errorf("deliver %s of pull request #%d: %w", key, pr.ID, err)
	}
	if status >= 300 {
		return nil, fmt.Errorf("deliver %s of pull request #%d: the webhook answered %d: %s", key, pr.ID, status, strings.TrimSpace(string(answer)))
	}
	if err := json.Unmarshal(answer, &ev.Response); err != nil {
		return nil, fmt.Errorf("deliver %s of pull request #%d: the webhook's answer: %w", key, pr.ID, err)
	}
	return ev, nil
}

// AwaitPullRequest follows the execution ev started (or found) until it
// ends, showing each state on progress (nil for none), and returns the
// outcome: the preview's stack as it is then, and the statuses of the
// pull request's commit.
func (p *Pipeline) AwaitPullRequest(ctx context.Context, ev *PullRequestEvent, progress io.Writer) (*Result, error) {
	execs := ev.Executions()
	if len(execs) == 0 {
		reason := "nothing was started"
		if len(ev.Response.Ignored) > 0 {
			reason = ev.Response.Ignored[0].Reason
		}
		return nil, fmt.Errorf("the webhook started no run for pull request #%d: %s", ev.PullRequest.ID, reason)
	}
	arn := execs[0].Execution
	p.mu.Lock()
	r, ok := p.repos[ev.Repo.FullName()]
	p.mu.Unlock()
	if !ok {
		return nil, errors.New("await pull request: its repository is not served here")
	}
	if progress == nil {
		progress = io.Discard
	}
	fmt.Fprintf(progress, "%s of pull request #%d (%s at %s): execution %s\n",
		ev.Event, ev.PullRequest.ID, ev.PullRequest.Source, pipeline.ShortSHA(ev.PullRequest.Commit), arn)
	res, _, err := p.followRun(ctx, arn, progress, ev.Delivered)
	if err != nil {
		return nil, err
	}
	preview := pipeline.PreviewEnvironment(ev.Repo, ev.PullRequest.ID)
	status, outputs, err := stackOutputs(ctx, p.cfn, preview.Stack)
	if err != nil {
		return nil, err
	}
	res.Environments = []Environment{{Name: preview.Name, Stack: preview.Stack, Status: status, Outputs: outputs}}
	res.Statuses = commitStatuses(r.srv, ev.PullRequest.Commit)
	return res, nil
}
