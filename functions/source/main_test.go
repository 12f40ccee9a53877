package main

import (
	"strings"
	"testing"

	"github.com/stackflow/stackflow/internal/eventtest"
	"github.com/stackflow/stackflow/internal/pipeline"
)

func TestEvent(t *testing.T) {
	in := eventtest.Read[pipeline.SourceInput](t, "event.json")
	if len(in.Run.Commit) != 40 || in.Run.Branch == "" || !strings.Contains(in.Execution, ":execution:") {
		t.Errorf("got %+v, want a whole source input", in)
	}
}

func TestSetupNeedsTheBucket(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("ARTIFACT_BUCKET", "")
	if _, err := setup(t.Context()); err == nil || !strings.Contains(err.Error(), "ARTIFACT_BUCKET") {
		t.Errorf("got %v, want an error naming ARTIFACT_BUCKET", err)
	}
}
