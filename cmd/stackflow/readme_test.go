package main

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/stackflow/stackflow/internal/local"
)

func readme(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// jsonKeys are the keys of the JSON encoding of t, nested ones as
// "parent.child" and those of a slice's elements as "parent[].child".
func jsonKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		ft := f.Type
		switch {
		case (ft.Kind() == reflect.Slice || ft.Kind() == reflect.Array) && ft.Elem().Kind() == reflect.Struct:
			keys = append(keys, jsonKeys(ft.Elem(), prefix+name+"[].")...)
		case ft.Kind() == reflect.Struct:
			keys = append(keys, jsonKeys(ft, prefix+name+".")...)
		default:
			keys = append(keys, prefix+name)
		}
	}
	return keys
}

// documentedRow is a row of a README table whose first cell is a key.
var documentedRow = regexp.MustCompile("^\\| `([^`]+)` \\|")

// TestREADMEDocumentsLocalJSON: the README's table of the keys of
// `stackflow local --json` lists every key of local.Result, and no other.
func TestREADMEDocumentsLocalJSON(t *testing.T) {
	t.Parallel()
	want := jsonKeys(reflect.TypeFor[local.Result](), "")
	if len(want) < 10 || !slices.Contains(want, "statuses[].url") || !slices.Contains(want, "seconds") {
		t.Fatalf("got keys %v from local.Result, want its nested keys too", want)
	}
	text := readme(t)
	_, after, ok := strings.Cut(text, "`stackflow local --json` prints one object")
	if !ok {
		t.Fatal("the README has no \"`stackflow local --json` prints one object\" paragraph")
	}
	var documented []string
	inTable := false
	for _, line := range strings.Split(after, "\n") {
		if !strings.HasPrefix(line, "|") {
			if inTable {
				break
			}
			continue
		}
		inTable = true
		if m := documentedRow.FindStringSubmatch(line); m != nil {
			documented = append(documented, m[1])
		}
	}
	for _, k := range want {
		if !slices.Contains(documented, k) {
			t.Errorf("the key %s of stackflow local --json is not in the README's table (it has %v)", k, documented)
		}
	}
	for _, k := range documented {
		if !slices.Contains(want, k) {
			t.Errorf("the README documents a key %s that stackflow local --json does not have", k)
		}
	}
}

// TestREADMEDocumentsTheCommandLine: every command and every one of its
// flags is in the README, written as it is typed.
func TestREADMEDocumentsTheCommandLine(t *testing.T) {
	t.Parallel()
	text := readme(t)
	root := newRootCommand(nil, io.Discard, io.Discard)
	for _, c := range root.Commands() {
		if c.Hidden {
			continue
		}
		if !strings.Contains(text, "stackflow "+c.Name()) {
			t.Errorf("the README never mentions stackflow %s", c.Name())
		}
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Name == "help" {
				return
			}
			if !regexp.MustCompile(`--` + regexp.QuoteMeta(f.Name) + `\b`).MatchString(text) {
				t.Errorf("the README never mentions --%s of stackflow %s", f.Name, c.Name())
			}
		})
	}
}
