package runs

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stackflow/stackflow/internal/local"
	"github.com/stackflow/stackflow/internal/pipeline"
)

// The tests read two runs of one local pipeline, as a person would after
// `stackflow local --serve`: a copy of examples/hello that is delivered to
// staging and prod, and a copy whose tests fail.
var (
	client *Client
	pipe   Pipeline
	good   *local.Result
	broken *local.Result
	// goodCommit and brokenCommit are the commits delivered.
	goodCommit, brokenCommit string
)

var verbose = flag.Bool("runs.progress", false, "show the local pipeline's progress")

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var log io.Writer = io.Discard
	if *verbose {
		log = os.Stderr
	}
	tmp, err := os.MkdirTemp("", "stackflow-runs-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	p, err := local.Start(ctx, local.Options{Log: log})
	if err != nil {
		fmt.Fprintf(os.Stderr, "start the local pipeline: %v\n", err)
		return 1
	}
	defer p.Close()
	deliver := func(name string, edit map[string]func(string) string) (*local.Result, string, error) {
		dir := filepath.Join(tmp, name)
		if edit == nil {
			edit = map[string]func(string) string{}
		}
		// Stacks of their own: named after the app, not hello-*.
		edit["samconfig.toml"] = func(s string) string { return strings.ReplaceAll(s, `"hello-`, `"`+name+`-`) }
		commit, err := local.NewRepository(ctx, filepath.Join("..", "..", "examples", "hello"), dir, edit)
		if err != nil {
			return nil, "", err
		}
		res, err := p.Run(ctx, local.Push{Repo: pipeline.Repository{Workspace: "acme", Slug: name}, Dir: dir}, log)
		return res, commit, err
	}
	if good, goodCommit, err = deliver("good", nil); err != nil {
		fmt.Fprintf(os.Stderr, "deliver good: %v\n", err)
		return 1
	}
	broken, brokenCommit, err = deliver("broken", map[string]func(string) string{
		"hello/handler.go": func(s string) string { return strings.Replace(s, `"hello from "`, `"goodbye from "`, 1) },
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "deliver broken: %v\n", err)
		return 1
	}
	if !good.Succeeded() || broken.Error != "ChecksFailed" {
		fmt.Fprintf(os.Stderr, "the runs: got %s %s %s and %s %s, want SUCCEEDED and FAILED ChecksFailed\n",
			good.Status, good.Error, good.Cause, broken.Status, broken.Error)
		return 1
	}

	// Find the pipeline as the command line does, from the environment,
	// which stays set for the tests.
	vars := p.Endpoints()
	for k, v := range vars {
		os.Setenv(k, v)
	}
	defer func() {
		for k := range vars {
			os.Unsetenv(k)
		}
	}()
	client, err = Connect(ctx, Options{})
	if err != nil {
		fmt.Fprintf(os.Stderr, "connect: %v\n", err)
		return 1
	}
	pipe = client.Pipeline()
	return m.Run()
}
