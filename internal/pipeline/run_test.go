package pipeline

import (
	"strings"
	"testing"
)

func TestMessageLine(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", MaxMessage+10)
	tests := []struct{ name, in, want string }{
		{"one line", "Greet by name\n", "Greet by name"},
		{"a body", "Greet by name\n\nThe greeting says the caller's name.", "Greet by name"},
		{"blank lines first", "\n\n  Fix the smoke test  \nmore", "Fix the smoke test"},
		{"none", "", ""},
		{"too long", long, strings.Repeat("x", MaxMessage-1) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MessageLine(tt.in); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
