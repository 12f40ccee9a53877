package cfn

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/stackflow/stackflow/internal/local/httpapi"
	"github.com/stackflow/stackflow/internal/local/lambda"
)

// Properties of AWS::Serverless::Function that cannot work locally.
var unsupportedFunctionProps = map[string]string{
	"InlineCode":        "InlineCode is not supported by stackflow's local engine: give CodeUri, a zip of the code",
	"ImageUri":          "container images are not supported by stackflow's local engine: give CodeUri, a zip of the code",
	"FunctionUrlConfig": "FunctionUrlConfig is not supported by stackflow's local engine: use an HttpApi event",
}

// maxZipped is the largest zip of code or of a layer, as Lambda's 50 MB.
const maxZipped = 50 << 20

// functionSpec is what a function's properties say to run.
type functionSpec struct {
	fn     lambda.Function // without its name and directories
	code   s3Location      // the zip of its code
	layers []string        // the ARNs of its layer versions, in order
}

// functionConfig reads a function's properties into what the supervisor
// runs.
func functionConfig(r *resource) (functionSpec, error) {
	p := r.Props
	for _, prop := range slices.Sorted(maps.Keys(unsupportedFunctionProps)) {
		if p[prop] != nil {
			return functionSpec{}, fmt.Errorf("%s", unsupportedFunctionProps[prop])
		}
	}
	if pt := toStringOr(p["PackageType"], "Zip"); pt != "Zip" {
		return functionSpec{}, reasonf("PackageType %s is not supported by stackflow's local engine: give CodeUri, a zip of the code", pt)
	}
	runtime := toStringOr(p["Runtime"], "")
	if err := lambda.CheckRuntime(runtime); err != nil {
		return functionSpec{}, reasonf("Runtime %s is not supported by stackflow's local engine: it runs %s", runtime, strings.Join(lambda.Runtimes(), ", "))
	}
	handler := toStringOr(p["Handler"], "")
	if handler == "" && runtime != "" && !provided(runtime) {
		return functionSpec{}, reasonf("Handler is required for Runtime %s", runtime)
	}
	if p["CodeUri"] == nil {
		return functionSpec{}, fmt.Errorf("the function has no CodeUri")
	}
	loc, err := parseS3URI(p["CodeUri"], "CodeUri")
	if err != nil {
		return functionSpec{}, err
	}
	layers, err := functionLayers(p["Layers"])
	if err != nil {
		return functionSpec{}, err
	}
	if err := checkEvents(p["Events"]); err != nil {
		return functionSpec{}, err
	}
	fn := lambda.Function{
		Runtime:     runtime,
		Handler:     handler,
		Role:        toStringOr(p["Role"], ""),
		Description: toStringOr(p["Description"], ""),
		CodeBucket:  loc.Bucket,
		CodeKey:     loc.Key,
		Timeout:     3 * time.Second,
	}
	if v, ok := p["Timeout"]; ok {
		n, ok := toInt(v)
		if !ok || n < 1 || n > 900 {
			return functionSpec{}, reasonf("Timeout must be a number of seconds from 1 to 900")
		}
		fn.Timeout = time.Duration(n) * time.Second
	}
	if v, ok := p["MemorySize"]; ok {
		n, ok := toInt(v)
		if !ok || n < 128 || n > 10240 {
			return functionSpec{}, reasonf("MemorySize must be a number of MB from 128 to 10240")
		}
		fn.MemorySize = int(n)
	}
	if v, ok := p["ReservedConcurrentExecutions"]; ok {
		n, ok := toInt(v)
		if !ok || n < 0 {
			return functionSpec{}, reasonf("ReservedConcurrentExecutions must be a whole number of at least 0")
		}
		if n == 0 {
			return functionSpec{}, reasonf("ReservedConcurrentExecutions 0 stops every invocation; stackflow's local engine runs at least one")
		}
		fn.Concurrency = int(n)
	}
	vars, err := stringMap(prop(p, "Environment.Variables"))
	if err != nil {
		return functionSpec{}, reasonf("Environment.Variables: %v", err)
	}
	fn.Env = vars
	return functionSpec{fn: fn, code: loc, layers: layers}, nil
}

// provided reports whether runtime is a custom runtime, whose code has a
// bootstrap.
func provided(runtime string) bool {
	return runtime == "" || strings.HasPrefix(runtime, "provided")
}

