package local

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// What measuring a local pipeline needs of its Step Functions: the
// executions webhooks started, their histories, and a way to stop the ones
// still running when a measurement ends (internal/bench).

// Executions lists every execution of the pipeline's state machine, newest
// first, whatever its status.
func (p *Pipeline) Executions(ctx context.Context) ([]types.ExecutionListItem, error) {
	var all []types.ExecutionListItem
	pages := awssfn.NewListExecutionsPaginator(p.sfn, &awssfn.ListExecutionsInput{
		StateMachineArn: aws.String(p.outputs["StateMachineArn"]),
		MaxResults:      1000,
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list executions: %w", err)
		}
		all = append(all, page.Executions...)
	}
	return all, nil
}

// Describe returns the execution arn's status and, once it has ended, its
// output or error.
func (p *Pipeline) Describe(ctx context.Context, arn string) (*awssfn.DescribeExecutionOutput, error) {
	out, err := p.sfn.DescribeExecution(ctx, &awssfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		return nil, fmt.Errorf("describe execution %s: %w", arn, err)
	}
	return out, nil
}

// History returns every event of the execution arn's history so far,
// oldest first, with the states' inputs and outputs.
func (p *Pipeline) History(ctx context.Context, arn string) ([]types.HistoryEvent, error) {
	var all []types.HistoryEvent
	pages := awssfn.NewGetExecutionHistoryPaginator(p.sfn, &awssfn.GetExecutionHistoryInput{
		ExecutionArn: aws.String(arn),
		MaxResults:   1000,
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("execution history of %s: %w", arn, err)
		}
		all = append(all, page.Events...)
	}
	return all, nil
}

// Stop stops the execution arn, as StopExecution does, with cause. An
// execution that has already ended is left as it is.
func (p *Pipeline) Stop(ctx context.Context, arn, cause string) error {
	_, err := p.sfn.StopExecution(ctx, &awssfn.StopExecutionInput{
		ExecutionArn: aws.String(arn),
		Error:        aws.String("Stopped"),
		Cause:        aws.String(cause),
	})
	var notFound *types.ExecutionDoesNotExist
	switch {
	case errors.As(err, &notFound):
		return fmt.Errorf("stop execution %s: %w", arn, err)
	case err != nil:
		// Stopping an execution that has just ended is not an error worth
		// a caller's attention: check what it is now.
		desc, derr := p.Describe(ctx, arn)
		if derr == nil && desc.Status != types.ExecutionStatusRunning {
			return nil
		}
		return fmt.Errorf("stop execution %s: %w", arn, err)
	}
	return nil
}
