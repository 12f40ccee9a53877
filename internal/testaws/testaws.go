// Package testaws starts a local AWS for tests: kumo, in-process, serving S3,
// DynamoDB, Secrets Manager, SSM and Lambda on one loopback endpoint.
package testaws

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/sivchari/kumo"
)

// Region is the region every test client uses.
const Region = "us-east-1"

// Start starts kumo for the test and returns a configuration whose clients
// reach it. The server stops when the test ends.
func Start(t testing.TB) aws.Config {
	t.Helper()
	srv := kumo.NewServer()
	t.Cleanup(srv.Close)
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(srv.URL),
	}
}

// S3 returns an S3 client for cfg in path style (kumo serves buckets by
// path, not by host name).
func S3(cfg aws.Config) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
}

// Bucket creates a bucket and returns its name.
func Bucket(t testing.TB, cfg aws.Config, name string) string {
	t.Helper()
	_, err := S3(cfg).CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)})
	if err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	return name
}
