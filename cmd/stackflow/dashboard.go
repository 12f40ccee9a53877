package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"runtime"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/spf13/cobra"

	"github.com/stackflow/stackflow/internal/dashboard"
	"github.com/stackflow/stackflow/internal/local"
	"github.com/stackflow/stackflow/internal/runs"
)

func newDashboardCommand() *cobra.Command {
	var (
		addr            string
		noOpen, actions bool
	)
	cmd := &cobra.Command{
		SuggestFor: []string{"ui", "web", "console", "deployments"},
		Use:        "dashboard",
		Short:      "Serve a web dashboard of the environments and the runs, on this machine",
		Long: `Serve a web dashboard on this machine (127.0.0.1) and open it in the
browser: each environment's current release, what waits for it, its history
and DORA figures; the runs as they go, each with its state machine drawn, its
timeline, change sets, output and commit statuses. It reads AWS as runs,
show and releases do; against stackflow local --serve, export the
AWS_ENDPOINT_URL* lines it prints (or open the dashboard URL it prints).

The URL holds a random token, as Jupyter's does: only a browser that opened
it gets in. It is read-only unless started with --actions, which adds the
buttons approve, reject, rollback, promote and retry, each confirmed and each
doing what the command of that name does, as your AWS identity (each is
recorded as the identity AWS names to the pipeline's approval function).`,
		Example: `  stackflow dashboard
  stackflow dashboard --actions
  stackflow dashboard --addr 127.0.0.1:8321 --no-open`,
		Args: noArgs(func(a string) string { return fmt.Sprintf("unexpected %q", a) }),
	}
	fs := cmd.Flags()
	fs.StringVar(&addr, "addr", "127.0.0.1:0", "the loopback `HOST:PORT` to listen on (port 0: any free one)")
	fs.BoolVar(&noOpen, "no-open", false, "print the URL, do not open the browser")
	fs.BoolVar(&actions, "actions", false, "add the buttons approve, reject, rollback, promote and retry (default: read-only)")
	addDeprecatedByFlag(cmd, "every action")
	aws := addAWSFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		l, err := dashboard.Listen(addr)
		if err != nil {
			return usagef("%v", err)
		}
		defer l.Close()
		c, err := aws.connect(cmd.Context())
		if err != nil {
			return err
		}
		return serveDashboard(cmd.Context(), c, l, actions, !noOpen, cmd.OutOrStdout())
	}
	return cmd
}

// newDashboard makes the dashboard of c on l, with the actions when
// actions is set.
func newDashboard(c *runs.Client, l net.Listener, actions bool) (*dashboard.Server, error) {
	cfg := dashboard.Config{Source: c}
	if actions {
		cfg.Operator = c
	}
	return dashboard.New(cfg, l)
}

// serveDashboard serves the dashboard of c on l until ctx ends, printing
// its URL (and opening it when open is set).
func serveDashboard(ctx context.Context, c *runs.Client, l net.Listener, actions bool, open bool, out io.Writer) error {
	srv, err := newDashboard(c, l, actions)
	if err != nil {
		return err
	}
	mode := "read-only (--actions adds approve, reject, rollback, promote and retry)"
	if actions {
		mode = "with actions"
	}
	fmt.Fprintf(out, "dashboard, %s, until interrupted (Ctrl-C):\n  %s\n", mode, srv.URL())
	if open {
		if err := openBrowser(srv.URL()); err != nil {
			fmt.Fprintf(out, "  (could not open a browser: %v; open the URL above)\n", err)
		}
	}
	return srv.Serve(ctx)
}

// localDashboard is the dashboard stackflow local --serve offers: of its
// local AWS, on a free loopback port, with the actions (the local AWS is
// the user's own).
func localDashboard(p *local.Pipeline) (*dashboard.Server, error) {
	l, err := dashboard.Listen("127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return newDashboard(localRunsClient(p), l, true)
}

// openBrowser opens url in the desktop's browser.
func openBrowser(url string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", url)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		cmd = exec.Command("xdg-open", url)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	return nil
}

// localRunsClient is the client of runs that reads the local AWS of p, as
// the commands would with its AWS_ENDPOINT_URL* exported.
func localRunsClient(p *local.Pipeline) *runs.Client {
	ep := p.Endpoints()
	cfg := awssdk.Config{Region: local.Region, Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
	at := func(url string) *string { return awssdk.String(url) }
	return runs.NewFromClients(runs.Pipeline{
		StateMachineARN: p.Outputs()["StateMachineArn"],
		Bucket:          p.Outputs()["ArtifactBucketName"],
		ReleasesTable:   p.Outputs()["ReleasesTableName"],
		ApprovalURL:     p.Outputs()["ApprovalUrl"],
		Stack:           runs.DefaultStack,
	},
		sfn.NewFromConfig(cfg, func(o *sfn.Options) { o.BaseEndpoint = at(ep["AWS_ENDPOINT_URL_SFN"]) }),
		s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint = at(ep["AWS_ENDPOINT_URL"]); o.UsePathStyle = true }),
		dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = at(ep["AWS_ENDPOINT_URL"]) }),
		sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = at(ep["AWS_ENDPOINT_URL"]) }),
	).SignWith(cfg) // approvals go through the approval function's URL, signed
}
