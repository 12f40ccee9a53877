// Package sfn runs the local Step Functions service of `stackflow local`:
// a Node.js process that serves the Step Functions API (AWS JSON 1.0, as
// aws-sdk-go-v2's sfn client and the AWS CLI speak it) on a loopback port
// and runs state machines with the npm package aws-local-stepfunctions
// (3.0.0, pinned with its whole dependency tree in node/package-lock.json).
// kumo's own Step Functions engine is not used: it swallows Lambda function
// errors and lacks intrinsics and the Context Object.
//
// Start writes the embedded Node files (node/) into a cache directory, runs
// `npm ci` there the first time, starts `node server.mjs` and returns once
// it listens. Handlers reach the service through AWS_ENDPOINT_URL_SFN=URL();
// its Lambda Task states reach Options.LambdaEndpoint (kumo) through the
// node process's AWS_ENDPOINT_URL_LAMBDA, with Node's own HTTP client (the
// AWS SDK's cost more CPU per invoke than the rest of an execution). Everything is kept in memory and
// is gone when the service closes.
//
// # What is emulated
//
//   - CreateStateMachine (validated by the interpreter's ASL validator;
//     InvalidDefinition otherwise; the same name with the same definition
//     and role is the same machine), DescribeStateMachine,
//     UpdateStateMachine, DeleteStateMachine, ListStateMachines,
//     DescribeStateMachineForExecution, TagResource, UntagResource,
//     ListTagsForResource.
//   - StartExecution with AWS's rules for names (1-80 characters, no
//     whitespace or special characters) and Standard-workflow idempotency:
//     the same name and input while that execution runs returns it again;
//     any other reuse of a name is ExecutionAlreadyExists.
//   - DescribeExecution, ListExecutions (newest first, statusFilter,
//     paging), StopExecution (ABORTED with the given error and cause;
//     ValidationException for an error over 256 or a cause over 32,768
//     characters),
//     GetExecutionHistory with AWS's event types and details:
//     ExecutionStarted, <Type>StateEntered/Exited, LambdaFunctionScheduled/
//     Started/Succeeded/Failed/TimedOut, TaskScheduled/Started/Submitted/
//     Succeeded/Failed/TimedOut, MapStateStarted/Succeeded/Failed,
//     MapIterationStarted/Succeeded/Failed/Aborted, ParallelStateStarted/
//     Succeeded/Failed, <Type>StateAborted, ExecutionSucceeded/Failed/
//     Aborted/TimedOut; reverseOrder, paging, includeExecutionData.
//   - Task states on a Lambda function ARN and on
//     arn:aws:states:::lambda:invoke (result {ExecutedVersion, Payload,
//     SdkHttpMetadata, SdkResponseMetadata, StatusCode}). A function error
//     comes out as on AWS: Error is the function's errorType (the Go type
//     name of a handler's error), Cause the function's error payload
//     {"errorMessage":...,"errorType":...} as a JSON string; Retry and Catch
//     match on it. Lambda API failures are Lambda.<Exception>.
//   - .waitForTaskToken tasks with $$.Task.Token, SendTaskSuccess,
//     SendTaskFailure and SendTaskHeartbeat. lambda:invoke.waitForTaskToken
//     invokes the function and then waits; other services' callback tasks
//     make no call (their parameters, token included, are in the
//     TaskScheduled event) and just wait for the token.
//   - Task timeouts as on AWS: TimeoutSeconds or TimeoutSecondsPath (none
//     by default), and for callback tasks HeartbeatSeconds or
//     HeartbeatSecondsPath, the paths read from the state's input after
//     InputPath (not from its Parameters). A task that runs out of time
//     fails with States.Timeout (States.TaskFailed does not catch it) or
//     States.HeartbeatTimeout, its history has TaskTimedOut (or
//     LambdaFunctionTimedOut), and its token is closed: SendTaskSuccess
//     then answers TaskTimedOut. A path that selects nothing or no
//     positive integer fails the execution with States.Runtime.
//   - The AWS SDK integration arn:aws:states:::aws-sdk:sfn:stopExecution
//     (Parameters ExecutionArn, Error, Cause; others are InvalidDefinition):
//     it stops the execution it names, its own ($$.Execution.Id) included,
//     and answers {"StopDate": "<ISO 8601>"}. Its history events are
//     TaskScheduled, TaskStarted and TaskSucceeded with resourceType
//     aws-sdk:sfn and resource stopExecution; an execution that stops
//     itself then has TaskStateAborted and ExecutionAborted with the
//     task's Error and Cause. Failures are Sfn.<Code>Exception
//     (Sfn.ExecutionDoesNotExistException, Sfn.InvalidArnException,
//     Sfn.ValidationException), which Retry and Catch match.
//   - The optimized integrations apps' state machines use most, called on
//     the local AWS as the state machine's role (assumed as Lambda tasks
//     assume it; the calls go to Options.LambdaEndpoint, the local AWS,
//     which locally is kumo behind the IAM proxy):
//     arn:aws:states:::dynamodb:getItem, putItem, updateItem and deleteItem
//     (DynamoDB's JSON protocol), sqs:sendMessage, sns:publish (the query
//     protocol), events:putEvents and states:startExecution (this service).
//     Parameters are the API's; a MessageBody, Message, an entry's Detail
//     or an Input given as JSON is sent as its text, as Step Functions sends
//     it. The result is the API's answer with SdkHttpMetadata and
//     SdkResponseMetadata; a failed call is <Service>.<Code>
//     (DynamoDB.ConditionalCheckFailedException, SQS..., SNS...,
//     EventBridge..., StepFunctions.ExecutionAlreadyExistsException), which
//     Retry and Catch match. History events are TaskScheduled, TaskStarted
//     and TaskSucceeded or TaskFailed with resourceType dynamodb and
//     resource putItem, say.
//   - The Context Object: Execution.Id (the execution ARN), Name, Input,
//     StartTime (ISO 8601 in UTC with milliseconds, the execution's
//     startDate), RoleArn, RedriveCount, the same inside Map iterations and
//     Parallel branches; StateMachine.Id and Name; Task.Token; Map.Item.Index
//     and Value in a Map state's ItemSelector.
//   - Everything else the interpreter does: Pass, Choice (a type test set
//     to false, such as "IsPresent": false, matches when the test fails),
//     Wait (it sleeps for real), Succeed, Fail (ErrorPath and CausePath; in
//     a Map iteration it fails the Map with that Error and Cause), Map,
//     Parallel, Retry with backoff, Catch, intrinsic functions, the
//     execution's TimeoutSeconds.
//   - Executions progress at most STACKFLOW_SFN_MAX_ACTIVE (default 4) at
//     a time, so that the API stays quick under a burst; the others stay
//     RUNNING and wait their turn in order. An execution that only waits
//     (a Wait state, a task token) gives its turn up and queues again when
//     it resumes: a run waiting days for an approval holds no other back.
//     During a burst of StartExecution calls (200 a second or more) the
//     executions it starts wait until it has passed, at most a second, so
//     that the burst is answered first.
//
// # What differs from AWS
//
//   - Only JSONPath definitions: the interpreter knows neither JSONata
//     (QueryLanguage) nor variables (Assign), so CreateStateMachine refuses
//     them with InvalidDefinition where AWS would accept them.
//   - Task resources other than Lambda, the optimized integrations above and
//     aws-sdk:sfn:stopExecution, startExecution and describeExecution
//     (other aws-sdk:* actions, .sync, activities, other optimized
//     integrations: DynamoDB's query and scan are aws-sdk actions, so not
//     run) fail the state with States.Runtime, except as callback tasks
//     (see above). states:startExecution is not checked against IAM (the
//     service itself is not).
//   - $$.State is never set, $$.Map only in ItemSelector.
//   - Executions of EXPRESS machines run like STANDARD ones; there is no
//     StartSyncExecution, no redrive, no versions or aliases, no activities,
//     no Distributed Map runs, no CloudWatch logging or X-Ray.
//   - A history event's previousEventId is the event before it, not the
//     event that caused it; event timestamps have millisecond precision. A
//     Retry shows as the task's failed event followed by its scheduled event
//     again, as on AWS; StateCaught and Parallel branches have no events.
//   - IAM is not checked: roleArn is required and recorded, never assumed.
//   - Options.RetryWait, when set, replaces every Retry's interval (tests
//     use it to stay fast); AWS always waits IntervalSeconds with backoff.
//   - CreateStateMachine validates a definition as the interpreter does
//     once per definition: one that passed is remembered beside the engine
//     (by its text, Lambda function names set aside), since the validator
//     compiles its schemas anew on every call (about half a second of CPU).
//   - Options.PollWaits, when set, replaces the wait of the Wait states
//     whose SecondsPath it names (stackflow local polls its CloudFormation
//     every 100 ms); AWS waits whole seconds.
package sfn
