// Command smoketest is the Lambda handler that runs an environment's smoke
// checks against the stack it has just deployed. It reads no environment
// variables beyond AWS's own. Redirects are not followed: a check sees the
// answer as it is, as curl does, so it can expect a 301.
package main

import (
	"log/slog"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/stackflow/stackflow/internal/runlog"
	"github.com/stackflow/stackflow/internal/smoke"
	"github.com/stackflow/stackflow/internal/tracing"
)

func main() {
	slog.SetDefault(runlog.NewJSON(os.Stdout))
	lambda.Start(smoke.New(tracing.HTTPClient(&http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	})).Handle)
}
