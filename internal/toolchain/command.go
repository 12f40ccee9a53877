package toolchain

import (
	"context"
	"os/exec"
	"time"
)

// waitDelay is how long a cancelled command's output may still drain.
const waitDelay = 5 * time.Second

// Command returns the command name args to run in dir with the toolchain's
// environment. When ctx is done the command and every process it started
// are killed, so a hung test cannot outlive the step.
func (t Toolchain) Command(ctx context.Context, dir, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = t.Env()
	cmd.WaitDelay = waitDelay
	killGroup(cmd)
	return cmd
}
