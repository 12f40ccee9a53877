package runlog

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/stackflow/stackflow/internal/pipeline"
)

func TestEveryLineCarriesTheRequestAndTheRun(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	log := NewJSON(&b).With("step", "checks")
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-1"})
	run := pipeline.Run{Repository: pipeline.Repository{Workspace: "acme", Slug: "hello"}, Branch: "main", Commit: "0123456789abcdef0123456789abcdef01234567"}
	ctx = WithRun(ctx, run, "arn:aws:states:eu-west-1:1:execution:m:hello-main-0123456")
	log.InfoContext(ctx, "check", "passed", true)
	log.Info("no context")

	dec := json.NewDecoder(&b)
	var first, second map[string]any
	if err := dec.Decode(&first); err != nil {
		t.Fatal(err)
	}
	if err := dec.Decode(&second); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"msg": "check", "step": "checks", "passed": true, "requestId": "req-1", "repository": "acme/hello",
		"branch": "main", "commit": run.Commit, "execution": "arn:aws:states:eu-west-1:1:execution:m:hello-main-0123456"}
	for k, v := range want {
		if first[k] != v {
			t.Errorf("%s: got %v, want %v (line %v)", k, first[k], v, first)
		}
	}
	if _, ok := second["requestId"]; ok || second["msg"] != "no context" {
		t.Errorf("a line without a context got %v, want no run attributes", second)
	}
}

func TestLoggerBindsTheRunToLinesWithoutAContext(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	run := pipeline.Run{Repository: pipeline.Repository{Workspace: "acme", Slug: "hello"}, Branch: "main", Commit: "0123456789abcdef0123456789abcdef01234567"}
	ctx := WithRun(lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-2"}), run, "arn:x")
	log := Logger(ctx, NewJSON(&b)).With("step", "package")
	log.Info("built")
	var line map[string]any
	if err := json.Unmarshal(b.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"msg": "built", "step": "package", "requestId": "req-2", "repository": "acme/hello", "execution": "arn:x"} {
		if line[k] != want {
			t.Errorf("%s: got %v, want %v (line %v)", k, line[k], want, line)
		}
	}
}
