package webhook

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	xrayheader "github.com/aws/aws-xray-sdk-go/header"
)

// recordingStarter keeps the StartExecution inputs it gets.
type recordingStarter struct {
	mu  sync.Mutex
	ins []*sfn.StartExecutionInput
}

func (r *recordingStarter) StartExecution(_ context.Context, in *sfn.StartExecutionInput, _ ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ins = append(r.ins, in)
	return &sfn.StartExecutionOutput{ExecutionArn: aws.String("arn:aws:states:us-east-1:000000000000:execution:p:" + aws.ToString(in.Name))}, nil
}

// TestTheExecutionJoinsTheDeliverysTrace checks the TraceHeader each
// StartExecution gets: the invocation's trace, or none without one.
func TestTheExecutionJoinsTheDeliverysTrace(t *testing.T) {
	t.Parallel()
	body := testdata(t, "repo-push.json")
	const root, parent = "1-5f84c7a0-0123456789abcdef01234567", "53995c3f42cd8ad8"
	tests := []struct {
		name        string
		invocation  string // the Lambda-Runtime-Trace-Id of the invocation
		wantDecided xrayheader.SamplingDecision
	}{
		{name: "sampled", invocation: "Root=" + root + ";Parent=" + parent + ";Sampled=1", wantDecided: xrayheader.Sampled},
		{name: "not sampled", invocation: "Root=" + root + ";Parent=" + parent + ";Sampled=0", wantDecided: xrayheader.NotSampled},
		{name: "no trace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			starter := &recordingStarter{}
			svc := New(Config{StateMachineARN: "arn:aws:states:us-east-1:000000000000:stateMachine:p", SecretARN: "arn:secret", Logger: slog.New(slog.DiscardHandler)}, fixedSecret{value: testSecret}, starter)
			//lint:ignore SA1029 aws-lambda-go's own key is this string
			ctx := context.WithValue(context.Background(), "x-amzn-trace-id", tt.invocation)
			out, err := svc.Handle(ctx, delivery("repo:push", body, sign(body)))
			if err != nil || out.StatusCode != 202 {
				t.Fatalf("got %d %v, want 202", out.StatusCode, err)
			}
			if len(starter.ins) == 0 {
				t.Fatal("no execution was started")
			}
			parents := map[string]bool{}
			for _, in := range starter.ins {
				got := aws.ToString(in.TraceHeader)
				if tt.invocation == "" {
					if in.TraceHeader != nil {
						t.Errorf("got TraceHeader %q, want none", got)
					}
					continue
				}
				h := xrayheader.FromString(got)
				if parents[h.ParentID] {
					t.Errorf("got Parent %s for two executions, want each under its own call", h.ParentID)
				}
				parents[h.ParentID] = true
				if h.TraceID != root || h.ParentID == "" || h.ParentID == parent || h.SamplingDecision != tt.wantDecided {
					t.Errorf("got TraceHeader %q, want Root=%s, the StartExecution call as the Parent and %s", got, root, tt.wantDecided)
				}
			}
		})
	}
}
