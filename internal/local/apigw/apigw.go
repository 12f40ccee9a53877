// Package apigw holds what the local API Gateway servers share:
// internal/local/restapi (REST APIs) and internal/local/httpapi (HTTP APIs
// and function URLs) both call Lambda through Invoker, read request bodies
// up to MaxBodyBytes, listen on a loopback port with Listen, invoke a
// route's function with Invoke and stamp API Gateway's request IDs
// (RequestID). Their events, answers and error bodies differ between the
// two kinds of API and stay in each server.
package apigw

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
)

// MaxBodyBytes is the largest request body API Gateway accepts, REST and
// HTTP APIs alike (10 MB).
const MaxBodyBytes = 10 << 20

// Options configure a local API server (a REST API, an HTTP API or a
// function URL).
type Options struct {
	// Lambda invokes the routes' functions; required.
	Lambda Invoker
	// Region and AccountID go into every event's request context.
	Region    string
	AccountID string
	// Addr is where to listen; empty means 127.0.0.1:0, a free loopback
	// port.
	Addr string
	// Timeout is how long to wait for a function whose route sets none;
	// 0 means the server's IntegrationTimeout (29 s for a REST API, 30 s
	// for an HTTP API). A function URL waits as long as its function's
	// timeout.
	Timeout time.Duration
	// Authorize, when set, is asked before each invocation whether API
	// Gateway (apigateway.amazonaws.com) may invoke a function for
	// sourceARN: arn:aws:execute-api:<region>:<account>:<api>/<stage>/<method><path>
	// for an integration, .../<api>/authorizers/<name> for a REST API's
	// Lambda authorizer. The function's resource policy decides, as on
	// AWS; an error answers 500, as API Gateway answers an integration it
	// may not invoke.
	Authorize func(ctx context.Context, function, sourceARN string) error
	// AuthorizeRequest, when set, decides each request (with its body)
	// to a function URL before its function is invoked, as Lambda
	// decides by the URL's AuthType, in one pass: who signed it (AWS_IAM,
	// from a verified SigV4 signature) and whether they may invoke it.
	// Its caller goes to the function as requestContext.authorizer.iam,
	// as Lambda hands it (none for a URL of AuthType NONE: an empty
	// answer); an error answers 403 Forbidden, as a function URL answers
	// an unsigned, badly signed or denied request.
	AuthorizeRequest func(r *http.Request, body []byte) (events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription, error)
}

// Invoker is the part of Lambda's API the servers need;
// *lambda.Client (aws-sdk-go-v2) is one.
type Invoker interface {
	Invoke(ctx context.Context, in *awslambda.InvokeInput, optFns ...func(*awslambda.Options)) (*awslambda.InvokeOutput, error)
}

var _ Invoker = (*awslambda.Client)(nil)

// Listen listens on addr (empty means 127.0.0.1:0, a free loopback port)
// and serves h there until the returned server is closed; url is its base
// URL, such as http://127.0.0.1:49152.
func Listen(addr string, h http.Handler) (srv *http.Server, url string, err error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", err
	}
	srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return srv, "http://" + ln.Addr().String(), nil
}

// ErrBodyTooLarge is ReadBody's answer to a body over MaxBodyBytes.
var ErrBodyTooLarge = errors.New("the request body is over API Gateway's 10 MB")

// ReadBody reads r's body, at most MaxBodyBytes of it: a longer one is
// ErrBodyTooLarge.
func ReadBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read the request body: %w", err)
	}
	if len(body) > MaxBodyBytes {
		return nil, ErrBodyTooLarge
	}
	return body, nil
}

// ErrTimedOut is Invoke's answer when the function does not answer in
// time.
var ErrTimedOut = errors.New("the function did not answer within the integration timeout")

// FunctionError is Invoke's answer when the function ran and failed (its
// handler returned an error or panicked).
type FunctionError struct {
	// Type is Lambda's X-Amz-Function-Error, such as Unhandled.
	Type string
	// Payload is the function's answer: its error as JSON, with
	// errorMessage and errorType.
	Payload []byte
}

func (e *FunctionError) Error() string { return "the function failed: " + e.Type }

// Invoke calls function with payload, waiting at most timeout, and
// returns its answer. A function that fails is a *FunctionError, one that
// outlasts timeout ErrTimedOut; any other error is Lambda's.
func Invoke(ctx context.Context, l Invoker, function string, payload []byte, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out, err := l.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String(function), Payload: payload})
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return nil, ErrTimedOut
	case err != nil:
		return nil, fmt.Errorf("invoke %s: %w", function, err)
	case out.FunctionError != nil:
		return nil, &FunctionError{Type: *out.FunctionError, Payload: out.Payload}
	}
	return out.Payload, nil
}

// RequestID returns a random ID shaped like API Gateway's
// ("Ab1cDEfGhIjKLmn="): an HTTP API's request ID, a REST API's extended
// request ID.
func RequestID() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:14] + "="
}
