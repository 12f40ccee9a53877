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
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/stackflow/stackflow/internal/approvals"
	"github.com/stackflow/stackflow/internal/pipeline"
)

// ApproveAsAsked approves every deploy that a run this pipeline follows
// (Run, AwaitPullRequest) asks approval for, until ctx ends, saying so on
// out: what `stackflow local --approve` does, so that a rehearsal of an app
// with approval gates runs through without a second terminal. It answers
// as `stackflow approve` does, through the approval request kept in the
// pipeline's table, as the caller the local STS reports
// (arn:aws:iam::000000000000:root): a deploy whose approvers do not include
// it is left waiting, and out says why.
func (p *Pipeline) ApproveAsAsked(ctx context.Context, out io.Writer) {
	store := approvals.New(dynamodb.NewFromConfig(p.aws), p.outputs["ReleasesTableName"])
	machine := aws.String(p.outputs["StateMachineArn"])
	refused := map[string]bool{}
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
			if err != nil || len(pending) == 0 {
				continue
			}
			by, err := p.caller(ctx)
			if err != nil {
				fmt.Fprintf(out, "  could not approve: %v\n", err)
				continue
			}
			for _, r := range pending {
				if err := r.MayAnswer(by); err != nil {
					if id := r.Execution + " " + r.Environment; !refused[id] {
						refused[id] = true
						fmt.Fprintf(out, "  --approve left the deploy of %s to %s waiting: %v\n", pipeline.ShortSHA(r.Commit), r.Environment, err)
					}
					continue
				}
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

// caller is who the local AWS takes this pipeline's calls for, as STS
// GetCallerIdentity reports it.
func (p *Pipeline) caller(ctx context.Context) (string, error) {
	out, err := sts.NewFromConfig(p.aws).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", fmt.Errorf("find out who approves (sts get-caller-identity): %w", err)
	}
	return aws.ToString(out.Arn), nil
}
