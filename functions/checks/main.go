// Command checks is the Lambda handler of the pipeline's checks step: it
// runs the app's check commands (go vet, go test, linters) on the commit's
// source with the Go toolchain its go.mod asks for, and stores their output
// in the artifact bucket.
//
// Environment:
//
//	ARTIFACT_BUCKET  the artifact bucket (required)
//	TOOLCHAIN_CACHE  where downloaded Go toolchains are kept; default /tmp/stackflow/toolchains
//	GOPROXY          the Go module proxy for toolchains and modules; default https://proxy.golang.org
//	GO_CACHE_S3      on (default): keep GOMODCACHE and GOCACHE between runs in the
//	                 artifact bucket; off: use the environment's Go caches (stackflow local)
//	GO_CACHE_DIR     where the kept caches live locally; default /tmp/stackflow/go
package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/stackflow/stackflow/internal/artifacts"
	"github.com/stackflow/stackflow/internal/awsenv"
	"github.com/stackflow/stackflow/internal/checks"
	"github.com/stackflow/stackflow/internal/gocache"
	"github.com/stackflow/stackflow/internal/toolchain"
	"github.com/stackflow/stackflow/internal/tracing"
)

func main() {
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stdout, nil)))
	svc, err := setup(context.Background())
	if err != nil {
		slog.Error("checks function cannot start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(svc.Handle)
}

func setup(ctx context.Context) (*checks.Service, error) {
	bucket := os.Getenv("ARTIFACT_BUCKET")
	if bucket == "" {
		return nil, errors.New("ARTIFACT_BUCKET is not set")
	}
	cfg, err := awsenv.Load(ctx)
	if err != nil {
		return nil, err
	}
	store := artifacts.New(awsenv.S3(cfg), bucket, cfg.Region)
	caches, err := gocache.FromEnv(store)
	if err != nil {
		return nil, err
	}
	opts := toolchain.OptionsFromEnv(tracing.HTTPClient(&http.Client{}))
	if caches != nil {
		opts.GoCacheDir = caches.Dir
	}
	return &checks.Service{
		Store:     store,
		Toolchain: opts,
		Caches:    caches,
		Echo:      os.Stderr,
	}, nil
}
