package eventtest

import (
	"os"
	"path/filepath"
	"testing"
)

type input struct {
	Name string `json:"name"`
}

// recorder is a testing.TB that records failures instead of stopping.
type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Fatalf(string, ...any) { r.failed = true; panic(r) }
func (r *recorder) Fatal(...any)          { r.failed = true; panic(r) }
func (r *recorder) Errorf(string, ...any) { r.failed = true }
func (r *recorder) Helper()               {}

func read(t *testing.T, body string) (in input, failed bool) {
	path := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &recorder{TB: t}
	defer func() {
		if p := recover(); p != nil && p != r {
			panic(p)
		}
		failed = r.failed
	}()
	return Read[input](r, path), false
}

func TestRead(t *testing.T) {
	t.Parallel()
	if in, failed := read(t, `{"name": "hello"}`); failed || in.Name != "hello" {
		t.Errorf("a good event: got %+v, failed %v", in, failed)
	}
	if _, failed := read(t, `{"name": "hello", "nmae": "typo"}`); !failed {
		t.Error("an event with a field the handler ignores passed")
	}
	if _, failed := read(t, `not json`); !failed {
		t.Error("an event that is not JSON passed")
	}
}
