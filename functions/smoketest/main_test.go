package main

import (
	"testing"

	"github.com/stackflow/stackflow/internal/eventtest"
	"github.com/stackflow/stackflow/internal/pipeline"
)

// TestEvent checks that event.json is a smoke-test input with no unknown
// fields, and that it round-trips.
func TestEvent(t *testing.T) {
	in := eventtest.Read[pipeline.SmokeInput](t, "event.json")
	if len(in.Environment.Smoke) == 0 || in.Deployment.Outputs["ApiUrl"] == "" {
		t.Errorf("got %d checks and outputs %v, want checks and an ApiUrl output", len(in.Environment.Smoke), in.Deployment.Outputs)
	}
}
