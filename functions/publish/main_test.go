package main

import (
	"strings"
	"testing"

	"github.com/stackflow/stackflow/internal/eventtest"
	"github.com/stackflow/stackflow/internal/pipeline"
)

func TestSetup(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("ARTIFACT_BUCKET", "")
	if _, err := setup(t.Context()); err == nil || !strings.Contains(err.Error(), "ARTIFACT_BUCKET") {
		t.Errorf("got %v, want an error naming ARTIFACT_BUCKET", err)
	}
	t.Setenv("ARTIFACT_BUCKET", "artifacts")
	svc, err := setup(t.Context())
	if err != nil || svc.Store.Bucket() != "artifacts" {
		t.Errorf("got %+v, %v; want a store of the bucket", svc, err)
	}
}

// TestEvent checks that event.json is a publish input with no unknown
// fields, and that it round-trips.
func TestEvent(t *testing.T) {
	in := eventtest.Read[pipeline.PublishInput](t, "event.json")
	if in.Step != pipeline.StepPackage || in.Package == nil || len(in.Package.Functions) == 0 || in.Execution == "" {
		t.Errorf("got %+v, want a whole publish input", in)
	}
}
