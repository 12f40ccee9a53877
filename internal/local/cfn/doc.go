// Package cfn is the local CloudFormation of `stackflow local`: an engine
// that applies CloudFormation templates (SAM's through SAM's own
// translator) onto a local AWS (kumo),
// behind CloudFormation's query API, so the pipeline's deploy step and
// `aws cloudformation` work against it unchanged.
//
// # API
//
// Engine.Handler speaks the query protocol as aws-sdk-go-v2's cloudformation
// client does (form-encoded POSTs with an Action, XML answers in the
// 2010-05-15 namespace, ErrorResponse with Type, Code and Message):
// CreateChangeSet, DescribeChangeSet, ExecuteChangeSet, DeleteChangeSet,
// ListChangeSets, DescribeStacks, ListStacks, DescribeStackEvents,
// DescribeStackResources, DescribeStackResource, ListStackResources,
// GetTemplate, DeleteStack, ContinueUpdateRollback,
// UpdateTerminationProtection and ValidateTemplate. Stacks change only
// through change sets: CreateStack and UpdateStack are refused with
// InvalidAction.
//
// Change sets and stacks go through CloudFormation's statuses, in the
// background, so pollers see them: a change set CREATE_PENDING,
// CREATE_IN_PROGRESS, then CREATE_COMPLETE or FAILED (an empty one fails
// with "The submitted information didn't contain changes. ..."); a stack
// REVIEW_IN_PROGRESS after its first change set, then CREATE_IN_PROGRESS and
// CREATE_COMPLETE, or, when a resource fails, ROLLBACK_IN_PROGRESS (what was
// made is deleted, the last first) and ROLLBACK_COMPLETE, which refuses
// updates; UPDATE_IN_PROGRESS, UPDATE_COMPLETE_CLEANUP_IN_PROGRESS and
// UPDATE_COMPLETE, or UPDATE_ROLLBACK_IN_PROGRESS,
// UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS and UPDATE_ROLLBACK_COMPLETE
// with the previous resources, template, parameters and outputs restored
// (the previous release keeps serving); DELETE_IN_PROGRESS and
// DELETE_COMPLETE (or DELETE_FAILED). Every step is a stack event with the
// resource's status reason; a resource that fails carries the local AWS's
// error. DeletionPolicy Retain and RetainExceptOnCreate, OnStackFailure,
// DisableRollback, RetainResources, ClientToken and ClientRequestToken
// behave as on AWS.
//
// A rollback that cannot put a resource back ends in
// UPDATE_ROLLBACK_FAILED, as on AWS, and the way to get there locally is
// AWS's commonest: change a resource behind CloudFormation's back. Delete a
// bucket whose VersioningConfiguration a later update changes, and the
// update of the bucket fails, and so does putting it back. Such a stack
// takes no update, only DeleteStack or ContinueUpdateRollback. The latter
// tries again to put back what could not be (after the bucket is made
// again, say), leaves the resources named in ResourcesToSkip as they are
// (marking them UPDATE_COMPLETE), and ends in UPDATE_ROLLBACK_COMPLETE, or
// in UPDATE_ROLLBACK_FAILED again.
//
// A RoleARN given to CreateChangeSet, ContinueUpdateRollback or DeleteStack
// is the stack's from then on, and DescribeStacks shows it. With
// Options.IAM, the stack's resources are made, updated and deleted as that
// service role (cloudformation.amazonaws.com, which its trust policy must
// let assume it, in a session named AWSCloudFormation): before each change
// the role is asked for every permission AWS's handler calls need for it
// (servicerole.go: the CloudFormation registry schemas' handler permissions
// that handlerpermissions.json holds, those the change's properties call
// for: lambda:CreateFunction with iam:PassRole of its role and s3:GetObject
// of its code, lambda:UpdateFunctionCode for new code), on the resource's
// ARN (the one its create will give it), and a denial fails the resource,
// with nothing changed, with CloudFormation's "Resource handler returned
// message: ... (HandlerErrorCode: AccessDenied)". Stacks with no service
// role are not checked. UpdateTerminationProtection turns
// termination protection on or off, DescribeStacks shows it as
// EnableTerminationProtection, and DeleteStack refuses a protected stack
// with AWS's ValidationError "Stack [name] cannot be deleted while
// TerminationProtection is enabled".
//
// # Templates
//
// YAML (with the short forms !Ref, !GetAtt, !Sub, !If, ...) or JSON, from
// TemplateBody or a TemplateURL in the local S3 (https://<bucket>.s3.<region>.amazonaws.com/<key>,
// https://s3.<region>.amazonaws.com/<bucket>/<key>, or path-style on the
// local endpoint). Parameters (String, Number, List<Number>,
// CommaDelimitedList, AWS::SSM::Parameter::Value<...> read from the local
// SSM, AWS-specific types as strings) with Default, AllowedValues,
// AllowedPattern, Min/MaxLength, Min/MaxValue, ConstraintDescription and
// NoEcho (shown as ****); Mappings; Conditions; Outputs (with Condition and
// Export names); DependsOn; and Ref (parameters, resources, pseudo
// parameters), Fn::GetAtt, Fn::Sub, Fn::Join, Fn::If, Fn::Select,
// Fn::Split, Fn::FindInMap, Fn::Base64, Fn::GetAZs, Fn::Equals, Fn::Not,
// Fn::And and Fn::Or. Resources are made in dependency order and deleted
// in reverse; a cycle is a ValidationError. Capabilities are required as
// on AWS: CAPABILITY_IAM (or CAPABILITY_NAMED_IAM for named IAM
// resources), refused with InsufficientCapabilitiesException, or for a SAM
// template (whose roles the transform makes) with a FAILED change set.
// As on AWS, change sets do not need CAPABILITY_AUTO_EXPAND for the SAM
// transform.
//
// Dynamic references are resolved as CloudFormation resolves them
// (dynref.go): {{resolve:ssm:name}}, {{resolve:ssm:name:version}},
// {{resolve:ssm-secure:name[:version]}} and
// {{resolve:secretsmanager:secret-id:SecretString:json-key:version-stage:version-id}}
// (all but secret-id optional; secret-id a name or an ARN), anywhere in a
// string of a resource's properties (mid-string, several in one string,
// built by Fn::Sub or Fn::Join, or passed in through a parameter), read
// from the local SSM Parameter Store and Secrets Manager when the resource
// is created or updated. The stack keeps the properties as written: change
// sets compare the references, and stack events, DescribeStacks,
// GetTemplate and change sets never show a resolved value (a resource's
// failure that would quote a secret value shows **** instead). Outputs
// resolve ssm references and keep ssm-secure and secretsmanager ones as
// written. As on AWS, CreateChangeSet refuses a version that is not a
// number ("Incorrect format is used in the following SSM reference"), an
// ssm-secure reference in a property that does not take one ("SSM Secure
// reference is not supported in: [TYPE/Properties/Path]"; only the
// documented passwords of RDS, Redshift, ElastiCache, Directory Service,
// IAM users, Firehose and OpsWorks take one) and a versionless ssm
// reference in a parameter's Default; and a resource fails with
// CloudFormation's reason when a value cannot be read ("Unable to fetch
// parameters [name] from parameter store for this account.", "Non-secure
// ssm prefix was used for secure parameter name", "Secrets Manager can't
// find the specified secret.", "Could not find a value associated with
// JSONKey in SecretString", "Could not parse SecretString JSON").
//
// The SAM transform (AWS::Serverless-2016-10-31) is SAM's own translator
// (package internal/local/samtransform: PyPI aws-sam-translator, the code
// of AWS's hosted transform), run when a change set is worked out with the
// stack's parameter values and pseudo parameters, as CloudFormation runs
// it. The engine then runs the plain CloudFormation it makes: Globals,
// implicit APIs, policy templates, connectors, event sources,
// AutoPublishAlias and DeploymentPreference mean what they mean on AWS,
// and change sets, events and resource listings show the resources AWS
// shows (HelloFunctionRole, HelloFunctionHelloPermission,
// ServerlessHttpApi, ServerlessHttpApiApiGatewayDefaultStage, ...). A
// template SAM refuses fails its change set with "Transform
// AWS::Serverless-2016-10-31 failed with: Invalid Serverless Application
// Specification document. ...", the translator's own words. GetTemplate
// gives the template as submitted (TemplateStage Original) or as
// processed (Processed: the translator's JSON).
//
// # Resource types
//
// Each CloudFormation type the engine runs is one file res_*.go that
// registers it (register in an init):
//
//   - AWS::Lambda::Function: Code {S3Bucket, S3Key, S3ObjectVersion} is
//     read from the local S3 and unzipped under WorkDir (Code.ZipFile,
//     SAM's InlineCode, is written to index.py or index.js), its Layers
//     (layer version ARNs published by this engine) unzipped in order into
//     a directory of the function's own that stands in for /opt; it runs
//     as processes (package internal/local/lambda) registered in kumo's
//     Lambda, with Options.FunctionEnv and its Environment.Variables (which
//     win). Runtime is provided.* (the code's bootstrap), python3.11 to
//     python3.14 or nodejs20.x to nodejs24.x (the host's python3 and node,
//     with the runtime clients of Options.Runtimes); another runtime, a
//     missing Handler, a missing interpreter or a layer the engine did not
//     publish fail the resource with what to do. Timeout and MemorySize
//     are recorded (kumo enforces the timeout), ReservedConcurrentExecutions
//     bounds its processes; Role, TracingConfig, LoggingConfig,
//     Architectures, EphemeralStorage, VpcConfig and the like are accepted
//     and not enforced. Images fail the resource. An update restarts the
//     processes on the new code; a delete stops them. Ref is its name,
//     GetAtt Arn its ARN in kumo.
//   - AWS::Lambda::Version and AWS::Lambda::Alias (what AutoPublishAlias
//     makes): each version gets the next number of its function and an
//     ARN <function ARN>:<n>, each alias <function ARN>:<name>. Locally a
//     function has one version, its current code: whatever the engine
//     invokes by a version's or alias's ARN (an HTTP API's route) reaches
//     the function as it is now. An alias's FunctionVersion must be
//     $LATEST or a version published.
//   - AWS::Lambda::LayerVersion (SAM's LayerVersion): the zip must be in
//     the local S3; each create publishes the next version of LayerName,
//     and Ref and GetAtt LayerVersionArn give its ARN. Any change
//     publishes a new version. Layers are the engine's own: they are not
//     registered in kumo's Lambda (ListLayers does not show them).
//   - AWS::ApiGatewayV2::Api, an HTTP API (SAM's HttpApi): served by
//     package internal/local/httpapi on its own loopback port, with the
//     routes of its Body (or BodyS3Location), the OpenAPI 3 document SAM
//     writes: each path and method (x-amazon-apigateway-any-method is
//     ANY, the path $default the $default route) whose
//     x-amazon-apigateway-integration is a Lambda proxy (aws_proxy) of
//     payload format 2.0 routes to the function in its uri
//     (arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<function
//     ARN>/invocations); Target makes a quick-create API. Other
//     integrations, payload format 1.0 and WebSocket APIs fail the
//     resource; authorizers, CORS and the like are accepted and not
//     applied. Ref is its 10-character ID, GetAtt ApiEndpoint
//     https://<id>.execute-api.<region>.amazonaws.com (see below).
//   - AWS::ApiGatewayV2::Stage: deploys its API: $default at the root, a
//     named stage under /<name>. An API serves nothing until it has a
//     stage; with several, $default or else the first by name.
//   - AWS::ApiGateway::RestApi, a REST API (SAM's Api events, its implicit
//     ServerlessRestApi and AWS::Serverless::Api): served by package
//     internal/local/restapi on its own loopback port with the methods of
//     its Body (or BodyS3Location), the Swagger or OpenAPI document SAM
//     writes (Lambda proxy and static mock integrations, what SAM's Cors
//     writes), and of its AWS::ApiGateway::Resource and
//     AWS::ApiGateway::Method resources (Integration.Type AWS_PROXY or
//     MOCK, whose default IntegrationResponse is the answer); its
//     BinaryMediaTypes (~1 for /, as SAM writes them) and the body's
//     x-amazon-apigateway-binary-media-types. Other integrations and
//     CloneFrom fail the resource. Ref is its 10-character ID, GetAtt
//     RootResourceId the ID of its root resource. Until it has a stage it
//     answers 403 Missing Authentication Token.
//   - AWS::ApiGateway::Stage serves the API under /<StageName> with its
//     Variables; AWS::ApiGateway::Deployment needs a method (as on AWS:
//     "The REST API doesn't contain any methods"), and its StageName makes
//     that stage (SAM's Stage stage), with StageDescription.Variables.
//     Every stage serves the API as it is now, not the deployment it
//     names. The body's Lambda authorizers (SAM's Auth) run, as package
//     restapi says. AWS::ApiGateway::Authorizer, ApiKey, UsagePlan,
//     UsagePlanKey, RequestValidator, GatewayResponse and Account are
//     recorded: those authorizers, API keys, usage plans, request
//     validation and gateway responses are not applied.
//   - AWS::Lambda::Url, a function URL (SAM's FunctionUrlConfig): served by
//     package internal/local/httpapi (FunctionURL) on its own loopback
//     port, every method and path to TargetFunctionArn (with its
//     Qualifier); Ref and GetAtt FunctionArn are the function's (or
//     alias's) ARN, GetAtt FunctionUrl
//     https://<id>.lambda-url.<region>.on.aws/ (see below). Each request
//     is let through only as Lambda decides by the URL's AuthType
//     (Options.FunctionURLs, else Options.IAM: IAM's FunctionURL, one
//     pass that authenticates an AWS_IAM URL's caller from a verified
//     signature in every mode, then authorizes as the mode says), else
//     it is answered 403 Forbidden; with neither, an AWS_IAM URL refuses
//     every request. Cors is not applied. An update keeps the port; a
//     delete forgets the URL.
//   - AWS::StepFunctions::StateMachine: created through the Step Functions
//     API at Options.StepFunctionsEndpoint from Definition,
//     DefinitionString or DefinitionS3Location, with
//     DefinitionSubstitutions; RoleArn recorded, logging and tracing
//     accepted.
//   - AWS::DynamoDB::Table (key schema, indexes, billing, streams, TTL
//     applied; other settings accepted, and updates other than
//     replacements only recorded).
//   - AWS::S3::Bucket (named like CloudFormation's <stack>-<logical>-<random>,
//     in lower case, when BucketName is not given; versioning and
//     NotificationConfiguration's LambdaConfigurations applied, other
//     settings accepted), AWS::S3::BucketPolicy.
//   - Event sources (events.go, res_sqs.go, res_sns.go,
//     res_eventsourcemapping.go, res_eventbridge.go, res_scheduler.go),
//     held in kumo and run by package internal/local/events, whose Service
//     lives as long as the engine (Close stops every source):
//     AWS::SQS::Queue (Ref its URL at the local SQS, the engine's AWS
//     endpoint then /<account>/<name>: see Differences from AWS;
//     RedrivePolicy, FIFO and the other attributes applied, an update
//     setting them again) and AWS::SQS::QueuePolicy;
//     AWS::SNS::Topic (Ref its ARN; inline Subscription too),
//     AWS::SNS::Subscription (a function's, Protocol lambda, delivered by
//     the event sources; others by kumo; filter policies updated in place)
//     and AWS::SNS::TopicPolicy; AWS::Lambda::EventSourceMapping (SQS
//     queues and DynamoDB streams; Enabled, BatchSize,
//     MaximumBatchingWindowInSeconds, FunctionResponseTypes,
//     StartingPosition and FilterCriteria applied, the retry, destination
//     and scaling settings accepted and not applied); AWS::Events::Rule
//     (EventPattern, ScheduleExpression, State, EventBusName, Targets with
//     Input, InputPath or InputTransformer; Ref its name, or <bus>|<name>
//     on a bus of the app's) and AWS::Events::EventBus;
//     AWS::Scheduler::Schedule and AWS::Scheduler::ScheduleGroup. Named
//     ones whose name is taken fail with CloudFormation's "already
//     exists". A function that a source targets through a version's or an
//     alias's ARN this engine published (SAM's AutoPublishAlias) is
//     invoked, and recorded in kumo, by its unqualified ARN (invokeARN).
//     FireSchedule fires a scheduled rule or a schedule now; the Handler
//     serves it at FirePath, and FireRemote calls it there.
//   - AWS::SecretsManager::Secret (SecretString or GenerateSecretString),
//     AWS::SSM::Parameter.
//   - What DeploymentPreference makes (codedeploy.go): an
//     AWS::Lambda::Alias whose UpdatePolicy is CodeDeployLambdaAliasUpdate
//     moves to a new version through a CodeDeploy deployment of its
//     AWS::CodeDeploy::DeploymentGroup (of an AWS::CodeDeploy::Application,
//     both records): its BeforeAllowTrafficHook (PreTraffic) is invoked with
//     {"DeploymentId", "LifecycleEventHookExecutionId"} and reports through
//     codedeploy:PutLifecycleEventHookExecutionStatus, which Handler
//     answers; then all traffic moves at once (the group's
//     DeploymentConfigName, canary or linear, is not followed); then the
//     AfterAllowTrafficHook (PostTraffic) likewise. A hook that reports
//     Failed, fails or returns without reporting fails the alias's update,
//     and the stack rolls back with the alias on its old version. The
//     alias's UPDATE_IN_PROGRESS events and Options.Log say each step; the
//     group's alarms are recorded, not watched. A create, and a rollback,
//     run no hook.
//   - Recorded only, with physical IDs and ARNs shaped like AWS's:
//     AWS::IAM::Role, AWS::IAM::Policy, AWS::IAM::ManagedPolicy (the local
//     IAM reads them: Options.IAM), AWS::Logs::LogGroup,
//     AWS::CloudWatch::Alarm (not watched: nothing local keeps metrics) and
//     AWS::Lambda::Permission.
//
// Options.EventLog receives a JSON line per event delivered and per
// failure; Options.EventClock is the time schedules keep.
//
// Any other type fails its resource with "Resource type X is not supported
// by stackflow's local engine", which rolls the stack back: that is how a
// user sees what a local run cannot do.
//
// # What is not rehearsed
//
// Each type's entry in the engine's table also says which properties it
// refuses (the engine fails a resource that gives one) and which it
// accepts without applying them, and whether it is only recorded.
// Supported, Unrehearsed and Translate read that same table for `stackflow
// plan`: Translate makes a template plain CloudFormation with SAM's
// translator as a change set would, and Unrehearsed lists what of it a
// local run fails on or runs differently from AWS.
//
// # Differences from AWS
//
//   - An API's https://<id>.execute-api.<region>.amazonaws.com URL (HTTP
//     and REST APIs) and a function URL's
//     https://<id>.lambda-url.<region>.on.aws cannot be reached locally:
//     wherever a resolved value (outputs, properties such as environment
//     variables, Fn::Sub results) holds one of a local API or URL, it is
//     replaced by its http://127.0.0.1:<port>.
//   - A queue's URL (its Ref) is the local SQS's, not
//     https://sqs.<region>.amazonaws.com/<account>/<name>: the AWS SDK for
//     JavaScript sends SQS requests to the QueueUrl's host, whatever
//     endpoint it is given, so AWS's URL would leave the machine.
//   - Functions' ARNs are the ones kumo's Lambda makes (its region and
//     account), so that invoking them by ARN works.
//   - SAM's translator looks AWS managed policies up in the map it bundles
//     rather than asking IAM: a name that map does not know stays as it is.
//   - A function runs one version, its current code: versions and aliases
//     are records, and invoking one through kumo's Lambda API with a
//     Qualifier is refused by kumo (the engine's own routes map them).
//   - Dynamic references: the local Parameter Store keeps only a
//     parameter's latest version, so a reference to an older version fails
//     as a missing one does; an update resolves the references of the
//     resources it changes (and outputs), where CloudFormation resolves
//     every ssm reference of the stack on each update.
//   - IAM is Options.IAM's business (the local IAM of internal/local/iam):
//     it learns of the roles and policies stacks make, gives functions their
//     roles' credentials, and its proxy in front of the local AWS enforces
//     them; the engine itself checks only a stack's service role, on each
//     resource's create, update and delete (see above). Rules are not evaluated, and
//     Fn::ImportValue,
//     Fn::Cidr, nested stacks, macros other than the SAM transform, and
//     IMPORT change sets are not supported. State lives in memory.
package cfn
