// Command approve is the Lambda function that answers approvals for
// people: `stackflow approve` and `stackflow reject` call it through its
// function URL, whose AuthType is AWS_IAM, so that AWS, not the caller,
// says who calls (requestContext.authorizer.iam.userArn). It approves or
// rejects the waiting deploy only when that identity is one of the
// environment's approvers (stackflow.yml on the default branch), and
// records it as the approver. See package approvals.
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

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/stackflow/stackflow/internal/approvals"
	"github.com/stackflow/stackflow/internal/awsenv"
	"github.com/stackflow/stackflow/internal/runlog"
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
	svc := &approvals.Decider{
		Store:        approvals.New(dynamodb.NewFromConfig(cfg), table),
		Tasks:        sfn.NewFromConfig(cfg),
		StateMachine: machine,
	}
	lambda.Start(svc.HandleURL)
}
