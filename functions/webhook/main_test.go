package main

import (
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stackflow/stackflow/internal/eventtest"
)

func TestEvent(t *testing.T) {
	in := eventtest.Read[events.APIGatewayV2HTTPRequest](t, "event.json")
	if in.RouteKey != "POST /webhook" || in.Headers["x-event-key"] != "repo:push" || in.Headers["x-hub-signature"] == "" || in.Body == "" {
		t.Errorf("got route %q, headers %v: want a signed repo:push to POST /webhook", in.RouteKey, in.Headers)
	}
}
