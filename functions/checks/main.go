// Command checks is the Lambda handler of the pipeline's checks step: it
// runs the app's check commands (go vet, go test, pytest, npm test,
// linters) on the commit's source with the Go toolchain its go.mod asks for
// and the Python and Node.js of its template's runtimes, and stores their
// output in the artifact bucket.
//
// It runs the commit's code, so its role allows nothing but logs and
// traces: it reads and writes the bucket through the presigned URLs of its
// input's grants (see package staging), and gets the package indexes'
// credentials the same way. It makes no AWS client.
//
// Environment:
//
//	TOOLCHAIN_CACHE  where downloaded Go toolchains are kept; default /tmp/stackflow/toolchains
//	GOPROXY          the Go module proxy for toolchains and modules; default https://proxy.golang.org
//	GO_CACHE_S3      on (default): keep GOMODCACHE and GOCACHE between runs in the
//	                 artifact bucket, and pip's and npm's download caches per branch
//	                 (through the grants: restored from its branch's or the default
//	                 branch's, staged for the publish step to keep);
//	                 off: use the environment's caches (stackflow local)
//	GO_CACHE_DIR     where the kept caches live locally; default /tmp/stackflow/go
//	PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, NPM_CONFIG_REGISTRY
//	                 the package indexes pip, uv and npm use; empty for their own
//	APP_TOOLCHAINS   download (default): fetch the runtimes' Python and Node.js;
//	                 host: use the host's python3 and node (stackflow local)
//	RUNTIMES_CACHE   where fetched Python and Node.js are kept; default /tmp/stackflow/runtimes
//	PYTHON_MIRROR    python-build-standalone's releases/download URL, or a mirror's
//	NODE_MIRROR      nodejs.org's /dist URL, or a mirror's
package main

import (
	"context"
	"log/slog"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/stackflow/stackflow/internal/checks"
	"github.com/stackflow/stackflow/internal/gocache"
	"github.com/stackflow/stackflow/internal/indexes"
	"github.com/stackflow/stackflow/internal/reaper"
	"github.com/stackflow/stackflow/internal/runlog"
	"github.com/stackflow/stackflow/internal/runtimes"
	"github.com/stackflow/stackflow/internal/tracing"
)

func main() {
	slog.SetDefault(runlog.NewJSON(os.Stdout))
	svc, err := setup(context.Background())
	if err != nil {
		slog.Error("checks function cannot start", "error", err.Error())
		os.Exit(1)
	}
	// What the commit's code leaves running dies with its invocation: it
	// must not see the next run in a warm Lambda.
	if err := reaper.Adopt(); err != nil {
		slog.Error("checks function cannot start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(reaper.Handler(svc.Handle))
}

func setup(context.Context) (*checks.Service, error) {
	hc := tracing.HTTPClient(&http.Client{})
	caches, opts, err := gocache.ForBuilds(nil, hc)
	if err != nil {
		return nil, err
	}
	// Fetched Python and Node.js are kept in /tmp only: the step may not
	// write the bucket's shared copies.
	rts, err := runtimes.OptionsFromEnv(nil, hc)
	if err != nil {
		return nil, err
	}
	return &checks.Service{
		HTTPClient: hc,
		Toolchain:  opts,
		Runtimes:   rts,
		Caches:     caches,
		Indexes:    indexes.FromEnv(nil),
		Echo:       os.Stderr,
	}, nil
}