// checkEvents refuses event sources that cannot run locally.
func checkEvents(v any) error {
	if v == nil {
		return nil
	}
	events, ok := v.(map[string]any)
	if !ok {
		return reasonf("Events must be a map")
	}
	for _, name := range slices.Sorted(maps.Keys(events)) {
		ev, _ := events[name].(map[string]any)
		typ := toStringOr(ev["Type"], "")
		if typ != "HttpApi" {
			return fmt.Errorf("event %s of type %s is not supported by stackflow's local engine: only HttpApi events are", name, typ)
		}
		props, _ := ev["Properties"].(map[string]any)
		if v := toStringOr(props["PayloadFormatVersion"], "2.0"); v != "2.0" {
			return fmt.Errorf("event %s: PayloadFormatVersion %s is not supported by stackflow's local engine: only 2.0 is", name, v)
		}
	}
	return nil
}

// startFunction unpacks the function's code and layers and runs it under
// name.
func (e *Engine) startFunction(ctx context.Context, r *resource, name string) (string, error) {
	spec, err := functionConfig(r)
	if err != nil {
		return "", err
	}
	fn := spec.fn
	dir, err := e.codeDir(ctx, name, spec.code, provided(fn.Runtime))
	if err != nil {
		return "", err
	}
	if fn.Opt, err = e.optDir(ctx, name, spec.layers); err != nil {
		return "", err
	}
	env := maps.Clone(e.opts.FunctionEnv)
	if env == nil {
		env = map[string]string{}
	}
	maps.Copy(env, fn.Env)
	fn.Env = env
	fn.Name = name
	fn.Dir = dir
	if c := max(e.opts.FunctionConcurrency, 1); fn.Concurrency == 0 || fn.Concurrency > c {
		fn.Concurrency = c
	}
	if e.opts.FunctionLog != nil {
		fn.Log = e.opts.FunctionLog(name)
	}
	arn, err := e.functions.Start(ctx, fn)
	if err != nil {
		return "", err
	}
	return arn, nil
}

// codeDir returns the directory holding the code at loc for the function
// name, unpacking it the first time; the code of a custom runtime must
// have a bootstrap.
func (e *Engine) codeDir(ctx context.Context, name string, loc s3Location, bootstrap bool) (string, error) {
	sum := sha256.Sum256([]byte(loc.Bucket + "\x00" + loc.Key + "\x00" + loc.Version))
	dir := filepath.Join(e.workDir, "functions", name, hex.EncodeToString(sum[:8]))
	return dir, unpackOnce(dir, func(tmp string) error {
		data, err := e.getObject(ctx, loc, maxZipped)
		if err != nil {
			return err
		}
		if err := unzip(data, tmp); err != nil {
			return err
		}
		if !bootstrap {
			return nil
		}
		path := filepath.Join(tmp, "bootstrap")
		st, err := os.Stat(path)
		if err != nil || st.IsDir() {
			return fmt.Errorf("the code in %s has no bootstrap at its root", loc)
		}
		// Lambda runs bootstrap as is; zips made without modes are common
		// locally, so the engine makes it executable.
		return os.Chmod(path, st.Mode().Perm()|0o755)
	})
}

// optDir returns the directory that stands in for /opt for the function
// name: its layers, the ARNs of layer versions, unzipped in order, each
// over the ones before, as Lambda extracts them into /opt. It is "" for a
// function without layers.
func (e *Engine) optDir(ctx context.Context, name string, layers []string) (string, error) {
	if len(layers) == 0 {
		return "", nil
	}
	locs := make([]s3Location, len(layers))
	e.mu.Lock()
	for i, arn := range layers {
		locs[i] = e.layers[arn]
	}
	e.mu.Unlock()
	h := sha256.New()
	for i, loc := range locs {
		if loc.Bucket == "" {
			return "", reasonf("Layers: %s is not a layer version of stackflow's local engine: publish it with an AWS::Serverless::LayerVersion or AWS::Lambda::LayerVersion in a local stack", layers[i])
		}
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00", loc.Bucket, loc.Key, loc.Version)
	}
	dir := filepath.Join(e.workDir, "functions", name, "opt-"+hex.EncodeToString(h.Sum(nil)[:8]))
	return dir, unpackOnce(dir, func(tmp string) error {
		for i, loc := range locs {
			data, err := e.getObject(ctx, loc, maxZipped)
			if err != nil {
				return fmt.Errorf("layer %s: %w", layers[i], err)
			}
			if err := unzip(data, tmp); err != nil {
				return fmt.Errorf("layer %s: %w", layers[i], err)
			}
		}
		return nil
	})
}

// unpackOnce makes dir with fill, unless it is there: fill writes into a
// fresh directory that is then renamed into place, so that a directory
// that exists is whole.
func unpackOnce(dir string, fill func(tmp string) error) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	if err := fill(tmp); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	return nil
}

