package main

import (
	"context"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
)

// Greeter answers GET /hello for one stage.
type Greeter struct {
	// Stage is the environment the stack was deployed as, such as staging.
	Stage string
}

// Handle answers an HTTP API request.
func (g Greeter) Handle(_ context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	if req.RequestContext.HTTP.Method != "" && req.RequestContext.HTTP.Method != http.MethodGet {
		return events.APIGatewayV2HTTPResponse{
			StatusCode: http.StatusMethodNotAllowed,
			Headers:    map[string]string{"Allow": http.MethodGet},
		}, nil
	}
	stage := g.Stage
	if stage == "" {
		stage = "nowhere"
	}
	return events.APIGatewayV2HTTPResponse{
		StatusCode: http.StatusOK,
		Headers:    map[string]string{"Content-Type": "text/plain; charset=utf-8"},
		Body:       "hello from " + stage + "\n",
	}, nil
}
