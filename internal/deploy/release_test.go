package deploy

import (
	"context"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/stackflow/stackflow/internal/approvals"
	"github.com/stackflow/stackflow/internal/locks"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/releases"
	"github.com/stackflow/stackflow/internal/testaws"
)

// withTable gives svc the pipeline's table in the local AWS, as the deploy
// function has it: releases, locks and approvals.
func withTable(t *testing.T, svc *Service) *Service {
	t.Helper()
	cfg := testaws.Start(t)
	db := dynamodb.NewFromConfig(cfg)
	table := testaws.Table(t, cfg, "pipeline")
	svc.Releases = releases.New(db, table)
	svc.Locks = locks.New(db, table)
	svc.Approvals = approvals.New(db, table)
	return svc
}

func TestRecordRelease(t *testing.T) {
	t.Parallel()
	in := testInput()
	in.Action = pipeline.ActionRecordRelease
	in.Deployment = pipeline.Deployment{Stack: in.Environment.Stack, Done: true, Outputs: map[string]string{"ApiUrl": "https://x/"}}

	svc := withTable(t, newTestService(newFakeCFN()))
	d, err := svc.Handle(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := svc.Releases.List(context.Background(), "acme/hello", in.Environment.Name, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("got %d releases recorded, want 1", len(got))
	}
	r := got[0]
	if r.Repository != "acme/hello" || r.Environment != in.Environment.Name || r.Commit != in.Run.Commit || r.TemplateURL != in.Package.TemplateURL ||
		r.Execution != in.Execution || r.Outputs["ApiUrl"] != "https://x/" || r.DeployedAt.IsZero() {
		t.Errorf("got release %+v", r)
	}
	if r.Deployed == nil || r.Deployed.Stack != in.Environment.Stack || r.Package == nil || r.Package.TemplateURL != in.Package.TemplateURL {
		t.Errorf("got release %+v, want the environment and package kept for a rollback", r)
	}
	if d.Outputs["ApiUrl"] != "https://x/" || d.Summary != in.Environment.Name+": released 0123456" {
		t.Errorf("got %+v, want the deployment kept and a summary", d)
	}

	svc.Releases = nil
	if _, err := svc.Handle(context.Background(), in); err == nil {
		t.Error("recordRelease without a releases table succeeded")
	}
}

// The deploy handler's recordRelease ends the environment's iteration of
// the state machine: its output is the environment as $.environments
// lists it.
func TestRecordReleaseEndsTheEnvironment(t *testing.T) {
	t.Parallel()
	in := testInput()
	in.Action = pipeline.ActionRecordRelease
	in.Deployment = pipeline.Deployment{Stack: in.Environment.Stack, Done: true, Outputs: map[string]string{"ApiUrl": "https://x/"},
		Summary: "hello-staging: UPDATE_COMPLETE", Changes: []string{"Modify HelloFunction"}}
	in.Smoke = &pipeline.SmokeResult{Environment: in.Environment.Name, Summary: "1 check passed"}
	svc := withTable(t, newTestService(newFakeCFN()))
	out, err := svc.Invoke(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	want := pipeline.DeliveredEnvironment{Name: in.Environment.Name, Stack: in.Environment.Stack, Outputs: map[string]string{"ApiUrl": "https://x/"},
		Deploy: "hello-staging: UPDATE_COMPLETE", Smoke: "1 check passed", Release: in.Environment.Name + ": released 0123456"}
	if got, ok := out.(pipeline.DeliveredEnvironment); !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", out, want)
	}
}
