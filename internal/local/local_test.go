package local

import (
	"context"

	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/stackflow/stackflow/internal/indexes"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/releases"
	"github.com/stackflow/stackflow/internal/tracing/daemon"
)

// The end-to-end tests share one local AWS with the pipeline installed, as a
// person running stackflow local --serve would, and deliver several apps
// through it one after another.
var shared *Pipeline

// traces is the X-Ray daemon the shared pipeline traces to.
var traces *daemon.Listener

var (
	appsMu sync.Mutex
	apps   = map[string]int{}
)

var verbose = flag.Bool("local.progress", false, "show the runs' progress")

var iamReport = flag.String("local.iam-report", "", "write the shared pipeline's IAM report (stackflow local --iam-report) to this `FILE` when the tests end")

// The shared pipeline's package index credentials.
var indexPassword, indexToken = "pw-" + randomHex(16), "tk-" + randomHex(16)

// parallelRuns is how many end-to-end tests run at once unless -parallel
// says otherwise. They spend most of their time waiting (on polls, leases,
// approvals and smoke retries), not computing, so more of them than the
// machine has cores keep it busy; the default, GOMAXPROCS, would leave a
// 2-core machine idle and the package slow.
const parallelRuns = 8

func TestMain(m *testing.M) {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		if err := flag.Set("test.parallel", fmt.Sprint(parallelRuns)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var log io.Writer = io.Discard
	if *verbose {
		log = os.Stderr
	}
	var err error
	if traces, err = daemon.Listen("127.0.0.1:0"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer traces.Close()
	// A short lease, so that the test of a run that died holding a lock
	// waits seconds for it, not a minute.
	// Enough processes per function of the pipeline for every test's run
	// at once; the apps' functions get as many as stackflow local gives
	// every function by default (each app's stacks serve one test).
	// Credentials of indexes that no check reaches, for the checks to be
	// given and never to show.
	idx := indexes.Settings{Credentials: map[string]indexes.Credential{
		"pypi.invalid": {Username: "ci", Password: indexPassword},
		"npm.invalid":  {Token: indexToken},
	}}
	p, err := Start(ctx, Options{Log: log, TraceDaemon: traces.Addr(), LockLeaseSeconds: 10, FunctionConcurrency: 2 * parallelRuns,
		AppFunctionConcurrency: defaultFunctionConcurrency,
		PackageIndexes:         idx, SSMParameters: ssmParameters()})
	if err != nil {
		fmt.Fprintf(os.Stderr, "start the local pipeline: %v\n", err)
		return 1
	}
	shared = p
	code := m.Run()
	if *iamReport != "" {
		var b strings.Builder
		p.IAMReport(&b)
		if err := os.WriteFile(*iamReport, []byte(b.String()), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	if code != 0 {
		// Each failed test has shown the tail of its own run's logs; the
		// rest stays for whoever wants to read more.
		p.KeepLogs()
		fmt.Fprintf(os.Stderr, "logs of the local pipeline are kept in %s\n", p.LogDir())
	}
	if err := p.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "close: %v\n", err)
	}
	return code
}

// logTail is the last lines of each log in dir that mention the app name:
// its repository, its stacks and its executions, but not those of another
// app whose name starts with it (hello, not hello-2).
func logTail(dir, name string, lines int) string {
	mentions := regexp.MustCompile(`(^|[^A-Za-z0-9-])` + regexp.QuoteMeta(name) + `($|[^A-Za-z0-9-]|-[A-Za-z])`)
	entries, _ := os.ReadDir(dir)
	var b strings.Builder
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		var found []string
		for _, l := range strings.Split(string(data), "\n") {
			if mentions.MatchString(l) {
				found = append(found, l)
			}
		}
		if len(found) == 0 {
			continue
		}
		if len(found) > lines {
			found = found[len(found)-lines:]
		}
		fmt.Fprintf(&b, "==> %s (last %d lines about %s) <==\n%s\n", e.Name(), len(found), name, strings.Join(found, "\n"))
	}
	if b.Len() == 0 {
		return "no log line mentions " + name
	}
	return b.String()
}

// app makes a git repository holding a copy of examples/hello whose stacks
// are named after name, with edit applied to its files (path -> a function
// of the old content).
//
// Each use of a name gets a repository, and so stacks, of its own (name,
// then name-2, ...): the tests share one pipeline, whose stacks outlive a
// test when it is run again (go test -count=2).
func app(t *testing.T, name string, edit map[string]func(string) string) (pipeline.Repository, string) {
	t.Helper()
	return appOf(t, "hello", name, edit)
}

// appOf is app for another of the examples (examples/<example>), whose
// samconfig.toml names its stacks "<example>-staging" and "<example>-prod".
func appOf(t *testing.T, example, name string, edit map[string]func(string) string) (pipeline.Repository, string) {
	t.Helper()
	return appAt(t, filepath.Join("..", "..", "examples", example), example, name, edit)
}

// appAt is appOf for an app kept in the folder src, whose samconfig.toml
// names its stacks "<example>-staging" and "<example>-prod".
func appAt(t *testing.T, src, example, name string, edit map[string]func(string) string) (pipeline.Repository, string) {
	t.Helper()
	name = appName(t, name)
	rename := func(s string) string { return strings.ReplaceAll(s, `"`+example+`-`, `"`+name+`-`) }
	edits := map[string]func(string) string{"samconfig.toml": rename}
	for f, fn := range edit {
		if prev, ok := edits[f]; ok {
			edits[f] = func(s string) string { return fn(prev(s)) }
		} else {
			edits[f] = fn
		}
	}
	dir := t.TempDir()
	if _, err := NewRepository(context.Background(), src, dir, edits); err != nil {
		t.Fatal(err)
	}
	return pipeline.Repository{Workspace: "acme", Slug: name}, dir
}

// appName returns name, or name-N when another test has taken it, and
// has a failed test show the tail of its own app's logs, not every
// test's: the shared pipeline's logs hold all of them.
func appName(t *testing.T, name string) string {
	t.Helper()
	appsMu.Lock()
	apps[name]++
	if n := apps[name]; n > 1 {
		name = fmt.Sprintf("%s-%d", name, n)
	}
	appsMu.Unlock()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs of %s:\n%s", name, logTail(shared.LogDir(), name, 40))
		}
	})
	return name
}

