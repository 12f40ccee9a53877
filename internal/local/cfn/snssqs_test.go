package cfn

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	localiam "github.com/stackflow/stackflow/internal/local/iam"
)

// topicToQueueApp is a topic, a queue subscribed to it with raw delivery,
// and POLICY, where a test puts the queue's policy or nothing.
const topicToQueueApp = `
Resources:
  News: {Type: AWS::SNS::Topic}
  Jobs: {Type: AWS::SQS::Queue}
  JobsFromNews:
    Type: AWS::SNS::Subscription
    Properties: {TopicArn: !Ref News, Protocol: sqs, Endpoint: !GetAtt Jobs.Arn, RawMessageDelivery: true}
POLICY
Outputs:
  Topic: {Value: !Ref News}
  Queue: {Value: !GetAtt Jobs.Arn}
  QueueUrl: {Value: !Ref Jobs}
`

// queuePolicyForNews is what SAM writes for an SNS event's SqsSubscription:
// SNS may send to the queue, from this topic.
const queuePolicyForNews = `  JobsPolicy:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref Jobs]
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: sns.amazonaws.com}
            Action: sqs:SendMessage
            Resource: !GetAtt Jobs.Arn
            Condition: {ArnEquals: {aws:SourceArn: !Ref News}}
`

// TestSNSDeliversToAQueueOnlyAsItsPolicyLets: with the local IAM, a
// topic's SQS subscription delivers only when the queue's policy lets
// sns.amazonaws.com sqs:SendMessage from the topic: without it the message
// is dropped, as AWS drops it, with a warning naming the topic, the queue
// and the statement missing; with the policy it arrives.
func TestSNSDeliversToAQueueOnlyAsItsPolicyLets(t *testing.T) {
	t.Parallel()
	log := &syncLog{}
	auth := localiam.NewAuthority(localiam.Options{Account: DefaultAccountID, Region: "us-east-1"})
	en := setupWith(t, func(o *Options) { o.IAM = auth; o.EventLog = log })
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("event log:\n%s", log.String())
		}
	})
	ctx := context.Background()
	st := en.deploy("news", "create", "CREATE", strings.Replace(topicToQueueApp, "POLICY\n", "", 1), nil)
	en.mustBe(st, cfntypes.StackStatusCreateComplete)
	out := outputsOf(st)
	snsc, sqsc := sns.NewFromConfig(en.cfg), sqs.NewFromConfig(en.cfg)
	publish := func(msg string) {
		t.Helper()
		if _, err := snsc.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(out["Topic"]), Message: aws.String(msg)}); err != nil {
			t.Fatal(err)
		}
	}

	publish("first")
	waitUntil(t, "the delivery to be dropped", func() bool {
		l := log.String()
		return strings.Contains(l, `"msg":"delivery dropped: not authorized"`) && strings.Contains(l, `"topic":"`+out["Topic"]+`"`) &&
			strings.Contains(l, `"queue":"`+out["Queue"]+`"`) &&
			strings.Contains(l, "User: sns.amazonaws.com is not authorized to perform: sqs:SendMessage on resource: "+out["Queue"]) &&
			strings.Contains(l, "allows sqs:SendMessage on "+out["Queue"]+" to the service principal sns.amazonaws.com with the condition ArnEquals aws:SourceArn "+out["Topic"])
	})
	if got, err := sqsc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(out["QueueUrl"])}); err != nil || len(got.Messages) != 0 {
		t.Fatalf("without the queue's policy: got %v %v in the queue, want nothing", got, err)
	}

	st = en.deploy("news", "policy", "UPDATE", strings.Replace(topicToQueueApp, "POLICY\n", queuePolicyForNews, 1), nil)
	en.mustBe(st, cfntypes.StackStatusUpdateComplete)
	publish("second")
	var bodies []string
	waitUntil(t, "the message in the queue", func() bool {
		got, err := sqsc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(out["QueueUrl"]), WaitTimeSeconds: 1, MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range got.Messages {
			bodies = append(bodies, aws.ToString(m.Body))
		}
		return len(bodies) > 0
	})
	if len(bodies) != 1 || bodies[0] != "second" {
		t.Errorf("with the queue's policy: got %q in the queue, want the raw message \"second\" only", bodies)
	}
}

// samQueueSubscription is a SAM function whose SNS event subscribes it
// through a queue (SqsSubscription): SAM writes the queue, its policy for
// the topic, the subscription and the queue's event source mapping.
const samQueueSubscription = `
Transform: AWS::Serverless-2016-10-31
Parameters:
  RecordFile: {Type: String}
Resources:
  Topic: {Type: AWS::SNS::Topic}
  Recorder:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: CODE
      Runtime: provided.al2023
      Handler: bootstrap
      Environment: {Variables: {RECORD_FILE: !Ref RecordFile}}
      Events:
        News: {Type: SNS, Properties: {Topic: !Ref Topic, SqsSubscription: true}}
Outputs:
  TopicArn: {Value: !Ref Topic}
`

// TestSAMsSqsSubscriptionDeliversThroughItsQueuePolicy: with the local
// IAM, a SAM function's SNS event with SqsSubscription gets each message
// through its queue: the AWS::SQS::QueuePolicy SAM writes lets SNS send
// it there.
func TestSAMsSqsSubscriptionDeliversThroughItsQueuePolicy(t *testing.T) {
	t.Parallel()
	log := &syncLog{}
	auth := localiam.NewAuthority(localiam.Options{Account: DefaultAccountID, Region: "us-east-1"})
	en := setupWith(t, func(o *Options) { o.IAM = auth; o.EventLog = log })
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("event log:\n%s", log.String())
		}
	})
	record := filepath.Join(t.TempDir(), "events.jsonl")
	template := strings.Replace(samQueueSubscription, "CODE", en.put("code/queue-recorder.zip", handlerZip["recorder"]), 1)
	st := en.deploy("queued", "create", "CREATE", template, map[string]string{"RecordFile": record}, iam...)
	en.mustBe(st, cfntypes.StackStatusCreateComplete)
	if _, err := sns.NewFromConfig(en.cfg).Publish(context.Background(), &sns.PublishInput{TopicArn: aws.String(outputsOf(st)["TopicArn"]), Message: aws.String("queued-news")}); err != nil {
		t.Fatal(err)
	}
	waitRecorded(t, record, `"eventSource":"aws:sqs"`, "queued-news")
	if strings.Contains(log.String(), "delivery dropped") {
		t.Errorf("a delivery was dropped: %s", log.String())
	}
}
