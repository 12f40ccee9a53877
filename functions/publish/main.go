// Command publish is the Lambda handler of the pipeline's publish step:
// after the checks it keeps the caches they staged; after the package step
// it checks what that step staged against what it said it made (each zip's
// SHA-256 and size, the packaged template's SHA-256, build records of its
// own branch) and copies it to where the deploy step and later runs trust
// it, refusing the package otherwise (see package staging). It runs no
// commit code.
//
// Environment:
//
//	ARTIFACT_BUCKET  the artifact bucket (required)
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/stackflow/stackflow/internal/artifacts"
	"github.com/stackflow/stackflow/internal/awsenv"
	"github.com/stackflow/stackflow/internal/runlog"
	"github.com/stackflow/stackflow/internal/staging"
)

func main() {
	slog.SetDefault(runlog.NewJSON(os.Stdout))
	svc, err := setup(context.Background())
	if err != nil {
		slog.Error("publish function cannot start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(svc.Handle)
}

func setup(ctx context.Context) (*staging.Publisher, error) {
	cfg, err := awsenv.Load(ctx)
	if err != nil {
		return nil, err
	}
	store, err := artifacts.FromEnv(cfg)
	if err != nil {
		return nil, err
	}
	return &staging.Publisher{Store: store}, nil
}
