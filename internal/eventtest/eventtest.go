// Package eventtest checks the sample event beside each function's main
// package (event.json, for `sam local invoke` and the Lambda console): it
// must be the handler's input exactly, with no field the handler ignores.
package eventtest

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"testing"
)

// Read decodes the file at path into a T, failing the test on a field T
// does not have, and checks that the value survives a JSON round trip.
func Read[T any](t testing.TB, path string) T {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var in T
	if err := dec.Decode(&in); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	out, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var back T
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, in) {
		t.Errorf("%s: got %+v after a round trip, want %+v", path, back, in)
	}
	return in
}
