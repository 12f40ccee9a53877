package deploy

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// TestDeletingAPreviewFromEveryStatus runs the two deletion actions as the
// state machine does against stacks in the statuses the local engine does
// not reach on demand: busy with another operation, or left DELETE_FAILED
// by an earlier try.
func TestDeletingAPreviewFromEveryStatus(t *testing.T) {
	t.Parallel()
	ours := []types.Tag{{Key: aws.String(TagRepository), Value: aws.String("acme/hello")}}
	tests := []struct {
		name          string
		seed          func(f *fakeCFN)
		wantSummaries []string
	}{
		{
			name: "busy with an update: waited for, then deleted",
			seed: func(f *fakeCFN) {
				st := f.seedStack("hello-pr-7", types.StackStatusUpdateInProgress, nil)
				st.tags = ours
				st.steps = []func(){func() {}, func() { f.stackEvent(st, "Console-UpdateStack-1", types.StackStatusUpdateComplete, "") }}
			},
			wantSummaries: []string{
				"waiting for preview stack hello-pr-7 of pull request #7 to finish UPDATE_IN_PROGRESS before deleting it",
				"deleting preview stack hello-pr-7 of pull request #7: the pull request was closed",
				"deleted preview stack hello-pr-7 of pull request #7",
			},
		},
		{
			name: "left DELETE_FAILED by an earlier try: deleted again",
			seed: func(f *fakeCFN) {
				f.seedStack("hello-pr-7", types.StackStatusDeleteFailed, nil).tags = ours
			},
			wantSummaries: []string{
				"deleting preview stack hello-pr-7 of pull request #7: the pull request was closed",
				"deleted preview stack hello-pr-7 of pull request #7",
			},
		},
		{
			name: "only change sets, no tags yet: deleted",
			seed: func(f *fakeCFN) {
				f.seedStack("hello-pr-7", types.StackStatusReviewInProgress, nil)
			},
			wantSummaries: []string{
				"deleting preview stack hello-pr-7 of pull request #7: the pull request was closed",
				"deleted preview stack hello-pr-7 of pull request #7",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeCFN()
			tt.seed(f)
			svc := newTestService(f)
			in := testInput()
			in.Environment = pipeline.Environment{Name: "preview", Stack: "hello-pr-7", PullRequest: 7}
			var summaries []string
			for _, a := range []pipeline.DeployAction{pipeline.ActionDeleteStack, pipeline.ActionDescribeDeletion, pipeline.ActionDescribeDeletion, pipeline.ActionDescribeDeletion} {
				in.Action = a
				d, err := svc.Handle(context.Background(), in)
				if err != nil {
					t.Fatalf("%s: %v", a, err)
				}
				summaries = append(summaries, d.Summary)
				in.Deployment = d
				if d.Done {
					break
				}
			}
			if !in.Deployment.Done {
				t.Fatalf("got summaries %q, want the deletion done", summaries)
			}
			if !slices.Equal(summaries, tt.wantSummaries) {
				t.Errorf("got summaries\n%s\nwant\n%s", strings.Join(summaries, "\n"), strings.Join(tt.wantSummaries, "\n"))
			}
			if n := strings.Count(strings.Join(f.calls, " "), "DeleteStack"); n != 1 {
				t.Errorf("got %d DeleteStack calls, want 1 (calls %v)", n, f.calls)
			}
		})
	}
}