// wantStagingSmokeFailed checks that a run deployed staging, whose smoke
// test then failed with a cause containing each of causes, and left prod
// untouched.
func wantStagingSmokeFailed(t *testing.T, res *Result, causes ...string) {
	t.Helper()
	if res.Status != "FAILED" || res.Error != "SmokeTestFailed" {
		t.Fatalf("got %s %s: %s, want FAILED SmokeTestFailed", res.Status, res.Error, res.Cause)
	}
	for _, want := range causes {
		if !strings.Contains(res.Cause, want) {
			t.Errorf("cause %q: want it to contain %q", res.Cause, want)
		}
	}
	if e := env(t, res, "staging"); e.Status != "CREATE_COMPLETE" {
		t.Errorf("staging: got %s, want CREATE_COMPLETE (deployed, then its smoke test failed)", e.Status)
	}
	if e := env(t, res, "prod"); e.Status != "" {
		t.Errorf("prod: got %s, want it untouched", e.Status)
	}
}

// runContext is the context of a test's run: it ends a minute before the
// test binary's own deadline (go test -timeout), so that a run slowed by a
// loaded machine fails with its logs rather than the binary's panic, and
// never for a time limit of its own.
func runContext(t *testing.T) (context.Context, context.CancelFunc) {
	if d, ok := t.Deadline(); ok {
		return context.WithDeadline(context.Background(), d.Add(-time.Minute))
	}
	return context.WithCancel(context.Background())
}

func run(t *testing.T, repo pipeline.Repository, dir string) *Result {
	t.Helper()
	ctx, cancel := runContext(t)
	defer cancel()
	var progress io.Writer
	if *verbose {
		progress = os.Stderr
	}
	res, err := shared.Run(ctx, Push{Repo: repo, Dir: dir}, progress)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return res
}

