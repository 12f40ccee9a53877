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
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"

	"github.com/stackflow/stackflow/internal/archive"
	"github.com/stackflow/stackflow/internal/artifacts"
	"github.com/stackflow/stackflow/internal/deploy"
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

// packagePipeline packages the pipeline's own template.yaml exactly as the
// package step packages an app: the source tree is archived into the
// bucket, then built for the host and uploaded by internal/packager.
func packagePipeline(ctx context.Context, store *artifacts.Store, src string, log io.Writer, logger *slog.Logger) (pipeline.Package, error) {
	var buf bytes.Buffer
	skip := func(rel string) bool {
		switch rel {
		case ".git", "node_modules", "examples", ".aws-sam", ".venv":
			return true
		}
		return false
	}
	if err := archive.Create(&buf, src, "stackflow", skip); err != nil {
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
