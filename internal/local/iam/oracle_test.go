package iam

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestEvaluateAgreesWithIAMSimulate runs the evaluator's table through
// @cloud-copilot/iam-simulate (pinned in the repository's package.json,
// installed by `npm ci` at its root) and wants the same outcome for every
// row as Evaluate gives and the table says.
func TestEvaluateAgreesWithIAMSimulate(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "node_modules", "@cloud-copilot", "iam-simulate", "package.json")); err != nil {
		t.Fatalf("@cloud-copilot/iam-simulate is not installed (%v): run `npm ci` at the repository root", err)
	}
	cases := loadCases(t)
	table, err := os.ReadFile("testdata/cases.json")
	if err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs("testdata/oracle.mjs")
	if err != nil {
		t.Fatal(err)
	}
	// Node resolves the package from the script's folder upwards, which
	// reaches the repository's node_modules.
	cmd := exec.Command("node", script)
	cmd.Dir = root
	cmd.Stdin = bytes.NewReader(table)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node oracle.mjs: %v\n%s", err, stderr.String())
	}
	oracle := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line struct {
			Name   string          `json:"name"`
			Result string          `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("oracle line %q: %v", sc.Text(), err)
		}
		if len(line.Error) > 0 {
			t.Errorf("%s: iam-simulate refused the case: %s", line.Name, line.Error)
			continue
		}
		oracle[line.Name] = line.Result
	}
	for _, c := range cases {
		got := Evaluate(c.input(t)).Outcome
		want, ok := oracle[c.Name]
		if !ok {
			t.Errorf("%s: iam-simulate gave no result", c.Name)
			continue
		}
		if string(got) != want {
			t.Errorf("%s: Evaluate gives %s, iam-simulate %s", c.Name, got, want)
		}
		if want != string(c.Want) {
			t.Errorf("%s: the table wants %s, iam-simulate gives %s", c.Name, c.Want, want)
		}
	}
}
