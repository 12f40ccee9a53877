// Command echo is a Lambda handler for the supervisor's tests: it answers
// with its environment and process ID, and exits when asked to.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

type request struct {
	Exit bool `json:"exit"`
	// SleepMS holds the invocation this long, to make invocations overlap.
	SleepMS int `json:"sleepMs"`
}

type response struct {
	Greeting string `json:"greeting"`
	PID      int    `json:"pid"`
	Region   string `json:"region"`
	Function string `json:"function"`
	Secret   string `json:"secret"`
	HostAWS  string `json:"hostAws"`
}

func main() {
	lambda.Start(func(_ context.Context, in request) (response, error) {
		if in.Exit {
			os.Exit(3)
		}
		time.Sleep(time.Duration(in.SleepMS) * time.Millisecond)
		return response{
			Greeting: os.Getenv("GREETING"),
			PID:      os.Getpid(),
			Region:   os.Getenv("AWS_REGION"),
			Function: os.Getenv("AWS_LAMBDA_FUNCTION_NAME"),
			Secret:   os.Getenv("AWS_SECRET_ACCESS_KEY"),
			HostAWS:  os.Getenv("AWS_PROFILE"),
		}, nil
	})
}
