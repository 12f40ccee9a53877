package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// whoAmI names the person running the command, for the commit status and
// the release history: STACKFLOW_USER, else the login name.
func whoAmI() string {
	if v := os.Getenv("STACKFLOW_USER"); v != "" {
		return v
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "someone"
}

func approveCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return answerCommand(ctx, "approve", args, stdout, stderr)
}

func rejectCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return answerCommand(ctx, "reject", args, stdout, stderr)
}

// answerCommand approves or rejects a deploy that waits for approval.
func answerCommand(ctx context.Context, verb string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := fs.String("env", "", "the environment whose deploy to "+verb+" (default: the only one waiting)")
	var reason *string
	if verb == "reject" {
		reason = fs.String("reason", "", "why, as the commit status shows it (required)")
	}
	flags := addAWSFlags(fs)
	rest, err := parseArgs(fs, args)
	if err != nil {
		return 2
	}
	if len(rest) != 1 {
		fmt.Fprintf(stderr, "stackflow %s: give the run waiting for approval: its execution name, ARN or commit SHA, as stackflow show takes it\n", verb)
		return 2
	}
	if verb == "reject" && strings.TrimSpace(*reason) == "" {
		fmt.Fprintln(stderr, "stackflow reject: give the reason with --reason TEXT: the commit status shows it")
		return 2
	}
	c, err := flags.connect(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "stackflow %s: %v\n", verb, err)
		return 1
	}
	// Who answers is the caller's AWS identity, not a name given here.
	if verb == "approve" {
		r, by, err := c.Approve(ctx, rest[0], *env)
		if err != nil {
			fmt.Fprintf(stderr, "stackflow approve: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "approved the deploy of %s to %s (%s) as %s: the run goes on\n", pipeline.ShortSHA(r.Commit), r.Environment, r.Summary, by)
		return 0
	}
	r, by, err := c.Reject(ctx, rest[0], *env, *reason)
	if err != nil {
		fmt.Fprintf(stderr, "stackflow reject: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "rejected the deploy of %s to %s as %s: the run fails, %s keeps its release\n", pipeline.ShortSHA(r.Commit), r.Environment, by, r.Environment)
	return 0
}

func rollbackCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rollback", flag.ContinueOnError)
	fs.SetOutput(stderr)
	to := fs.String("to", "", "the released commit to put back (4 or more hex digits; default: the release before the current one)")
	by := fs.String("by", whoAmI(), "who asks, as the commit status and the release history show it (env STACKFLOW_USER)")
	flags := addAWSFlags(fs)
	rest, err := parseArgs(fs, args)
	if err != nil {
		return 2
	}
	if len(rest) != 2 {
		fmt.Fprintln(stderr, "stackflow rollback: give the repository (WORKSPACE/SLUG) and the environment, such as: stackflow rollback acme/hello prod --to 1a2b3c4")
		return 2
	}
	repo, err := pipeline.ParseRepository(rest[0])
	if err != nil {
		fmt.Fprintf(stderr, "stackflow rollback: %v\n", err)
		return 2
	}
	c, err := flags.connect(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "stackflow rollback: %v\n", err)
		return 1
	}
	arn, r, err := c.Rollback(ctx, repo, rest[1], *to, *by)
	if err != nil {
		fmt.Fprintf(stderr, "stackflow rollback: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "rolling %s back to %s (released %s): stackflow show %s\n",
		rest[1], pipeline.ShortSHA(r.Commit), r.DeployedAt.Local().Format("2006-01-02 15:04"), pipeline.ExecutionNameOf(arn))
	return 0
}
