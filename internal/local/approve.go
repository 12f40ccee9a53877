package local

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/stackflow/stackflow/internal/approvals"
	"github.com/stackflow/stackflow/internal/pipeline"
)

// ApproveAsAsked approves, as by, every deploy that a run this pipeline
// follows (Run, AwaitPullRequest) asks approval for, until ctx ends, saying
// so on out: what `stackflow local --approve` does, so that a rehearsal of
// an app with approval gates runs through without a second terminal. It
// answers as `stackflow approve` does, through the approval request kept in
// the pipeline's table.
func (p *Pipeline) ApproveAsAsked(ctx context.Context, by string, out io.Writer) {
	store := approvals.New(dynamodb.NewFromConfig(p.aws), p.outputs["ReleasesTableName"])
	machine := aws.String(p.outputs["StateMachineArn"])
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		list, err := p.sfn.ListExecutions(ctx, &awssfn.ListExecutionsInput{StateMachineArn: machine, StatusFilter: types.ExecutionStatusRunning})
		if err != nil {
			continue
		}
		for _, e := range list.Executions {
			p.mu.Lock()
			mine := p.followed[aws.ToString(e.ExecutionArn)]
			p.mu.Unlock()
			if !mine {
				continue
			}
			pending, err := store.Pending(ctx, aws.ToString(e.ExecutionArn))
			if err != nil {
				continue
			}
			for _, r := range pending {
				if err := approvals.Approve(ctx, p.sfn, r, by, time.Now()); err != nil {
					fmt.Fprintf(out, "  could not approve the deploy of %s to %s: %v\n", pipeline.ShortSHA(r.Commit), r.Environment, err)
				} else {
					fmt.Fprintf(out, "  ◆ approved the deploy of %s to %s (%s) as %s (--approve)\n", pipeline.ShortSHA(r.Commit), r.Environment, r.Summary, by)
				}
				_ = store.Delete(ctx, r.Execution, r.Environment)
			}
		}
	}
}
