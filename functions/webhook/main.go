// Command webhook is the Lambda function behind the pipeline's HTTP API
// route POST /webhook: it verifies Bitbucket deliveries and starts one
// execution of the pipeline per pushed branch, or per pull-request event.
//
// Environment:
//
//	STATE_MACHINE_ARN   the pipeline's state machine (required)
//	WEBHOOK_SECRET_ARN  the Secrets Manager secret holding the webhook's
//	                    secret; without it every delivery is refused
//	BITBUCKET_TOKEN_ARN the Secrets Manager secret holding the Bitbucket
//	                    token, to resolve a pull request's commit; without
//	                    it pull-request deliveries fail
//	BITBUCKET_API_URL   Bitbucket's API (default https://api.bitbucket.org)
//	POLL_SECONDS        the wait between two polls of CloudFormation
//	                    (default pipeline.DefaultPollSeconds)
//	LOCK_POLL_SECONDS   the wait between two tries at a taken environment
//	                    (default pipeline.DefaultLockPollSeconds)
//	LOCK_LEASE_SECONDS  how long an environment's lock outlives its holder's
//	                    last renewal (default pipeline.DefaultLockLeaseSeconds)
package main

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/stackflow/stackflow/internal/awsenv"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/runlog"
	"github.com/stackflow/stackflow/internal/secrets"
	"github.com/stackflow/stackflow/internal/tracing"
	"github.com/stackflow/stackflow/internal/webhook"
)

// bitbucketTimeout bounds one request to Bitbucket's API; the service
// bounds the lookup tighter still, to answer within Bitbucket's 10 s.
const bitbucketTimeout = 8 * time.Second

func main() {
	log := runlog.NewJSON(os.Stdout)
	slog.SetDefault(log)

	machine := os.Getenv("STATE_MACHINE_ARN")
	if machine == "" {
		log.Error("STATE_MACHINE_ARN is not set")
		os.Exit(1)
	}
	secretARN := os.Getenv("WEBHOOK_SECRET_ARN")
	if secretARN == "" {
		log.Warn("WEBHOOK_SECRET_ARN is not set: every delivery will be refused")
	}
	tokenARN := os.Getenv("BITBUCKET_TOKEN_ARN")
	if tokenARN == "" {
		log.Warn("BITBUCKET_TOKEN_ARN is not set: pull-request deliveries will fail")
	}
	var settings pipeline.Settings
	for name, dst := range map[string]*int{
		"POLL_SECONDS":       &settings.PollSeconds,
		"LOCK_POLL_SECONDS":  &settings.LockPollSeconds,
		"LOCK_LEASE_SECONDS": &settings.LockLeaseSeconds,
	} {
		v := os.Getenv(name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			log.Error(name+" must be a positive number of seconds", "value", v)
			os.Exit(1)
		}
		*dst = n
	}

	cfg, err := awsenv.Load(context.Background())
	if err != nil {
		log.Error("load AWS configuration", "error", err)
		os.Exit(1)
	}
	cache := secrets.New(secretsmanager.NewFromConfig(cfg))
	warm(cache, secretARN, log)
	svc := webhook.New(webhook.Config{
		StateMachineARN: machine,
		SecretARN:       secretARN,
		Settings:        settings,
		Logger:          log,
		TokenARN:        tokenARN,
		APIURL:          os.Getenv("BITBUCKET_API_URL"),
		HTTPClient:      tracing.HTTPClient(&http.Client{Timeout: bitbucketTimeout}),
	}, cache, sfn.NewFromConfig(cfg))
	lambda.Start(svc.Handle)
}

// warmTimeout bounds reading the webhook secret during init.
const warmTimeout = 2 * time.Second

// warm reads the webhook secret while the function initialises, so that a
// cold start's first delivery does not wait for Secrets Manager. A secret
// that cannot be read now is read again by the first delivery, which
// fails closed if it still cannot.
func warm(cache *secrets.Cache, arn string, log *slog.Logger) {
	if arn == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), warmTimeout)
	defer cancel()
	if _, err := cache.Get(ctx, arn); err != nil {
		log.Warn("read the webhook secret at start-up; the first delivery reads it again", "error", err.Error())
	}
}
