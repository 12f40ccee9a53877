package deploy

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/releases"
)

func tagged(kv ...string) []types.Tag {
	var out []types.Tag
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, types.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	return out
}

// TestAStackBelongsToOneEnvironment deploys staging to stacks of every
// kind of owner: only its own, a new one, or one stackflow deployed for
// staging before stacks were bound, is deployed; every other is refused
// before anything changes.
func TestAStackBelongsToOneEnvironment(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status types.StackStatus
		tags   []types.Tag // of the stack hello-staging; nil: no stack
		// released is a release of staging on the stack, recorded before
		// stacks were bound.
		released bool
		// want is the refusal's reason; "" means deployed.
		want string
	}{
		{name: "no stack yet: created and bound"},
		{name: "staging's own", status: types.StackStatusUpdateComplete, tags: tagged(TagRepository, "acme/hello", TagEnvironment, "staging")},
		{name: "only change sets, no tags", status: types.StackStatusReviewInProgress, tags: []types.Tag{}},
		{name: "another environment's", status: types.StackStatusUpdateComplete, tags: tagged(TagRepository, "acme/hello", TagEnvironment, "prod"),
			want: "refused to deploy staging to stack hello-staging: it belongs to environment prod of acme/hello (its stackflow:environment tag); give each environment a stack of its own"},
		{name: "another environment's failed first create, not deleted", status: types.StackStatusRollbackComplete, tags: tagged(TagRepository, "acme/hello", TagEnvironment, "prod"),
			want: "it belongs to environment prod of acme/hello"},
		{name: "another repository's", status: types.StackStatusCreateComplete, tags: tagged(TagRepository, "acme/other", TagEnvironment, "staging"),
			want: "it belongs to acme/other (its stackflow:repository tag)"},
		{name: "not stackflow's", status: types.StackStatusCreateComplete, tags: tagged("team", "payments"),
			want: "stackflow did not create it (it has no stackflow:repository tag); give staging a stack of its own in stackflow.yml on the default branch; to hand it to stackflow, tag it stackflow:repository=acme/hello and stackflow:environment=staging"},
		{name: "deployed before stacks were bound, and released to staging", status: types.StackStatusUpdateComplete, tags: tagged(TagRepository, "acme/hello"), released: true},
		{name: "deployed before stacks were bound, never released to staging", status: types.StackStatusUpdateComplete, tags: tagged(TagRepository, "acme/hello"),
			want: "stackflow deployed it for acme/hello before stacks were bound to environments, and staging has no release on it; if it is staging's, tag it stackflow:environment=staging"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeCFN()
			f.changes = []types.Change{add("HelloFunction", "AWS::Lambda::Function")}
			if tt.tags != nil {
				f.seedStack("hello-staging", tt.status, nil).tags = tt.tags
			}
			svc := newTestService(f)
			if tt.released {
				svc = withTable(t, svc)
				if err := svc.Releases.Record(context.Background(), releases.Release{Repository: "acme/hello", Environment: "staging",
					Stack: "hello-staging", Commit: strings.Repeat("a", 40), DeployedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}); err != nil {
					t.Fatal(err)
				}
			}
			_, d, err := deployStack(t, svc, testInput())
			if tt.want != "" {
				var refused *pipeline.StackRefused
				if !errors.As(err, &refused) || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("got %v, want StackRefused: ...%s...", err, tt.want)
				}
				if want := []string{"DescribeStacks"}; !slices.Equal(f.calls, want) {
					t.Errorf("got calls %v, want only %v: nothing changed", f.calls, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("deploy: %v", err)
			}
			if got := tagValue(f.stack(d.StackID).tags, TagEnvironment); got != "staging" {
				t.Errorf("the stack's %s tag: got %q, want staging: the deploy binds it", TagEnvironment, got)
			}
		})
	}
}

// TestPreviewDeletionRefusesAnotherEnvironmentsStack: a preview's deletion
// refuses a stack of the repository bound to another environment.
func TestPreviewDeletionRefusesAnotherEnvironmentsStack(t *testing.T) {
	t.Parallel()
	f := newFakeCFN()
	f.seedStack("hello-pr-7", types.StackStatusUpdateComplete, nil).tags = tagged(TagRepository, "acme/hello", TagEnvironment, "prod")
	in := testInput()
	in.Action = pipeline.ActionDeleteStack
	in.Environment = pipeline.PreviewEnvironment(testRun.Repository, 7)
	_, err := newTestService(f).Handle(context.Background(), in)
	if err == nil || !strings.Contains(err.Error(), `the stack's stackflow:environment tag is "prod", not "pr-7"`) {
		t.Fatalf("got %v, want the deletion refused", err)
	}
	if slices.Contains(f.calls, "DeleteStack") {
		t.Error("DeleteStack was called")
	}
}

// An app's stack is bound to <app>/<environment>: another app of the
// repository, whose environment has the same name, cannot deploy to it.
func TestAnAppsStackBelongsToThatApp(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		owner, want string
	}{
		{owner: "api/staging"},
		{owner: "web/staging", want: "it belongs to environment web/staging of acme/hello"},
		{owner: "staging", want: "it belongs to environment staging of acme/hello"},
	} {
		f := newFakeCFN()
		f.changes = []types.Change{add("HelloFunction", "AWS::Lambda::Function")}
		f.seedStack("hello-staging", types.StackStatusUpdateComplete, nil).tags = tagged(TagRepository, "acme/hello", TagEnvironment, tt.owner)
		in := testInput()
		in.Environment.App = "api"
		_, d, err := deployStack(t, newTestService(f), in)
		if tt.want != "" {
			var refused *pipeline.StackRefused
			if !errors.As(err, &refused) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s: got %v, want StackRefused: ...%s...", tt.owner, err, tt.want)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tt.owner, err)
		}
		if got := tagValue(f.stack(d.StackID).tags, TagEnvironment); got != "api/staging" {
			t.Errorf("the stack's %s tag: got %q, want api/staging", TagEnvironment, got)
		}
	}
}
