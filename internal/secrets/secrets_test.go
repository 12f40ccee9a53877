package secrets

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/stackflow/stackflow/internal/testaws"
)

// counting counts the calls that reach Secrets Manager.
type counting struct {
	getter
	calls atomic.Int32
}

func (c *counting) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	c.calls.Add(1)
	return c.getter.GetSecretValue(ctx, in, opts...)
}

func setup(t *testing.T) (*secretsmanager.Client, *counting, *Cache) {
	t.Helper()
	client := secretsmanager.NewFromConfig(testaws.Start(t))
	cnt := &counting{getter: client}
	c := New(client)
	c.client = cnt
	return client, cnt, c
}

func createSecret(t *testing.T, client *secretsmanager.Client, in *secretsmanager.CreateSecretInput) string {
	t.Helper()
	in.Name = aws.String(testaws.Name(aws.ToString(in.Name)))
	out, err := client.CreateSecret(context.Background(), in)
	if err != nil {
		t.Fatalf("create secret: %v", err)
	}
	return aws.ToString(out.ARN)
}

func TestGetReadsOnceAndCaches(t *testing.T) {
	t.Parallel()
	client, cnt, c := setup(t)
	ctx := context.Background()
	arn := createSecret(t, client, &secretsmanager.CreateSecretInput{
		Name: aws.String("stackflow/webhook"), SecretString: aws.String("s3cr3t-value"),
	})

	for i := range 3 {
		got, err := c.Get(ctx, arn)
		if err != nil {
			t.Fatalf("get %d: %v", i, err)
		}
		if got != "s3cr3t-value" {
			t.Fatalf("get %d: got %q, want %q", i, got, "s3cr3t-value")
		}
	}
	if got := cnt.calls.Load(); got != 1 {
		t.Errorf("got %d GetSecretValue calls, want 1", got)
	}

	// A rotated value is not seen by this process: the cache lives for the
	// execution environment.
	if _, err := client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(arn), SecretString: aws.String("rotated"),
	}); err != nil {
		t.Fatalf("put secret value: %v", err)
	}
	if got, _ := c.Get(ctx, arn); got != "s3cr3t-value" {
		t.Errorf("after rotation: got %q, want the cached %q", got, "s3cr3t-value")
	}
}

func TestGetErrors(t *testing.T) {
	t.Parallel()
	client, cnt, c := setup(t)
	ctx := context.Background()
	binary := createSecret(t, client, &secretsmanager.CreateSecretInput{
		Name: aws.String("stackflow/binary"), SecretBinary: []byte("raw-bytes-value"),
	})
	missing := "arn:aws:secretsmanager:us-east-1:000000000000:secret:stackflow/missing-AbCdEf"

	tests := []struct {
		name    string
		arn     string
		wantErr string
	}{
		{name: "no ARN", arn: "", wantErr: "no secret ARN configured"},
		{name: "missing secret", arn: missing, wantErr: "read secret " + missing},
		{name: "binary secret", arn: binary, wantErr: "holds binary data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Get(ctx, tt.arn)
			if err == nil {
				t.Fatalf("got %q, nil error; want an error", got)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got error %q, want it to contain %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "raw-bytes-value") {
				t.Errorf("error %q holds the secret value", err)
			}
		})
	}
	if !errors.Is(func() error { _, err := c.Get(ctx, ""); return err }(), ErrNoARN) {
		t.Error("Get(\"\"): want ErrNoARN")
	}

	// Failures are not cached: a second read asks again.
	before := cnt.calls.Load()
	if _, err := c.Get(ctx, missing); err == nil {
		t.Fatal("second get of a missing secret: want an error")
	}
	if got := cnt.calls.Load() - before; got != 1 {
		t.Errorf("got %d calls for a failed secret's second read, want 1", got)
	}
}
