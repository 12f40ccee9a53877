package sfn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/sivchari/kumo"
)

// The tests share one kumo, one Lambda function backed by a few handler
// processes, and one local Step Functions service; each test uses its own
// state machines and execution names.
var (
	client     *awssfn.Client
	functionID string // the test function's ARN
	handlerLog string // the file the handler notes invocation tags in
	kumoURL    string // the Lambda API the test function is on
)

const handlerFunction = "sfn-test-handler"

func TestMain(m *testing.M) {
	code, err := runTests(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(code)
}

func runTests(m *testing.M) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "sfn-test-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)

	bin := filepath.Join(dir, "bootstrap")
	build := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-o", bin, "./testdata/handler")
	if out, err := build.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("build the test handler: %v\n%s", err, out)
	}

	srv := kumo.NewServer()
	defer srv.Close()
	kumoURL = srv.URL
	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(srv.URL),
	}
	lc := lambda.NewFromConfig(cfg)
	fn, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String(handlerFunction),
		Role:         aws.String("arn:aws:iam::000000000000:role/sfn-test-handler"),
		Runtime:      lambdatypes.RuntimeProvidedal2023,
		Handler:      aws.String("bootstrap"),
		Code:         &lambdatypes.FunctionCode{ZipFile: []byte("built by TestMain")},
		Timeout:      aws.Int32(30),
	})
	if err != nil {
		return 0, fmt.Errorf("create the test function: %w", err)
	}
	functionID = aws.ToString(fn.FunctionArn)

	// Handlers go before kumo closes: an invoke to a dead handler hangs.
	handlerLog = filepath.Join(dir, "invocations.log")
	host := strings.TrimPrefix(srv.URL, "http://")
	for range 3 {
		h := exec.Command(bin)
		h.Env = append(os.Environ(),
			"AWS_LAMBDA_RUNTIME_API="+host+"/_runtime/"+handlerFunction,
			"HANDLER_LOG="+handlerLog,
		)
		// The handler logs each error it returns; the tests read them from the history.
		h.Stderr = io.Discard
		if err := h.Start(); err != nil {
			return 0, fmt.Errorf("start the test handler: %w", err)
		}
		defer func() {
			_ = h.Process.Kill()
			_ = h.Wait()
		}()
	}
	if err := waitForHandler(ctx, lc); err != nil {
		return 0, err
	}

	svc, err := Start(ctx, Options{
		LambdaEndpoint: srv.URL,
		RetryWait:      time.Millisecond,
		PollWaits:      map[string]time.Duration{"$.poll": time.Millisecond},
		Stderr:         os.Stderr,
	})
	if err != nil {
		return 0, err
	}
	defer svc.Close()
	if _, err := url.Parse(svc.URL()); err != nil {
		return 0, fmt.Errorf("service URL %q: %w", svc.URL(), err)
	}
	client = awssfn.NewFromConfig(cfg, func(o *awssfn.Options) {
		o.BaseEndpoint = aws.String(svc.URL())
	})
	return m.Run(), nil
}

// waitForHandler invokes the test function until a handler has taken up
// polling kumo's Runtime API for it.
func waitForHandler(ctx context.Context, lc *lambda.Client) error {
	for {
		_, err := lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(handlerFunction), Payload: []byte(`{}`)})
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the test handler: %w", errors.Join(err, ctx.Err()))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// invocations returns the tags that the handler noted, in order, that
// start with prefix.
func invocations(t *testing.T, prefix string) []string {
	t.Helper()
	data, err := os.ReadFile(handlerLog)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("read handler log: %v", err)
	}
	var tags []string
	for _, line := range strings.Split(string(data), "\n") {
		if line != "" && strings.HasPrefix(line, prefix) {
			tags = append(tags, line)
		}
	}
	return tags
}
