// Command stackflow is stackflow's command line. `stackflow local` runs the
// whole pipeline on this machine against a local AWS: the real template,
// state machine and handlers, delivering a local repository's HEAD.
// `stackflow plan` checks a repository's stackflow.yml and samconfig.toml
// and shows what a push of a branch would do. runs, show, logs, releases,
// approve, reject and rollback follow and steer the pipeline on AWS.
//
// Exit codes: 0 when the command did what was asked, 1 when it failed, 2
// when the command line was wrong and nothing ran.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
