// Command status is the Lambda function that reports a run's state on its
// commit in Bitbucket.
//
// Environment:
//
//	BITBUCKET_TOKEN_ARN  the Secrets Manager secret holding the Bitbucket
//	                     token: an access token, or email:token for an API
//	                     token (required)
//	BITBUCKET_API_URL    Bitbucket's API (default https://api.bitbucket.org)
//	STATUS_KEY           the status key on commits (default "stackflow")
//	EXECUTION_URL        a link template with {arn} and {name} to use
//	                     instead of the Step Functions console (local runs)
//	NOTIFICATION_TOPIC_ARN  an SNS topic told when a run ends (optional)
package main

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/stackflow/stackflow/internal/awsenv"
	"github.com/stackflow/stackflow/internal/runlog"
	"github.com/stackflow/stackflow/internal/secrets"
	"github.com/stackflow/stackflow/internal/status"
	"github.com/stackflow/stackflow/internal/tracing"
)

// bitbucketTimeout bounds one request to Bitbucket; the state machine
// retries a BitbucketUnavailable.
const bitbucketTimeout = 20 * time.Second

func main() {
	log := runlog.NewJSON(os.Stdout)
	slog.SetDefault(log)

	tokenARN := os.Getenv("BITBUCKET_TOKEN_ARN")
	if tokenARN == "" {
		log.Error("BITBUCKET_TOKEN_ARN is not set")
		os.Exit(1)
	}
	cfg, err := awsenv.Load(context.Background())
	if err != nil {
		log.Error("load AWS configuration", "error", err)
		os.Exit(1)
	}
	svc, err := status.New(status.Config{
		Key:          os.Getenv("STATUS_KEY"),
		TokenARN:     tokenARN,
		APIURL:       os.Getenv("BITBUCKET_API_URL"),
		ExecutionURL: os.Getenv("EXECUTION_URL"),
		HTTPClient:   tracing.HTTPClient(&http.Client{Timeout: bitbucketTimeout}),
		Logger:       log,
		TopicARN:     os.Getenv("NOTIFICATION_TOPIC_ARN"),
		SNS:          sns.NewFromConfig(cfg),
	}, secrets.New(secretsmanager.NewFromConfig(cfg)))
	if err != nil {
		log.Error("configure the status function", "error", err)
		os.Exit(1)
	}
	lambda.Start(svc.Handle)
}
