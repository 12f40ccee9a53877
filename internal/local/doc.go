// Package local runs stackflow's whole pipeline on one machine, with no AWS
// account and no network: `stackflow local`.
//
// Start brings up a local AWS on loopback endpoints, one per service:
// kumo, in-process, for S3, DynamoDB, Secrets Manager, SSM and Lambda (each
// function a real bootstrap process fed through the Runtime API); the local
// Step Functions service (internal/local/sfn) for state machines; and the
// local CloudFormation engine (internal/local/cfn), which serves every
// deployed HTTP API on its own port. It then installs the pipeline's own
// template.yaml through that engine, packaged by the same code that
// packages apps and deployed by the same code that deploys them.
//
// Deliver pushes a commit of a local git repository: a Bitbucket stand-in
// (internal/local/bitbucket) serves its archive and records its commit
// statuses, and a signed repo:push webhook goes through the local HTTP API
// to the real webhook handler, which starts the real state machine. The
// handlers reach the local AWS through the standard AWS_ENDPOINT_URL*
// variables and do not know they run locally.
package local
