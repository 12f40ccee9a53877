package runs

import (
	"context"
	"strings"
	"testing"

	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/releases"
)

// TestReadingEnvironments reads what the dashboard reads of environments
// from the local pipeline: the environments with releases (acme/good's
// two; the broken run released nothing), their releases, their free
// locks, and the state machine a run followed.
func TestReadingEnvironments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	envs, err := client.ReleasedEnvironments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []releases.Released{{Repository: "acme/good", Environment: "prod"}, {Repository: "acme/good", Environment: "staging"}}
	if len(envs) != len(want) || envs[0] != want[0] || envs[1] != want[1] {
		t.Fatalf("released environments: got %+v, want %+v", envs, want)
	}
	list, err := client.Releases(ctx, "acme/good", "prod", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Commit != goodCommit || list[0].Deployed == nil {
		t.Fatalf("releases of prod: got %+v, want one of %s with its environment", list, goodCommit)
	}
	h, err := client.LockHolder(ctx, *list[0].Deployed)
	if err != nil {
		t.Fatal(err)
	}
	if h.Execution != "" {
		t.Errorf("prod's lock: got held by %s, want free after the run", h.Execution)
	}
	if got := client.Region(); got != LocalRegion {
		t.Errorf("region: got %s, want %s", got, LocalRegion)
	}
	def, err := client.Definition(ctx, pipeline.ShortSHA(brokenCommit))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(def, `"Run the checks"`) {
		t.Errorf("definition: got %.200s…, want the pipeline's, with Run the checks", def)
	}
}
