package deploy

import (
	"context"
	"errors"
	"testing"

	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/releases"
)

type recorder struct {
	got []releases.Release
	err error
}

func (r *recorder) Record(_ context.Context, rel releases.Release) error {
	r.got = append(r.got, rel)
	return r.err
}

func TestRecordRelease(t *testing.T) {
	t.Parallel()
	in := testInput()
	in.Action = pipeline.ActionRecordRelease
	in.Deployment = pipeline.Deployment{Stack: in.Environment.Stack, Done: true, Outputs: map[string]string{"ApiUrl": "https://x/"}}

	rec := &recorder{}
	svc := newTestService(newFakeCFN())
	svc.Releases = rec
	d, err := svc.Handle(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.got) != 1 {
		t.Fatalf("got %d releases recorded, want 1", len(rec.got))
	}
	r := rec.got[0]
	if r.Repository != "acme/hello" || r.Environment != in.Environment.Name || r.Commit != in.Run.Commit || r.TemplateURL != in.Package.TemplateURL ||
		r.Execution != in.Execution || r.Outputs["ApiUrl"] != "https://x/" || r.DeployedAt.IsZero() {
		t.Errorf("got release %+v", r)
	}
	if d.Outputs["ApiUrl"] != "https://x/" || d.Summary != in.Environment.Name+": released 0123456" {
		t.Errorf("got %+v, want the deployment kept and a summary", d)
	}

	rec.err = errors.New("table gone")
	if _, err := svc.Handle(context.Background(), in); err == nil {
		t.Error("a release that could not be recorded was reported done")
	}
	svc.Releases = nil
	if _, err := svc.Handle(context.Background(), in); err == nil {
		t.Error("recordRelease without a releases table succeeded")
	}
}
