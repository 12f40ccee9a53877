package runs

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/stackflow/stackflow/internal/approvals"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/releases"
)

// What people do to runs: approve or reject a deploy that waits for them,
// and put an environment back to one of its releases.

func (c *Client) table() (string, error) {
	if c.pipeline.ReleasesTable == "" {
		return "", errors.New("the pipeline's table is unknown: give --table, or --stack naming the installed pipeline")
	}
	return c.pipeline.ReleasesTable, nil
}

// Pending returns the deploys of the run ref (an execution name, ARN or
// commit SHA, as Show takes) that wait for approval, without their tokens.
func (c *Client) Pending(ctx context.Context, ref string) (string, []approvals.Request, error) {
	table, err := c.table()
	if err != nil {
		return "", nil, err
	}
	desc, _, err := c.resolve(ctx, ref)
	if err != nil {
		return "", nil, err
	}
	arn := aws.ToString(desc.ExecutionArn)
	pending, err := approvals.New(c.db, table).Pending(ctx, arn)
	for i := range pending {
		pending[i].Token = ""
	}
	return arn, pending, err
}

// ManyAppsError is a commit SHA given for one run where the commit has
// runs of several apps (a repository of several apps): which one is
// meant is for the person to say, with --app.
type ManyAppsError struct {
	Commit string
	// Apps are the apps with a run of the commit, sorted.
	Apps []string
}

func (e *ManyAppsError) Error() string {
	return fmt.Sprintf("commit %s has runs of several apps (%s): name the app with --app APP (such as --app %s), or the run by its execution name",
		e.Commit, strings.Join(e.Apps, ", "), e.Apps[0])
}

// resolveApp is resolve for a command that acts on one app's run: with
// app, a commit SHA names that app's newest run of it, and any run named
// must be one of app's; without app, a commit SHA whose runs are several
// apps' is a *ManyAppsError rather than the newest of them.
func (c *Client) resolveApp(ctx context.Context, ref, app string) (*sfn.DescribeExecutionOutput, error) {
	apps := map[string]bool{}
	keep := func(d *sfn.DescribeExecutionOutput) bool {
		a := inputOf(d).Run.AppName()
		if app != "" {
			return a == app
		}
		if a != "" {
			apps[a] = true
		}
		return true
	}
	desc, _, err := c.resolveFor(ctx, ref, keep)
	if err != nil {
		return nil, err
	}
	if len(apps) > 1 {
		return nil, &ManyAppsError{Commit: pipeline.ShortSHA(ref), Apps: slices.Sorted(maps.Keys(apps))}
	}
	name := aws.ToString(desc.Name)
	if got := inputOf(desc).Run.AppName(); app != "" && got != app {
		if got == "" {
			return nil, declined("%s is no run of an app: leave out --app %s", name, app)
		}
		return nil, declined("%s is app %s's run, not %s's", name, got, app)
	}
	return desc, nil
}

// decide asks the approval function, through its URL, to answer the
// deploy of ref (of app, in a repository of several) that waits for
// approval (env's, or the only one), and returns the request answered and
// the identity it was answered as.
func (c *Client) decide(ctx context.Context, ref, app, env string, answer approvals.Answer, reason string) (approvals.Request, string, error) {
	desc, err := c.resolveApp(ctx, ref, app)
	if err != nil {
		return approvals.Request{}, "", err
	}
	out, err := c.callApproval(ctx, approvals.Decision{Execution: aws.ToString(desc.ExecutionArn), Environment: env, Answer: answer, Reason: reason})
	if err != nil {
		return approvals.Request{}, "", err
	}
	r := approvals.Request{Execution: aws.ToString(desc.ExecutionArn), Environment: out.Environment, Repository: out.Repository, Commit: out.Commit, Summary: out.Summary}
	return r, out.By, nil
}

