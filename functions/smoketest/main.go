// Command smoketest is the Lambda handler that runs an environment's smoke
// checks against the stack it has just deployed: HTTP requests, and
// invocations of the stack's own functions through the Lambda API (as the
// environment's role_arn when it names one). It reads no environment
// variables beyond AWS's own. Redirects are not followed: a check sees the
// answer as it is, as curl does, so it can expect a 301.
package main

import (
	"context"
	"log/slog"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/stackflow/stackflow/internal/awsenv"
	"github.com/stackflow/stackflow/internal/runlog"
	"github.com/stackflow/stackflow/internal/smoke"
	"github.com/stackflow/stackflow/internal/tracing"
)

func main() {
	slog.SetDefault(runlog.NewJSON(os.Stdout))
	cfg, err := awsenv.Load(context.Background())
	if err != nil {
		slog.Error("start smoke-test handler", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(smoke.NewWithAWS(tracing.HTTPClient(&http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}), cfg).Handle)
}
