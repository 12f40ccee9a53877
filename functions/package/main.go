// Command package is the Lambda handler of the pipeline's package step: it
// builds every function and layer of the app's SAM template once, as sam
// build does, stores reproducible zips and the packaged template in the artifact
// bucket, as sam package does, for every environment to deploy.
//
// It runs the commit's build (its packages' install scripts), so its role
// allows nothing but logs and traces: it reads and writes the bucket
// through the presigned URLs of its input's grants, staging what it makes
// for the publish step to check and store (see package staging). It makes
// no AWS client.
//
// Environment:
//
//	TOOLCHAIN_CACHE  where downloaded Go toolchains are kept; default /tmp/stackflow/toolchains
//	GOPROXY          the Go module proxy for toolchains and modules; default https://proxy.golang.org
//	GO_CACHE_S3      on (default): keep GOMODCACHE and GOCACHE between runs in the
//	                 artifact bucket, and pip's and npm's download caches per branch;
//	                 off: use the environment's caches (stackflow local)
//	GO_CACHE_DIR     where the kept caches live locally; default /tmp/stackflow/go
//	PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, NPM_CONFIG_REGISTRY
//	                 the package indexes pip, uv and npm use; empty for their own
//	APP_TOOLCHAINS   download (default): fetch the runtimes' Python and Node.js, and uv
//	                 for python-uv, to build with; host: use python3, node, npm and uv
//	                 on PATH (stackflow local)
//	RUNTIMES_CACHE, PYTHON_MIRROR, NODE_MIRROR
//	                 as for the checks function
//	PYPI_MIRROR      PyPI's simple index, or a mirror of it serving PEP 691's JSON,
//	                 where uv's wheel is found; default https://pypi.org/simple
//	BUILD_ARCH       build every function for this architecture instead of the
//	                 template's: arm64, x86_64 (amd64) or host (local runs)
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/stackflow/stackflow/internal/gocache"
	"github.com/stackflow/stackflow/internal/indexes"
	"github.com/stackflow/stackflow/internal/packager"
	"github.com/stackflow/stackflow/internal/reaper"
	"github.com/stackflow/stackflow/internal/runlog"
	"github.com/stackflow/stackflow/internal/runtimes"
	"github.com/stackflow/stackflow/internal/tracing"
)

func main() {
	slog.SetDefault(runlog.NewJSON(os.Stdout))
	svc, err := setup(context.Background())
	if err != nil {
		slog.Error("package function cannot start", "error", err.Error())
		os.Exit(1)
	}
	// What the commit's code leaves running dies with its invocation: it
	// must not see the next run in a warm Lambda.
	if err := reaper.Adopt(); err != nil {
		slog.Error("package function cannot start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(reaper.Handler(svc.Handle))
}

func setup(context.Context) (*packager.Service, error) {
	var arch string
	if v := os.Getenv("BUILD_ARCH"); v != "" {
		var err error
		if arch, err = packager.GoArch(v); err != nil {
			return nil, fmt.Errorf("BUILD_ARCH: %w", err)
		}
	}
	hc := tracing.HTTPClient(&http.Client{})
	caches, opts, err := gocache.ForBuilds(nil, hc)
	if err != nil {
		return nil, err
	}
	svc := &packager.Service{
		HTTPClient: hc,
		Toolchain:  opts,
		Caches:     caches,
		Indexes:    indexes.FromEnv(nil),
		Arch:       arch,
		Echo:       os.Stderr,
	}
	// Fetched Python and Node.js are kept in /tmp only: the step may not
	// write the bucket's shared copies.
	rts, err := runtimes.OptionsFromEnv(nil, hc)
	if err != nil {
		return nil, err
	}
	if !rts.Host {
		// Nothing is installed in Lambda: fetch the runtimes' Python
		// and Node.js as the checks do.
		svc.Runtimes = &rts
	}
	return svc, nil
}
