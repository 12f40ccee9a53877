package tracing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/stackflow/stackflow/internal/tracing/daemon"
)

// AWS makes every client built from cfg record each operation as a
// subsegment (namespace "aws", named after the service) and pass the trace
// on in X-Amzn-Trace-Id, so the services called join it.
func AWS(cfg *aws.Config) {
	cfg.APIOptions = append(cfg.APIOptions, addMiddleware)
}

// awsCallKey keys the subsegment of the operation in progress.
type awsCallKey struct{}

type awsCall struct {
	trace trace
	doc   *daemon.Document
}

const (
	startName = "stackflow.tracing.Start"
	sendName  = "stackflow.tracing.Send"
)

func addMiddleware(stack *middleware.Stack) error {
	if err := stack.Initialize.Add(middleware.InitializeMiddlewareFunc(startName, startCall), middleware.After); err != nil {
		return fmt.Errorf("add tracing: %w", err)
	}
	if err := stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc(sendName, sendCall), middleware.Before); err != nil {
		return fmt.Errorf("add tracing: %w", err)
	}
	return nil
}

// startCall wraps the whole operation, its retries included.
func startCall(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	t, ok := current(ctx)
	if !ok {
		return next.HandleInitialize(ctx, in)
	}
	doc := newSubsegment(t, subsegmentID(ctx), awsmiddleware.GetServiceID(ctx), "aws", time.Now())
	doc.AWS = &daemon.AWS{Operation: awsmiddleware.GetOperationName(ctx), Region: awsmiddleware.GetRegion(ctx)}
	call := &awsCall{trace: t, doc: doc}
	out, md, err := next.HandleInitialize(context.WithValue(ctx, awsCallKey{}, call), in)
	if !t.sampled {
		return out, md, err
	}
	doc.EndTime = daemon.Seconds(time.Now())
	if id, ok := awsmiddleware.GetRequestIDMetadata(md); ok {
		doc.AWS.RequestID = id
	}
	if err != nil {
		var apiErr smithy.APIError
		kind := "RequestFailed"
		if errors.As(err, &apiErr) {
			kind = apiErr.ErrorCode()
			if _, ok := retry.DefaultThrottleErrorCodes[kind]; ok {
				doc.Error, doc.Throttle = true, true
			}
		} else if ctx.Err() != nil {
			kind = "Canceled"
		}
		setFailure(doc, kind)
	}
	emit(doc)
	return out, md, err
}

// sendCall runs around each attempt: it passes the trace on and keeps the
// answer's status.
func sendCall(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
	call, ok := ctx.Value(awsCallKey{}).(*awsCall)
	if !ok {
		return next.HandleDeserialize(ctx, in)
	}
	if req, ok := in.Request.(*smithyhttp.Request); ok {
		req.Header.Set(HeaderName, call.trace.downstream(call.doc.ID))
	}
	out, md, err := next.HandleDeserialize(ctx, in)
	if resp, ok := out.RawResponse.(*smithyhttp.Response); ok && resp != nil {
		// The last attempt's answer is the one the subsegment shows.
		call.doc.Error, call.doc.Throttle, call.doc.Fault = false, false, false
		setStatus(call.doc, resp.StatusCode)
	}
	return out, md, err
}
