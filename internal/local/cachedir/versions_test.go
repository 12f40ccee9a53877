package cachedir

import (
	"os"
	"path/filepath"
	"testing"
)

func TestVersionLess(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want bool
	}{
		{"3.10.12", "3.11", true},
		{"3.11.7", "3.11", false},
		{"3.12.0", "3.11", false},
		{"3.9", "3.11", true},
		{"3", "3.11", true},
		{"20.11.1", "22", true},
	}
	for _, tt := range tests {
		if got := VersionLess(tt.a, tt.b); got != tt.want {
			t.Errorf("VersionLess(%q, %q): got %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestMinorVersion(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"3.11.7": "3.11", "3.12": "3.12", "3": "3"} {
		if got := MinorVersion(in); got != want {
			t.Errorf("MinorVersion(%q): got %q, want %q", in, got, want)
		}
	}
}

func TestDigestTellsPartsApart(t *testing.T) {
	t.Parallel()
	ab, aPlusB := Digest([]byte("ab")), Digest([]byte("a"), []byte("b"))
	if ab == aPlusB {
		t.Errorf("got %s for both ab and a+b, want two digests", ab)
	}
	if len(ab) != 16 || Digest([]byte("ab")) != ab {
		t.Errorf("got %q, want 16 hex digits, the same each time", ab)
	}
}

func TestWriteOnceKeepsWhatIsThere(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sub", "file")
	if err := WriteOnce(path, []byte("first")); err != nil {
		t.Fatal(err)
	}
	if err := WriteOnce(path, []byte("second")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "first" {
		t.Errorf("got %q, want the first write, first", b)
	}
}
