//go:build unix

package lambda

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFirstPoll(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	quitter := filepath.Join(dir, "quitter")
	if err := os.WriteFile(quitter, []byte("#!/bin/sh\necho cannot start >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, bootstrap, wantErr string
	}{
		{name: "a handler", bootstrap: filepath.Join(codeDir, "bootstrap")},
		{name: "a process that exits", bootstrap: quitter, wantErr: "exited before it polled (exit status 3): cannot start"},
		{name: "no program", bootstrap: filepath.Join(dir, "missing"), wantErr: "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			d, err := FirstPoll(ctx, tt.bootstrap, []string{"AWS_REGION=us-east-1"})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || d <= 0 {
				t.Errorf("got %s, %v, want a start-up time", d, err)
			}
		})
	}
}
