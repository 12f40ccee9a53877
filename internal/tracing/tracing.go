// Package tracing is the one place stackflow touches AWS X-Ray. Handlers
// trace their AWS SDK calls and their Bitbucket HTTP calls as subsegments of
// the Lambda invocation's segment. Keeping every X-Ray call here means moving
// to OpenTelemetry is a change to this package alone.
package tracing

import (
	"net/http"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-xray-sdk-go/instrumentation/awsv2"
	"github.com/aws/aws-xray-sdk-go/xray"
)

func init() {
	// Outside Lambda (tests, local runs) there is no segment in the context;
	// the SDK would log an error for every call. Tracing is then a no-op.
	if os.Getenv("AWS_XRAY_CONTEXT_MISSING") == "" {
		os.Setenv("AWS_XRAY_CONTEXT_MISSING", "IGNORE_ERROR")
	}
}

// AWS makes every client built from cfg record its calls as subsegments.
func AWS(cfg *aws.Config) {
	awsv2.AWSV2Instrumentor(&cfg.APIOptions)
}

// HTTPClient returns c with its requests recorded as subsegments.
func HTTPClient(c *http.Client) *http.Client {
	return xray.Client(c)
}
