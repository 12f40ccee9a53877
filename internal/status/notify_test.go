package status

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/testaws"
)

// subscribedQueue makes an SNS topic whose messages land in an SQS queue,
// as an email or chat subscription would get them.
func subscribedQueue(t *testing.T) (topicARN string, read func() []string) {
	t.Helper()
	cfg := testaws.Start(t)
	ctx := context.Background()
	topics, queues := sns.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	topic, err := topics.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(testaws.Name("stackflow-runs"))})
	if err != nil {
		t.Fatal(err)
	}
	q, err := queues.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(testaws.Name("inbox"))})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := queues.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := topics.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(attrs.Attributes["QueueArn"])}); err != nil {
		t.Fatal(err)
	}
	return aws.ToString(topic.TopicArn), func() []string {
		out, err := queues.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		var msgs []string
		for _, m := range out.Messages {
			// An SQS subscription gets SNS's JSON envelope.
			var env struct{ Subject, Message string }
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &env); err != nil {
				t.Fatalf("message %s: %v", aws.ToString(m.Body), err)
			}
			msgs = append(msgs, env.Subject+"\n"+env.Message)
		}
		return msgs
	}
}

func TestNotifiesTheTopicWhenARunEnds(t *testing.T) {
	t.Parallel()
	h := setup(t, testToken)
	topic, read := subscribedQueue(t)
	svc := h.service(t, func(c *Config) {
		c.TopicARN = topic
		c.SNS = sns.NewFromConfig(testaws.Start(t))
	})
	ctx := context.Background()
	for _, in := range []pipeline.StatusInput{input(pipeline.StateInProgress), input(pipeline.StateFailed)} {
		if in.State == pipeline.StateFailed {
			in.Error = &pipeline.StateError{Error: "ChecksFailed", Cause: `{"errorMessage":"check \"go test ./...\" failed","errorType":"ChecksFailed"}`}
		}
		if _, err := svc.Handle(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	msgs := read()
	if len(msgs) != 1 {
		t.Fatalf("got %d messages %q, want one: only the end of the run", len(msgs), msgs)
	}
	for _, want := range []string{"stackflow FAILED: acme/hello main at ", "ChecksFailed", "console.aws.amazon.com"} {
		if !strings.Contains(msgs[0], want) {
			t.Errorf("message %q: want it to contain %q", msgs[0], want)
		}
	}
	if strings.Contains(msgs[0], testToken) {
		t.Errorf("the message holds the token")
	}

	// A status that asks to notify (a run waiting for approval) does,
	// with every change the deploy will make and how to answer.
	wait := input(pipeline.StateInProgress)
	wait.Notify = true
	wait.Awaiting = &pipeline.AwaitingApproval{Environment: "prod", Changes: []string{
		"Add Table (AWS::DynamoDB::Table)", "Modify Api (AWS::ApiGatewayV2::Api) (replacement: True)", "Remove Old (AWS::SNS::Topic)"}}
	res, err := svc.Handle(ctx, wait)
	if err != nil {
		t.Fatal(err)
	}
	wantLine := "prod awaits approval: 1 to add, 0 to modify, 1 to replace, 1 to remove (stackflow approve " + pipeline.ExecutionNameOf(wait.Execution) + ")"
	if res.Description != wantLine {
		t.Errorf("got description %q, want %q", res.Description, wantLine)
	}
	msgs = read()
	if len(msgs) != 1 {
		t.Fatalf("got %q, want one message about the approval", msgs)
	}
	for _, want := range []string{wantLine, "  Add Table (AWS::DynamoDB::Table)\n", "  Remove Old (AWS::SNS::Topic)\n", "stackflow reject " + pipeline.ExecutionNameOf(wait.Execution) + " --reason TEXT"} {
		if !strings.Contains(msgs[0], want) {
			t.Errorf("message %q: want it to contain %q", msgs[0], want)
		}
	}
}

func TestANotificationThatFailsDoesNotFailTheStatus(t *testing.T) {
	t.Parallel()
	h := setup(t, testToken)
	svc := h.service(t, func(c *Config) {
		c.TopicARN = "arn:aws:sns:us-east-1:000000000000:no-such-topic"
		c.SNS = sns.NewFromConfig(testaws.Start(t))
	})
	if _, err := svc.Handle(context.Background(), input(pipeline.StateSuccessful)); err != nil {
		t.Fatalf("got %v, want the status posted although the topic does not exist", err)
	}
	if got := h.bb.seen(); len(got) != 1 {
		t.Errorf("got %d statuses posted, want 1", len(got))
	}
	h.logsMu.Lock()
	defer h.logsMu.Unlock()
	logged := false
	for _, line := range strings.Split(h.logs.String(), "\n") {
		if strings.Contains(line, `"msg":"notify"`) && strings.Contains(line, `"level":"ERROR"`) && strings.Contains(line, "no-such-topic") {
			logged = true
		}
	}
	if !logged {
		t.Errorf("the failed notification is not logged as an error:\n%s", h.logs)
	}
}
