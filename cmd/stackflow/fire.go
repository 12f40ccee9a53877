package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/stackflow/stackflow/internal/local"
)

// newFireCommand is `stackflow local fire`: fire a schedule of a stack that
// a running `stackflow local --serve` deployed, now.
func newFireCommand() *cobra.Command {
	var endpoint string
	cmd := &cobra.Command{
		Use:   "fire STACK LOGICAL_ID",
		Short: "Fire a schedule of a local stack now, as its schedule would",
		Long: `Fire a schedule of a stack that a running stackflow local --serve deployed,
now, as its schedule would, whatever its state: a nightly job is rehearsed
without waiting a night. LOGICAL_ID is an AWS::Events::Rule with a
ScheduleExpression or an AWS::Scheduler::Schedule; SAM names the ones it
makes of a function's Schedule and ScheduleV2 events after the function and
the event (MyFunctionNightly). A Scheduler schedule's function is invoked
at once and its error shown; a rule's targets get the event as on schedule
(the events log in the printed log directory shows each delivery).

It reaches the local CloudFormation of the last stackflow local --serve
started by this user, or the one --endpoint (or the variable
AWS_ENDPOINT_URL_CLOUDFORMATION) gives.`,
		Example: `  stackflow local fire hello-sam-staging TickFunctionTick
  stackflow local fire hello-sam-prod NightlyJob --endpoint http://127.0.0.1:45757`,
		Args:              exactArgs(2, "give the stack and the logical ID of its schedule: stackflow local fire STACK LOGICAL_ID"),
		ValidArgsFunction: cobra.NoFileCompletions,
	}
	cmd.Flags().StringVar(&endpoint, "endpoint", "", "the local CloudFormation's `URL`, as stackflow local --serve prints it (AWS_ENDPOINT_URL_CLOUDFORMATION); default: the running one's")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		url, err := local.ServingCloudFormation(endpoint)
		if err != nil {
			return err
		}
		what, err := local.FireSchedule(cmd.Context(), url, args[0], args[1])
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "fired %s of %s\n", what, args[0])
		return nil
	}
	return cmd
}
