package samtransform

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestTheRealInstall installs the translator from PyPI into the tests'
// cache directory, as `stackflow local` does into the user's (once per
// machine: later runs find it there), from two processes' worth of
// translators at once, and translates with it.
func TestTheRealInstall(t *testing.T) {
	t.Parallel()
	dir := testCacheDir(t)
	var (
		wg   sync.WaitGroup
		logs [2]bytes.Buffer
		errs [2]error
		trs  [2]*Translator
	)
	for i := range trs {
		trs[i] = New(Options{CacheDir: dir, Log: &logs[i]})
		t.Cleanup(func() { _ = trs[i].Close() })
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = trs[i].Start(context.Background())
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("translator %d: %v", i, err)
		}
	}
	installs := strings.Count(logs[0].String()+logs[1].String(), "installing SAM's translator")
	if installs > 1 {
		t.Errorf("installed %d times at once, want at most once:\n%s%s", installs, &logs[0], &logs[1])
	}
	if installs == 1 && !strings.Contains(logs[0].String()+logs[1].String(), "(PyPI aws-sam-translator "+Version+")") {
		t.Errorf("the install line does not name the version: %s%s", &logs[0], &logs[1])
	}
	venvs, _ := filepath.Glob(filepath.Join(dir, "venv-*", marker))
	if len(venvs) == 0 {
		t.Errorf("no finished virtual environment under %s", dir)
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, installPrefix+"*"))
	for _, l := range leftovers {
		if st, err := os.Stat(l); err == nil && time.Since(st.ModTime()) < time.Hour {
			t.Errorf("an installation under way was left behind: %s", l)
		}
	}
	out, err := trs[1].Translate(context.Background(), []byte(`{"Transform":"AWS::Serverless-2016-10-31","Resources":{"T":{"Type":"AWS::Serverless::SimpleTable"}}}`),
		map[string]any{"AWS::Region": "eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"AWS::DynamoDB::Table"`) {
		t.Errorf("got %s, want a DynamoDB table", out)
	}
}

// fakePython writes a script that answers the version query as a Python
// of version does and fails `-m venv` with out.
func fakePython(t *testing.T, version, venvOut string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "python3")
	script := "#!/bin/sh\ncase \"$1\" in\n-c) echo " + version + " cpython-3x x86_64; echo \"$0\";;\n*) echo '" + venvOut + "' >&2; exit 1;;\nesac\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestInstallSaysWhatToInstall(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		python func(t *testing.T) string
		want   []string
	}{
		{
			name:   "no python3",
			python: func(*testing.T) string { return "stackflow-no-such-python3" },
			want:   []string{"stackflow-no-such-python3 was not found on PATH", "install Python 3.11 or later"},
		},
		{
			name:   "too old",
			python: func(t *testing.T) string { return fakePython(t, "3.9.18", "") },
			want:   []string{"needs Python 3.11 or later", "is 3.9.18", "python3-venv"},
		},
		{
			name: "no venv module",
			python: func(t *testing.T) string {
				return fakePython(t, "3.12.3", "The virtual environment was not created successfully because ensurepip is not available.")
			},
			want: []string{"-m venv", "ensurepip is not available", "has no working venv module", "python3-venv"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := New(Options{CacheDir: t.TempDir(), Python: tt.python(t)}).Start(context.Background())
			if err == nil {
				t.Fatal("started without a usable Python")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("got %q, want it to contain %q", err, want)
				}
			}
		})
	}
}

func TestAbandonedInstallsAreRemoved(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	old := filepath.Join(dir, installPrefix+"killed")
	recent := filepath.Join(dir, installPrefix+"running")
	for _, d := range []string{old, recent} {
		if err := os.MkdirAll(filepath.Join(d, "lib"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	long := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(old, long, long); err != nil {
		t.Fatal(err)
	}
	// The install fails (no venv module), after it has looked for leftovers.
	_ = New(Options{CacheDir: dir, Python: fakePython(t, "3.12.3", "ensurepip is not available")}).Start(context.Background())
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("the install abandoned two hours ago is still there (%v)", err)
	}
	if _, err := os.Stat(recent); err != nil {
		t.Errorf("the install under way was removed: %v", err)
	}
}

// BenchmarkColdInstall measures the first use on a machine: the virtual
// environment made, the pinned wheels downloaded from PyPI and installed,
// and the worker started. It needs PyPI; run it with -benchtime 1x.
func BenchmarkColdInstall(b *testing.B) {
	for b.Loop() {
		tr := New(Options{CacheDir: b.TempDir()})
		if err := tr.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		_ = tr.Close()
	}
}
