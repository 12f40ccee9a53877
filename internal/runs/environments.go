package runs

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/stackflow/stackflow/internal/locks"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/releases"
)

// What `stackflow releases` and the dashboard read of environments: their
// releases, who holds their locks, and the state machine a run follows.

// Releases returns at most limit releases of repository's environment env
// (releases.EnvKey's, for an app's), newest first; limit <= 0 means all.
func (c *Client) Releases(ctx context.Context, repository, env string, limit int) ([]releases.Release, error) {
	table, err := c.table()
	if err != nil {
		return nil, err
	}
	return releases.New(c.db, table).List(ctx, repository, env, limit)
}

// Approvers returns who may answer for repo's environment env (of its app
// app, "" for none): the approvers its newest release was deployed with,
// from stackflow.yml on the default branch; none when it has no release.
func (c *Client) Approvers(ctx context.Context, repo pipeline.Repository, app, env string) ([]string, error) {
	newest, err := c.Releases(ctx, repo.FullName(), releases.EnvKey(app, env), 1)
	if err != nil || len(newest) == 0 || newest[0].Deployed == nil {
		return nil, err
	}
	return newest[0].Deployed.Approvers, nil
}

// ReleasedEnvironments lists every environment that has a release, by
// repository, app and name.
func (c *Client) ReleasedEnvironments(ctx context.Context) ([]releases.Released, error) {
	table, err := c.table()
	if err != nil {
		return nil, err
	}
	return releases.New(c.db, table).Environments(ctx)
}

// Region is the pipeline's region, as its state machine's ARN names it.
func (c *Client) Region() string {
	if parts := strings.Split(c.pipeline.StateMachineARN, ":"); len(parts) > 3 && parts[3] != "" {
		return parts[3]
	}
	return LocalRegion
}

// LockHolder returns the run that holds the lock of env's stack (as a
// release records the environment it deployed), or the zero Holder when
// none does.
func (c *Client) LockHolder(ctx context.Context, env pipeline.Environment) (locks.Holder, error) {
	table, err := c.table()
	if err != nil {
		return locks.Holder{}, err
	}
	region := env.Region
	if region == "" {
		region = c.Region()
	}
	return locks.New(c.db, table).Holder(ctx, locks.Claim{Account: locks.AccountOf(env.RoleARN), Region: region, Stack: env.Stack})
}

// definitionAPI reads the state machine an execution ran.
type definitionAPI interface {
	DescribeStateMachineForExecution(context.Context, *sfn.DescribeStateMachineForExecutionInput, ...func(*sfn.Options)) (*sfn.DescribeStateMachineForExecutionOutput, error)
}

var _ definitionAPI = (*sfn.Client)(nil)

// Definition returns the Amazon States Language definition that the run
// ref (an execution name, ARN or commit SHA, as Show takes) follows.
func (c *Client) Definition(ctx context.Context, ref string) (string, error) {
	d, ok := c.sfn.(definitionAPI)
	if !ok {
		return "", errors.New("read the state machine: this client cannot describe state machines")
	}
	desc, _, err := c.resolve(ctx, ref)
	if err != nil {
		return "", err
	}
	out, err := d.DescribeStateMachineForExecution(ctx, &sfn.DescribeStateMachineForExecutionInput{ExecutionArn: desc.ExecutionArn})
	if err != nil {
		return "", fmt.Errorf("read the state machine of %s: %w", pipeline.ExecutionNameOf(aws.ToString(desc.ExecutionArn)), err)
	}
	return aws.ToString(out.Definition), nil
}
