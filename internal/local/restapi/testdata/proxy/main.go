// Command proxy is a Lambda proxy handler for the REST API server's tests:
// it answers with the event it was given as its body, or, as the query
// parameter answer asks, with an error, a malformed answer, a binary body,
// repeated headers, or not at all until its deadline.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

// Binary is the body the binary answer sends, base64-encoded.
var Binary = []byte{0x89, 'P', 'N', 'G', 0x00, 0xff}

func handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var ev events.APIGatewayProxyRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, err
	}
	switch ev.QueryStringParameters["answer"] {
	case "error":
		return nil, errors.New("the handler failed")
	case "malformed":
		return map[string]any{"statusCode": 200, "body": map[string]any{"not": "a string"}}, nil
	case "other-key":
		return map[string]any{"statusCode": 200, "body": "x", "cookies": []string{"a=1"}}, nil
	case "text":
		return "just text", nil
	case "binary":
		return events.APIGatewayProxyResponse{
			StatusCode:      200,
			Headers:         map[string]string{"Content-Type": "image/png"},
			Body:            base64.StdEncoding.EncodeToString(Binary),
			IsBase64Encoded: true,
		}, nil
	case "headers":
		return events.APIGatewayProxyResponse{
			StatusCode:        201,
			Headers:           map[string]string{"X-One": "1", "Set-Cookie": "a=1"},
			MultiValueHeaders: map[string][]string{"Set-Cookie": {"a=1", "b=2"}, "X-Many": {"x", "y"}},
			Body:              "made",
		}, nil
	case "no-content":
		return events.APIGatewayProxyResponse{StatusCode: 204, Body: "dropped"}, nil
	case "hang":
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return events.APIGatewayProxyResponse{
		StatusCode: 200,
		Headers:    map[string]string{"Content-Type": "application/json"},
		Body:       string(raw),
	}, nil
}

func main() {
	lambda.Start(handle)
}
