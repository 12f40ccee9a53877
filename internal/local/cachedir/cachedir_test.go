package cachedir

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestInstall(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		installed bool  // the marker is there before
		fillErr   error // what fill returns
		wantFill  bool
		wantErr   bool
		wantThere bool
	}{
		{name: "fresh", wantFill: true, wantThere: true},
		{name: "already there", installed: true, wantThere: true},
		{name: "fill fails", fillErr: errors.New("no network"), wantFill: true, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			parent := t.TempDir()
			dir := filepath.Join(parent, "pkg")
			marker := filepath.Join(dir, "ok")
			if tt.installed {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(marker, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			filled := false
			err := Install(parent, dir, marker, ".install-", func(tmp string) error {
				filled = true
				if tt.fillErr != nil {
					return tt.fillErr
				}
				return os.WriteFile(filepath.Join(tmp, "ok"), nil, 0o644)
			})
			if got := err != nil; got != tt.wantErr {
				t.Errorf("got error %v, want one: %v", err, tt.wantErr)
			}
			if filled != tt.wantFill {
				t.Errorf("got fill called %v, want %v", filled, tt.wantFill)
			}
			_, serr := os.Stat(marker)
			if got := serr == nil; got != tt.wantThere {
				t.Errorf("got installed %v, want %v", got, tt.wantThere)
			}
			entries, _ := os.ReadDir(parent)
			for _, e := range entries {
				if e.Name() != "pkg" {
					t.Errorf("got %s left in the cache directory, want only pkg", e.Name())
				}
			}
		})
	}
}

func TestRemoveAbandoned(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	for _, name := range []string{".install-old", ".install-new", "pkg-old"} {
		if err := os.Mkdir(filepath.Join(parent, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * abandonedAfter)
	for _, name := range []string{".install-old", "pkg-old"} {
		if err := os.Chtimes(filepath.Join(parent, name), old, old); err != nil {
			t.Fatal(err)
		}
	}
	RemoveAbandoned(parent, ".install-")
	var got []string
	entries, _ := os.ReadDir(parent)
	for _, e := range entries {
		got = append(got, e.Name())
	}
	want := []string{".install-new", "pkg-old"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("got %q left, want %q", got, want)
	}
}

func TestLastLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		n    int
		want string
	}{
		{"fewer", "a\nb\n", 3, "a\nb"},
		{"more", "a\nb\nc\n", 2, "b\nc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := LastLines(tt.in, tt.n); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
