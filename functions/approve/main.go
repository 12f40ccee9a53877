// Command approve is the Lambda function that answers approvals for
// people: `stackflow approve` and `stackflow reject` call it through its
// function URL, whose AuthType is AWS_IAM, so that AWS, not the caller,
// says who calls (requestContext.authorizer.iam.userArn). It approves or
// rejects the waiting deploy only when that identity is one of the
// environment's approvers (stackflow.yml on the default branch), and
// records it as the approver. `stackflow rollback`, `promote` and `retry`
// call it too: the run it starts is recorded as asked by that identity,
// and refused unless it is one of the approvers of the environment the
// run deploys to, where that one wants approval (for a rollback, of any
// environment that names approvers). See package approvals.
//
// Environment:
//
//	RELEASES_TABLE     the pipeline's table, where approval requests wait (required)
//	STATE_MACHINE_ARN  the pipeline's state machine: only its runs are answered (required)
package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/stackflow/stackflow/internal/approvals"
	"github.com/stackflow/stackflow/internal/awsenv"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/runlog"
	"github.com/stackflow/stackflow/internal/runs"
)

func main() {
	log := runlog.NewJSON(os.Stdout)
	slog.SetDefault(log)
	table, machine := os.Getenv("RELEASES_TABLE"), os.Getenv("STATE_MACHINE_ARN")
	if table == "" || machine == "" {
		log.Error("RELEASES_TABLE and STATE_MACHINE_ARN must be set")
		os.Exit(1)
	}
	cfg, err := awsenv.Load(context.Background())
	if err != nil {
		log.Error("load AWS configuration", "error", err)
		os.Exit(1)
	}
	rc := runs.New(cfg, runs.Pipeline{StateMachineARN: machine, ReleasesTable: table})
	svc := &approvals.Decider{
		Store:        approvals.New(dynamodb.NewFromConfig(cfg), table),
		Tasks:        sfn.NewFromConfig(cfg),
		StateMachine: machine,
		Rollback: func(ctx context.Context, repo pipeline.Repository, app, env, to, by string) (string, string, time.Time, error) {
			arn, r, err := rc.Rollback(ctx, repo, app, env, to, by)
			return arn, r.Commit, r.DeployedAt, err
		},
		Approvers: func(ctx context.Context, repo pipeline.Repository, app, env string) ([]string, error) {
			return rc.Approvers(ctx, repo, app, env)
		},
		Promote: rc.PromoteFor,
		Retry:   rc.RetryFor,
		Gate:    rc.ApprovalGate,
	}
	lambda.Start(svc.HandleURL)
}
