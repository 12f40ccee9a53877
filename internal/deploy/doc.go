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
//
// Before a run takes an environment's lock, the environment's freeze
// windows are checked on the service's clock (freeze.go): the run waits
// for a window's end in the state machine, or stops with
// *pipeline.Frozen, unless a person let it through. A run of stackflow
// promote or stackflow retry gets its package from findPackage: the source
// environment's release, or the record the lock action keeps of every run
// that reaches an environment, never from its own input.
package deploy
