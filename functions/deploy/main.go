// Command deploy is the Lambda handler that deploys one environment's stack
// through a CloudFormation change set, one action per invocation; the state
// machine waits between invocations, and records each release once its
// smoke test passed. CLOUDFORMATION_ROLE_ARN names the service role
// CloudFormation deploys the stacks with; RELEASES_TABLE the releases table.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/stackflow/stackflow/internal/awsenv"
	"github.com/stackflow/stackflow/internal/deploy"
	"github.com/stackflow/stackflow/internal/releases"
	"github.com/stackflow/stackflow/internal/runlog"
)

func main() {
	slog.SetDefault(runlog.NewJSON(os.Stdout))
	cfg, err := awsenv.Load(context.Background())
	if err != nil {
		slog.Error("start deploy handler", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(deployer(cfg).Handle)
}

// deployer is the deploy service the environment describes:
// CLOUDFORMATION_ROLE_ARN, the role CloudFormation deploys with, and
// RELEASES_TABLE, where releases are recorded.
func deployer(cfg aws.Config) *deploy.Service {
	svc := deploy.New(cfg, os.Getenv("CLOUDFORMATION_ROLE_ARN"))
	if table := os.Getenv("RELEASES_TABLE"); table != "" {
		svc.Releases = releases.New(dynamodb.NewFromConfig(cfg), table)
	}
	return svc
}
