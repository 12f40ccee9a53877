package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/stackflow/stackflow/internal/local"
	"github.com/stackflow/stackflow/internal/pipeline"
)

func localCommand(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("local", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("repo", "", "the app to deliver: a git repository or a folder in one (default: examples/hello)")
	branch := fs.String("branch", "", "the branch to push (default: the checked-out branch)")
	asJSON := fs.Bool("json", false, "print the outcome as one JSON object on stdout (progress goes to stderr)")
	serve := fs.Bool("serve", false, "after the run, keep everything running and print its addresses, until interrupted")
	approve := fs.Bool("approve", false, "approve every deploy that waits for approval (approval: required), as the local AWS identity")
	pullRequest := fs.Bool("pull-request", false, "deliver the branch as a pull request into --into: checks and its preview stack (previews: {pull_requests: true})")
	into := fs.String("into", "main", "with --pull-request, the branch the pull request merges into")
	defaultBranch := fs.String(local.DefaultBranchFlag, "", local.DefaultBranchUsage)
	rest, err := parseArgs(fs, args)
	if err != nil {
		return 2
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "stackflow local: unexpected %q (the app is given with --repo DIR)\n", rest[0])
		return 2
	}
	progress := stdout
	if *asJSON {
		progress = stderr
	}
	src, err := local.SourceDir(".")
	if err != nil {
		fmt.Fprintf(stderr, "stackflow local: %v\n", err)
		return 1
	}
	if *dir == "" {
		*dir = filepath.Join(src, "examples", "hello")
	}
	root := appRoot(ctx, *dir)
	repo := repository(ctx, root)

	p, err := local.Start(ctx, local.Options{SourceDir: src, Log: progress, DefaultBranch: *defaultBranch})
	if err != nil {
		fmt.Fprintf(stderr, "stackflow local: %v\n", err)
		return 1
	}
	defer p.Close()

	if *approve {
		go p.ApproveAsAsked(ctx, progress)
	}
	var res *local.Result
	if *pullRequest {
		res, err = deliverPullRequest(ctx, p, repo, root, *branch, *into, progress)
	} else {
		res, err = p.Run(ctx, local.Push{Repo: repo, Dir: root, Branch: *branch}, progress)
	}
	if err != nil {
		p.KeepLogs()
		fmt.Fprintf(stderr, "stackflow local: %v\n", err)
		fmt.Fprintf(stderr, "logs of the handlers and services, kept: %s\n", p.LogDir())
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			fmt.Fprintf(stderr, "stackflow local: %v\n", err)
			return 1
		}
	} else {
		printOutcome(stdout, res)
	}
	if *serve {
		printServing(progress, p, repo, root)
		go p.Watch(ctx, progress)
		pushAgain(ctx, p, local.Push{Repo: repo, Dir: root, Branch: *branch}, stdin, progress, stderr)
		<-ctx.Done()
		fmt.Fprintln(progress, "stopping")
	}
	if !res.Succeeded() {
		p.KeepLogs()
		if !*asJSON {
			fmt.Fprintf(stderr, "logs of the handlers and services, kept: %s\n", p.LogDir())
		}
		return 1
	}
	return 0
}

// deliverPullRequest opens a pull request of branch (default: the
// checked-out one) into into, and follows the run it starts.
func deliverPullRequest(ctx context.Context, p *local.Pipeline, repo pipeline.Repository, dir, branch, into string, progress io.Writer) (*local.Result, error) {
	if branch == "" {
		branch = gitOutput(ctx, dir, "rev-parse", "--abbrev-ref", "HEAD")
	}
	if branch == "" || branch == "HEAD" {
		return nil, errors.New("--pull-request: no branch is checked out in " + dir + ": give --branch")
	}
	if branch == into {
		return nil, fmt.Errorf("--pull-request: the branch %s is the one it would merge into: check out a feature branch, or give --branch", branch)
	}
	ev, err := p.OpenPullRequest(ctx, repo, dir, branch, into)
	if err != nil {
		return nil, err
	}
	return p.AwaitPullRequest(ctx, ev, progress)
}

// pushAgain delivers the app's HEAD again each time a line is read from in
// (Enter, after a new commit), until in ends or ctx does.
func pushAgain(ctx context.Context, p *local.Pipeline, push local.Push, in io.Reader, out, errOut io.Writer) {
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
			res, err := p.Run(ctx, push, out)
			if err != nil {
				fmt.Fprintf(errOut, "stackflow local: %v\n", err)
				continue
			}
			printOutcome(out, res)
			fmt.Fprintln(out, "\npress Enter to push HEAD again")
		}
	}
}

func printOutcome(w io.Writer, res *local.Result) {
	fmt.Fprintf(w, "\n%s in %.1fs: %s\n", res.Status, res.Seconds, res.Execution)
	if res.Error != "" {
		fmt.Fprintf(w, "  %s: %s\n", res.Error, res.Cause)
	}
	if len(res.Environments) > 0 {
		fmt.Fprintln(w, "environments:")
		for _, e := range res.Environments {
			status := e.Status
			if status == "" {
				status = "not deployed"
			}
			fmt.Fprintf(w, "  %-10s %-20s %-22s %s\n", e.Name, e.Stack, status, urls(e.Outputs))
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

func printServing(w io.Writer, p *local.Pipeline, repo pipeline.Repository, root string) {
	fmt.Fprintf(w, "\nserving until interrupted (Ctrl-C):\n")
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
	fmt.Fprintf(w, "  logs            %s\n", p.LogDir())
	fmt.Fprintf(w, "runs that webhooks start are shown below; press Enter to push HEAD again\n")
}
