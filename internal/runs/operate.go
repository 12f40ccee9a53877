package runs

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/smithy-go"

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

// answer finds the request of ref for env and, when the caller is one of
// its approvers, hands it to send with the caller's identity; it forgets
// the request once answered.
func (c *Client) answer(ctx context.Context, ref, env string, send func(r approvals.Request, by string) error) (approvals.Request, error) {
	table, err := c.table()
	if err != nil {
		return approvals.Request{}, err
	}
	by, err := c.Caller(ctx)
	if err != nil {
		return approvals.Request{}, err
	}
	desc, _, err := c.resolve(ctx, ref)
	if err != nil {
		return approvals.Request{}, err
	}
	arn := aws.ToString(desc.ExecutionArn)
	if desc.Status != "RUNNING" {
		return approvals.Request{}, fmt.Errorf("%s is %s: it waits for nothing", pipeline.ExecutionNameOf(arn), desc.Status)
	}
	store := approvals.New(c.db, table)
	pending, err := store.Pending(ctx, arn)
	if err != nil {
		return approvals.Request{}, err
	}
	r, err := approvals.Pick(pending, pipeline.ExecutionNameOf(arn), env)
	if err != nil {
		return approvals.Request{}, err
	}
	if err := r.MayAnswer(by); err != nil {
		return approvals.Request{}, fmt.Errorf("refused: %w", err)
	}
	if err := send(r, by); err != nil {
		return approvals.Request{}, err
	}
	r.Token = ""
	return r, store.Delete(ctx, arn, r.Environment)
}

// Approve resumes the deploy of ref that waits for approval (of env, or
// the only one), approved by the caller's IAM identity (Caller), which must
// be one of the environment's approvers when it names any. It returns the
// request answered and the identity it was answered as.
func (c *Client) Approve(ctx context.Context, ref, env string) (approvals.Request, string, error) {
	var as string
	r, err := c.answer(ctx, ref, env, func(r approvals.Request, by string) error {
		as = by
		return taskError("approve", approvals.Approve(ctx, c.ops, r, by, time.Now()))
	})
	return r, as, err
}

// Reject ends the deploy of ref that waits for approval (of env, or the
// only one): the run fails with ApprovalRejected, the caller's identity and
// reason. The caller must be one of the environment's approvers when it
// names any.
func (c *Client) Reject(ctx context.Context, ref, env, reason string) (approvals.Request, string, error) {
	if strings.TrimSpace(reason) == "" {
		return approvals.Request{}, "", errors.New("give the reason for the rejection with --reason: the commit status shows it")
	}
	var as string
	r, err := c.answer(ctx, ref, env, func(r approvals.Request, by string) error {
		as = by
		_, err := c.ops.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{
			TaskToken: aws.String(r.Token),
			Error:     aws.String(pipeline.ErrApprovalRejected),
			Cause:     aws.String(truncate(fmt.Sprintf("rejected by %s: %s", by, reason), 32768)),
		})
		return taskError("reject", err)
	})
	return r, as, err
}

// taskError words a failed SendTask call without its token.
func taskError(op string, err error) error {
	if err == nil {
		return nil
	}
	code, msg := apiCode(err)
	switch code {
	case "TaskTimedOut", "TaskDoesNotExist", "InvalidToken":
		return fmt.Errorf("%s: the run no longer waits for this approval (%s)", op, code)
	case "":
		return fmt.Errorf("%s: %w", op, err)
	}
	return fmt.Errorf("%s: %s: %s", op, code, msg)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
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
			return "", r, err
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
			return "", r, fmt.Errorf("%s of %s has no release before its current one to roll back to (stackflow releases %s %s%s)",
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

// apiCode returns the code and message of err when it is an AWS API error.
func apiCode(err error) (code, message string) {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode(), ae.ErrorMessage()
	}
	return "", ""
}
