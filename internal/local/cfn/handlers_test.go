package cfn

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var updateHandlers = flag.Bool("update", false, "write handlerpermissions.json from cfn-lint's resource schemas")

// TestHandlerPermissionsAreCurrent generates the handlers' permissions of
// the engine's resource types from the CloudFormation registry schemas
// that the pinned cfn-lint ships (in .venv, from requirements-test.txt),
// and wants handlerpermissions.json to be them; with -update it writes
// the file.
func TestHandlerPermissionsAreCurrent(t *testing.T) {
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	lint, err := filepath.Glob(filepath.Join(root, ".venv", "lib", "python3*", "site-packages", "cfnlint"))
	if err != nil || len(lint) != 1 {
		t.Fatalf("cfn-lint is not installed in .venv (%v): run `python3 -m venv .venv && .venv/bin/pip install -r requirements-test.txt` at the repository root", err)
	}
	got, err := generateHandlerPermissions(lint[0])
	if err != nil {
		t.Fatal(err)
	}
	if *updateHandlers {
		if err := os.WriteFile("handlerpermissions.json", got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(got, handlerPermissionsJSON) {
		t.Errorf("handlerpermissions.json is not what cfn-lint's schemas give: run `go test ./internal/local/cfn -run TestHandlerPermissionsAreCurrent -update`")
	}
}

func generateHandlerPermissions(lint string) ([]byte, error) {
	dists, err := filepath.Glob(filepath.Join(filepath.Dir(lint), "cfn_lint-*.dist-info"))
	if err != nil || len(dists) != 1 {
		return nil, fmt.Errorf("find cfn-lint's version next to %s: %v", lint, dists)
	}
	version := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(dists[0]), "cfn_lint-"), ".dist-info")
	var providers map[string]string
	if err := readJSONFile(filepath.Join(lint, "data", "schemas", "providers", "us-east-1.json"), &providers); err != nil {
		return nil, err
	}
	out := handlerData{Source: "cfn-lint " + version + " (data/schemas: the CloudFormation registry's resource schemas, us-east-1)", Types: map[string]map[string][]string{}}
	types := slices.Sorted(func(yield func(string) bool) {
		for typ := range kinds {
			if !yield(typ) {
				return
			}
		}
	})
	for _, typ := range types {
		h, ok := providers[typ]
		if !ok {
			continue // not a registry type (none of the engine's today)
		}
		var schema struct {
			Handlers map[string]struct {
				Permissions []string `json:"permissions"`
			} `json:"handlers"`
		}
		if err := readJSONFile(filepath.Join(lint, "data", "schemas", "resources", h+".json"), &schema); err != nil {
			return nil, err
		}
		m := map[string][]string{}
		for _, handler := range []string{"create", "update", "delete"} {
			if p := schema.Handlers[handler].Permissions; len(p) > 0 {
				m[handler] = p
			}
		}
		if len(m) > 0 {
			out.Types[typ] = m
		}
	}
	b, err := json.MarshalIndent(out, "", " ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func readJSONFile(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
