package stackflow_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLint keeps the tree as the house wants it: gofmt, go vet and
// staticcheck (pinned in go.mod as a tool) clean, in the pipeline's module
// and in the example app's.
func TestLint(t *testing.T) {
	t.Parallel()
	// The example is its own module: run the pinned staticcheck binary there.
	bin, err := exec.Command("go", "tool", "-n", "staticcheck").Output()
	if err != nil {
		t.Fatalf("go tool -n staticcheck: %v", err)
	}
	staticcheck := strings.TrimSpace(string(bin))
	for _, dir := range []string{".", "examples/hello"} {
		t.Run(dir, func(t *testing.T) {
			t.Parallel()
			run := func(name string, args ...string) string {
				t.Helper()
				cmd := exec.Command(name, args...)
				cmd.Dir = dir
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
				}
				return string(out)
			}
			if out := run("gofmt", "-l", "."); strings.TrimSpace(out) != "" {
				t.Errorf("gofmt -l: these files need gofmt:\n%s", out)
			}
			run("go", "vet", "./...")
			run(staticcheck, "./...")
		})
	}
}
