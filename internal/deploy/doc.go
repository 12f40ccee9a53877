// Package deploy deploys one environment's stack from the packaged template
// through a CloudFormation change set.
//
// The deploy handler does one action per call (create the change set, look
// at it, execute it, look at the stack) and never sleeps: the state machine
// waits between calls and calls again while a Deployment is not Done. Every
// failure a person must act on is a *pipeline.StackDeployFailed that names
// the stack, its status and the first resource that failed.
//
// A stack CloudFormation cannot take a change set for is put right inside
// the same actions (see recover.go): one left in ROLLBACK_COMPLETE by a
// failed first create is deleted and created again, one left in
// UPDATE_ROLLBACK_FAILED has its rollback continued, and one busy with an
// operation started elsewhere is waited for. An environment may live in
// another account: its RoleARN is assumed for its CloudFormation calls,
// its CloudFormationRoleARN is the service role its stack is deployed
// with, and a Protected environment's stack gets termination protection.
// The preview stack of a closed pull request is deleted by two more
// actions, which refuse any other stack.
package deploy
