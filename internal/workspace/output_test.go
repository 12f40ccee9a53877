package workspace

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stackflow/stackflow/internal/pipeline"
)

func TestTail(t *testing.T) {
	t.Parallel()
	var many []string
	for i := 1; i <= 100; i++ {
		many = append(many, fmt.Sprintf("line %d", i))
	}
	tests := []struct {
		name      string
		in        string
		wantStart string
		wantEnd   string
		wantLines int
	}{
		{name: "short", in: "a\nb\n\n", wantStart: "a", wantEnd: "b", wantLines: 2},
		{name: "many lines", in: strings.Join(many, "\n") + "\n", wantStart: "line 71", wantEnd: "line 100", wantLines: 30},
		{name: "long lines", in: strings.Repeat(strings.Repeat("x", 999)+"\n", 10) + "end", wantStart: "x", wantEnd: "end", wantLines: 4},
		{name: "one huge line of runes", in: strings.Repeat("é", 5000), wantStart: "é", wantEnd: "é", wantLines: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Tail(tt.in)
			lines := strings.Split(got, "\n")
			if len(got) > TailBytes || !utf8.ValidString(got) {
				t.Errorf("got %d bytes (valid UTF-8: %v), want at most %d", len(got), utf8.ValidString(got), TailBytes)
			}
			if len(lines) != tt.wantLines || !strings.HasPrefix(got, tt.wantStart) || !strings.HasSuffix(got, tt.wantEnd) {
				t.Errorf("got %d lines from %.10q to %.10q, want %d from %q to %q",
					len(lines), lines[0], lines[len(lines)-1], tt.wantLines, tt.wantStart, tt.wantEnd)
			}
		})
	}
}

func TestOutputBounded(t *testing.T) {
	t.Parallel()
	var echo strings.Builder
	o := &Output{Limit: 10, Echo: &echo}
	fmt.Fprint(o, "0123456789abc")
	for i := range 10_000 {
		fmt.Fprintf(o, "line %d\n", i)
	}
	s := o.String()
	if !strings.HasPrefix(s, "0123456789\n[... ") || !strings.HasSuffix(s, "line 9999\n") {
		t.Errorf("got %.40q...%q, want the head, a note and the end", s, s[len(s)-20:])
	}
	if len(s) > 10+lastBytes+100 {
		t.Errorf("kept %d bytes, want at most about %d", len(s), 10+lastBytes)
	}
	if !strings.HasSuffix(o.Tail(), "line 9998\nline 9999") {
		t.Errorf("got tail ending %q", o.Tail())
	}
	if !strings.HasPrefix(echo.String(), "0123456789abcline 0\n") || echo.Len() < 10_000*7 {
		t.Errorf("echo got %d bytes, want everything", echo.Len())
	}
}

func TestExecutionName(t *testing.T) {
	t.Parallel()
	run := pipeline.Run{Repository: pipeline.Repository{Workspace: "acme", Slug: "app"}, Branch: "main", Commit: "0123456789abcdef"}
	tests := []struct{ arn, want string }{
		{"arn:aws:states:us-east-1:123456789012:execution:stackflow:app-main-0123456", "app-main-0123456"},
		{"by-hand", "by-hand"},
		{"", "app-main-0123456"},
	}
	for _, tt := range tests {
		if got := ExecutionName(tt.arn, run); got != tt.want {
			t.Errorf("ExecutionName(%q) = %q, want %q", tt.arn, got, tt.want)
		}
	}
}
