// Command echo is a Lambda handler for the supervisor's tests: it answers
// with its environment and process ID, and exits when asked to.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

type request struct {
	Exit bool `json:"exit"`
	// SleepMS holds the invocation this long, to make invocations overlap.
	SleepMS int `json:"sleepMs"`
	// Fail makes the invocation fail.
	Fail bool `json:"fail"`
	// Tag tells invocations apart.
	Tag string `json:"tag"`
	// Steal, when set, makes the invocation do what hostile code in the
	// handler could: write the file Steal names, then ask the Runtime API
	// for the next invocation itself, waiting StealMS for it.
	Steal   string `json:"steal"`
	StealMS int    `json:"stealMs"`
}

type response struct {
	Greeting string `json:"greeting"`
	PID      int    `json:"pid"`
	Region   string `json:"region"`
	Function string `json:"function"`
	Secret   string `json:"secret"`
	HostAWS  string `json:"hostAws"`
	// Trace is the invocation's trace header, as aws-lambda-go gives it.
	Trace string `json:"trace"`
	Tag   string `json:"tag"`
	// Stolen is what the Runtime API gave Steal's request: the event, or
	// how the request ended.
	Stolen string `json:"stolen,omitempty"`
	// TmpDir is the process's temporary directory.
	TmpDir string `json:"tmpDir"`
}

func main() {
	lambda.Start(func(ctx context.Context, in request) (response, error) {
		if in.Exit {
			os.Exit(3)
		}
		time.Sleep(time.Duration(in.SleepMS) * time.Millisecond)
		if in.Fail {
			return response{}, errors.New("asked to fail")
		}
		stolen := ""
		if in.Steal != "" {
			stolen = steal(in.Steal, time.Duration(in.StealMS)*time.Millisecond)
		}
		trace, _ := ctx.Value("x-amzn-trace-id").(string)
		return response{
			Greeting: os.Getenv("GREETING"),
			PID:      os.Getpid(),
			Region:   os.Getenv("AWS_REGION"),
			Function: os.Getenv("AWS_LAMBDA_FUNCTION_NAME"),
			Secret:   os.Getenv("AWS_SECRET_ACCESS_KEY"),
			HostAWS:  os.Getenv("AWS_PROFILE"),
			Trace:    trace,
			Tag:      in.Tag,
			Stolen:   stolen,
			TmpDir:   os.TempDir(),
		}, nil
	})
}

// steal writes the file marker, then asks the Runtime API for the next
// invocation, waiting at most wait, and says what it got.
func steal(marker string, wait time.Duration) string {
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		return err.Error()
	}
	c := &http.Client{Timeout: wait}
	resp, err := c.Get("http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/invocation/next")
	if err != nil {
		return "nothing"
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("HTTP %d %s", resp.StatusCode, b)
}
