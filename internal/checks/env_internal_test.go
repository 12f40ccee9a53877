package checks

import (
	"os"
	"path/filepath"
	"testing"
)

func TestModuleOf(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for _, d := range []string{"svc/cmd/hello", "py/app"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "svc", "go.mod"), []byte("module x\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ dir, want string }{
		{"svc/cmd/hello", "svc"},
		{"svc", "svc"},
		{"py/app", ""},
		{".", ""},
	}
	for _, tt := range tests {
		got := moduleOf(root, filepath.Join(root, tt.dir))
		want := ""
		if tt.want != "" {
			want = filepath.Join(root, tt.want)
		}
		if got != want {
			t.Errorf("moduleOf(%s): got %q, want %q", tt.dir, got, want)
		}
	}
}
