// Command hello is the hello example's only function: GET /hello answers
// with a greeting that names the stage its stack was deployed as.
package main

import (
	"os"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(Greeter{Stage: os.Getenv("STAGE")}.Handle)
}
