package main

import (
	"context"
	"os"

	"github.com/spf13/cobra"

	"github.com/stackflow/stackflow/internal/runs"
)

// awsFlags are the flags with which the commands that read or steer the
// pipeline on AWS (runs, show, logs, releases, approve, reject, rollback)
// find AWS, as the AWS CLI does, and the pipeline: from its stack's
// outputs, or named one by one. A flag left empty takes its environment
// variable.
type awsFlags struct {
	profile, region, stack, stateMachine, bucket, table string
}

// The environment variables that name the pipeline's parts.
const (
	envStateMachine  = "STACKFLOW_STATE_MACHINE_ARN"
	envBucket        = "STACKFLOW_ARTIFACT_BUCKET"
	envReleasesTable = "STACKFLOW_RELEASES_TABLE"
)

// addAWSFlags defines the AWS flags on cmd, in a section of their own in
// its help.
func addAWSFlags(cmd *cobra.Command) *awsFlags {
	f := &awsFlags{}
	fs := cmd.Flags()
	fs.StringVar(&f.profile, "profile", "", "the AWS CLI profile to use, by `NAME` (default: AWS_PROFILE, else default)")
	fs.StringVar(&f.region, "region", "", "the AWS `REGION` (default: AWS_REGION, AWS_DEFAULT_REGION or the profile's)")
	fs.StringVar(&f.stack, "stack", runs.DefaultStack, "the `NAME` of the pipeline's stack, whose outputs name its state machine, artifact bucket and table")
	fs.StringVar(&f.stateMachine, "state-machine", "", "the pipeline's state machine `ARN`, instead of the stack's output (env "+envStateMachine+")")
	fs.StringVar(&f.bucket, "bucket", "", "the `NAME` of the pipeline's artifact bucket, instead of the stack's output (env "+envBucket+")")
	fs.StringVar(&f.table, "table", "", "the `NAME` of the pipeline's table of releases, locks and approvals, instead of the stack's output (env "+envReleasesTable+")")
	for _, name := range []string{"profile", "region", "stack", "state-machine", "bucket", "table"} {
		_ = fs.SetAnnotation(name, flagGroup, []string{"aws"})
		_ = cmd.RegisterFlagCompletionFunc(name, cobra.NoFileCompletions)
	}
	return f
}

// options are the flags as runs.Connect takes them, the environment
// filling those left empty.
func (f *awsFlags) options() runs.Options {
	return runs.Options{
		Profile: f.profile, Region: f.region, Stack: f.stack,
		StateMachineARN: orEnv(f.stateMachine, envStateMachine),
		Bucket:          orEnv(f.bucket, envBucket),
		ReleasesTable:   orEnv(f.table, envReleasesTable),
	}
}

// connect finds AWS and the pipeline.
func (f *awsFlags) connect(ctx context.Context) (*runs.Client, error) {
	return runs.Connect(ctx, f.options())
}

func orEnv(value, env string) string {
	if value != "" {
		return value
	}
	return os.Getenv(env)
}