// callApproval sends d to the approval function's URL, signed with the
// caller's credentials (SigV4, service lambda), so AWS, not this client,
// tells the function who calls; the function checks and records that
// identity.
func (c *Client) callApproval(ctx context.Context, d approvals.Decision) (approvals.Answered, error) {
	var none approvals.Answered
	if c.pipeline.ApprovalURL == "" {
		return none, errors.New("the pipeline's approval URL is unknown: name the installed pipeline with --stack " +
			"(its output ApprovalUrl; a pipeline installed before it came needs sam deploy again)")
	}
	if c.creds == nil {
		return none, errors.New("no AWS credentials to sign the request to the approval function with")
	}
	body, err := json.Marshal(d)
	if err != nil {
		return none, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.pipeline.ApprovalURL, bytes.NewReader(body))
	if err != nil {
		return none, fmt.Errorf("%s: the approval URL %q: %w", d.Answer, c.pipeline.ApprovalURL, err)
	}
	req.Header.Set("Content-Type", "application/json")
	creds, err := c.creds.Retrieve(ctx)
	if err != nil {
		return none, fmt.Errorf("%s: get AWS credentials: %w", d.Answer, err)
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "lambda", c.region, time.Now()); err != nil {
		return none, fmt.Errorf("%s: sign the request: %w", d.Answer, err)
	}
	hc := c.http
	if hc == nil {
		// Longer than the function's own Timeout (60 s), so that it is
		// the function's answer the caller sees.
		hc = &http.Client{Timeout: 90 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return none, fmt.Errorf("%s: call the approval function: %w", d.Answer, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Message string `json:"message"`
			Lambda  string `json:"Message"`
		}
		_ = json.Unmarshal(b, &e)
		switch {
		case e.Message != "":
			return none, errors.New(e.Message)
		case resp.StatusCode == http.StatusForbidden:
			hint := "it needs lambda:InvokeFunctionUrl on the pipeline's ApproveFunction"
			if u, err := url.Parse(c.pipeline.ApprovalURL); err == nil && loopback(u.Hostname()) {
				hint = "stackflow local's approval URL verifies every signature, and knows only its own key and its STS's sessions: " +
					"sign with AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local (its iam.log says why it refused)"
			}
			return none, fmt.Errorf("refused by Lambda (%s): your AWS identity may not call the approval function's URL: %s",
				strings.TrimSpace(cmp.Or(e.Lambda, string(b))), hint)
		}
		return none, fmt.Errorf("%s: the approval function answered HTTP %d: %s", d.Answer, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	var out approvals.Answered
	if err := json.Unmarshal(b, &out); err != nil {
		return none, fmt.Errorf("%s: read the approval function's answer: %w", d.Answer, err)
	}
	return out, nil
}

// RollbackAsCaller asks the approval function to start a run that puts
// repo's environment env (of its app app, in a repository of several; ""
// for none) back to its release of commit to (empty: the release before
// the newest one), recorded as asked by the caller's IAM
// identity as AWS reports it to the function. It returns the execution,
// the release put back and that identity.
func (c *Client) RollbackAsCaller(ctx context.Context, repo pipeline.Repository, app, env, to string) (string, releases.Release, string, error) {
	out, err := c.callApproval(ctx, approvals.Decision{Answer: approvals.AnswerRollback, Repository: repo.FullName(), App: app, Environment: env, To: to})
	if err != nil {
		return "", releases.Release{}, "", err
	}
	return out.Execution, releases.Release{Repository: out.Repository, Environment: out.Environment, Commit: out.Commit, DeployedAt: out.DeployedAt}, out.By, nil
}

// PromoteAsCaller asks the approval function to start the promotion req
// asks for (its By and DuringFreeze.By are not sent: the function records
// the caller's IAM identity as AWS reports it, and refuses a caller who
// is not one of the approvers of an environment that wants approval). It
// returns the execution, the release promoted and that identity.
func (c *Client) PromoteAsCaller(ctx context.Context, req PromoteRequest) (string, releases.Release, string, error) {
	d := approvals.Decision{Answer: approvals.AnswerPromote, Repository: req.Repository.FullName(), App: req.App,
		Environment: req.Environment, From: req.From, Commit: req.Commit}
	if req.DuringFreeze != nil {
		d.DuringFreeze, d.Reason = true, req.DuringFreeze.Reason
	}
	out, err := c.callApproval(ctx, d)
	if err != nil {
		return "", releases.Release{}, "", err
	}
	return out.Execution, releases.Release{Repository: out.Repository, Environment: out.From, Commit: out.Commit, DeployedAt: out.DeployedAt}, out.By, nil
}

// RetryAsCaller asks the approval function to retry the run ref (of
// app, as Retry takes them; during, when set, lets it deploy during a
// freeze, for its Reason), recorded as asked by the caller's IAM identity
// as AWS reports it; the function refuses a caller who is not one of the
// approvers of the environment it resumes at, when that one wants
// approval. It returns the execution, the environment it resumes at and
// that identity.
func (c *Client) RetryAsCaller(ctx context.Context, ref, app string, during *pipeline.FreezeOverride) (string, string, string, error) {
	desc, err := c.resolveApp(ctx, ref, app)
	if err != nil {
		return "", "", "", err
	}
	d := approvals.Decision{Answer: approvals.AnswerRetry, Execution: aws.ToString(desc.ExecutionArn), App: app}
	if during != nil {
		d.DuringFreeze, d.Reason = true, during.Reason
	}
	out, err := c.callApproval(ctx, d)
	if err != nil {
		return "", "", "", err
	}
	return out.Execution, out.Environment, out.By, nil
}

// PromoteFor is the approval function's promotion (approvals.Starter):
// Promote as st asks it, recorded as asked by st.By.
func (c *Client) PromoteFor(ctx context.Context, st approvals.Start) (approvals.Started, error) {
	arn, r, err := c.Promote(ctx, PromoteRequest{Repository: st.Repository, App: st.App, Environment: st.Environment,
		From: st.From, Commit: st.Commit, By: st.By, DuringFreeze: st.DuringFreeze})
	return approvals.Started{Execution: arn, Environment: st.Environment, From: r.Environment, Commit: r.Commit, DeployedAt: r.DeployedAt}, err
}

// RetryFor is the approval function's retry (approvals.Starter):
// StartRetry of st.Execution, asking st.May before it starts.
func (c *Client) RetryFor(ctx context.Context, st approvals.Start) (approvals.Started, error) {
	arn, env, err := c.StartRetry(ctx, RetryRequest{Ref: st.Execution, App: st.App, By: st.By, DuringFreeze: st.DuringFreeze, May: st.May})
	return approvals.Started{Execution: arn, Environment: env}, err
}

// ApprovalGate says whether repo's environment env (of its app app; ""
// for none) wants approval, and who its approvers are, as its newest
// release was deployed with them (from stackflow.yml on the default
// branch): false and none for an environment never released.
func (c *Client) ApprovalGate(ctx context.Context, repo pipeline.Repository, app, env string) (bool, []string, error) {
	newest, err := c.Releases(ctx, repo.FullName(), releases.EnvKey(app, env), 1)
	if err != nil || len(newest) == 0 || newest[0].Deployed == nil {
		return false, nil, err
	}
	return newest[0].Deployed.ApprovalRequired, newest[0].Deployed.Approvers, nil
}

// Approve resumes the deploy of ref that waits for approval (of env, or
// the only one), approved by the caller's IAM identity as AWS reports it
// to the approval function, which must be one of the environment's
// approvers when it names any. app names the app whose run a commit SHA
// means, in a repository of several apps; without it, a commit with runs
// of several apps is refused (*ManyAppsError). It returns the request
// answered and the identity it was answered as.
func (c *Client) Approve(ctx context.Context, ref, app, env string) (approvals.Request, string, error) {
	return c.decide(ctx, ref, app, env, approvals.AnswerApprove, "")
}

// Reject ends the deploy of ref (of app, as Approve takes it) that waits
// for approval (of env, or the only one): the run fails with
// ApprovalRejected, the caller's identity and reason. The caller must be
// one of the environment's approvers when it names any.
func (c *Client) Reject(ctx context.Context, ref, app, env, reason string) (approvals.Request, string, error) {
	if strings.TrimSpace(reason) == "" {
		return approvals.Request{}, "", errors.New("give the reason for the rejection with --reason: the commit status shows it")
	}
	return c.decide(ctx, ref, app, env, approvals.AnswerReject, reason)
}

// Rollback starts a run that puts repo's environment env (of its app app,
// in a repository of several; "" for none) back to its release of commit to (a prefix of at least 4 hex digits), or, when to is
// empty, to the release before the newest one. It returns the execution
// and the release.
func (c *Client) Rollback(ctx context.Context, repo pipeline.Repository, app, env, to, by string) (string, releases.Release, error) {
	table, err := c.table()
	if err != nil {
		return "", releases.Release{}, err
	}
	store := releases.New(c.db, table)
	var r releases.Release
	if to != "" {
		if r, err = store.Find(ctx, repo.FullName(), releases.EnvKey(app, env), to); err != nil {
			return "", r, declinedIf(err)
		}
	} else {
		all, err := store.List(ctx, repo.FullName(), releases.EnvKey(app, env), 0)
		if err != nil {
			return "", r, err
		}
		found := false
		for _, rel := range all[min(1, len(all)):] {
			if len(all) > 0 && rel.Commit != all[0].Commit {
				r, found = rel, true
				break
			}
		}
		if !found {
			return "", r, declined("%s of %s has no release before its current one to roll back to (stackflow releases %s %s%s)",
				env, ofApp(repo, app), repo.FullName(), env, appFlag(app))
		}
	}
	// The run the release came from knows the pipeline's tuning.
	run := pipeline.Run{
		Repository: repo, Branch: r.Branch, Commit: r.Commit, Settings: c.settingsOf(ctx, r.Execution),
		App:      appRun(app),
		Rollback: &pipeline.RollbackRequest{Environment: env, By: by},
	}
	arn, err := c.start(ctx, run, rollbackName(repo.ForApp(app), env, r.Commit, time.Now()))
	if err != nil {
		return "", r, fmt.Errorf("start the rollback: %w", err)
	}
	return arn, r, nil
}

var unsafeName = regexp.MustCompile(`[^0-9A-Za-z_-]+`)

// rollbackName is "<slug>-rollback-<env>-<sha7>-<time>", in Step Functions'
// safe characters and at most 80 of them.
func rollbackName(repo pipeline.Repository, env, commit string, at time.Time) string {
	return runName(repo, "rollback", env, commit, at)
}

// declined is an error of what was asked (no such release, nothing to
// roll back to): the approval function answers it with its message.
func declined(format string, args ...any) error {
	return &approvals.Declined{Reason: fmt.Sprintf(format, args...)}
}

// declinedIf is err as an *approvals.Declined when it is about what was
// asked (a release or a run that is not there, a commit that names
// several), else err.
func declinedIf(err error) error {
	var lookup *releases.LookupError
	var notFound *ExecutionNotFoundError
	var ambiguous *AmbiguousCommitError
	var many *ManyAppsError
	var already *approvals.Declined
	switch {
	case errors.As(err, &already):
		return err
	case errors.As(err, &lookup), errors.As(err, &notFound), errors.As(err, &ambiguous), errors.As(err, &many):
		return &approvals.Declined{Reason: err.Error()}
	}
	return err
}
