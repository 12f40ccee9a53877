// Command deploy is the Lambda handler that deploys one environment's stack
// through a CloudFormation change set, one action per invocation; the state
// machine waits between invocations. CLOUDFORMATION_ROLE_ARN names the
// service role CloudFormation deploys the stacks with.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/stackflow/stackflow/internal/awsenv"
	"github.com/stackflow/stackflow/internal/deploy"
	"github.com/stackflow/stackflow/internal/runlog"
)

func main() {
	slog.SetDefault(runlog.NewJSON(os.Stdout))
	cfg, err := awsenv.Load(context.Background())
	if err != nil {
		slog.Error("start deploy handler", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(deploy.New(cfg, os.Getenv("CLOUDFORMATION_ROLE_ARN")).Handle)
}
