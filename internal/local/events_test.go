package local

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// helloSAMParameters are examples/hello-sam's greeting in each
// environment's SSM Parameter Store, as --ssm puts them there.
var helloSAMParameters = map[string]string{
	"/hello-sam/staging/greeting": "Howdy",
	"/hello-sam/prod/greeting":    "Welcome",
}

// ssmParameters are every test app's SSM parameters, for the shared
// pipeline.
func ssmParameters() map[string]string {
	all := maps.Clone(greeterParameters)
	maps.Copy(all, helloSAMParameters)
	return all
}

// TestHelloSAMIsDeliveredWithItsEventSources delivers examples/hello-sam,
// a Node.js app whose REST API (a path parameter) queues visits, whose
// queue's worker and schedule write to a table, and whose greeting is each
// environment's SSM value, passed as a stack parameter through
// {{resolve:ssm:...}}. Its smoke checks (an HTTP check, then invoke checks
// of a reader function) see the worker's write, the schedule's and each
// environment's greeting; after the run, a visit posted to each stage is
// recorded, and the schedule fired now (as stackflow local fire fires it)
// ticks again.
func TestHelloSAMIsDeliveredWithItsEventSources(t *testing.T) {
	t.Parallel()
	repo, dir := appOf(t, "hello-sam", "hello-sam", nil)
	res := run(t, repo, dir)
	if !res.Succeeded() {
		t.Fatalf("got %s %s: %s, want SUCCEEDED", res.Status, res.Error, res.Cause)
	}
	if s := status(t, res); s.State != pipeline.StateSuccessful {
		t.Errorf("got status %+v, want SUCCESSFUL", s)
	}
	ctx := context.Background()
	lambdas := awslambda.NewFromConfig(shared.aws)
	read := func(fn, pk string) map[string]any {
		t.Helper()
		out, err := lambdas.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String(fn), Payload: []byte(`{"pk":"` + pk + `"}`)})
		if err != nil || out.FunctionError != nil {
			t.Fatalf("invoke %s: %v %s", fn, err, out.Payload)
		}
		var item map[string]any
		if err := json.Unmarshal(out.Payload, &item); err != nil {
			t.Fatalf("invoke %s: %s: %v", fn, out.Payload, err)
		}
		return item
	}
	for stage, greeting := range map[string]string{"staging": "Howdy", "prod": "Welcome"} {
		e := env(t, res, stage)
		if e.Stack != repo.Slug+"-"+stage || e.Status != "CREATE_COMPLETE" {
			t.Errorf("%s: got stack %s %s, want %s-%s CREATE_COMPLETE", stage, e.Stack, e.Status, repo.Slug, stage)
		}
		resp, err := http.Post(e.Outputs["ApiUrl"]+"visits/linus", "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := greeting + ", linus! (" + stage + ")"; resp.StatusCode != http.StatusAccepted || !strings.Contains(string(body), want) {
			t.Errorf("%s: POST visits/linus: got %d %s, want 202 with %q", stage, resp.StatusCode, body, want)
		}
		reader := e.Outputs["ReaderFunctionName"]
		var visit map[string]any
		waitFor(t, stage+"'s worker to record linus's visit", func() bool {
			visit = read(reader, "visit#linus")
			return visit["found"] == true
		})
		if visit["greeting"] != greeting || visit["stage"] != stage {
			t.Errorf("%s: got the visit %v, want it greeted %q in %s", stage, visit, greeting, stage)
		}

		before := read(reader, "tick")
		fired, err := FireSchedule(ctx, shared.Endpoints()["AWS_ENDPOINT_URL_CLOUDFORMATION"], e.Stack, "TickFunctionTick")
		if want := "schedule default/" + e.Stack + "-tick"; err != nil || fired != want {
			t.Fatalf("%s: fire the tick: got %q %v, want %q", stage, fired, err, want)
		}
		if after := read(reader, "tick"); after["at"] == before["at"] || after["source"] != "schedule" {
			t.Errorf("%s: the tick went from %v to %v, want a newer one from the schedule", stage, before, after)
		}
	}
}

// waitFor polls cond until it holds, for at most a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}
