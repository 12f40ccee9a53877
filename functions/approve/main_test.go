package main

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stackflow/stackflow/internal/approvals"
	"github.com/stackflow/stackflow/internal/eventtest"
)

func TestEvent(t *testing.T) {
	in := eventtest.Read[events.LambdaFunctionURLRequest](t, "event.json")
	if in.RequestContext.Authorizer == nil || in.RequestContext.Authorizer.IAM == nil || in.RequestContext.Authorizer.IAM.UserARN == "" {
		t.Fatalf("got %+v, want a request with the caller's IAM identity", in.RequestContext)
	}
	var d approvals.Decision
	if err := json.Unmarshal([]byte(in.Body), &d); err != nil || d.Execution == "" || d.Answer != approvals.AnswerApprove {
		t.Errorf("got decision %+v, %v; want an approval of an execution", d, err)
	}
}
