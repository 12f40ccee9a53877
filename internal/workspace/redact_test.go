package workspace

import (
	"strings"
	"testing"
)

func TestRedactorString(t *testing.T) {
	t.Parallel()
	r := NewRedactor("s3cret-token", "", "ab", "hunter22")
	tests := []struct{ in, want string }{
		{"token s3cret-token here", "token **** here"},
		{"s3cret-tokens3cret-token", "********"},
		{"hunter22 and s3cret-token", "**** and ****"},
		{"ab stays: too short to hide", "ab stays: too short to hide"},
		{"nothing", "nothing"},
	}
	for _, tt := range tests {
		if got := r.String(tt.in); got != tt.want {
			t.Errorf("String(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
	var none *Redactor
	if got := none.String("s3cret-token"); got != "s3cret-token" {
		t.Errorf("nil redactor: got %q", got)
	}
}

// However the output is split into writes, no secret gets through whole
// or in pieces, and nothing else is lost.
func TestRedactWriterSplitsAnywhere(t *testing.T) {
	t.Parallel()
	r := NewRedactor("s3cret-token", "hunter22")
	text := "login ok\npassword=hunter22\nAuthorization: Bearer s3cret-token\nend s3cret-tok"
	want := r.String(text)
	for i := 0; i <= len(text); i++ {
		for j := i; j <= len(text); j++ {
			var b strings.Builder
			w := r.Writer(&b)
			for _, part := range []string{text[:i], text[i:j], text[j:]} {
				w.Write([]byte(part))
			}
			w.Flush()
			if got := b.String(); got != want {
				t.Fatalf("split at %d and %d: got %q, want %q", i, j, got, want)
			}
		}
	}
	var b strings.Builder
	NewRedactor().Writer(&b).Write([]byte("passed through at once"))
	if b.String() != "passed through at once" {
		t.Errorf("with nothing to hide: got %q, want everything written at once", b.String())
	}
}
