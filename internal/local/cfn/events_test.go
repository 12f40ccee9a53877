//go:build unix

package cfn

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/stackflow/stackflow/internal/local/events"
	"github.com/stackflow/stackflow/internal/testaws"
)

// eventsApp is a SAM app whose function (published with AutoPublishAlias,
// so every event source targets the alias) has an event of each type SAM
// turns into an event source. Its parameters Enabled and RuleState switch
// the queue's mapping and the orders rule.
const eventsApp = `
Transform: AWS::Serverless-2016-10-31
Parameters:
  RecordFile: {Type: String}
  Suffix: {Type: String}
  Enabled: {Type: String, AllowedValues: ["true", "false"]}
  RuleState: {Type: String, AllowedValues: [ENABLED, DISABLED]}
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 20
      RedrivePolicy: {deadLetterTargetArn: !GetAtt DeadLetters.Arn, maxReceiveCount: 2}
  DeadLetters:
    Type: AWS::SQS::Queue
  Topic:
    Type: AWS::SNS::Topic
  Uploads:
    Type: AWS::S3::Bucket
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      StreamSpecification: {StreamViewType: NEW_IMAGE}
  Recorder:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: CODE
      Runtime: provided.al2023
      Handler: bootstrap
      AutoPublishAlias: live
      Environment: {Variables: {RECORD_FILE: !Ref RecordFile}}
      Events:
        Work: {Type: SQS, Properties: {Queue: !GetAtt Queue.Arn, BatchSize: 5, Enabled: !Ref Enabled}}
        News: {Type: SNS, Properties: {Topic: !Ref Topic}}
        Hourly: {Type: Schedule, Properties: {Schedule: rate(1 hour), Input: '{"from":"rule"}'}}
        Nightly: {Type: ScheduleV2, Properties: {Name: !Sub "nightly-${Suffix}", ScheduleExpression: 'cron(0 3 * * ? *)', Input: '{"from":"scheduler"}'}}
        Orders: {Type: EventBridgeRule, Properties: {Pattern: {source: [!Sub "shop.${Suffix}"]}, InputPath: $.detail, State: !Ref RuleState}}
        Upload: {Type: S3, Properties: {Bucket: !Ref Uploads, Events: 's3:ObjectCreated:*', Filter: {S3Key: {Rules: [{Name: prefix, Value: in/}]}}}}
        Changes: {Type: DynamoDB, Properties: {Stream: !GetAtt Table.StreamArn, StartingPosition: TRIM_HORIZON, BatchSize: 10}}
Outputs:
  QueueUrl: {Value: !Ref Queue}
  TopicArn: {Value: !Ref Topic}
  Bucket: {Value: !Ref Uploads}
  Table: {Value: !Ref Table}
  Alias: {Value: !Ref RecorderAliaslive}
`

// recordedEvents reads the events the recorder function appended to file.
func recordedEvents(t *testing.T, file string) []string {
	t.Helper()
	f, err := os.Open(file)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			out = append(out, string(line))
		}
	}
	return out
}

// waitRecorded waits until an event the function recorded holds every one
// of parts, and returns it.
func waitRecorded(t *testing.T, file string, parts ...string) string {
	t.Helper()
	var found string
	waitUntil(t, "an event holding "+strings.Join(parts, " and "), func() bool {
		for _, line := range recordedEvents(t, file) {
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(line, p)
			}
			if ok {
				found = line
				return true
			}
		}
		return false
	})
	return found
}

// waitUntil polls cond until it holds, for at most 30 seconds.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

