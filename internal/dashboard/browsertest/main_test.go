package browsertest

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/stackflow/stackflow/internal/dashboard"
	"github.com/stackflow/stackflow/internal/local"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/runs"
)

// One local pipeline for every test: acme/good delivered to staging and
// prod, acme/broken whose tests fail, and acme/gated whose prod deploy
// waits for an approval (given by a test, from the page).
var (
	srv     *dashboard.Server
	client  *runs.Client
	browser context.Context
	good    *local.Result
	broken  *local.Result
	// goodCommit is the commit acme/good delivered.
	goodCommit string
	// gated is the run of acme/gated: its result arrives once approved.
	gated chan result
)

type result struct {
	res *local.Result
	err error
}

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		fmt.Fprintln(os.Stderr, "the dashboard's browser tests need Debian's chromium on PATH: apt-get install -y chromium (.ci/run installs it)")
		return 1
	}
	tmp, err := os.MkdirTemp("", "stackflow-dashboard-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	p, err := local.Start(ctx, local.Options{Log: io.Discard})
	if err != nil {
		fmt.Fprintf(os.Stderr, "start the local pipeline: %v\n", err)
		return 1
	}
	defer p.Close()

	deliver := func(name string, edit map[string]func(string) string) (*local.Result, string, error) {
		dir := filepath.Join(tmp, name)
		edit["samconfig.toml"] = func(s string) string { return strings.ReplaceAll(s, `"hello-`, `"`+name+`-`) }
		commit, err := local.NewRepository(ctx, filepath.Join("..", "..", "..", "examples", "hello"), dir, edit)
		if err != nil {
			return nil, "", err
		}
		res, err := p.Run(ctx, local.Push{Repo: pipeline.Repository{Workspace: "acme", Slug: name}, Dir: dir}, io.Discard)
		return res, commit, err
	}
	gated = make(chan result, 1)
	go func() {
		res, _, err := deliver("gated", map[string]func(string) string{
			"stackflow.yml": func(s string) string {
				return strings.Replace(s, "  - name: prod\n", "  - name: prod\n    approval: required\n", 1)
			},
		})
		gated <- result{res, err}
	}()
	var wg sync.WaitGroup
	var goodErr, brokenErr error
	wg.Add(2)
	go func() { defer wg.Done(); good, goodCommit, goodErr = deliver("good", map[string]func(string) string{}) }()
	go func() {
		defer wg.Done()
		broken, _, brokenErr = deliver("broken", map[string]func(string) string{
			"hello/handler.go": func(s string) string { return strings.Replace(s, `"hello from "`, `"goodbye from "`, 1) },
		})
	}()
	wg.Wait()
	if goodErr != nil || brokenErr != nil {
		fmt.Fprintf(os.Stderr, "deliver: %v %v\n", goodErr, brokenErr)
		return 1
	}
	if !good.Succeeded() || broken.Error != "ChecksFailed" {
		fmt.Fprintf(os.Stderr, "the runs: got %s %s and %s %s, want SUCCEEDED and FAILED ChecksFailed\n", good.Status, good.Error, broken.Status, broken.Error)
		return 1
	}

	// The dashboard reads the local AWS as stackflow dashboard would, with
	// its AWS_ENDPOINT_URL* exported.
	for k, v := range p.Endpoints() {
		os.Setenv(k, v)
	}
	if client, err = runs.Connect(ctx, runs.Options{}); err != nil {
		fmt.Fprintf(os.Stderr, "connect: %v\n", err)
		return 1
	}
	l, err := dashboard.Listen("127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if srv, err = dashboard.New(dashboard.Config{Source: client, Operator: client}, l); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go func() { _ = srv.Serve(ctx) }()

	alloc, stop := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.WindowSize(1280, 900))...)
	defer stop()
	b, closeBrowser := chromedp.NewContext(alloc)
	defer closeBrowser()
	// The first tab starts the browser and takes the token's cookie.
	if err := chromedp.Do(b, chromedp.Navigate(srv.URL()), chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
		fmt.Fprintf(os.Stderr, "open the dashboard in chromium: %v\n", err)
		return 1
	}
	browser = b
	return m.Run()
}

// tab opens a new tab of the browser, for one test.
func tab(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	ctx, cancel2 := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancel2)
	return ctx
}

// base is the dashboard's address.
func base() string {
	u := srv.URL()
	return u[:strings.Index(u, "/?token=")]
}

// runsOfGated selects the runs of acme/gated.
func runsOfGated() runs.Filter { return runs.Filter{Repository: "acme/gated", Limit: 1} }
