package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stackflow/stackflow/internal/local"
	"github.com/stackflow/stackflow/internal/local/iam"
	"github.com/stackflow/stackflow/internal/localrepo"
	"github.com/stackflow/stackflow/internal/pipeline"
)

// localOptions are the flags of stackflow local.
type localOptions struct {
	dir, branch, into, defaultBranch, iamMode     string
	asJSON, serve, approve, pullRequest, workTree bool
	iamReport                                     bool
	ssm                                           []string
}

func newLocalCommand() *cobra.Command {
	var o localOptions
	cmd := &cobra.Command{
		SuggestFor: []string{"rehearse", "try", "deliver", "dev"},
		Use:        "local",
		Short:      "Rehearse the whole pipeline on this machine, no AWS account needed",
		Long: `Rehearse the whole pipeline on this machine, no AWS account needed: install
template.yaml into a local AWS, push the app's HEAD through a signed
webhook, run the real state machine and handlers, and deploy and smoke-test
each environment's stack locally. Exits 0 only when the run succeeded. In
a repository of several apps (stackflow.yml's apps) it follows each app's
run the push starts, one after the other, and exits 0 only when every one
succeeded.

--repo DIR is the app: a git repository or a folder in one (the folder
holding stackflow.yml is the app's root; default examples/hello). Before
anything starts, stackflow local checks that DIR exists, is in a git
repository with a commit, and that what it delivers has a stackflow.yml,
and says what to do when not.

It delivers HEAD, as a push would, and says first when the work tree
differs from HEAD in the app's folder. --work-tree delivers the work tree
as it is instead: a snapshot commit on top of HEAD, made with an index of
its own, so that neither the index, HEAD nor any branch changes.

--ssm NAME=VALUE puts a String parameter into the local SSM Parameter
Store before anything starts (repeat it for more): the configuration each
environment's stack reads with {{resolve:ssm:NAME}}.

--iam enforce|warn|off says what the local AWS does with a request IAM
would deny: enforce (the default) answers it with the service's
AccessDenied, as AWS would, warn logs the denial and lets it through, off
checks nothing. Every function runs as its execution role. --iam-report
prints, after the run, each role's actions used and those its policies
grant that nothing used.

--serve keeps everything running afterwards and prints its addresses;
press Enter to push again. --approve approves each deploy that waits for
approval, as the local AWS identity. --pull-request delivers the branch as a pull request into
--into (default main): its checks and its preview stack.`,
		Example: `  stackflow local
  stackflow local --repo ~/src/my-app --branch main
  stackflow local --repo ~/src/my-app --work-tree
  stackflow local --json > outcome.json
  stackflow local --ssm /greeter/staging/greeting=hi --ssm /greeter/prod/greeting=hello
  stackflow local --iam warn --iam-report
  stackflow local --serve`,
		Args: noArgs(func(a string) string { return fmt.Sprintf("unexpected %q (the app is given with --repo DIR)", a) }),
	}
	fs := cmd.Flags()
	fs.StringVar(&o.dir, "repo", "", "the app to deliver, `DIR`: a git repository or a folder in one (default: examples/hello)")
	fs.StringVar(&o.branch, "branch", "", "the branch `NAME` to push (default: the checked-out branch)")
	fs.BoolVar(&o.asJSON, "json", false, "print the outcome as one JSON object on stdout (progress goes to stderr)")
	fs.BoolVar(&o.serve, "serve", false, "after the run, keep everything running and print its addresses, until interrupted")
	fs.BoolVar(&o.approve, "approve", false, "approve every deploy that waits for approval (approval: required), as the local AWS identity")
	fs.BoolVar(&o.pullRequest, "pull-request", false, "deliver the branch as a pull request into --into: checks and its preview stack (previews: {pull_requests: true})")
	fs.StringVar(&o.into, "into", "main", "with --pull-request, the `BRANCH` the pull request merges into")
	fs.BoolVar(&o.workTree, "work-tree", false, "deliver the work tree as it is, uncommitted changes too, instead of HEAD")
	fs.StringVar(&o.defaultBranch, local.DefaultBranchFlag, "", local.DefaultBranchUsage)
	fs.StringArrayVar(&o.ssm, "ssm", nil, "put the String parameter `NAME=VALUE` into the local SSM Parameter Store first (repeatable)")
	fs.StringVar(&o.iamMode, "iam", string(iam.Enforce), "what a request IAM would deny does, `MODE`: enforce (AccessDenied, as on AWS), warn (logged, let through) or off")
	fs.BoolVar(&o.iamReport, "iam-report", false, "after the run, print each role's actions used and those granted but never used")
	_ = cmd.MarkFlagDirname("repo")
	_ = cmd.RegisterFlagCompletionFunc("iam", cobra.FixedCompletions([]string{string(iam.Enforce), string(iam.Warn), string(iam.Off)}, cobra.ShellCompDirectiveNoFileComp))
	for _, name := range []string{"branch", "into"} {
		_ = cmd.RegisterFlagCompletionFunc(name, cobra.NoFileCompletions)
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		for _, kv := range o.ssm {
			if name, _, ok := strings.Cut(kv, "="); !ok || name == "" {
				return usagef("--ssm %q: want NAME=VALUE, such as --ssm /greeter/staging/greeting=hello", kv)
			}
		}
		if _, err := iam.ParseMode(o.iamMode); err != nil {
			return usagef("%v", err)
		}
		if o.workTree && o.pullRequest {
			return usagef("--work-tree and --pull-request do not go together: a pull request delivers its branch's commits, so commit the changes to the branch")
		}
		return o.run(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
	}
	cmd.AddCommand(newFireCommand())
	return cmd
}

func (o *localOptions) run(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) error {
	params := map[string]string{}
	for _, kv := range o.ssm {
		name, value, _ := strings.Cut(kv, "=")
		params[name] = value
	}
	progress := stdout
	if o.asJSON {
		progress = stderr
	}
	var src string
	var err error
	if o.dir == "" {
		if src, err = local.SourceDir("."); err != nil {
			return err
		}
		o.dir = filepath.Join(src, "examples", "hello")
	}

	// Everything that can be checked without the local AWS is checked
	// before it starts, which takes a while.
	app, err := localrepo.Open(ctx, o.dir)
	if err != nil {
		return err
	}
	if src == "" {
		if src, err = local.SourceDir("."); err != nil {
			return err
		}
	}
	push, err := o.push(ctx, app, progress)
	if err != nil {
		return err
	}
	repo := push.Repo
	prBranch := ""
	if o.pullRequest {
		if prBranch, err = o.pullRequestBranch(ctx, app, push.Branch); err != nil {
			return err
		}
	}

	mode, err := iam.ParseMode(o.iamMode)
	if err != nil {
		return err
	}
	p, err := local.Start(ctx, local.Options{SourceDir: src, Log: progress, DefaultBranch: o.defaultBranch, SSMParameters: params, IAM: mode})
	if err != nil {
		return err
	}
	defer p.Close()
	failed := func(err error) error {
		p.KeepLogs()
		fmt.Fprintf(stderr, "stackflow local: %v\n", err)
		fmt.Fprintf(stderr, "logs of the handlers and services, kept: %s\n", p.LogDir())
		return errReported
	}

	if o.approve {
		go p.ApproveAsAsked(ctx, progress)
	}
	var res *local.Result
	if o.pullRequest {
		res, err = deliverPullRequest(ctx, p, repo, app.Dir, prBranch, o.into, progress)
	} else {
		res, err = p.Run(ctx, push, progress)
	}
	if err != nil {
		return failed(err)
	}
	if o.asJSON {
		if err := writeJSON(stdout, res); err != nil {
			return err
		}
	} else {
		printOutcome(stdout, res)
	}
	if o.iamReport {
		fmt.Fprintf(progress, "IAM report (--iam %s): each role's actions used, and those its policies grant that nothing used\n", mode)
		p.IAMReport(progress)
	}
	if o.serve {
		if done, err := local.AnnounceServing(p.Endpoints()); err != nil {
			fmt.Fprintf(stderr, "stackflow local: %v (stackflow local fire needs --endpoint then)\n", err)
		} else {
			defer done()
		}
		dashURL := ""
		if srv, err := localDashboard(p); err != nil {
			fmt.Fprintf(stderr, "stackflow local: no dashboard: %v\n", err)
		} else {
			dashURL = srv.URL()
			go func() { _ = srv.Serve(ctx) }()
		}
		printServing(progress, p, repo, app.Dir, o.workTree, dashURL)
		go p.Watch(ctx, progress)
		pushAgain(ctx, p, func() (local.Push, error) { return o.push(ctx, app, progress) }, stdin, progress, stderr)
		<-ctx.Done()
		fmt.Fprintln(progress, "stopping")
	}
	if !res.Succeeded() {
		p.KeepLogs()
		if !o.asJSON {
			fmt.Fprintf(stderr, "logs of the handlers and services, kept: %s\n", p.LogDir())
		}
		return errReported
	}
	return nil
}

// push reads what a push of app delivers now (HEAD, or with --work-tree a
// snapshot of the work tree), says on progress when the work tree differs
// from HEAD, and returns the push.
func (o *localOptions) push(ctx context.Context, app *localrepo.App, progress io.Writer) (local.Push, error) {
	d, err := prepare(ctx, app, o.workTree)
	if err != nil {
		return local.Push{}, err
	}
	branch := o.branch
	if branch == "" {
		branch = d.branch
	}
	if branch == "" && !o.pullRequest {
		return local.Push{}, fmt.Errorf("HEAD of %s is detached at %s, not on a branch: check out a branch, or give --branch NAME",
			app.Top, pipeline.ShortSHA(d.head))
	}
	if !o.pullRequest || branch == d.branch {
		d.tell(progress, "this run delivers", "delivered")
	}
	return local.Push{Repo: repository(ctx, app), Dir: app.Dir, Branch: branch, Commit: d.commit}, nil
}

// pullRequestBranch checks the branch a pull request is opened of
// (default: the checked-out one): it must exist, and not be into.
func (o *localOptions) pullRequestBranch(ctx context.Context, app *localrepo.App, branch string) (string, error) {
	if branch == "" {
		return "", errors.New("--pull-request: no branch is checked out in " + app.Top + ": give --branch")
	}
	if branch == o.into {
		return "", fmt.Errorf("--pull-request: the branch %s is the one it would merge into: check out a feature branch, or give --branch", branch)
	}
	if _, err := app.Resolve(ctx, "refs/heads/"+branch); err != nil {
		return "", fmt.Errorf("--pull-request: no branch %s in %s", branch, app.Top)
	}
	return branch, nil
}

// deliverPullRequest opens a pull request of branch into into, and
// follows the run it starts.
func deliverPullRequest(ctx context.Context, p *local.Pipeline, repo pipeline.Repository, dir, branch, into string, progress io.Writer) (*local.Result, error) {
	ev, err := p.OpenPullRequest(ctx, repo, dir, branch, into)
	if err != nil {
		return nil, err
	}
	return p.AwaitPullRequest(ctx, ev, progress)
}

// pushAgain delivers what next reads (the app's HEAD, or its work tree)
// again each time a line is read from in (Enter, after a new commit),
// until in ends or ctx does.
func pushAgain(ctx context.Context, p *local.Pipeline, next func() (local.Push, error), in io.Reader, out, errOut io.Writer) {
	if in == nil {
		return
	}
	lines := make(chan struct{})
	go func() {
		defer close(lines)
		buf := make([]byte, 1)
		for {
			if _, err := in.Read(buf); err != nil {
				return
			}
			if buf[0] == '\n' {
				lines <- struct{}{}
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-lines:
			if !ok {
				return
			}
			push, err := next()
			if err == nil {
				var res *local.Result
				if res, err = p.Run(ctx, push, out); err == nil {
					printOutcome(out, res)
				}
			}
			if err != nil {
				fmt.Fprintf(errOut, "stackflow local: %v\n", err)
			}
			fmt.Fprintln(out, "\npress Enter to push again")
		}
	}
}

func printOutcome(w io.Writer, res *local.Result) {
	fmt.Fprintf(w, "\n%s in %.1fs: %s\n", res.Status, res.Seconds, res.Execution)
	if res.Error != "" {
		fmt.Fprintf(w, "  %s: %s\n", res.Error, res.Cause)
	}
	if len(res.Apps) > 0 {
		fmt.Fprintln(w, "apps:")
		for _, a := range res.Apps {
			if !a.Delivered {
				fmt.Fprintf(w, "  %-10s %s\n", a.Name, a.Reason)
				continue
			}
			line := fmt.Sprintf("  %-10s %-10s %s", a.Name, a.Status, pipeline.ExecutionNameOf(a.Execution))
			if a.Error != "" {
				line += ": " + a.Error + ": " + a.Cause
			}
			fmt.Fprintln(w, line)
		}
	}
	if len(res.Environments) > 0 {
		fmt.Fprintln(w, "environments:")
		for _, e := range res.Environments {
			status := e.Status
			if status == "" {
				status = "not deployed"
			}
			name := e.Name
			if e.App != "" {
				name = e.App + "/" + e.Name
			}
			fmt.Fprintf(w, "  %-10s %-20s %-22s %s\n", name, e.Stack, status, urls(e.Outputs))
		}
	}
	fmt.Fprintln(w, "commit statuses:")
	if len(res.Statuses) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, s := range res.Statuses {
		fmt.Fprintf(w, "  %-12s %-11s %s\n", s.Key, s.State, s.Description)
	}
}

// urls are the outputs that are URLs, which is what a person wants to open.
func urls(outputs map[string]string) string {
	var out []string
	for k, v := range outputs {
		if strings.HasPrefix(v, "http://") || strings.HasPrefix(v, "https://") {
			out = append(out, k+"="+v)
		}
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func printServing(w io.Writer, p *local.Pipeline, repo pipeline.Repository, root string, workTree bool, dashURL string) {
	fmt.Fprintf(w, "\nserving until interrupted (Ctrl-C):\n")
	if dashURL != "" {
		fmt.Fprintf(w, "  dashboard       %s (with actions: the local AWS is yours)\n", dashURL)
	}
	fmt.Fprintf(w, "  webhook URL     %s\n", p.WebhookURL())
	fmt.Fprintf(w, "  webhook secret  %s\n", p.WebhookSecret())
	fmt.Fprintf(w, "  Bitbucket       %s (serves %s from %s)\n", p.BitbucketURL(), repo.FullName(), root)
	endpoints := p.Endpoints()
	keys := make([]string, 0, len(endpoints))
	for k := range endpoints {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %s=%s\n", k, endpoints[k])
	}
	fmt.Fprintf(w, "  e.g. AWS_ENDPOINT_URL=%s aws s3 ls    (any credentials; region %s)\n", endpoints["AWS_ENDPOINT_URL"], local.Region)
	fmt.Fprintf(w, "  approve, reject, rollback, promote, retry: with AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s (the approval URL verifies every signature)\n", local.AccessKeyID, local.SecretAccessKey)
	fmt.Fprintf(w, "  logs            %s (events.log: every event delivered to a function)\n", p.LogDir())
	fmt.Fprintf(w, "  fire a schedule now: stackflow local fire STACK LOGICAL_ID\n")
	what := "HEAD"
	if workTree {
		what = "the work tree"
	}
	fmt.Fprintf(w, "runs that webhooks start are shown below; press Enter to push %s again\n", what)
}
