package dashboard

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestVendoredDagreIsThePinnedPackage checks that the dagre the pages load
// is byte for byte the dist/dagre.min.js of the version package.json pins
// (npm ci installs it), so that an update goes through package.json and
// package-lock.json.
func TestVendoredDagreIsThePinnedPackage(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..")
	var pkg struct {
		DevDependencies map[string]string `json:"devDependencies"`
	}
	data, err := os.ReadFile(filepath.Join(root, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &pkg); err != nil {
		t.Fatal(err)
	}
	pinned := pkg.DevDependencies["@dagrejs/dagre"]
	if pinned == "" {
		t.Fatal("package.json pins no @dagrejs/dagre")
	}
	dir := filepath.Join(root, "node_modules", "@dagrejs", "dagre")
	var installed struct{ Version string }
	data, err = os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		t.Fatalf("@dagrejs/dagre is not installed (%v): run npm ci", err)
	}
	if err := json.Unmarshal(data, &installed); err != nil {
		t.Fatal(err)
	}
	if installed.Version != pinned {
		t.Fatalf("node_modules has @dagrejs/dagre %s, package.json pins %s: run npm ci", installed.Version, pinned)
	}
	for _, f := range []struct{ vendored, pkg string }{
		{"dagre.min.js", filepath.Join("dist", "dagre.min.js")},
		{"dagre.min.js.LEGAL.txt", filepath.Join("dist", "dagre.min.js.LEGAL.txt")},
		{"dagre.LICENSE", "LICENSE"},
	} {
		want, err := os.ReadFile(filepath.Join(dir, f.pkg))
		if err != nil {
			t.Fatal(err)
		}
		got, err := files.ReadFile("assets/vendor/" + f.vendored)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("assets/vendor/%s differs from @dagrejs/dagre %s's %s: copy it from node_modules/@dagrejs/dagre", f.vendored, pinned, f.pkg)
		}
	}
}
