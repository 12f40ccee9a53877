package main

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// TestEvent checks that event.json is a smoke-test input with no unknown
// fields, and that it round-trips.
func TestEvent(t *testing.T) {
	b, err := os.ReadFile("event.json")
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var in pipeline.SmokeInput
	if err := dec.Decode(&in); err != nil {
		t.Fatalf("decode event.json: %v", err)
	}
	if len(in.Environment.Smoke) == 0 || in.Deployment.Outputs["ApiUrl"] == "" {
		t.Errorf("got %d checks and outputs %v, want checks and an ApiUrl output", len(in.Environment.Smoke), in.Deployment.Outputs)
	}
	out, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var back pipeline.SmokeInput
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, in) {
		t.Errorf("got %+v after a round trip, want %+v", back, in)
	}
}
