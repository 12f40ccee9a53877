//go:build linux

package reaper_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stackflow/stackflow/internal/reaper"
)

// TestMain runs this test binary as the helper, a stand-in for a handler,
// when asked: the test process itself runs other tests' commands, which
// KillDescendants would kill.
func TestMain(m *testing.M) {
	if file := os.Getenv("REAPER_HELPER_PIDFILE"); file != "" {
		os.Exit(helper(file, os.Getenv("REAPER_HELPER_ADOPT") == "1"))
	}
	os.Exit(m.Run())
}

// helper runs a command that leaves a daemon behind (setsid, its parent
// gone), as a check might, then kills its descendants, as the handler does
// when an invocation ends.
func helper(pidfile string, adopt bool) int {
	if adopt {
		if err := reaper.Adopt(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
	cmd := exec.Command("sh", "-c", `(setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $! > "$1"); exit 0`, "sh", pidfile)
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if _, err := reaper.KillDescendants(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return 0
}

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z"
}

// TestADaemonDoesNotOutliveTheInvocation: a process a command left behind,
// daemonized, is killed when the handler that adopted it ends its
// invocation; without Adopt it escapes (so the test can fail).
func TestADaemonDoesNotOutliveTheInvocation(t *testing.T) {
	t.Parallel()
	for _, adopt := range []bool{true, false} {
		t.Run(fmt.Sprintf("adopt=%v", adopt), func(t *testing.T) {
			t.Parallel()
			pidfile := filepath.Join(t.TempDir(), "pid")
			h := exec.Command(os.Args[0], "-test.run=^$")
			h.Env = append(os.Environ(), "REAPER_HELPER_PIDFILE="+pidfile, "REAPER_HELPER_ADOPT="+map[bool]string{true: "1"}[adopt])
			if out, err := h.CombinedOutput(); err != nil {
				t.Fatalf("helper: %v: %s", err, out)
			}
			b, err := os.ReadFile(pidfile)
			if err != nil {
				t.Fatal(err)
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			if adopt && alive(pid) {
				syscall.Kill(pid, syscall.SIGKILL)
				t.Errorf("the daemon %d outlived the invocation", pid)
			}
			if !adopt {
				if !alive(pid) {
					t.Errorf("without Adopt the daemon %d was killed too: the test shows nothing", pid)
				}
				syscall.Kill(pid, syscall.SIGKILL)
			}
		})
	}
}

// TestHandlerPassesThrough: the wrapped handler's answer is the handler's.
// Not parallel: the wrapper kills this process's descendants, such as the
// other test's helpers, which run only once the sequential tests are done.
func TestHandlerPassesThrough(t *testing.T) {
	h := reaper.Handler(func(_ context.Context, in int) (string, error) { return strconv.Itoa(in * 2), nil })
	if got, err := h(context.Background(), 21); got != "42" || err != nil {
		t.Errorf("got %q, %v; want 42", got, err)
	}
}
