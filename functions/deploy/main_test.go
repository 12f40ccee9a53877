package main

import (
	"testing"

	"github.com/stackflow/stackflow/internal/eventtest"
	"github.com/stackflow/stackflow/internal/pipeline"
)

// TestEvent checks that event.json is a deploy input with no unknown
// fields, and that it round-trips.
func TestEvent(t *testing.T) {
	in := eventtest.Read[pipeline.DeployInput](t, "event.json")
	if in.Action != pipeline.ActionCreateChangeSet || in.Environment.Stack == "" || in.Package.TemplateURL == "" {
		t.Errorf("got action %q stack %q template %q, want a createChangeSet input", in.Action, in.Environment.Stack, in.Package.TemplateURL)
	}
}
