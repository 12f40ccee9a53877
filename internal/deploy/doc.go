// Package deploy deploys one environment's stack from the packaged template
// through a CloudFormation change set.
//
// The deploy handler does one action per call (create the change set, look
// at it, execute it, look at the stack) and never sleeps: the state machine
// waits between calls and calls again while a Deployment is not Done. Every
// failure a person must act on is a *pipeline.StackDeployFailed that names
// the stack, its status and the first resource that failed.
package deploy
