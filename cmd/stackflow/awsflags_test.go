package main

import (
	"testing"

	"github.com/stackflow/stackflow/internal/runs"
)

// TestAWSFlags: the flags that find the pipeline are the same on every
// command that has them, and a flag left empty takes its environment
// variable.
func TestAWSFlags(t *testing.T) {
	t.Setenv(envStateMachine, "arn:aws:states:eu-west-1:1:stateMachine:FromEnv")
	t.Setenv(envBucket, "bucket-from-env")
	t.Setenv(envReleasesTable, "")
	want := []string{"profile", "region", "stack", "state-machine", "bucket", "table"}
	root := newRootCommand(nil, nil, nil)
	for _, name := range []string{"runs", "show", "logs", "releases", "approve", "reject", "rollback"} {
		cmd, _, err := root.Find([]string{name})
		if err != nil || cmd.Name() != name {
			t.Fatalf("%s: got %v, %v", name, cmd, err)
		}
		for _, flag := range want {
			f := cmd.Flags().Lookup(flag)
			if f == nil {
				t.Errorf("%s: got no --%s, want the AWS flags", name, flag)
				continue
			}
			if _, ok := f.Annotations[flagGroup]; !ok {
				t.Errorf("%s --%s: not in the AWS flags' section of the help", name, flag)
			}
		}
	}

	tests := []struct {
		name  string
		flags awsFlags
		want  runs.Options
	}{
		{
			name:  "the environment fills what no flag gives",
			flags: awsFlags{stack: "stackflow"},
			want:  runs.Options{Stack: "stackflow", StateMachineARN: "arn:aws:states:eu-west-1:1:stateMachine:FromEnv", Bucket: "bucket-from-env"},
		},
		{
			name:  "flags win",
			flags: awsFlags{profile: "ops", region: "eu-central-1", stack: "pipe", stateMachine: "arn:flag", bucket: "b", table: "t"},
			want:  runs.Options{Profile: "ops", Region: "eu-central-1", Stack: "pipe", StateMachineARN: "arn:flag", Bucket: "b", ReleasesTable: "t"},
		},
	}
	for _, tt := range tests {
		if got := tt.flags.options(); got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}
