package main

import (
	"fmt"
	"os"
	"os/user"
	"strings"

	"github.com/spf13/cobra"

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

// newAnswerCommand is approve or reject (verb): the answer to a deploy
// that waits for approval.
func newAnswerCommand(verb string) *cobra.Command {
	var env, reason string
	cmd := &cobra.Command{
		Use:   verb + " EXECUTION|EXECUTION-ARN|COMMIT-SHA",
		Short: "Approve a deploy that waits for approval: the run goes on",
		Long: `Approve a deploy that waits for approval (approval: required in
stackflow.yml): the run goes on. --env names the environment when a run
waits for more than one. You approve as your AWS identity (aws sts
get-caller-identity), which must be one of the environment's approvers
when stackflow.yml on the default branch names any.`,
		Example: `  stackflow approve hello-main-1a2b3c4
  stackflow approve 1a2b3c4 --env prod`,
		Args:              exactArgs(1, "give the run waiting for approval: its execution name, ARN or commit SHA, as stackflow show takes it"),
		ValidArgsFunction: cobra.NoFileCompletions,
	}
	if verb == "reject" {
		cmd.Short = "Reject a deploy that waits for approval: the run fails with the reason"
		cmd.Long = `Reject a deploy that waits for approval (approval: required in
stackflow.yml): the run fails with ApprovalRejected, and the commit status
shows who (your AWS identity, which must be one of the environment's
approvers when it names any) and why. The environment keeps its release.`
		cmd.Example = `  stackflow reject hello-main-1a2b3c4 --reason "not on a Friday"`
	}
	fs := cmd.Flags()
	fs.StringVar(&env, "env", "", "the `ENVIRONMENT` whose deploy to "+verb+" (default: the only one waiting)")
	if verb == "reject" {
		fs.StringVar(&reason, "reason", "", "why, as the commit status shows it (required)")
	}
	aws := addAWSFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if verb == "reject" && strings.TrimSpace(reason) == "" {
			return usagef("give the reason with --reason TEXT: the commit status shows it")
		}
		c, err := aws.connect(cmd.Context())
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		// Who answers is the caller's AWS identity, not a name given here.
		if verb == "approve" {
			r, by, err := c.Approve(cmd.Context(), args[0], env)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "approved the deploy of %s to %s (%s) as %s: the run goes on\n", pipeline.ShortSHA(r.Commit), r.Environment, r.Summary, by)
			return nil
		}
		r, by, err := c.Reject(cmd.Context(), args[0], env, reason)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "rejected the deploy of %s to %s as %s: the run fails, %s keeps its release\n", pipeline.ShortSHA(r.Commit), r.Environment, by, r.Environment)
		return nil
	}
	return cmd
}

func newRollbackCommand() *cobra.Command {
	var to, by string
	cmd := &cobra.Command{
		SuggestFor: []string{"revert", "undo"},
		Use:        "rollback WORKSPACE/SLUG ENVIRONMENT",
		Short:      "Put an environment back to one of its releases",
		Long: `Put an environment back to one of its releases (default: the one before
the current one): a run redeploys that release's package with its
settings, under the environment's lock, and smoke-tests it.`,
		Example: `  stackflow rollback acme/hello prod
  stackflow rollback acme/hello prod --to 1a2b3c4`,
		Args:              repoEnvArgs("stackflow rollback acme/hello prod --to 1a2b3c4"),
		ValidArgsFunction: cobra.NoFileCompletions,
	}
	fs := cmd.Flags()
	fs.StringVar(&to, "to", "", "the released commit `SHA` to put back (4 or more hex digits; default: the release before the current one)")
	fs.StringVar(&by, "by", "", "who asks, as the commit status and the release history show it (default: STACKFLOW_USER, else the login name)")
	aws := addAWSFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		repo, err := pipeline.ParseRepository(args[0])
		if err != nil {
			return &usageError{err}
		}
		if by == "" {
			by = whoAmI()
		}
		c, err := aws.connect(cmd.Context())
		if err != nil {
			return err
		}
		arn, r, err := c.Rollback(cmd.Context(), repo, args[1], to, by)
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "rolling %s back to %s (released %s): stackflow show %s\n",
			args[1], pipeline.ShortSHA(r.Commit), r.DeployedAt.Local().Format("2006-01-02 15:04"), pipeline.ExecutionNameOf(arn))
		return nil
	}
	return cmd
}
