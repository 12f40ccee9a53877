// Package events makes the event sources of `stackflow local` fire, each
// through the real protocol, for Lambda functions that internal/local/lambda
// runs in kumo: SQS and DynamoDB stream event source mappings, SNS
// subscriptions, S3 notifications, EventBridge rules and EventBridge
// Scheduler schedules. A Service records each source in kumo through the
// AWS APIs, so the APIs list it, and runs it; the local CloudFormation
// engine (internal/local/cfn) calls it for AWS::Lambda::EventSourceMapping,
// AWS::SNS::Subscription (and a topic's inline ones), AWS::Events::Rule,
// AWS::Scheduler::Schedule and a bucket's NotificationConfiguration, one
// Service per engine.
//
// What kumo (v0.33.1, in process) does, and what this package adds:
//
//   - Event source mappings: kumo's Lambda records them (UUID, BatchSize,
//     MaximumBatchingWindowInSeconds, Enabled; not FunctionResponseTypes or
//     StartingPosition) and polls nothing. PutMapping records one there and
//     polls its source. SQS: ReceiveMessage long polls (up to 20 s), batches
//     of BatchSize gathered for up to MaximumBatchingWindow on the clock,
//     one synchronous Invoke per batch with the events.SQSEvent Lambda
//     sends; the batch deleted on success; nothing deleted on a function
//     error, so the messages come back after the queue's visibility timeout
//     and, past maxReceiveCount, kumo itself moves them to the RedrivePolicy's
//     dead-letter queue; with ReportBatchItemFailures all but the reported
//     messages deleted (a response naming no message of the batch fails the
//     whole batch, as on Lambda). kumo keeps FIFO message groups locked
//     while a message of the group is in flight, and each mapping delivers
//     one batch at a time, so order holds per group. Lambda's refusals are
//     kept: a queue visibility timeout shorter than the function's timeout,
//     BatchSize over 10 without a batching window, over 10 on FIFO queues.
//     DynamoDB streams: kumo's DynamoDB writes stream records for tables
//     with a StreamSpecification and serves the DynamoDB Streams API;
//     PutMapping reads each shard from StartingPosition (GetShardIterator,
//     GetRecords, about four times a second) and invokes the function with
//     the events.DynamoDBEvent Lambda sends, retrying a failed batch until
//     it succeeds. Mapping.Filters (FilterCriteria) are applied as Lambda's
//     event filtering applies them (pattern.go, filter.go): each record is
//     matched as the function would get it, an SQS message's body as the
//     JSON it holds when it holds a JSON object or list, else as a string;
//     an SQS message no filter matches is deleted without an invocation, a
//     stream record skipped.
//   - SNS: kumo delivers to sqs-protocol subscriptions in process, with
//     filter policies on message attributes (exact strings, prefix,
//     anything-but, exists). Its lambda-protocol delivery posts to
//     http://localhost:4566, whatever port kumo serves on, and so never
//     reaches an in-process kumo (and would reach whatever else listens
//     there). So Subscribe makes, in kumo, an sqs-protocol subscription to
//     a bridge queue of its own, and delivers each message to the function
//     as the events.SNSEvent Lambda gets from SNS. SubscribeQueue bridges
//     a queue's subscription the same way, so that each message kumo
//     shapes for it is sent on only when the queue's policy lets SNS.
//   - S3: kumo writes S3 events to QueueConfigurations in process, with
//     event-type and prefix/suffix filters; its LambdaConfigurations path
//     posts to localhost:4566 like SNS's. So PutBucketNotification puts a
//     QueueConfiguration to a bridge queue for each Lambda notification and
//     delivers the events.S3Event to the function.
//   - EventBridge: kumo matches PutEvents against its rules' EventPattern
//     (source, detail-type and detail, with prefix, suffix, anything-but,
//     numeric, exists and equals-ignore-case) and records each match, but
//     delivers Lambda and SQS targets to localhost:4566. The service reads
//     kumo's record of matches (GET /kumo/eventbridge/delivered-events,
//     every 100 ms) and delivers each new one with EventBridge's envelope
//     and the target's Input, InputPath or InputTransformer (JSONPaths $,
//     $.a.b and $.a[0].b; the reserved <aws.events.rule-arn>,
//     <aws.events.rule-name> and <aws.events.event>). kumo never fires a
//     ScheduleExpression; the service fires rate and cron rules on its
//     clock with the "Scheduled Event" EventBridge sends.
//   - EventBridge Scheduler: kumo records schedules and fires none. The
//     service fires rate, cron and at schedules on its clock, in
//     ScheduleExpressionTimezone (a cron time that a daylight-saving change
//     skips is skipped, one it repeats runs once, a day of a rate is 24
//     hours, as the Scheduler does), between StartDate and EndDate, with the
//     target's Input and its context attributes (<aws.scheduler.schedule-arn>,
//     <aws.scheduler.scheduled-time>, <aws.scheduler.execution-id>,
//     <aws.scheduler.attempt-number>). Fire fires one now, whatever its
//     State, and returns the function's error.
//
// With Options.Authorize (the local IAM, wired by internal/local/cfn),
// each delivery is decided as AWS decides it before it is made: an
// EventBridge rule's, SNS's and S3's invocations of a function by the
// function's permissions for events.amazonaws.com, sns.amazonaws.com and
// s3.amazonaws.com with the rule's, topic's or bucket's ARN as
// aws:SourceArn, a rule's SendMessage and Publish by the queue's and
// topic's policies, SNS's SendMessage to a queue subscribed to a topic
// (SubscribeQueue) by the queue's policy with the topic as aws:SourceArn,
// and a schedule's invocation as its RoleArn (which must trust
// scheduler.amazonaws.com and allow the action). A denied delivery is
// dropped, as AWS drops it, with a "delivery dropped: not authorized"
// warning line naming the denial (and, for a queue subscription, the
// statement its policy misses); the SNS-to-SQS subscriptions kumo makes
// itself (a function's sns:Subscribe at run time) are delivered inside
// kumo, and not decided.
//
// Deliveries that Lambda makes asynchronously (SNS, S3, EventBridge,
// Scheduler) are retried twice on a function error, a minute and then two
// minutes later on the clock. Rules and schedules deliver to functions,
// queues (SendMessage) and topics (Publish); other targets are logged as
// not rehearsed. Every delivery and every failure, with the function's
// error type, is a JSON line on Options.Log.
//
// The cron parser (ParseCron, ParseSchedule) is the package's own: AWS's
// dialect (six fields with a year, day-of-week 1 for Sunday, ? L W #) is
// not Unix cron's, and winebarrel/cronplan, the Go library that reads it,
// is not served by this machine's Go proxy.
//
// Time: schedules, batching windows and retry delays wait on Options.Clock,
// which tests replace with a FakeClock; the polls of kumo (long polls,
// visibility timeouts, the 100 ms and 250 ms polls) are real time, as
// kumo's own timeouts are.
//
// What differs from AWS:
//
//   - An SNS subscription to a function, and a bucket's Lambda
//     notifications, are listed in kumo as sqs-protocol subscriptions and
//     QueueConfigurations to queues named stackflow-sns-... and
//     stackflow-s3-...; SNS message attributes of type Binary reach the
//     function without their value (kumo's envelope drops it);
//     FilterPolicyScope MessageBody is refused, numeric filter conditions
//     are not applied.
//   - S3 sends only ObjectCreated events (Put, Copy, Post,
//     CompleteMultipartUpload): kumo emits no ObjectRemoved or others.
//   - An EventBridge event delivered locally has empty resources (kumo's
//     record of a match keeps no resources) and the time of the PutEvents
//     entry or of the delivery. kumo matches on source, detail-type and
//     detail only; the service then checks each of kumo's matches against
//     the rule's whole pattern (Pattern: account, region, time, $or,
//     wildcard, numeric and the rest of EventBridge's grammar), leaving out
//     resources, so a rule matches what it matches on AWS, except that a
//     pattern on resources is not applied and operators kumo does not know
//     (wildcard, $or, ...) in source, detail-type or detail never match.
//     More than 1,000 matches between two reads of kumo's record
//     would lose the oldest. kumo still tries its own delivery to
//     localhost:4566 and logs the failure to standard output.
//   - A flexible time window fires at its start; schedules and rules have
//     no retry policy or dead-letter queue of their own beyond Lambda's two
//     retries; a DynamoDB stream mapping reads the shards its stream had
//     when it started and has no bisection, maximum retries or record age.
//   - Batches are not limited to Lambda's 6 MB payload.
package events
