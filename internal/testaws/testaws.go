// Package testaws starts a local AWS for tests: kumo, in-process, serving S3,
// DynamoDB, Secrets Manager, SSM, Step Functions and Lambda on one loopback
// endpoint.
//
// kumo's services are process-wide: a second kumo.NewServer in the same
// process rewires them while the first is serving. So every test of a
// package shares one server, and tests keep out of each other's way by
// naming what they create with Name.
package testaws

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/sivchari/kumo"
)

// Region is the region every test client uses.
const Region = "us-east-1"

var (
	once   sync.Once
	shared *kumo.Server
	serial atomic.Int64
)

// Start returns a configuration whose clients reach the process's kumo
// server, starting it on first use. The server lives until the test binary
// exits.
func Start(t testing.TB) aws.Config {
	t.Helper()
	once.Do(func() { shared = kumo.NewServer() })
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(shared.URL),
	}
}

// Name returns prefix made unique within the test binary, for buckets,
// tables, secrets and the like.
func Name(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, serial.Add(1))
}

// S3 returns an S3 client for cfg in path style (kumo serves buckets by
// path, not by host name).
func S3(cfg aws.Config) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
}

// Bucket creates a bucket named after prefix and returns its name.
func Bucket(t testing.TB, cfg aws.Config, prefix string) string {
	t.Helper()
	name := Name(prefix)
	_, err := S3(cfg).CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)})
	if err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	return name
}

// Table creates a DynamoDB table named after prefix, keyed as the
// pipeline's table is (pk and sk, both strings), and returns its name.
func Table(t testing.TB, cfg aws.Config, prefix string) string {
	t.Helper()
	name := Name(prefix)
	_, err := dynamodb.NewFromConfig(cfg).CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("sk"), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange},
		},
	})
	if err != nil {
		t.Fatalf("create table %s: %v", name, err)
	}
	return name
}
