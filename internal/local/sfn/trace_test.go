package sfn

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-xray-sdk-go/header"
	"github.com/aws/smithy-go"

	"github.com/stackflow/stackflow/internal/tracing/daemon"
)

// TestExecutionsAreTraced runs executions on a service of their own whose
// Lambda is a stand-in that notes the X-Amzn-Trace-Id of each Invoke, and
// whose X-Ray daemon is a listener.
func TestExecutionsAreTraced(t *testing.T) {
	var mu sync.Mutex
	invoked := map[string]string{} // execution name (the payload) -> trace header
	lambda := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		invoked[strings.Trim(string(body), `"`)] = r.Header.Get("X-Amzn-Trace-Id")
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer lambda.Close()
	l, err := daemon.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	svc, err := Start(ctx, Options{LambdaEndpoint: lambda.URL, Env: []string{daemon.EnvAddress + "=" + l.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	c := awssfn.New(awssfn.Options{Region: "us-east-1", Credentials: client.Options().Credentials, BaseEndpoint: aws.String(svc.URL())})
	m, err := c.CreateStateMachine(ctx, &awssfn.CreateStateMachineInput{
		Name:       aws.String(unique(t.Name())),
		RoleArn:    aws.String(role),
		Definition: aws.String(`{"StartAt":"Call","States":{"Call":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:000000000000:function:traced","InputPath":"$$.Execution.Name","End":true}}}`),
	})
	if err != nil {
		t.Fatal(err)
	}

	run := func(t *testing.T, name, traceHeader string) *awssfn.DescribeExecutionOutput {
		t.Helper()
		in := &awssfn.StartExecutionInput{StateMachineArn: m.StateMachineArn, Name: aws.String(name)}
		if traceHeader != "" {
			in.TraceHeader = aws.String(traceHeader)
		}
		out, err := c.StartExecution(ctx, in)
		if err != nil {
			t.Fatalf("StartExecution: %v", err)
		}
		for {
			d, err := c.DescribeExecution(ctx, &awssfn.DescribeExecutionInput{ExecutionArn: out.ExecutionArn})
			if err != nil {
				t.Fatalf("DescribeExecution: %v", err)
			}
			if d.Status != "RUNNING" {
				if d.Status != "SUCCEEDED" {
					t.Fatalf("got %s %s, want SUCCEEDED", d.Status, aws.ToString(d.Cause))
				}
				return d
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	segmentID := regexp.MustCompile(`^[0-9a-f]{16}$`)
	caller, parent := daemon.NewTraceID(time.Now()), daemon.NewID()
	unsampled := daemon.NewTraceID(time.Now())
	tests := []struct {
		name, traceHeader string
		wantRoot          string // "" means a new one
		sampled           bool
	}{
		// First: once the later ones' segments are in, its would be too.
		{name: "not sampled", traceHeader: "Root=" + unsampled + ";Parent=" + parent + ";Sampled=0", wantRoot: unsampled},
		{name: "the starter's trace", traceHeader: "Root=" + caller + ";Parent=" + parent + ";Sampled=1", wantRoot: caller, sampled: true},
		{name: "no trace: a new one", sampled: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := unique("traced")
			d := run(t, name, tt.traceHeader)
			mu.Lock()
			got := header.FromString(invoked[name])
			mu.Unlock()
			root := tt.wantRoot
			if root == "" {
				root = got.TraceID
			}
			wantDecision := header.NotSampled
			if tt.sampled {
				wantDecision = header.Sampled
			}
			if got.TraceID != root || !regexp.MustCompile(`^1-[0-9a-f]{8}-[0-9a-f]{24}$`).MatchString(root) || !segmentID.MatchString(got.ParentID) || got.ParentID == parent || got.SamplingDecision != wantDecision {
				t.Fatalf("the Invoke carried %q, want Root=%s;Parent=<the execution's segment>;%s", invoked[name], root, wantDecision)
			}
			if tt.traceHeader != "" && aws.ToString(d.TraceHeader) != tt.traceHeader {
				t.Errorf("DescribeExecution: got trace header %q, want %q", aws.ToString(d.TraceHeader), tt.traceHeader)
			}
			if !tt.sampled {
				return
			}
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			docs, err := l.Wait(wctx, func(all []daemon.Document) bool {
				for _, doc := range all {
					if doc.TraceID == root {
						return true
					}
				}
				return false
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, doc := range docs {
				if doc.TraceID != root {
					continue
				}
				wantParent := ""
				if tt.traceHeader != "" {
					wantParent = parent
				}
				if doc.ID != got.ParentID || doc.ParentID != wantParent || doc.Origin != "AWS::StepFunctions::StateMachine" ||
					doc.ResourceARN != aws.ToString(d.ExecutionArn) || doc.StartTime <= 0 || doc.EndTime < doc.StartTime || doc.Fault {
					t.Errorf("got segment %+v, want ID %s, parent %q, the execution's ARN and times", doc, got.ParentID, wantParent)
				}
			}
		})
	}
	for _, doc := range l.Documents() {
		if doc.TraceID == unsampled {
			t.Errorf("got a segment of the unsampled trace: %+v", doc)
		}
	}
	if n := len(l.Documents()); n != 2 {
		t.Errorf("got %d segments, want 2", n)
	}

	_, err = c.StartExecution(ctx, &awssfn.StartExecutionInput{StateMachineArn: m.StateMachineArn, Name: aws.String(unique("long")), TraceHeader: aws.String(strings.Repeat("x", 257))})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ValidationException" {
		t.Errorf("a 257-character trace header: got %v, want ValidationException", err)
	}
}
