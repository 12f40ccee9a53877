package runs

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
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
	deliver := func(name string, edit func(dir string) error) (*local.Result, string, error) {
		dir := filepath.Join(tmp, name)
		commit, err := helloCopy(dir, name, edit)
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
	broken, brokenCommit, err = deliver("broken", func(dir string) error {
		return replace(filepath.Join(dir, "hello", "handler.go"), `"hello from "`, `"goodbye from "`)
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

// helloCopy makes dir a git repository holding a copy of examples/hello
// whose stacks are named after name, with edit applied, and returns its
// commit.
func helloCopy(dir, name string, edit func(dir string) error) (string, error) {
	src := filepath.Join("..", "..", "examples", "hello")
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), data, 0o644)
	})
	if err != nil {
		return "", err
	}
	if err := replace(filepath.Join(dir, "samconfig.toml"), `"hello-`, `"`+name+`-`); err != nil {
		return "", err
	}
	if edit != nil {
		if err := edit(dir); err != nil {
			return "", err
		}
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "."}, {"commit", "-q", "-m", "hello, " + name}} {
		if _, err := git(dir, args...); err != nil {
			return "", err
		}
	}
	return git(dir, "rev-parse", "HEAD")
}

// replace replaces every old with new in the file path.
func replace(path, old, new string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !strings.Contains(string(data), old) {
		return fmt.Errorf("%s has no %q", path, old)
	}
	return os.WriteFile(path, []byte(strings.ReplaceAll(string(data), old, new)), 0o644)
}

func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=Ada", "GIT_AUTHOR_EMAIL=ada@example.com",
		"GIT_COMMITTER_NAME=Ada", "GIT_COMMITTER_EMAIL=ada@example.com",
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}
