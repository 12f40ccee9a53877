// Package tracing is the one place stackflow touches AWS X-Ray. Handlers
// trace their AWS SDK calls (AWS) and their other HTTP calls, Bitbucket's
// and the smoke tests' (HTTPClient), as subsegments of the Lambda
// invocation's segment, and the webhook hands its trace to the execution it
// starts (Handoff), so one trace runs from the webhook through the state
// machine into every handler.
//
// It does not use the X-Ray SDK for Go, which would add aws-sdk-go v1,
// gRPC and fasthttp (about 8 MB) to every handler: it writes the
// subsegment documents itself (package daemon) and sends them over UDP to
// AWS_XRAY_DAEMON_ADDRESS (127.0.0.1:2000 when unset), as the SDK does in
// Lambda. Only the SDK's small header package, which reads and writes the
// X-Amzn-Trace-Id header, is used. Moving to OpenTelemetry is a change to
// this directory alone.
//
// The trace comes from the invocation: aws-lambda-go puts the
// Lambda-Runtime-Trace-Id of each invocation in the context under
// "x-amzn-trace-id" (and in _X_AMZN_TRACE_ID). Where there is none (tests,
// the command line), or the invocation is not sampled, nothing is sent;
// calls still go through and carry Sampled=0 on when the trace says so.
// With no daemon listening the datagrams are lost: nothing fails or logs.
//
// A subsegment holds the call's name, times, HTTP status, error, fault and
// throttle flags and, for AWS, the service, operation, region and request
// ID; an HTTP call's URL without user, query or fragment. Never a header,
// a body, a token or a signature.
package tracing
