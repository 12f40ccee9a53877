package main

import (
	"context"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func TestHandle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		stage      string
		method     string
		wantStatus int
		wantBody   string
	}{
		{name: "greets with the stage", stage: "staging", method: "GET", wantStatus: 200, wantBody: "hello from staging\n"},
		{name: "no stage", method: "GET", wantStatus: 200, wantBody: "hello from nowhere\n"},
		{name: "wrong method", stage: "prod", method: "POST", wantStatus: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var req events.APIGatewayV2HTTPRequest
			req.RequestContext.HTTP.Method = tt.method
			res, err := Greeter{Stage: tt.stage}.Handle(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != tt.wantStatus {
				t.Errorf("status: got %d, want %d", res.StatusCode, tt.wantStatus)
			}
			if tt.wantBody != "" && res.Body != tt.wantBody {
				t.Errorf("body: got %q, want %q", res.Body, tt.wantBody)
			}
		})
	}
}
