// Command stackflow is stackflow's command line. `stackflow local` runs the
// whole pipeline on this machine against a local AWS: the real template,
// state machine and handlers, delivering a local repository's HEAD.
// `stackflow plan` checks a repository's stackflow.yml and samconfig.toml
// and shows what a push of a branch would do.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `stackflow delivers serverless apps from Bitbucket through their environments.

Usage:
  stackflow local [--repo DIR] [--branch NAME] [--json] [--serve] [--approve] [--pull-request [--into BRANCH]]
      Rehearse the whole pipeline on this machine, no AWS account needed:
      install template.yaml into a local AWS, push DIR's HEAD (a git
      repository or a folder in one; default examples/hello) through a
      signed webhook, run the real state machine and handlers, deploy and
      smoke-test each environment's stack locally. Exits 0 only when the
      run succeeded. --serve keeps everything running afterwards.
      --approve approves each deploy that waits for approval, as you;
      --pull-request delivers the branch as a pull request into --into
      (default main): its checks and its preview stack.

  stackflow plan [--branch NAME] [--repo WORKSPACE/SLUG] [--json] [DIR]
      Check DIR's stackflow.yml and samconfig.toml (DIR is a repository or a
      folder in one; default .) and show what a push of the branch would do.

  stackflow runs [--repo WORKSPACE/SLUG] [--branch NAME] [--limit N] [--json]
      The pipeline's recent runs, newest first: commit, branch, status,
      start, duration, and the state where a failed run stopped.

  stackflow show [--json] EXECUTION | EXECUTION-ARN | COMMIT-SHA
      One run's timeline: each state with its start, duration, retries and
      error; each environment's result, URL and change set; links to the
      Step Functions console and to the stored logs. A SHA (7 or more hex
      digits) means the newest run of that commit.

  stackflow logs [--step checks|package|deploy|smoke] EXECUTION | ARN | SHA
      The whole output of one step of a run (default: the step that failed,
      else the checks), from the artifact bucket; deploy and smoke output
      from the execution history.

  stackflow releases [--limit N] [--json] WORKSPACE/SLUG ENVIRONMENT
      An environment's releases, newest first: every deploy whose smoke
      test passed, with its commit, branch, stack and execution.

  stackflow approve [--env NAME] EXECUTION | ARN | SHA
  stackflow reject [--env NAME] --reason TEXT EXECUTION | ARN | SHA
      Answer a deploy that waits for approval (approval: required): the
      run goes on, or fails with the reason on the commit. --env names the
      environment when a run waits for more than one.

  stackflow rollback [--to SHA] WORKSPACE/SLUG ENVIRONMENT
      Put an environment back to one of its releases (default: the one
      before the current one): a run redeploys that release's package with
      its settings, under the environment's lock, and smoke-tests it.

      runs, show, logs, releases, approve, reject and rollback find AWS as the AWS CLI does (AWS_PROFILE or
      --profile, AWS_REGION or --region, AWS_ENDPOINT_URL and
      AWS_ENDPOINT_URL_<SERVICE>), and the pipeline from its stack's outputs
      (--stack NAME, default stackflow) or from --state-machine ARN and
      --bucket NAME (STACKFLOW_STATE_MACHINE_ARN, STACKFLOW_ARTIFACT_BUCKET)
      and --table NAME (STACKFLOW_RELEASES_TABLE: releases, locks, approvals).
      Against stackflow local --serve, export the AWS_ENDPOINT_URL* it prints.

  stackflow help
      Show this help.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command line args and returns the process's exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "local":
		return localCommand(ctx, args[1:], stdin, stdout, stderr)
	case "approve":
		return approveCommand(ctx, args[1:], stdout, stderr)
	case "reject":
		return rejectCommand(ctx, args[1:], stdout, stderr)
	case "rollback":
		return rollbackCommand(ctx, args[1:], stdout, stderr)
	case "releases":
		return releasesCommand(ctx, args[1:], stdout, stderr)
	case "plan":
		return planCommand(ctx, args[1:], stdout, stderr)
	case "runs":
		return runsCommand(ctx, args[1:], stdout, stderr)
	case "show":
		return showCommand(ctx, args[1:], stdout, stderr)
	case "logs":
		return logsCommand(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "stackflow: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

// parseArgs parses args with fs, allowing flags after positional
// arguments (stackflow plan DIR --branch main), and returns the positional
// ones.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		if args[0] == "--" {
			return append(positional, args[1:]...), nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}