// syncLog is the engine's event log, read while it is written.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestSAMEventSourcesDeliverToTheirFunctionUntilChangedOrDeleted(t *testing.T) {
	t.Parallel()
	clock := events.NewFakeClock(time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC))
	log := &syncLog{}
	en := setupWith(t, func(o *Options) { o.EventClock = clock; o.EventLog = log })
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("event log:\n%s", log.String())
		}
	})
	ctx := context.Background()
	suffix := strings.TrimPrefix(testaws.Name("s"), "s-")
	record := filepath.Join(t.TempDir(), "events.jsonl")
	params := func(enabled, state string) map[string]string {
		return map[string]string{"RecordFile": record, "Suffix": suffix, "Enabled": enabled, "RuleState": state}
	}
	template := strings.Replace(eventsApp, "CODE", en.put("code/recorder.zip", handlerZip["recorder"]), 1)
	stack := "events-" + suffix
	st := en.deploy(stack, "create", "CREATE", template, params("true", "ENABLED"), iam...)
	if st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("got %s (%s), want CREATE_COMPLETE", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	out := outputsOf(st)
	// The queue's Ref is its URL in the local SQS: the SDK for JavaScript
	// sends to the QueueUrl's host.
	if want := aws.ToString(en.cfg.BaseEndpoint) + "/000000000000/" + stack + "-Queue-"; !strings.HasPrefix(out["QueueUrl"], want) {
		t.Errorf("got the queue's Ref %q, want the local SQS's %s...", out["QueueUrl"], want)
	}

	// A message sent to the queue's URL, as a function would send it.
	sqsc := sqs.NewFromConfig(en.cfg)
	if _, err := sqsc.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(out["QueueUrl"]), MessageBody: aws.String("job-1")}); err != nil {
		t.Fatal(err)
	}
	waitRecorded(t, record, `"eventSource":"aws:sqs"`, `"body":"job-1"`)

	// A message published to the topic.
	if _, err := sns.NewFromConfig(en.cfg).Publish(ctx, &sns.PublishInput{TopicArn: aws.String(out["TopicArn"]), Message: aws.String("news-1")}); err != nil {
		t.Fatal(err)
	}
	waitRecorded(t, record, `"EventSource":"aws:sns"`, `"Message":"news-1"`)

	// An event on the default bus that the rule's pattern matches: the
	// target gets its detail (InputPath).
	eb := eventbridge.NewFromConfig(en.cfg)
	putOrder := func(id string) {
		t.Helper()
		res, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
			Source: aws.String("shop." + suffix), DetailType: aws.String("order"), Detail: aws.String(`{"order":"` + id + `"}`),
		}}})
		if err != nil || res.FailedEntryCount > 0 {
			t.Fatalf("put events: %v %+v", err, res)
		}
	}
	putOrder("o-1")
	if got := waitRecorded(t, record, `"order":"o-1"`); got != `{"order":"o-1"}` {
		t.Errorf("got %s, want the event's detail alone (InputPath $.detail)", got)
	}

	// An object put under the notification's prefix.
	if _, err := en.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(out["Bucket"]), Key: aws.String("in/photo.jpg"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	waitRecorded(t, record, `"eventSource":"aws:s3"`, `"key":"in/photo.jpg"`, `"eventName":"ObjectCreated:Put"`)

	// An item written to the table, through its stream.
	if _, err := dynamodb.NewFromConfig(en.cfg).PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(out["Table"]), Item: map[string]ddbtypes.AttributeValue{"id": &ddbtypes.AttributeValueMemberS{Value: "item-1"}},
	}); err != nil {
		t.Fatal(err)
	}
	waitRecorded(t, record, `"eventSource":"aws:dynamodb"`, `"eventName":"INSERT"`, `"item-1"`)

	// Both schedules fired now, on request, then on their clock.
	before := len(recordedEvents(t, record))
	for _, logical := range []string{"RecorderHourly", "RecorderNightly"} {
		if _, err := en.engine.FireSchedule(ctx, stack, logical); err != nil {
			t.Fatalf("fire %s: %v", logical, err)
		}
	}
	waitUntil(t, "both schedules' events", func() bool {
		var rule, sched int
		for _, line := range recordedEvents(t, record)[before:] {
			rule += strings.Count(line, `{"from":"rule"}`)
			sched += strings.Count(line, `{"from":"scheduler"}`)
		}
		return rule == 1 && sched == 1
	})
	before = len(recordedEvents(t, record))
	clock.Set(time.Date(2030, 1, 2, 3, 0, 0, 0, time.UTC)) // past the next hour and 03:00
	waitUntil(t, "the schedules firing on their clock", func() bool {
		lines := strings.Join(recordedEvents(t, record)[before:], "\n")
		return strings.Contains(lines, `{"from":"rule"}`) && strings.Contains(lines, `{"from":"scheduler"}`)
	})
	if _, err := en.engine.FireSchedule(ctx, stack, "RecorderOrders"); err == nil || !strings.Contains(err.Error(), "EventPattern") {
		t.Errorf("firing a pattern rule: got %v, want a refusal that names its EventPattern", err)
	}

	// Every source targets the alias; each event reached the function.
	running := en.engine.ev.svc.Running()
	for _, prefix := range []string{"sqs:", "streams:", "sns:", "s3:" + out["Bucket"], "rule:default/", "schedule:default/nightly-" + suffix} {
		if !slices.ContainsFunc(running, func(k string) bool { return strings.HasPrefix(k, prefix) }) {
			t.Errorf("got sources %q running, want one %s...", running, prefix)
		}
	}

	// The update disables the queue's mapping and the rule: a message then
	// stays in the queue, and the rule is DISABLED in EventBridge.
	st = en.deploy(stack, "disable", "UPDATE", template, params("false", "DISABLED"), iam...)
	if st.StackStatus != cfntypes.StackStatusUpdateComplete {
		t.Fatalf("got %s (%s), want UPDATE_COMPLETE", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	if slices.ContainsFunc(en.engine.ev.svc.Running(), func(k string) bool { return strings.HasPrefix(k, "sqs:") }) {
		t.Error("the queue's mapping still polls after Enabled false")
	}
	if _, err := sqsc.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(out["QueueUrl"]), MessageBody: aws.String("job-2")}); err != nil {
		t.Fatal(err)
	}
	got, err := sqsc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(out["QueueUrl"]), WaitTimeSeconds: 1})
	if err != nil || len(got.Messages) != 1 || aws.ToString(got.Messages[0].Body) != "job-2" {
		t.Errorf("got %+v %v, want job-2 left in the queue", got, err)
	}
	maps, err := awslambda.NewFromConfig(en.cfg).ListEventSourceMappings(ctx, &awslambda.ListEventSourceMappingsInput{EventSourceArn: aws.String(queueARN(t, sqsc, out["QueueUrl"]))})
	if err != nil || len(maps.EventSourceMappings) != 1 || aws.ToString(maps.EventSourceMappings[0].State) != "Disabled" {
		t.Errorf("got mappings %+v %v, want one Disabled", maps, err)
	}
	rules, err := eb.ListRules(ctx, &eventbridge.ListRulesInput{NamePrefix: aws.String(stack + "-RecorderOrders")})
	if err != nil || len(rules.Rules) != 1 || rules.Rules[0].State != ebtypes.RuleStateDisabled {
		t.Errorf("got rules %+v %v, want the orders rule DISABLED", rules, err)
	}

	// The delete stops every source (the bucket must be empty, as on AWS).
	if _, err := en.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(out["Bucket"]), Key: aws.String("in/photo.jpg")}); err != nil {
		t.Fatal(err)
	}
	if _, err := en.cfn.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String(stack)}); err != nil {
		t.Fatal(err)
	}
	if st := en.waitStack(aws.ToString(st.StackId)); st.StackStatus != cfntypes.StackStatusDeleteComplete {
		t.Fatalf("got %s (%s), want DELETE_COMPLETE", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	if running := en.engine.ev.svc.Running(); len(running) != 0 {
		t.Errorf("got sources %q running after the delete, want none", running)
	}
	if _, err := scheduler.NewFromConfig(en.cfg).GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String("nightly-" + suffix)}); err == nil {
		t.Error("the schedule is still in the Scheduler after the delete")
	}
}

