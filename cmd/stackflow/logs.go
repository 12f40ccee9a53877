package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"

	"github.com/stackflow/stackflow/internal/runs"
)

func logsCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("logs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	step := fs.String("step", "", "the step: checks, package, deploy or smoke (default: the step that failed, else checks)")
	aws := addAWSFlags(fs)
	rest, err := parseArgs(fs, args)
	if err != nil {
		return 2
	}
	if len(rest) != 1 {
		fmt.Fprintln(stderr, "stackflow logs: give one run: its execution name, its execution ARN or its commit SHA")
		return 2
	}
	if *step != "" && !slices.Contains(runs.LogPhases, runs.Phase(*step)) {
		fmt.Fprintf(stderr, "stackflow logs: --step %s: want checks, package, deploy or smoke\n", *step)
		return 2
	}
	c, err := aws.connect(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "stackflow logs: %v\n", err)
		return 1
	}
	log, err := c.Logs(ctx, rest[0], runs.Phase(*step))
	if err != nil {
		fmt.Fprintf(stderr, "stackflow logs: %v\n", err)
		return 1
	}
	defer log.Body.Close()
	fmt.Fprintf(stderr, "%s output of %s from %s:\n", log.Phase, log.Execution, log.Location)
	if _, err := io.Copy(stdout, log.Body); err != nil {
		fmt.Fprintf(stderr, "stackflow logs: read %s: %v\n", log.Location, err)
		return 1
	}
	return 0
}
