package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/releases"
	"github.com/stackflow/stackflow/internal/runs"
)

func releasesCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("releases", flag.ContinueOnError)
	fs.SetOutput(stderr)
	limit := fs.Int("limit", runs.DefaultLimit, "the most releases to show")
	asJSON := fs.Bool("json", false, "print the releases as a JSON array")
	flags := addAWSFlags(fs)
	rest, err := parseArgs(fs, args)
	if err != nil {
		return 2
	}
	if len(rest) != 2 {
		fmt.Fprintln(stderr, "stackflow releases: give the repository (WORKSPACE/SLUG) and the environment, such as: stackflow releases acme/hello prod")
		return 2
	}
	repo, err := pipeline.ParseRepository(rest[0])
	if err != nil {
		fmt.Fprintf(stderr, "stackflow releases: %v\n", err)
		return 2
	}
	if *limit < 1 {
		fmt.Fprintf(stderr, "stackflow releases: --limit %d: want at least 1\n", *limit)
		return 2
	}
	cfg, err := runs.LoadConfig(ctx, *flags.profile, *flags.region)
	if err != nil {
		fmt.Fprintf(stderr, "stackflow releases: %v\n", err)
		return 1
	}
	p, err := runs.FindPipeline(ctx, cfg, *flags.stack, runs.Pipeline{StateMachineARN: *flags.stateMachine, Bucket: *flags.bucket, ReleasesTable: *flags.table})
	if err != nil {
		fmt.Fprintf(stderr, "stackflow releases: %v\n", err)
		return 1
	}
	if p.ReleasesTable == "" {
		fmt.Fprintln(stderr, "stackflow releases: the pipeline's releases table is unknown: give --table, or --stack naming the installed pipeline")
		return 1
	}
	list, err := releases.New(dynamodb.NewFromConfig(cfg), p.ReleasesTable).List(ctx, repo.FullName(), rest[1], *limit)
	if err != nil {
		fmt.Fprintf(stderr, "stackflow releases: %v\n", err)
		return 1
	}
	if *asJSON {
		if list == nil {
			list = []releases.Release{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(list); err != nil {
			fmt.Fprintf(stderr, "stackflow releases: %v\n", err)
			return 1
		}
		return 0
	}
	if len(list) == 0 {
		fmt.Fprintf(stdout, "no release of %s %s yet\n", repo.FullName(), rest[1])
		return 0
	}
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "DEPLOYED\tCOMMIT\tBRANCH\tSTACK\tEXECUTION")
	for _, r := range list {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", r.DeployedAt.Local().Format("2006-01-02 15:04:05"), pipeline.ShortSHA(r.Commit), r.Branch, r.Stack, pipeline.ExecutionNameOf(r.Execution))
	}
	w.Flush()
	return 0
}