func queueARN(t *testing.T, c *sqs.Client, url string) string {
	t.Helper()
	a, err := c.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	return a.Attributes["QueueArn"]
}

// plainEvents uses the plain CloudFormation types of event sources, as
// apps write them without SAM: a FIFO queue and its policy, a topic with
// an inline subscription of a function, a filtered subscription of a
// queue, and its policy, a bus of the app's
// own with a rule, and a schedule in a group of its own.
const plainEvents = `
Parameters:
  RecordFile: {Type: String}
  Suffix: {Type: String}
  Filter: {Type: String}
  CodeBucket: {Type: String}
  CodeKey: {Type: String}
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]}
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Code: {S3Bucket: !Ref CodeBucket, S3Key: !Ref CodeKey}
      Runtime: provided.al2023
      Handler: bootstrap
      Role: !GetAtt Role.Arn
      Environment: {Variables: {RECORD_FILE: !Ref RecordFile}}
  Jobs:
    Type: AWS::SQS::Queue
    Properties: {FifoQueue: true, ContentBasedDeduplication: true}
  JobsPolicy:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref Jobs]
      PolicyDocument: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Service: sns.amazonaws.com}, Action: sqs:SendMessage, Resource: !GetAtt Jobs.Arn}]}
  Alerts:
    Type: AWS::SNS::Topic
    Properties:
      Subscription: [{Protocol: lambda, Endpoint: !GetAtt Fn.Arn}]
  AuditQueue:
    Type: AWS::SQS::Queue
  Audit:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref Alerts
      Protocol: sqs
      Endpoint: !GetAtt AuditQueue.Arn
      RawMessageDelivery: true
      FilterPolicy: {kind: [!Ref Filter]}
  AlertsPolicy:
    Type: AWS::SNS::TopicPolicy
    Properties:
      Topics: [!Ref Alerts]
      PolicyDocument: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Service: events.amazonaws.com}, Action: sns:Publish, Resource: !Ref Alerts}]}
  Bus:
    Type: AWS::Events::EventBus
    Properties: {Name: !Sub "shop-${Suffix}"}
  OnOrder:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !Ref Bus
      EventPattern: {source: [shop]}
      Targets:
        - Id: fn
          Arn: !GetAtt Fn.Arn
          InputTransformer: {InputPathsMap: {order: $.detail.order}, InputTemplate: '{"transformed": <order>}'}
  Group:
    Type: AWS::Scheduler::ScheduleGroup
  Weekly:
    Type: AWS::Scheduler::Schedule
    Properties:
      GroupName: !Ref Group
      ScheduleExpression: cron(0 9 ? * MON *)
      ScheduleExpressionTimezone: Europe/Paris
      FlexibleTimeWindow: {Mode: "OFF"}
      Target: {Arn: !GetAtt Fn.Arn, RoleArn: !GetAtt Role.Arn, Input: '{"weekly": "<aws.scheduler.schedule-arn>"}'}
Outputs:
  Jobs: {Value: !Ref Jobs}
  JobsName: {Value: !GetAtt Jobs.QueueName}
  Alerts: {Value: !Ref Alerts}
  Audit: {Value: !Ref Audit}
  AuditQueue: {Value: !Ref AuditQueue}
  Rule: {Value: !Ref OnOrder}
  Schedule: {Value: !GetAtt Weekly.Arn}
`

