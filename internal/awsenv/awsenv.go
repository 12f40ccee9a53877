// Package awsenv loads the AWS configuration a handler or the command line
// uses: region, credentials and endpoints the standard way (so
// AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> point it at a local AWS),
// with every call traced.
package awsenv

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/stackflow/stackflow/internal/tracing"
)

// Load returns the default AWS configuration with tracing.
func Load(ctx context.Context) (aws.Config, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	tracing.AWS(&cfg)
	return cfg, nil
}
