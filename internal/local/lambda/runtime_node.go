package lambda

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/stackflow/stackflow/internal/local/cachedir"
)

// oldestNode is the oldest Node.js major version that runs Node.js
// functions: that of the oldest Node.js runtime, nodejs20.x.
const oldestNode = 20

// nodejs runs the functions of a nodejsNN.x runtime on the host's Node.js
// with stackflow's runtime client, runtimes/nodejs/index.mjs, rather than
// AWS's npm aws-lambda-ric. That package installed here, but does not serve:
// its current version, 4.0.2, is the nodejs24.x runtime's client (it fails
// every callback handler, which nodejs20.x and nodejs22.x run) and asks
// for Node.js 22 or later (this machine has 20); the 3.x versions of the
// older runtimes would be a second install; and every version compiles
// curl and aws-lambda-cpp from source when installed (two minutes here,
// with cmake, autoconf, libtool and a C++ compiler on the machine, which a
// user of stackflow local need not have). index.mjs follows AWS's client
// for each runtime: the handler string, module loading (CommonJS, ES
// modules by .mjs or package.json "type": "module", .cjs), the context
// object, callbacks and callbackWaitsForEmptyEventLoop (refused on
// nodejs24.x as Lambda refuses them), the shape of errors, init errors and
// console logging.
type nodejs struct {
	major int // 22 for nodejs22.x
}

func (r nodejs) prepare(ctx context.Context, s *Supervisor, fn Function, log io.Writer) (launch, error) {
	id := fmt.Sprintf("nodejs%d.x", r.major)
	node, err := s.host.node(ctx, s.opts.Node)
	if err != nil {
		return launch{}, fmt.Errorf("runtime %s needs Node.js %d on this machine: %w", id, r.major, err)
	}
	if node.Major < oldestNode {
		return launch{}, fmt.Errorf("runtime %s needs Node.js %d on this machine, and %s is Node.js %s: install Node.js %d (nodejs.org or your package manager) and put it on PATH as node", id, r.major, node.Path, node.Version, r.major)
	}
	client, err := s.host.nodeClient(s.opts.CacheDir)
	if err != nil {
		return launch{}, fmt.Errorf("runtime %s: %w", id, err)
	}
	fmt.Fprintf(log, "stackflow: function %s (%s) runs on this machine's Node.js %s (%s) with stackflow's runtime client\n", fn.Name, id, node.Version, node.Path)
	if node.Major != r.major {
		fmt.Fprintf(log, "stackflow: warning: function %s asks for %s and runs on Node.js %s: install Node.js %d to run it as Lambda does\n", fn.Name, id, node.Version, r.major)
	}
	return launch{
		program: node.Path,
		args:    []string{client.script},
		env: map[string]string{
			"AWS_EXECUTION_ENV":  "AWS_Lambda_" + id,
			"LAMBDA_RUNTIME_DIR": client.dir,
			// As Lambda sets it, with the stand-in for /opt.
			"NODE_PATH": joinPaths(
				optPath(fn, "nodejs", fmt.Sprintf("node%d", r.major), "node_modules"),
				optPath(fn, "nodejs", "node_modules"),
				filepath.Join(client.dir, "node_modules"),
				client.dir,
				fn.Dir,
			),
		},
	}, nil
}

// findNode finds the host's Node.js: name on PATH, empty means node.
func findNode(ctx context.Context, name string) (*cachedir.Node, error) {
	node, err := cachedir.FindNode(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("%w: install Node.js (nodejs.org or your package manager) and put it on PATH as node", err)
	}
	return node, nil
}

// installNode writes stackflow's runtime client for Node.js under cacheDir,
// once.
func installNode(cacheDir string) (*installed, error) {
	client, err := runtimeFiles.ReadFile("runtimes/nodejs/index.mjs")
	if err != nil {
		return nil, fmt.Errorf("install the runtime client: %w", err)
	}
	dir := filepath.Join(cacheDir, "nodejs-"+cachedir.Digest(client))
	script := filepath.Join(dir, "index.mjs")
	if err := cachedir.WriteOnce(script, client); err != nil {
		return nil, fmt.Errorf("install the runtime client: %w", err)
	}
	return &installed{dir: dir, script: script}, nil
}
