// Package awsenv loads the AWS configuration a handler or the command line
// uses: region, credentials and endpoints the standard way (so
// AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> point it at a local AWS),
// with every call traced.
package awsenv

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

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

// S3 returns an S3 client for cfg. When an endpoint is configured
// (AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_S3: a local S3 such as kumo), it
// addresses buckets by path rather than by host name, which a local S3 on
// a loopback address needs, and does not log that an answer came without
// a checksum, which a local S3 does not send.
func S3(cfg aws.Config) *s3.Client {
	local := os.Getenv("AWS_ENDPOINT_URL_S3") != "" || os.Getenv("AWS_ENDPOINT_URL") != ""
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = local
		o.DisableLogOutputChecksumValidationSkipped = local
	})
}
