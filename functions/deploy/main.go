// Command deploy is the Lambda handler that deploys one environment's stack
// through a CloudFormation change set, one action per invocation; the state
// machine waits between invocations. It also guards each environment: it
// takes and releases the environment's lock, stops superseded runs, keeps
// approval requests, records each release once its smoke test passed and
// finds the release to roll back to. CLOUDFORMATION_ROLE_ARN names the
// service role CloudFormation deploys the stacks with; RELEASES_TABLE the
// pipeline's table, which holds releases, locks and approval requests;
// ARTIFACT_BUCKET the artifact bucket, whose packaged templates and zips it
// checks against their recorded SHA-256 before it deploys them;
// ENVIRONMENT_ROLE_ARNS the comma-separated patterns of the roles it may
// assume or pass (the template's EnvironmentRoleArns).
package main

import (
	"context"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/stackflow/stackflow/internal/approvals"
	"github.com/stackflow/stackflow/internal/artifacts"
	"github.com/stackflow/stackflow/internal/awsenv"
	"github.com/stackflow/stackflow/internal/deploy"
	"github.com/stackflow/stackflow/internal/locks"
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
	svc, err := deployer(cfg)
	if err != nil {
		slog.Error("start deploy handler", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(svc.Invoke)
}

// deployer is the deploy service the environment describes:
// CLOUDFORMATION_ROLE_ARN, the role CloudFormation deploys with,
// RELEASES_TABLE, where releases, locks and approvals are kept, and
// ARTIFACT_BUCKET (required), whose artifacts it checks.
func deployer(cfg aws.Config) (*deploy.Service, error) {
	store, err := artifacts.FromEnv(cfg)
	if err != nil {
		return nil, err
	}
	svc := deploy.New(cfg, os.Getenv("CLOUDFORMATION_ROLE_ARN"))
	svc.Artifacts = store
	for _, p := range strings.Split(os.Getenv("ENVIRONMENT_ROLE_ARNS"), ",") {
		if p = strings.TrimSpace(p); p != "" {
			svc.AllowedRoles = append(svc.AllowedRoles, p)
		}
	}
	if table := os.Getenv("RELEASES_TABLE"); table != "" {
		db := dynamodb.NewFromConfig(cfg)
		svc.Releases = releases.New(db, table)
		svc.Locks = locks.New(db, table)
		svc.Approvals = approvals.New(db, table)
	}
	svc.Tasks = sfn.NewFromConfig(cfg)
	return svc, nil
}