func createFunction(ctx context.Context, o *op, r *resource) error {
	name := toStringOr(r.Props["FunctionName"], "")
	if name == "" {
		name = physicalName(o.stackName, r.Logical, 64, false)
	}
	arn, err := o.e.startFunction(ctx, r, name)
	if err != nil {
		return err
	}
	r.Physical = name
	r.Attrs = map[string]any{"Arn": arn}
	return nil
}

func updateFunction(ctx context.Context, o *op, prev, next *resource) error {
	arn, err := o.e.startFunction(ctx, next, prev.Physical)
	if err != nil {
		return err
	}
	next.Attrs = map[string]any{"Arn": arn}
	return nil
}

func removeFunction(ctx context.Context, o *op, r *resource) error {
	if err := o.e.functions.Stop(ctx, r.Physical); err != nil {
		return err
	}
	return os.RemoveAll(filepath.Join(o.e.workDir, "functions", r.Physical))
}

// createHTTPAPI serves a new HTTP API on a loopback port. Its routes come
// from the functions' HttpApi events (syncRoutes).
func createHTTPAPI(_ context.Context, o *op, r *resource) error {
	if err := checkHTTPAPI(r.Props); err != nil {
		return err
	}
	id := randomString(lowerAlnum, 10)
	srv, err := httpapi.Serve(httpapi.API{ID: id, Stage: toStringOr(r.Props["StageName"], "")},
		httpapi.Options{Lambda: o.e.lambda, Region: o.e.region, AccountID: o.e.account})
	if err != nil {
		return err
	}
	o.e.mu.Lock()
	o.e.apis[id] = srv
	o.e.mu.Unlock()
	r.Physical = id
	r.Attrs = map[string]any{"ApiId": id, "ApiEndpoint": srv.URL()}
	return nil
}

func updateHTTPAPI(_ context.Context, _ *op, _, next *resource) error {
	return checkHTTPAPI(next.Props)
}

func checkHTTPAPI(p map[string]any) error {
	for _, prop := range []string{"DefinitionBody", "DefinitionUri"} {
		if p[prop] != nil {
			return fmt.Errorf("%s is not supported by stackflow's local engine: routes come from the functions' HttpApi events", prop)
		}
	}
	return nil
}

func removeHTTPAPI(_ context.Context, o *op, r *resource) error {
	o.e.mu.Lock()
	srv := o.e.apis[r.Physical]
	delete(o.e.apis, r.Physical)
	o.e.mu.Unlock()
	if srv != nil {
		return srv.Close()
	}
	return nil
}

// syncRoutesLocked gives each HTTP API of st the routes of st's functions'
// HttpApi events; the caller holds e.mu.
func (e *Engine) syncRoutesLocked(st *stack) error {
	routes := map[string][]httpapi.Route{}
	apis := map[string]*resource{}
	for _, r := range st.resources {
		if r.Type == typeHTTPAPI && r.Physical != "" {
			apis[r.Physical] = r
		}
	}
	var firstErr error
	for _, name := range slices.Sorted(maps.Keys(st.resources)) {
		r := st.resources[name]
		if r.Type != typeFunction || r.Physical == "" || r.Status == statusCreateFailed {
			continue
		}
		events, _ := r.Props["Events"].(map[string]any)
		for _, evName := range slices.Sorted(maps.Keys(events)) {
			ev, _ := events[evName].(map[string]any)
			if toStringOr(ev["Type"], "") != "HttpApi" {
				continue
			}
			props, _ := ev["Properties"].(map[string]any)
			apiID := toStringOr(props["ApiId"], "")
			if apis[apiID] == nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("event %s of %s: ApiId must refer to an AWS::Serverless::HttpApi of the same template", evName, name)
				}
				continue
			}
			routes[apiID] = append(routes[apiID], httpapi.Route{Key: routeKey(props), Function: r.Physical})
		}
	}
	for id, r := range apis {
		srv, _ := e.apis[id].(*httpapi.Server)
		if srv == nil {
			continue
		}
		if err := srv.Update(httpapi.API{ID: id, Stage: toStringOr(r.Props["StageName"], ""), Routes: routes[id]}); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// routeKey is the route key of an HttpApi event: "$default" when it
// names neither path nor method.
func routeKey(props map[string]any) string {
	path := toStringOr(props["Path"], "")
	method := strings.ToUpper(toStringOr(props["Method"], ""))
	if path == "" && method == "" {
		return httpapi.DefaultRoute
	}
	if method == "" || method == "X-AMAZON-APIGATEWAY-ANY-METHOD" {
		method = "ANY"
	}
	if path == "$default" {
		return httpapi.DefaultRoute
	}
	return method + " " + path
}
