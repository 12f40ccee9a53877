// Package secrets reads secrets from AWS Secrets Manager once per process.
//
// A Lambda handler reads its webhook secret or Bitbucket token on its first
// invocation and keeps it for the life of the execution environment, so a
// warm start costs no Secrets Manager call. Rotating a secret therefore
// takes effect on the next cold start.
package secrets

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// getter is the part of the Secrets Manager client the cache uses.
type getter interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

var _ getter = (*secretsmanager.Client)(nil)

// ErrNoARN is a Get without a secret ARN: the function was not configured.
var ErrNoARN = errors.New("no secret ARN configured")

// Cache holds the string values of secrets by ARN. It is safe for
// concurrent use. Failed reads are not cached.
type Cache struct {
	client getter

	mu     sync.Mutex
	values map[string]string
}

// New returns an empty cache that reads through client.
func New(client *secretsmanager.Client) *Cache {
	return &Cache{client: client, values: map[string]string{}}
}

// Get returns the current string value of the secret arn, from the cache
// when it was read before. Its errors name the ARN, never the value.
func (c *Cache) Get(ctx context.Context, arn string) (string, error) {
	if arn == "" {
		return "", ErrNoARN
	}
	c.mu.Lock()
	v, ok := c.values[arn]
	c.mu.Unlock()
	if ok {
		return v, nil
	}

	out, err := c.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return "", fmt.Errorf("read secret %s: %w", arn, err)
	}
	if out.SecretString == nil {
		return "", fmt.Errorf("read secret %s: it holds binary data, want a string", arn)
	}
	v = *out.SecretString

	c.mu.Lock()
	c.values[arn] = v
	c.mu.Unlock()
	return v, nil
}
