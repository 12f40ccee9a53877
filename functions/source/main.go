// Command source is the Lambda handler of the pipeline's source step: it
// fetches the archive of the commit being delivered from Bitbucket into the
// artifact bucket (once per commit) and reads the app's stackflow.yml and
// samconfig.toml into the run's plan, with who may deploy where read from
// the repository's default branch through Bitbucket's API.
//
// Environment:
//
//	ARTIFACT_BUCKET      the artifact bucket (required)
//	BITBUCKET_TOKEN_ARN  the Secrets Manager secret holding the Bitbucket token
//	BITBUCKET_URL        Bitbucket's web address; default https://bitbucket.org
//	BITBUCKET_API_URL    Bitbucket's API address; default https://api.bitbucket.org
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/stackflow/stackflow/internal/artifacts"
	"github.com/stackflow/stackflow/internal/awsenv"
	"github.com/stackflow/stackflow/internal/bitbucket"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/runlog"
	"github.com/stackflow/stackflow/internal/secrets"
	"github.com/stackflow/stackflow/internal/source"
	"github.com/stackflow/stackflow/internal/tracing"
)

func main() {
	slog.SetDefault(runlog.NewJSON(os.Stdout))
	svc, err := setup(context.Background())
	if err != nil {
		slog.Error("source function cannot start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(svc.Handle)
}

func setup(ctx context.Context) (*source.Service, error) {
	tokenARN := os.Getenv("BITBUCKET_TOKEN_ARN")
	apiURL, webURL := os.Getenv("BITBUCKET_API_URL"), os.Getenv("BITBUCKET_URL")

	cfg, err := awsenv.Load(ctx)
	if err != nil {
		return nil, err
	}
	store, err := artifacts.FromEnv(cfg)
	if err != nil {
		return nil, err
	}

	// The token is read on the first invocation, not at start, so that a
	// missing or unreadable secret fails the step with a clear error; the
	// cache keeps it for warm starts.
	bb := &lazyClient{tokens: secrets.New(secretsmanager.NewFromConfig(cfg)), tokenARN: tokenARN,
		apiURL: apiURL, webURL: webURL, hc: tracing.HTTPClient(&http.Client{})}
	svc := source.New(bb, bb, store)
	svc.Changes = bb
	return svc, nil
}

// lazyClient is the Bitbucket client, made with the token the first time
// it is used.
type lazyClient struct {
	tokens         *secrets.Cache
	tokenARN       string
	apiURL, webURL string
	hc             *http.Client
}

func (l *lazyClient) client(ctx context.Context) (*bitbucket.Client, error) {
	secret, err := l.tokens.Get(ctx, l.tokenARN)
	if err != nil {
		return nil, fmt.Errorf("read the Bitbucket token (BITBUCKET_TOKEN_ARN): %w", err)
	}
	creds, err := bitbucket.ParseCredentials(secret)
	if err != nil {
		return nil, fmt.Errorf("the Bitbucket token secret: %w", err)
	}
	return bitbucket.NewClient(l.apiURL, l.webURL, creds, l.hc), nil
}

func (l *lazyClient) Archive(ctx context.Context, repo pipeline.Repository, commit string) (io.ReadCloser, error) {
	c, err := l.client(ctx)
	if err != nil {
		return nil, err
	}
	return c.Archive(ctx, repo, commit)
}

func (l *lazyClient) MainBranch(ctx context.Context, repo pipeline.Repository) (pipeline.DefaultBranch, error) {
	c, err := l.client(ctx)
	if err != nil {
		return pipeline.DefaultBranch{}, err
	}
	return c.MainBranch(ctx, repo)
}

func (l *lazyClient) File(ctx context.Context, repo pipeline.Repository, commit, path string) ([]byte, error) {
	c, err := l.client(ctx)
	if err != nil {
		return nil, err
	}
	return c.File(ctx, repo, commit, path)
}

func (l *lazyClient) ChangedFiles(ctx context.Context, repo pipeline.Repository, from, to string) ([]string, error) {
	c, err := l.client(ctx)
	if err != nil {
		return nil, err
	}
	return c.ChangedFiles(ctx, repo, from, to)
}
