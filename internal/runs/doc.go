// Package runs reads stackflow's runs back from AWS, for people at a
// terminal: the recent runs of the pipeline (Client.Runs), one run's
// timeline with each environment's result and the links to its console page
// and stored logs (Client.Show), and the stored output of one of its steps
// (Client.Logs); and what people start: rollbacks, promotions and retries
// (Client.Rollback, Client.Promote, Client.Retry), approvals and
// rejections.
//
// Everything comes from the Step Functions API (ListExecutions,
// DescribeExecution, GetExecutionHistory) and the artifact bucket: the
// execution input holds the pipeline.Run, the history holds each state's
// times, retries, errors and outputs. Nothing else records runs, so the
// same calls answer against an installed pipeline and against
// `stackflow local --serve`: LoadConfig finds AWS the way the AWS CLI does
// (profile, region, AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>) and
// FindPipeline finds the state machine and the bucket from the pipeline
// stack's outputs.
//
// The history is read as the state machine in statemachine/pipeline.asl.json
// writes it: each environment is one iteration of the promotion Map, which
// runs one at a time (MaxConcurrency 1), so the events between an
// iteration's start and its end are that environment's.
package runs
