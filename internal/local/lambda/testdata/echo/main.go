// Command echo is a Lambda handler for the supervisor's tests: it answers
// with its environment and process ID, and exits when asked to.
package main

import (
	"context"
	"errors"
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
		}, nil
	})
}
