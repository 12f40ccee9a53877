package local

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"

	"github.com/stackflow/stackflow/internal/archive"
	"github.com/stackflow/stackflow/internal/artifacts"
	"github.com/stackflow/stackflow/internal/deploy"
	"github.com/stackflow/stackflow/internal/localrepo"
	"github.com/stackflow/stackflow/internal/packager"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/toolchain"
)

// modulePath is the stackflow module's path, which marks its source tree.
const modulePath = "github.com/stackflow/stackflow"

// SourceDir finds the stackflow source tree the pipeline's functions are
// built from: from dir up, the folder whose go.mod declares the stackflow
// module; else the tree this program was built from.
func SourceDir(dir string) (string, error) {
	if abs, err := filepath.Abs(dir); err == nil {
		for d := abs; ; d = filepath.Dir(d) {
			if isSourceDir(d) {
				return d, nil
			}
			if d == filepath.Dir(d) {
				break
			}
		}
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		d := filepath.Dir(filepath.Dir(filepath.Dir(file))) // internal/local/install.go
		if isSourceDir(d) {
			return d, nil
		}
	}
	return "", errors.New("cannot find stackflow's source tree (a go.mod declaring " + modulePath +
		"): run stackflow local from inside a clone of the stackflow repository")
}

func isSourceDir(d string) bool {
	data, err := os.ReadFile(filepath.Join(d, "go.mod"))
	if err != nil {
		return false
	}
	first, _, _ := strings.Cut(string(data), "\n")
	return strings.TrimSpace(first) == "module "+modulePath
}

// pipelineRepo names the pipeline's own source in the artifact layout.
var pipelineRepo = pipeline.Repository{Workspace: "stackflow", Slug: "stackflow"}

// DefaultBuildCacheDir is where stackflow local keeps the zips of the
// pipeline's own functions between runs when Options.BuildCacheDir is
// empty: <os.UserCacheDir()>/stackflow/builds, beside the local Step
// Functions engine's npm packages.
func DefaultBuildCacheDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find the build cache (set Options.BuildCacheDir): %w", err)
	}
	return filepath.Join(dir, "stackflow", "builds"), nil
}

// packagePipeline packages the pipeline's own template.yaml exactly as the
// package step packages an app: the source tree is archived into the
// bucket, then built for the host and uploaded by internal/packager, which
// reuses the zips that cache (nil for none) keeps by build key and tells
// progress about every function.
func packagePipeline(ctx context.Context, store *artifacts.Store, src string, cache packager.BuildCache, progress func(packager.BuildEvent), log io.Writer, logger *slog.Logger) (pipeline.Package, error) {
	var buf bytes.Buffer
	if err := archive.Create(&buf, src, "stackflow", sourceSkip(ctx, src)); err != nil {
		return pipeline.Package{}, fmt.Errorf("archive the stackflow source: %w", err)
	}
	sum := sha256.Sum256(buf.Bytes())
	commit := hex.EncodeToString(sum[:20]) // a content hash in a commit's shape
	key := pipeline.SourceKey(pipelineRepo, commit)
	if err := store.Put(ctx, key, buf.Bytes(), "application/gzip"); err != nil {
		return pipeline.Package{}, err
	}
	p := &packager.Service{
		Store:     store,
		Toolchain: toolchain.Options{},
		Arch:      runtime.GOARCH,
		Cache:     cache,
		Progress:  progress,
		Echo:      log,
		Logger:    logger,
	}
	run := pipeline.Run{Repository: pipelineRepo, Branch: "local", Commit: commit}
	return p.Handle(ctx, pipeline.PackageInput{
		Run:       run,
		Execution: "install",
		Source:    pipeline.Source{ArchiveKey: key, Plan: pipeline.Plan{Template: "template.yaml"}},
	})
}

// sourceSkip says which paths of the stackflow source tree src (relative,
// slash-separated) stay out of the pipeline's source archive: .git, the
// examples, and, where src is in a git work tree, everything git ignores
// (node_modules, .venv, .aws-sam, binaries built at the root), as a push
// would leave them out; elsewhere node_modules, .venv and .aws-sam.
func sourceSkip(ctx context.Context, src string) func(rel string) bool {
	always := func(rel string) bool {
		switch rel {
		case ".git", "examples", "node_modules", ".venv", ".aws-sam":
			return true
		}
		return false
	}
	out, err := localrepo.Git(ctx, src, nil, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	if err != nil {
		return always
	}
	kept := map[string]bool{} // the files git does not ignore, and their folders
	for _, f := range strings.Split(string(out), "\x00") {
		for ; f != "" && f != "." && !kept[f]; f = path.Dir(f) {
			kept[f] = true
		}
	}
	return func(rel string) bool { return always(rel) || !kept[rel] }
}

// deployStack deploys pkg as stack through the deploy handler's own code,
// calling its actions in the order the state machine does and waiting poll
// between looks, and returns the stack's outputs.
func deployStack(ctx context.Context, d *deploy.Service, pkg pipeline.Package, env pipeline.Environment, poll time.Duration) (pipeline.Deployment, error) {
	in := pipeline.DeployInput{
		Run:         pipeline.Run{Repository: pipelineRepo, Branch: "local", Commit: strings.Repeat("0", 40)},
		Execution:   "arn:aws:states:local:000000000000:execution:install:" + env.Stack,
		Package:     pkg,
		Environment: env,
	}
	step := func(a pipeline.DeployAction) error {
		in.Action = a
		out, err := d.Handle(ctx, in)
		if err != nil {
			return err
		}
		in.Deployment = out
		return nil
	}
	wait := func(a pipeline.DeployAction) error {
		for {
			if err := step(a); err != nil {
				return err
			}
			if in.Deployment.Done {
				return nil
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(poll):
			}
		}
	}
	if err := step(pipeline.ActionCreateChangeSet); err != nil {
		return in.Deployment, err
	}
	if err := wait(pipeline.ActionDescribeChangeSet); err != nil {
		return in.Deployment, err
	}
	if !in.Deployment.NoChanges {
		if err := step(pipeline.ActionExecuteChangeSet); err != nil {
			return in.Deployment, err
		}
	}
	if err := wait(pipeline.ActionDescribeStack); err != nil {
		return in.Deployment, err
	}
	return in.Deployment, nil
}

// stackOutputs reads a stack's status and outputs; a stack that does not
// exist has status "".
func stackOutputs(ctx context.Context, cfn *cloudformation.Client, stack string) (status string, outputs map[string]string, err error) {
	out, err := cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return "", nil, nil
		}
		return "", nil, fmt.Errorf("describe stack %s: %w", stack, err)
	}
	if len(out.Stacks) == 0 {
		return "", nil, nil
	}
	s := out.Stacks[0]
	outputs = map[string]string{}
	for _, o := range s.Outputs {
		outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	return string(s.StackStatus), outputs, nil
}