func TestPlainEventSourceTypes(t *testing.T) {
	t.Parallel()
	en := setup(t)
	ctx := context.Background()
	suffix := strings.TrimPrefix(testaws.Name("p"), "p-")
	record := filepath.Join(t.TempDir(), "events.jsonl")
	params := func(filter string) map[string]string {
		return map[string]string{"RecordFile": record, "Suffix": suffix, "Filter": filter, "CodeBucket": en.bucket, "CodeKey": "code/plain-recorder.zip"}
	}
	en.put("code/plain-recorder.zip", handlerZip["recorder"])
	body := plainEvents
	stack := "plain-events-" + suffix
	st := en.deploy(stack, "create", "CREATE", body, params("audit"), iam...)
	if st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("got %s (%s), want CREATE_COMPLETE", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	out := outputsOf(st)

	sqsc := sqs.NewFromConfig(en.cfg)
	if !strings.HasSuffix(out["Jobs"], "/"+out["JobsName"]) || !strings.HasSuffix(out["JobsName"], ".fifo") {
		t.Errorf("got the queue %q named %q, want a FIFO queue's name (.fifo) at the end of its URL", out["Jobs"], out["JobsName"])
	}
	attrs, err := sqsc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(out["Jobs"]), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
	if err != nil {
		t.Fatal(err)
	}
	if attrs.Attributes["FifoQueue"] != "true" || !strings.Contains(attrs.Attributes["Policy"], "sqs:SendMessage") {
		t.Errorf("got the queue's attributes %v, want a FIFO queue with the policy", attrs.Attributes)
	}

	// The inline subscription gets every message, the audit queue those
	// whose kind its filter policy names.
	snsc := sns.NewFromConfig(en.cfg)
	publish := func(msg, kind string) {
		t.Helper()
		_, err := snsc.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(out["Alerts"]), Message: aws.String(msg),
			MessageAttributes: map[string]snstypes.MessageAttributeValue{"kind": {DataType: aws.String("String"), StringValue: aws.String(kind)}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	publish("alert-1", "audit")
	publish("alert-2", "other")
	waitRecorded(t, record, `"Message":"alert-1"`)
	waitRecorded(t, record, `"Message":"alert-2"`)
	got, err := sqsc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(out["AuditQueue"]), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
	if err != nil || len(got.Messages) != 1 || aws.ToString(got.Messages[0].Body) != "alert-1" {
		t.Errorf("got %+v %v in the audit queue, want alert-1 alone, raw", got, err)
	}

	// The rule on the app's own bus: Ref is <bus>|<name>; the target gets
	// the transformed input.
	if bus, _, ok := strings.Cut(out["Rule"], "|"); !ok || bus != "shop-"+suffix {
		t.Errorf("got the rule's Ref %q, want shop-%s|<name>", out["Rule"], suffix)
	}
	res, err := eventbridge.NewFromConfig(en.cfg).PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		EventBusName: aws.String("shop-" + suffix), Source: aws.String("shop"), DetailType: aws.String("order"), Detail: aws.String(`{"order":"o-7"}`),
	}}})
	if err != nil || res.FailedEntryCount > 0 {
		t.Fatalf("put events: %v %+v", err, res)
	}
	waitRecorded(t, record, `{"transformed":"o-7"}`)

	// The schedule in its group, fired now through the engine's endpoint,
	// as `stackflow local fire` fires it.
	if what, err := FireRemote(ctx, http.DefaultClient, en.url, stack, "Weekly"); err != nil || !strings.HasPrefix(what, "schedule "+stack+"-Group-") {
		t.Fatalf("fire Weekly: got %q %v, want its schedule in the stack's group", what, err)
	}
	waitRecorded(t, record, `{"weekly":"`+out["Schedule"]+`"}`)
	for _, tt := range []struct{ stack, logical, want string }{
		{"no-such-stack", "Weekly", "no stack no-such-stack"},
		{stack, "Nothing", "has no resource Nothing"},
		{stack, "Fn", "is an AWS::Lambda::Function, not a schedule"},
	} {
		if _, err := FireRemote(ctx, http.DefaultClient, en.url, tt.stack, tt.logical); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("fire %s %s: got %v, want an error with %q", tt.stack, tt.logical, err, tt.want)
		}
	}

	// An update of the filter policy is applied in place.
	st = en.deploy(stack, "filter", "UPDATE", body, params("other"), iam...)
	if st.StackStatus != cfntypes.StackStatusUpdateComplete {
		t.Fatalf("got %s (%s), want UPDATE_COMPLETE", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	if got := outputsOf(st)["Audit"]; got != out["Audit"] {
		t.Errorf("got the subscription %s after the update, want it kept: %s", got, out["Audit"])
	}
	sa, err := snsc.GetSubscriptionAttributes(ctx, &sns.GetSubscriptionAttributesInput{SubscriptionArn: aws.String(out["Audit"])})
	if err != nil || !strings.Contains(sa.Attributes["FilterPolicy"], "other") {
		t.Errorf("got the subscription's attributes %v %v, want the filter policy on kind other", sa, err)
	}

	if _, err := en.cfn.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String(stack)}); err != nil {
		t.Fatal(err)
	}
	if st := en.waitStack(aws.ToString(st.StackId)); st.StackStatus != cfntypes.StackStatusDeleteComplete {
		t.Fatalf("got %s (%s), want DELETE_COMPLETE (%v)", st.StackStatus, aws.ToString(st.StackStatusReason), failures(en.events(stack)))
	}
	subs, err := snsc.ListSubscriptionsByTopic(ctx, &sns.ListSubscriptionsByTopicInput{TopicArn: aws.String(out["Alerts"])})
	if err == nil && len(subs.Subscriptions) > 0 {
		t.Errorf("got subscriptions %+v after the delete, want none", subs.Subscriptions)
	}
	if running := en.engine.ev.svc.Running(); len(running) != 0 {
		t.Errorf("got sources %q running after the delete, want none", running)
	}
}

// failures lists the reasons of events that failed.
func failures(evs []cfntypes.StackEvent) []string {
	var out []string
	for _, ev := range evs {
		if strings.HasSuffix(string(ev.ResourceStatus), "_FAILED") {
			out = append(out, aws.ToString(ev.LogicalResourceId)+": "+aws.ToString(ev.ResourceStatusReason))
		}
	}
	return out
}
