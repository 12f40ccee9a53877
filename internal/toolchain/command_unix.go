//go:build unix

package toolchain

import (
	"os/exec"
	"syscall"
)

// killGroup runs cmd in its own process group and makes cancelling kill the
// whole group, not only cmd's own process (sh -c "go test ./..." starts a
// tree of them).
func killGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