func env(t *testing.T, res *Result, name string) Environment {
	t.Helper()
	for _, e := range res.Environments {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("no environment %s in %+v", name, res.Environments)
	return Environment{}
}

func status(t *testing.T, res *Result) Status {
	t.Helper()
	if len(res.Statuses) != 1 {
		t.Fatalf("got statuses %+v, want one", res.Statuses)
	}
	return res.Statuses[0]
}

func get(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: got %d %s, want 200", url, res.StatusCode, body)
	}
	return string(body)
}

// delivered checks that res created repo's staging and prod stacks and
// that each answers GET path with want(its stage), each stage from its own
// stack.
func delivered(t *testing.T, repo pipeline.Repository, res *Result, path string, want func(stage string) string) {
	t.Helper()
	for _, name := range []string{"staging", "prod"} {
		e := env(t, res, name)
		if e.Stack != repo.Slug+"-"+name || e.Status != "CREATE_COMPLETE" {
			t.Errorf("%s: got stack %s %s, want %s-%s CREATE_COMPLETE", name, e.Stack, e.Status, repo.Slug, name)
		}
		if got, want := get(t, e.Outputs["ApiUrl"]+path), want(name); got != want {
			t.Errorf("%s answers %q, want %q", name, got, want)
		}
	}
}

func TestHelloIsDeliveredToStagingThenProd(t *testing.T) {
	t.Parallel()
	repo, dir := app(t, "hello", nil)
	res := run(t, repo, dir)
	if !res.Succeeded() {
		t.Fatalf("got %s %s: %s, want SUCCEEDED", res.Status, res.Error, res.Cause)
	}
	delivered(t, repo, res, "hello", func(stage string) string { return "hello from " + stage + "\n" })
	if s := status(t, res); s.Key != "stackflow" || s.State != pipeline.StateSuccessful {
		t.Errorf("got status %+v, want stackflow SUCCESSFUL", s)
	}
	// Each environment's deploy is recorded as its release.
	store := releases.New(dynamodb.NewFromConfig(shared.aws), shared.Outputs()["ReleasesTableName"])
	for _, name := range []string{"staging", "prod"} {
		got, err := store.List(context.Background(), repo.FullName(), name, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Stack != repo.Slug+"-"+name || got[0].Execution != res.Execution || got[0].Outputs["ApiUrl"] == "" {
			t.Errorf("%s: got releases %+v, want this run's deploy of %s-%s", name, got, repo.Slug, name)
		}
	}
}

func TestFailingTestsStopTheRunAtTheChecks(t *testing.T) {
	t.Parallel()
	repo, dir := app(t, "broken", map[string]func(string) string{
		"hello/handler.go": func(s string) string { return strings.Replace(s, `"hello from "`, `"goodbye from "`, 1) },
	})
	res := run(t, repo, dir)
	if res.Status != "FAILED" || res.Error != "ChecksFailed" {
		t.Fatalf("got %s %s, want FAILED ChecksFailed", res.Status, res.Error)
	}
	if !strings.Contains(res.Cause, `check "go test ./..." failed`) || !strings.Contains(res.Cause, "TestHandle") {
		t.Errorf("cause %q: want it to name the check and the failing test", res.Cause)
	}
	for _, e := range res.Environments {
		if e.Status != "" {
			t.Errorf("%s: stack %s is %s, want it untouched", e.Name, e.Stack, e.Status)
		}
	}
	if s := status(t, res); s.State != pipeline.StateFailed || !strings.Contains(s.Description, "ChecksFailed") {
		t.Errorf("got status %+v, want FAILED naming ChecksFailed", s)
	}
}

func TestAFailedStagingSmokeTestStopsThePromotion(t *testing.T) {
	t.Parallel()
	repo, dir := app(t, "smoky", map[string]func(string) string{
		"stackflow.yml": func(s string) string {
			s = strings.Replace(s, "contains: hello from staging", "contains: hello from the moon", 1)
			return strings.Replace(s, "  - name: staging\n", "  - name: staging\n    smoke_timeout: 2s\n", 1)
		},
	})
	res := run(t, repo, dir)
	wantStagingSmokeFailed(t, res, `"greets" of staging`, "hello from staging", `"hello from the moon"`)
	if s := status(t, res); s.State != pipeline.StateFailed || !strings.Contains(s.Description, "SmokeTestFailed") {
		t.Errorf("got status %+v, want FAILED naming SmokeTestFailed", s)
	}
}

func TestAResourceThatCannotBeCreatedRollsTheStackBack(t *testing.T) {
	t.Parallel()
	repo, dir := app(t, "rolled", map[string]func(string) string{
		"template.yaml": func(s string) string {
			return strings.Replace(s, "Resources:\n", `Resources:
  Uploads:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: Not_A_Valid_Bucket_Name
`, 1)
		},
	})
	res := run(t, repo, dir)
	if res.Status != "FAILED" || res.Error != "StackDeployFailed" {
		t.Fatalf("got %s %s: %s, want FAILED StackDeployFailed", res.Status, res.Error, res.Cause)
	}
	if !strings.Contains(res.Cause, "Uploads") {
		t.Errorf("cause %q: want it to name the resource Uploads", res.Cause)
	}
	if e := env(t, res, "staging"); e.Status != "ROLLBACK_COMPLETE" {
		t.Errorf("staging: got %s, want ROLLBACK_COMPLETE", e.Status)
	}
	if e := env(t, res, "prod"); e.Status != "" {
		t.Errorf("prod: got %s, want it untouched", e.Status)
	}
}

func TestTheSameWebhookTwiceStartsOneExecution(t *testing.T) {
	t.Parallel()
	repo, dir := app(t, "twice", nil)
	if _, err := gitIn(context.Background(), dir, "checkout", "-q", "-b", "feature/greeting"); err != nil { // checks only: quick
		t.Fatal(err)
	}
	ctx := context.Background()
	push := Push{Repo: repo, Dir: dir}
	first, err := shared.Deliver(ctx, &push)
	if err != nil {
		t.Fatal(err)
	}
	second, err := shared.Deliver(ctx, &push)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Started) != 1 {
		t.Fatalf("first delivery: got %+v, want one execution started", first)
	}
	arn := first.Started[0].Execution
	if len(second.Started)+len(second.Duplicates) != 1 || append(second.Started, second.Duplicates...)[0].Execution != arn {
		t.Errorf("second delivery: got %+v, want the same execution %s", second, arn)
	}
	out, err := shared.sfn.ListExecutions(ctx, &awssfn.ListExecutionsInput{StateMachineArn: aws.String(shared.Outputs()["StateMachineArn"])})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range out.Executions {
		if aws.ToString(e.Name) == pipeline.ExecutionName(repo, "feature/greeting", push.Commit) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("got %d executions named after the push, want 1", n)
	}
	desc, err := follow(ctx, shared.sfn, arn, 100*time.Millisecond, func(types.HistoryEvent) {})
	if err != nil {
		t.Fatal(err)
	}
	if desc.Status != "SUCCEEDED" {
		t.Errorf("got %s, want SUCCEEDED (checks only)", desc.Status)
	}
}

func TestLogTailIsAboutOneApp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	lines := []string{
		`{"msg":"start","repository":"acme/hello","execution":"arn:aws:states:us-east-1:0:execution:sm:hello-main-abc1234"}`,
		`{"msg":"other","repository":"acme/hello-2"}`,
		`create stack hello-staging`,
		`create stack hello-2-staging`,
		`{"msg":"unrelated","repository":"acme/smoky"}`,
		`{"msg":"end","repository":"acme/hello"}`,
	}
	if err := os.WriteFile(filepath.Join(dir, "function-x.log"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := logTail(dir, "hello", 2)
	for _, want := range []string{"stack hello-staging", `"msg":"end"`} {
		if !strings.Contains(got, want) {
			t.Errorf("got\n%s\nwant it to contain %q", got, want)
		}
	}
	for _, not := range []string{"hello-2", "smoky", `"msg":"start"`} {
		if strings.Contains(got, not) {
			t.Errorf("got\n%s\nwant no %q (another app's, or past the last 2 lines)", got, not)
		}
	}
	if got := logTail(dir, "absent", 5); got != "no log line mentions absent" {
		t.Errorf("got %q for an app with no lines", got)
	}
}
