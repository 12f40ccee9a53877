package main

import (
	"testing"

	"github.com/stackflow/stackflow/internal/eventtest"
	"github.com/stackflow/stackflow/internal/pipeline"
)

func TestEvent(t *testing.T) {
	in := eventtest.Read[pipeline.StatusInput](t, "event.json")
	if in.State == "" || in.Run.Commit == "" || in.Execution == "" {
		t.Errorf("got %+v, want a whole status input", in)
	}
}
