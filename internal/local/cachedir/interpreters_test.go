package cachedir

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestFindPythonAsksTheInterpreter(t *testing.T) {
	t.Parallel()
	py, err := FindPython(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(py.Path) {
		t.Errorf("got path %q, want sys.executable, absolute", py.Path)
	}
	if !regexp.MustCompile(`^3\.\d+\.\d+`).MatchString(py.Version) {
		t.Errorf("got version %q, want 3.X.Y", py.Version)
	}
	if want := "-311-"; strings.HasPrefix(py.Version, "3.11.") && !strings.Contains(py.Tag, want) {
		t.Errorf("got tag %q for Python %s, want it to contain %s", py.Tag, py.Version, want)
	}
	if !regexp.MustCompile(`^\w+-\d+-\w+$`).MatchString(py.Tag) {
		t.Errorf("got tag %q, want implementation-version-machine", py.Tag)
	}
}

func TestFindPythonNamesWhatIsMissing(t *testing.T) {
	t.Parallel()
	_, err := FindPython(context.Background(), "stackflow-no-such-python")
	if err == nil || !strings.Contains(err.Error(), "stackflow-no-such-python was not found on PATH") {
		t.Errorf("got %v, want it to say stackflow-no-such-python was not found on PATH", err)
	}
}

func TestFindNodeAsksItsVersion(t *testing.T) {
	t.Parallel()
	node, err := FindNode(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(node.Path) {
		t.Errorf("got path %q, want it absolute", node.Path)
	}
	if want := fmt.Sprintf("v%d.", node.Major); node.Major < 1 || !strings.HasPrefix(node.Version, want) {
		t.Errorf("got version %q and major %d, want a version starting %s", node.Version, node.Major, want)
	}
	if _, err := FindNode(context.Background(), "stackflow-no-such-node"); err == nil || !strings.Contains(err.Error(), "stackflow-no-such-node was not found on PATH") {
		t.Errorf("got %v, want it to say stackflow-no-such-node was not found on PATH", err)
	}
}
