package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/runs"
)

// addDeprecatedByFlag adds --by to a command (what: "a rollback") whose
// run is recorded as asked by the caller's AWS identity, as AWS reports
// it to the approval function: the name is accepted, ignored, and the
// command warns that it is deprecated.
func addDeprecatedByFlag(cmd *cobra.Command, what string) {
	var by string
	cmd.Flags().StringVar(&by, "by", "", "ignored: "+what+" is recorded as asked by your AWS identity")
	_ = cmd.Flags().MarkDeprecated("by", what+" is recorded as asked by your AWS identity, as AWS reports it to the pipeline")
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
when stackflow.yml on the default branch names any. In a repository of
several apps a commit has a run of each: --app names the app whose run a
commit SHA means (a commit with runs of several apps is refused without
it).`,
		Example: `  stackflow approve hello-main-1a2b3c4
  stackflow approve 1a2b3c4 --env prod
  stackflow approve 1a2b3c4 --app api`,
		Args:              exactArgs(1, "give the run waiting for approval: its execution name, ARN or commit SHA, as stackflow show takes it"),
		ValidArgsFunction: cobra.NoFileCompletions,
	}
	if verb == "reject" {
		cmd.Short = "Reject a deploy that waits for approval: the run fails with the reason"
		cmd.Long = `Reject a deploy that waits for approval (approval: required in
stackflow.yml): the run fails with ApprovalRejected, and the commit status
shows who (your AWS identity, which must be one of the environment's
approvers when it names any) and why. The environment keeps its release.
In a repository of several apps, --app names the app whose run a commit
SHA means.`
		cmd.Example = `  stackflow reject hello-main-1a2b3c4 --reason "not on a Friday"
  stackflow reject 1a2b3c4 --app api --reason "not on a Friday"`
	}
	fs := cmd.Flags()
	fs.StringVar(&env, "env", "", "the `ENVIRONMENT` whose deploy to "+verb+" (default: the only one waiting)")
	var app string
	fs.StringVar(&app, "app", "", "the `APP` whose run a commit SHA names, in a repository of several apps (stackflow.yml's apps)")
	_ = cmd.RegisterFlagCompletionFunc("app", cobra.NoFileCompletions)
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
			r, by, err := c.Approve(cmd.Context(), args[0], app, env)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "approved the deploy of %s to %s (%s) as %s: the run goes on\n", pipeline.ShortSHA(r.Commit), r.Environment, r.Summary, by)
			return nil
		}
		r, by, err := c.Reject(cmd.Context(), args[0], app, env, reason)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "rejected the deploy of %s to %s as %s: the run fails, %s keeps its release\n", pipeline.ShortSHA(r.Commit), r.Environment, by, r.Environment)
		return nil
	}
	return cmd
}

func newRollbackCommand() *cobra.Command {
	var to string
	cmd := &cobra.Command{
		SuggestFor: []string{"revert", "undo"},
		Use:        "rollback WORKSPACE/SLUG ENVIRONMENT",
		Short:      "Put an environment back to one of its releases",
		Long: `Put an environment back to one of its releases (default: the one before
the current one): a run redeploys that release's package with its
settings, under the environment's lock, and smoke-tests it. The pipeline's
approval function starts the run, recorded as asked by your AWS identity
as AWS reports it (you need lambda:InvokeFunctionUrl on it). In a
repository of several apps, --app names the app whose environment it is.`,
		Example: `  stackflow rollback acme/hello prod
  stackflow rollback acme/hello prod --to 1a2b3c4
  stackflow rollback acme/platform prod --app api`,
		Args:              repoEnvArgs("stackflow rollback acme/hello prod --to 1a2b3c4"),
		ValidArgsFunction: cobra.NoFileCompletions,
	}
	fs := cmd.Flags()
	fs.StringVar(&to, "to", "", "the released commit `SHA` to put back (4 or more hex digits; default: the release before the current one)")
	app := addAppFlag(cmd)
	addDeprecatedByFlag(cmd, "a rollback")
	aws := addAWSFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		repo, err := pipeline.ParseRepository(args[0])
		if err != nil {
			return &usageError{err}
		}
		c, err := aws.connect(cmd.Context())
		if err != nil {
			return err
		}
		arn, r, by, err := c.RollbackAsCaller(cmd.Context(), repo, app(), args[1], to)
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "rolling %s back to %s (released %s) as %s: stackflow show %s\n",
			args[1], pipeline.ShortSHA(r.Commit), r.DeployedAt.Local().Format("2006-01-02 15:04"), by, pipeline.ExecutionNameOf(arn))
		return nil
	}
	return cmd
}

// addFreezeFlags adds --during-freeze and --reason, for a command that
// starts a run (verb: "promote", "retry"); the returned function is the
// run's override, or a usage error.
func addFreezeFlags(cmd *cobra.Command, verb string) func(by string) (*pipeline.FreezeOverride, error) {
	var during bool
	var reason string
	fs := cmd.Flags()
	fs.BoolVar(&during, "during-freeze", false, "deploy even when the environment is in one of its freeze windows (needs --reason)")
	fs.StringVar(&reason, "reason", "", "why the "+verb+" may go through a freeze, as the release records it (with --during-freeze)")
	return func(by string) (*pipeline.FreezeOverride, error) {
		switch {
		case during && strings.TrimSpace(reason) == "":
			return nil, usagef("give the reason with --reason TEXT: --during-freeze goes through a freeze, and the release records why")
		case !during && reason != "":
			return nil, usagef("--reason goes with --during-freeze: say --during-freeze to deploy during a freeze")
		case during:
			return &pipeline.FreezeOverride{By: by, Reason: strings.TrimSpace(reason)}, nil
		}
		return nil, nil
	}
}

func newPromoteCommand() *cobra.Command {
	var from, commit string
	cmd := &cobra.Command{
		SuggestFor: []string{"deploy", "release", "ship"},
		Use:        "promote WORKSPACE/SLUG ENVIRONMENT",
		Short:      "Deploy to an environment the package another environment released",
		Long: `Deploy to ENVIRONMENT the exact package that another environment released,
with no checks and no build: a run takes ENVIRONMENT's lock, waits for its
approval, deploys, smoke-tests and records the release (rolling back on a
failed smoke test), as a push's run does. --from names the environment
whose release to promote (default: the one before ENVIRONMENT, as the
newest run of the repository that reached it or stopped before it had
them), --commit which of its releases (default: its newest). Where a
commit may go is still the default branch's stackflow.yml's to say: the
commit's branch must be one ENVIRONMENT takes. An environment with
promotion: manual is reached only this way. In a repository of several
apps, --app names the app whose environment it is. In one of its freeze
windows the run waits, or stops, unless --during-freeze --reason TEXT says
why it may not wait; the release records that. The pipeline's approval
function starts the run, recorded as asked by your AWS identity as AWS
reports it (you need lambda:InvokeFunctionUrl on it); where ENVIRONMENT
wants approval, only one of its approvers may.`,
		Example: `  stackflow promote acme/hello prod
  stackflow promote acme/hello prod --from staging --commit 1a2b3c4
  stackflow promote acme/platform prod --app api --from staging
  stackflow promote acme/hello prod --during-freeze --reason "fix for the checkout outage"`,
		Args:              repoEnvArgs("stackflow promote acme/hello prod"),
		ValidArgsFunction: cobra.NoFileCompletions,
	}
	fs := cmd.Flags()
	fs.StringVar(&from, "from", "", "the `ENVIRONMENT` whose release to promote (default: the one before)")
	fs.StringVar(&commit, "commit", "", "which of its released commits, as a `SHA` of 4 or more hex digits (default: its newest release)")
	app := addAppFlag(cmd)
	addDeprecatedByFlag(cmd, "a promotion")
	override := addFreezeFlags(cmd, "promotion")
	aws := addAWSFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		repo, err := pipeline.ParseRepository(args[0])
		if err != nil {
			return &usageError{err}
		}
		during, err := override("")
		if err != nil {
			return err
		}
		c, err := aws.connect(cmd.Context())
		if err != nil {
			return err
		}
		arn, r, by, err := c.PromoteAsCaller(cmd.Context(), runs.PromoteRequest{Repository: repo, App: app(), Environment: args[1], From: from, Commit: commit, DuringFreeze: during})
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "promoting %s from %s to %s (released %s) as %s: stackflow show %s\n",
			pipeline.ShortSHA(r.Commit), r.Environment, args[1], r.DeployedAt.Local().Format("2006-01-02 15:04"), by, pipeline.ExecutionNameOf(arn))
		return nil
	}
	return cmd
}

func newRetryCommand() *cobra.Command {
	cmd := &cobra.Command{
		SuggestFor: []string{"rerun", "resume", "redrive"},
		Use:        "retry EXECUTION|EXECUTION-ARN|COMMIT-SHA",
		Short:      "Resume a failed or stopped run at the environment where it stopped",
		Long: `Resume a failed or stopped run at the environment where it stopped, with
the package it deployed (no checks, no build), as a new run linked to it
(stackflow show names the run it retries). The environments come from the
default branch's stackflow.yml as it is now. A run that stopped before it
reached an environment (its checks failed, say) has no package: push
again. A run a newer commit superseded is not retried, since it would put
the older commit back; nor is one a newer commit has passed since, which
the retry finds superseded. --during-freeze --reason TEXT lets it deploy
during a freeze window. In a repository of several apps each app has its
own run of a push: --app names the app whose run of the commit to retry.
The pipeline's approval function starts the run, recorded as asked by
your AWS identity as AWS reports it (you need lambda:InvokeFunctionUrl on
it); where the environment it resumes at wants approval, only one of its
approvers may.`,
		Example: `  stackflow retry hello-main-1a2b3c4
  stackflow retry 1a2b3c4 --during-freeze --reason "the smoke test's dependency is back"
  stackflow retry 1a2b3c4 --app api`,
		Args:              exactArgs(1, runArg),
		ValidArgsFunction: cobra.NoFileCompletions,
	}
	app := addAppFlag(cmd)
	addDeprecatedByFlag(cmd, "a retry")
	override := addFreezeFlags(cmd, "retry")
	aws := addAWSFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		during, err := override("")
		if err != nil {
			return err
		}
		c, err := aws.connect(cmd.Context())
		if err != nil {
			return err
		}
		arn, env, by, err := c.RetryAsCaller(cmd.Context(), args[0], app(), during)
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "retrying %s from %s on, with its package, as %s: stackflow show %s\n",
			args[0], env, by, pipeline.ExecutionNameOf(arn))
		return nil
	}
	return cmd
}
