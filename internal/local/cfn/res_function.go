package cfn

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stackflow/stackflow/internal/local/lambda"
)

func init() {
	register(map[string]*kind{
		"AWS::Lambda::Function": {
			attrs:   []string{"Arn", "SnapStartResponse.ApplyOn", "SnapStartResponse.OptimizationStatus"},
			replace: []string{"FunctionName"},
			create:  createFunction,
			update:  updateFunction,
			remove:  removeFunction,
			refused: map[string]string{"Code.ImageUri": "container images do not run locally: give the code as a zip (SAM's CodeUri)"},
			ignored: map[string]string{
				"Architectures":        "functions run on this machine's architecture",
				"VpcConfig":            "functions reach the network from this machine, not from the VPC",
				"FileSystemConfigs":    "EFS file systems are not mounted locally",
				"EphemeralStorage":     "/tmp is this machine's",
				"SnapStart":            "functions start without SnapStart",
				"DeadLetterConfig":     "failed asynchronous invocations are not sent to a dead-letter queue",
				"CodeSigningConfigArn": "code signatures are not checked locally",
			},
		},
	})
}

// maxZipped is the largest zip of code or of a layer, as Lambda's 50 MB.
const maxZipped = 50 << 20

// maxZipFile is the largest inline code (Code.ZipFile) CloudFormation
// takes.
const maxZipFile = 4096

// functionSpec is what a function's properties say to run.
type functionSpec struct {
	fn     lambda.Function // without its name and directories
	code   s3Location      // the zip of its code, or
	inline string          // its inline code (Code.ZipFile, SAM's InlineCode)
	layers []string        // the ARNs of its layer versions, in order
}

// functionConfig reads an AWS::Lambda::Function's properties into what the
// supervisor runs.
func functionConfig(r *resource) (functionSpec, error) {
	p := r.Props
	if pt := toStringOr(p["PackageType"], "Zip"); pt != "Zip" || prop(p, "Code.ImageUri") != nil {
		return functionSpec{}, reasonf("container images (PackageType Image, Code.ImageUri) are not supported by stackflow's local engine: give the code as a zip (SAM's CodeUri)")
	}
	runtime := toStringOr(p["Runtime"], "")
	if err := lambda.CheckRuntime(runtime); err != nil {
		return functionSpec{}, reasonf("Runtime %s is not supported by stackflow's local engine: it runs %s", runtime, strings.Join(lambda.Runtimes(), ", "))
	}
	handler := toStringOr(p["Handler"], "")
	if handler == "" && runtime != "" && !provided(runtime) {
		return functionSpec{}, reasonf("Handler is required for Runtime %s", runtime)
	}
	code, ok := p["Code"].(map[string]any)
	if !ok {
		return functionSpec{}, reasonf("Code is required: {S3Bucket, S3Key} or {ZipFile}")
	}
	spec := functionSpec{}
	if zf, ok := code["ZipFile"]; ok {
		s, ok := zf.(string)
		switch {
		case !ok:
			return functionSpec{}, reasonf("Code.ZipFile must be a string")
		case len(s) > maxZipFile:
			return functionSpec{}, reasonf("Code.ZipFile: inline code may be at most %d characters, and is %d", maxZipFile, len(s))
		case inlineFile(runtime) == "":
			return functionSpec{}, reasonf("Code.ZipFile (SAM's InlineCode) is for Node.js and Python runtimes only, not %s", runtime)
		}
		spec.inline = s
	} else {
		spec.code = s3Location{Bucket: toStringOr(code["S3Bucket"], ""), Key: toStringOr(code["S3Key"], ""), Version: toStringOr(code["S3ObjectVersion"], "")}
		if spec.code.Bucket == "" || spec.code.Key == "" {
			return functionSpec{}, reasonf("Code must give S3Bucket and S3Key, or ZipFile")
		}
	}
	layers, err := functionLayers(p["Layers"])
	if err != nil {
		return functionSpec{}, err
	}
	spec.layers = layers
	fn := lambda.Function{
		Runtime:     runtime,
		Handler:     handler,
		Role:        toStringOr(p["Role"], ""),
		Description: toStringOr(p["Description"], ""),
		CodeBucket:  spec.code.Bucket,
		CodeKey:     spec.code.Key,
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
	spec.fn = fn
	return spec, nil
}

// inlineFile is the file CloudFormation writes a function's Code.ZipFile
// to, by runtime; "" where inline code is not allowed.
func inlineFile(runtime string) string {
	switch {
	case strings.HasPrefix(runtime, "python"):
		return "index.py"
	case strings.HasPrefix(runtime, "nodejs"):
		return "index.js"
	}
	return ""
}

// provided reports whether runtime is a custom runtime, whose code has a
// bootstrap.
func provided(runtime string) bool {
	return runtime == "" || strings.HasPrefix(runtime, "provided")
}

// startFunction unpacks the function's code and layers and runs it under
// name.
func (e *Engine) startFunction(ctx context.Context, stack string, r *resource, name string) (string, error) {
	spec, err := functionConfig(r)
	if err != nil {
		return "", err
	}
	fn := spec.fn
	dir, err := e.codeDir(ctx, name, spec, provided(fn.Runtime))
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
	if e.opts.IAM != nil {
		// As Lambda does: the function runs with a session of its
		// execution role, unless its own variables name credentials.
		creds, err := e.opts.IAM.FunctionCredentials(fn.Role, name)
		if err != nil {
			return "", reason(err.Error())
		}
		maps.Copy(env, creds)
	}
	maps.Copy(env, fn.Env)
	fn.Env = env
	fn.Name = name
	fn.Dir = dir
	limit := e.opts.FunctionConcurrency
	if e.opts.StackFunctionConcurrency != nil {
		if n := e.opts.StackFunctionConcurrency(stack); n > 0 {
			limit = n
		}
	}
	if c := max(limit, 1); fn.Concurrency == 0 || fn.Concurrency > c {
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

// codeDir returns the directory holding the code of spec for the
// function name, unpacking it (or writing its inline code) the first
// time; the code of a custom runtime must have a bootstrap.
func (e *Engine) codeDir(ctx context.Context, name string, spec functionSpec, bootstrap bool) (string, error) {
	loc := spec.code
	sum := sha256.Sum256([]byte(loc.Bucket + "\x00" + loc.Key + "\x00" + loc.Version + "\x00" + spec.inline))
	dir := filepath.Join(e.workDir, "functions", name, hex.EncodeToString(sum[:8]))
	return dir, unpackOnce(dir, func(tmp string) error {
		if loc.Bucket == "" {
			return os.WriteFile(filepath.Join(tmp, inlineFile(spec.fn.Runtime)), []byte(spec.inline), 0o644)
		}
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
			return "", reasonf("Layers: %s is not a layer version of stackflow's local engine: publish it with an AWS::Serverless::LayerVersion (AWS::Lambda::LayerVersion) in a local stack", layers[i])
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
		name = r.physicalName(o.stackName, 64, false)
	}
	arn, err := o.e.startFunction(ctx, o.stackName, r, name)
	if err != nil {
		return err
	}
	r.Physical = name
	r.Attrs = map[string]any{"Arn": arn}
	return nil
}

func updateFunction(ctx context.Context, o *op, prev, next *resource) error {
	arn, err := o.e.startFunction(ctx, o.stackName, next, prev.Physical)
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
