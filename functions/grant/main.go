// Command grant is the Lambda handler of the pipeline's grant step: just
// before the checks and the package step, which run the commit's code in
// functions that may reach nothing themselves, it hands each one presigned
// URLs for its own run's objects (see package staging): its commit's
// archive and its branch's and the default branch's caches to read; its
// log and its run's staging area to write; a staged copy of the package
// indexes' credentials. It runs no commit code.
//
// Environment:
//
//	ARTIFACT_BUCKET           the artifact bucket (required)
//	PACKAGE_INDEX_SECRET_ARN  a secret with the package indexes' credentials
//	                          (see indexes.ParseCredentials); empty for none
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/stackflow/stackflow/internal/artifacts"
	"github.com/stackflow/stackflow/internal/awsenv"
	"github.com/stackflow/stackflow/internal/runlog"
	"github.com/stackflow/stackflow/internal/secrets"
	"github.com/stackflow/stackflow/internal/staging"
)

func main() {
	slog.SetDefault(runlog.NewJSON(os.Stdout))
	svc, err := setup(context.Background())
	if err != nil {
		slog.Error("grant function cannot start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(svc.Handle)
}

func setup(ctx context.Context) (*staging.Granter, error) {
	cfg, err := awsenv.Load(ctx)
	if err != nil {
		return nil, err
	}
	store, err := artifacts.FromEnv(cfg)
	if err != nil {
		return nil, err
	}
	return &staging.Granter{
		Store:          store,
		Secrets:        secrets.New(secretsmanager.NewFromConfig(cfg)),
		IndexSecretARN: os.Getenv("PACKAGE_INDEX_SECRET_ARN"),
	}, nil
}
