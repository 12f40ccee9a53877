// Package pipeline is stackflow's domain: what one delivery run of a commit
// is, the documents that travel between the state machine's steps, the
// errors whose names the state machine matches in Retry and Catch, and the
// layout of the artifact bucket.
//
// It imports nothing from AWS. Adapters (Bitbucket, S3, CloudFormation,
// Step Functions) live in their own packages; handlers in functions/ wire
// them together.
package pipeline
