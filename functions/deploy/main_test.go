package main

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// TestEvent checks that event.json is a deploy input with no unknown
// fields, and that it round-trips.
func TestEvent(t *testing.T) {
	b, err := os.ReadFile("event.json")
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var in pipeline.DeployInput
	if err := dec.Decode(&in); err != nil {
		t.Fatalf("decode event.json: %v", err)
	}
	if in.Action != pipeline.ActionCreateChangeSet || in.Environment.Stack == "" || in.Package.TemplateURL == "" {
		t.Errorf("got action %q stack %q template %q, want a createChangeSet input", in.Action, in.Environment.Stack, in.Package.TemplateURL)
	}
	out, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var back pipeline.DeployInput
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, in) {
		t.Errorf("got %+v after a round trip, want %+v", back, in)
	}
}
