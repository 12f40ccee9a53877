//go:build !unix

package lambda

import (
	"os"
	"os/exec"
)

// ownGroup does nothing where there are no process groups.
func ownGroup(*exec.Cmd) {}

// signalGroup interrupts the process, or kills it when kill is true.
func signalGroup(cmd *exec.Cmd, kill bool) {
	if cmd.Process == nil {
		return
	}
	if kill {
		_ = cmd.Process.Kill()
		return
	}
	_ = cmd.Process.Signal(os.Interrupt)
}

// killed reports whether the process was ended from outside; where there
// are no signals to tell, it says no.
func killed(error) bool { return false }
