package local

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"

	"github.com/stackflow/stackflow/internal/tracing/daemon"
)

// handlers are the pipeline's functions by their logical IDs in
// template.yaml.
var handlers = map[string]string{
	"webhook":   "WebhookFunction",
	"status":    "StatusFunction",
	"source":    "SourceFunction",
	"grant":     "GrantFunction",
	"checks":    "ChecksFunction",
	"package":   "PackageFunction",
	"publish":   "PublishFunction",
	"deploy":    "DeployFunction",
	"smoketest": "SmokeTestFunction",
}

// TestOneTraceRunsFromTheWebhookIntoEveryHandler delivers a push to one
// environment and reads the trace the local X-Ray daemon got: the webhook's
// invocation starts it, the execution joins it under the webhook's
// StartExecution call, and every handler's invocation hangs from the
// execution with its own AWS and HTTP calls as subsegments.
func TestOneTraceRunsFromTheWebhookIntoEveryHandler(t *testing.T) {
	t.Parallel()
	repo, dir := app(t, "traced", map[string]func(string) string{
		// One environment is enough to run every handler.
		"stackflow.yml": func(s string) string {
			if i := strings.Index(s, "  - name: prod\n"); i >= 0 {
				return s[:i]
			}
			return s
		},
	})
	before := len(traces.Documents())
	res := run(t, repo, dir)
	if !res.Succeeded() {
		t.Fatalf("got %s %s: %s, want SUCCEEDED", res.Status, res.Error, res.Cause)
	}
	names := functionNames(t)

	var tr *runTrace
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	docs, err := traces.Wait(ctx, func(all []daemon.Document) bool {
		tr = readTrace(all[before:], names, res.Execution)
		return tr.complete()
	})
	if err != nil {
		t.Fatalf("%v; %s", err, tr.missing())
	}
	if tr.execution.ParentID != tr.startExecution.ID {
		t.Errorf("the execution's segment hangs from %q, want the webhook's StartExecution call %s", tr.execution.ParentID, tr.startExecution.ID)
	}
	for handler, seg := range tr.functions {
		if handler != "webhook" && seg.ParentID != tr.execution.ID {
			t.Errorf("%s's segment hangs from %q, want the execution's segment %s", handler, seg.ParentID, tr.execution.ID)
		}
	}
	if tr.functions["webhook"].ParentID != "" {
		t.Errorf("the webhook's segment hangs from %q, want it to start the trace (an HTTP API passes no trace)", tr.functions["webhook"].ParentID)
	}
	for _, d := range docs[before:] {
		raw, _ := json.Marshal(d)
		for what, secret := range map[string]string{"the webhook secret": shared.WebhookSecret(), "the Bitbucket token": shared.token} {
			if strings.Contains(string(raw), secret) {
				t.Errorf("a document holds %s: %s", what, raw)
			}
		}
	}
}

// functionNames returns the pipeline's functions' names by handler.
func functionNames(t *testing.T) map[string]string {
	t.Helper()
	out, err := shared.cfn.DescribeStackResources(context.Background(), &cloudformation.DescribeStackResourcesInput{StackName: aws.String(PipelineStack)})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for handler, logical := range handlers {
		for _, r := range out.StackResources {
			if aws.ToString(r.LogicalResourceId) == logical {
				names[handler] = aws.ToString(r.PhysicalResourceId)
			}
		}
		if names[handler] == "" {
			t.Fatalf("the pipeline stack has no %s", logical)
		}
	}
	return names
}

// runTrace is what a run's trace holds.
type runTrace struct {
	id             string
	execution      *daemon.Document
	startExecution *daemon.Document
	// functions and calls are each handler's invocation segment and
	// subsegments.
	functions map[string]daemon.Document
	calls     map[string][]daemon.Document
}

// readTrace finds, in docs, the trace of execution and what it holds: the
// webhook's invocation that started it and every handler's.
func readTrace(docs []daemon.Document, names map[string]string, execution string) *runTrace {
	handler := map[string]string{}
	for h, n := range names {
		handler[n] = h
	}
	tr := &runTrace{functions: map[string]daemon.Document{}, calls: map[string][]daemon.Document{}}
	// The trace is the execution's: other runs' webhook deliveries, at
	// the same time, have traces of their own.
	for _, d := range docs {
		if d.Origin == "AWS::StepFunctions::StateMachine" && d.ResourceARN == execution {
			tr.id = d.TraceID
		}
	}
	if tr.id == "" {
		return tr
	}
	byParent := map[string][]daemon.Document{}
	for _, d := range docs {
		if d.TraceID != tr.id {
			continue
		}
		switch {
		case d.Origin == "AWS::Lambda::Function" && handler[d.Name] != "":
			tr.functions[handler[d.Name]] = d
		case d.Origin == "AWS::StepFunctions::StateMachine" && d.ResourceARN == execution:
			tr.execution = &d
		case d.Type == "subsegment":
			byParent[d.ParentID] = append(byParent[d.ParentID], d)
		}
	}
	for h, seg := range tr.functions {
		tr.calls[h] = byParent[seg.ID]
	}
	for _, c := range tr.calls["webhook"] {
		if c.AWS != nil && c.AWS.Operation == "StartExecution" {
			tr.startExecution = &c
		}
	}
	return tr
}

func (tr *runTrace) complete() bool { return tr.missing() == "" }

// missing says what the trace lacks, or "".
func (tr *runTrace) missing() string {
	if tr == nil || tr.id == "" {
		return "no segment of the execution"
	}
	var lack []string
	for h := range handlers {
		if _, ok := tr.functions[h]; !ok {
			lack = append(lack, h+"'s invocation segment")
		} else if len(tr.calls[h]) == 0 {
			lack = append(lack, h+"'s subsegments")
		}
	}
	if tr.execution == nil {
		lack = append(lack, "the execution's segment")
	}
	if tr.startExecution == nil {
		lack = append(lack, "the webhook's StartExecution subsegment")
	}
	if len(lack) == 0 {
		return ""
	}
	sort.Strings(lack)
	return fmt.Sprintf("trace %s lacks %s", tr.id, strings.Join(lack, ", "))
}
