// Command handler is a tiny HTTP API function for the engine's tests: it
// answers with its build's version, its MESSAGE variable and the path.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

// version is set at build time (-ldflags -X main.version=...).
var version = "dev"

func main() {
	lambda.Start(func(_ context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return events.APIGatewayV2HTTPResponse{
			StatusCode: 200,
			Headers:    map[string]string{"Content-Type": "text/plain"},
			Body:       fmt.Sprintf("%s %s %s %d", version, os.Getenv("MESSAGE"), ev.RawPath, os.Getpid()),
		}, nil
	})
}
