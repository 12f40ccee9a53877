//go:build unix

package events

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

func sendBatch(t *testing.T, c *sqs.Client, url string, bodies ...string) {
	t.Helper()
	entries := make([]sqstypes.SendMessageBatchRequestEntry, 0, len(bodies))
	for i, b := range bodies {
		entries = append(entries, sqstypes.SendMessageBatchRequestEntry{
			Id:          aws.String(fmt.Sprint(i)),
			MessageBody: aws.String(b),
			MessageAttributes: map[string]sqstypes.MessageAttributeValue{
				"kind": {DataType: aws.String("String"), StringValue: aws.String("test")},
			},
		})
	}
	out, err := c.SendMessageBatch(context.Background(), &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: entries})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Failed) > 0 {
		t.Fatalf("send: %s", aws.ToString(out.Failed[0].Message))
	}
}

func queueDepth(t *testing.T, c *sqs.Client, url string) int {
	t.Helper()
	out, err := c.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible},
	})
	if err != nil {
		t.Fatal(err)
	}
	var n, m int
	fmt.Sscan(out.Attributes["ApproximateNumberOfMessages"], &n)
	fmt.Sscan(out.Attributes["ApproximateNumberOfMessagesNotVisible"], &m)
	return n + m
}

func bodies(ev lambdaevents.SQSEvent) []string {
	var out []string
	for _, r := range ev.Records {
		out = append(out, r.Body)
	}
	slices.Sort(out)
	return out
}

func TestQueueMessagesReachTheFunctionInABatch(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	fn, record := e.function("worker", nil)
	url, arn := e.queue("jobs", map[string]string{"VisibilityTimeout": "30"})
	sendBatch(t, e.sqs, url, "one", "two", "three")
	if _, err := e.svc.PutMapping(context.Background(), Mapping{FunctionName: fn, EventSourceArn: arn}); err != nil {
		t.Fatal(err)
	}
	ev := decode[lambdaevents.SQSEvent](t, waitRecords(t, record, 1)[0])
	if got, want := bodies(ev), []string{"one", "three", "two"}; !slices.Equal(got, want) {
		t.Fatalf("got bodies %q in the first batch, want %q", got, want)
	}
	r := ev.Records[0]
	if r.EventSource != "aws:sqs" || r.EventSourceARN != arn || r.AWSRegion != "us-east-1" || r.MessageId == "" || r.ReceiptHandle == "" || r.Md5OfBody == "" {
		t.Errorf("got record %+v, want aws:sqs from %s in us-east-1 with its id, receipt handle and MD5", r, arn)
	}
	if r.Attributes["ApproximateReceiveCount"] != "1" || r.Attributes["SentTimestamp"] == "" {
		t.Errorf("got attributes %v, want ApproximateReceiveCount 1 and a SentTimestamp", r.Attributes)
	}
	if a := r.MessageAttributes["kind"]; aws.ToString(a.StringValue) != "test" || a.DataType != "String" {
		t.Errorf("got message attribute kind %+v, want the String test", a)
	}
	waitFor(t, "the handled batch to be deleted", func() bool { return queueDepth(t, e.sqs, url) == 0 })
}

func TestBatchingWindowGathersUntilTheBatchIsFullOrTheWindowEnds(t *testing.T) {
	t.Parallel()
	clock := NewFakeClock(time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC))
	e := setup(t, clock)
	fn, record := e.function("gatherer", nil)
	url, arn := e.queue("gathered", map[string]string{"VisibilityTimeout": "30"})
	_, err := e.svc.PutMapping(context.Background(), Mapping{FunctionName: fn, EventSourceArn: arn, BatchSize: 3, MaximumBatchingWindow: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"a", "b", "c"} {
		sendBatch(t, e.sqs, url, b)
	}
	first := decode[lambdaevents.SQSEvent](t, waitRecords(t, record, 1)[0])
	if got := bodies(first); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("got the first batch %q, want a, b and c together", got)
	}
	sendBatch(t, e.sqs, url, "d", "e")
	// The poller holds d and e and waits for the window on the clock.
	waitFor(t, "the batching window to start", func() bool { return clock.Waiting() == 1 && queueDepth(t, e.sqs, url) == 2 })
	if n := len(records(t, record)); n != 1 {
		t.Fatalf("got %d invocations before the window ended, want 1", n)
	}
	clock.Advance(time.Minute)
	second := decode[lambdaevents.SQSEvent](t, waitRecords(t, record, 2)[1])
	if got := bodies(second); !slices.Equal(got, []string{"d", "e"}) {
		t.Errorf("got the second batch %q, want d and e", got)
	}
}

func TestAFailedMessageReturnsThenLandsInTheDeadLetterQueue(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	fn, record := e.function("failing", nil)
	dlqURL, dlqARN := e.queue("dead", nil)
	url, arn := e.queue("poisoned", map[string]string{
		"VisibilityTimeout": "1",
		"RedrivePolicy":     fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":"2"}`, dlqARN),
	})
	sendBatch(t, e.sqs, url, "fail-all please")
	uuid, err := e.svc.PutMapping(context.Background(), Mapping{FunctionName: fn, EventSourceArn: arn, BatchSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	got := waitRecords(t, record, 2)
	one, two := decode[lambdaevents.SQSEvent](t, got[0]).Records[0], decode[lambdaevents.SQSEvent](t, got[1]).Records[0]
	if one.MessageId != two.MessageId || one.Attributes["ApproximateReceiveCount"] != "1" || two.Attributes["ApproximateReceiveCount"] != "2" {
		t.Errorf("got deliveries %s (received %s) and %s (received %s), want the same message received 1 then 2 times",
			one.MessageId, one.Attributes["ApproximateReceiveCount"], two.MessageId, two.Attributes["ApproximateReceiveCount"])
	}
	out, err := e.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlqURL), WaitTimeSeconds: 20})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 1 || aws.ToString(out.Messages[0].Body) != "fail-all please" {
		t.Fatalf("got %d messages in the dead-letter queue, want the failed one", len(out.Messages))
	}
	if n := len(records(t, record)); n != 2 {
		t.Errorf("got %d deliveries, want 2 (maxReceiveCount)", n)
	}
	log := e.log.String()
	if !strings.Contains(log, "PoisonMessage") || !strings.Contains(log, uuid) {
		t.Errorf("got log %s, want the function's error named (PoisonMessage) with the mapping", log)
	}
}

func TestReportBatchItemFailuresDeletesAllButTheFailedMessages(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	fn, record := e.function("partial", map[string]string{"REPORT_ITEMS": "1"})
	_, dlqARN := e.queue("partial-dead", nil)
	url, arn := e.queue("partial", map[string]string{
		"VisibilityTimeout": "1",
		"RedrivePolicy":     fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":"2"}`, dlqARN),
	})
	sendBatch(t, e.sqs, url, "ok-1", "fail-item", "ok-2")
	_, err := e.svc.PutMapping(context.Background(), Mapping{FunctionName: fn, EventSourceArn: arn, FunctionResponseTypes: []string{"ReportBatchItemFailures"}})
	if err != nil {
		t.Fatal(err)
	}
	got := waitRecords(t, record, 2)
	if b := bodies(decode[lambdaevents.SQSEvent](t, got[0])); !slices.Equal(b, []string{"fail-item", "ok-1", "ok-2"}) {
		t.Fatalf("got the first batch %q, want all three", b)
	}
	if b := bodies(decode[lambdaevents.SQSEvent](t, got[1])); !slices.Equal(b, []string{"fail-item"}) {
		t.Errorf("got the second batch %q, want only the failed message back", b)
	}
}

func TestADisabledMappingDoesNotPollUntilEnabled(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	fn, record := e.function("paused", nil)
	url, arn := e.queue("paused", map[string]string{"VisibilityTimeout": "30"})
	ctx := context.Background()
	uuid, err := e.svc.PutMapping(ctx, Mapping{FunctionName: fn, EventSourceArn: arn, Enabled: aws.Bool(false)})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(e.svc.Running(), "sqs:"+uuid) {
		t.Fatalf("got the disabled mapping polling, want it stopped")
	}
	sendBatch(t, e.sqs, url, "later")
	if _, err := e.svc.PutMapping(ctx, Mapping{UUID: uuid, FunctionName: fn, EventSourceArn: arn, Enabled: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if b := bodies(decode[lambdaevents.SQSEvent](t, waitRecords(t, record, 1)[0])); !slices.Equal(b, []string{"later"}) {
		t.Errorf("got %q, want the message sent while the mapping was disabled", b)
	}
	if err := e.svc.DeleteMapping(ctx, uuid); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(e.svc.Running(), "sqs:"+uuid) {
		t.Errorf("got the deleted mapping polling, want it stopped")
	}
}

func TestPutMappingRefusesWhatLambdaRefuses(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	fn, _ := e.function("refused", nil)
	_, short := e.queue("short", map[string]string{"VisibilityTimeout": "0"})
	_, arn := e.queue("fine", map[string]string{"VisibilityTimeout": "30"})
	tests := []struct {
		name string
		m    Mapping
		want string
	}{
		{"visibility shorter than the function's timeout", Mapping{FunctionName: fn, EventSourceArn: short}, "queue visibility timeout 0s is less than the function's timeout 1s"},
		{"large batch without a window", Mapping{FunctionName: fn, EventSourceArn: arn, BatchSize: 100}, "needs MaximumBatchingWindowInSeconds"},
		{"starting position on a queue", Mapping{FunctionName: fn, EventSourceArn: arn, StartingPosition: "LATEST"}, "StartingPosition is for streams"},
		{"unknown response type", Mapping{FunctionName: fn, EventSourceArn: arn, FunctionResponseTypes: []string{"Partial"}}, "is not ReportBatchItemFailures"},
		{"another source", Mapping{FunctionName: fn, EventSourceArn: "arn:aws:kinesis:us-east-1:000000000000:stream/s"}, "not an SQS queue or a DynamoDB stream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.PutMapping(context.Background(), tt.m)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error saying %q", err, tt.want)
			}
		})
	}
}

// TestFilterCriteriaDeletesWhatNoFilterMatches: Lambda's event filtering
// on an SQS mapping matches each message's body as JSON when it holds
// JSON, and as a string when it does not; messages no filter matches are
// deleted without reaching the function.
func TestFilterCriteriaDeletesWhatNoFilterMatches(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	fn, record := e.function("filtered", nil)
	url, arn := e.queue("filtered", map[string]string{"VisibilityTimeout": "30"})
	sendBatch(t, e.sqs, url, `{"kind":"order","amount":120}`, `{"kind":"order","amount":5}`, `{"kind":"refund","amount":500}`, "plain urgent text", "plain text")
	_, err := e.svc.PutMapping(context.Background(), Mapping{FunctionName: fn, EventSourceArn: arn, Filters: []string{
		`{"body":{"kind":["order"],"amount":[{"numeric":[">",100]}]}}`,
		`{"body":[{"prefix":"plain urgent"}]}`,
	}})
	if err != nil {
		t.Fatal(err)
	}
	ev := decode[lambdaevents.SQSEvent](t, waitRecords(t, record, 1)[0])
	if got, want := bodies(ev), []string{"plain urgent text", `{"kind":"order","amount":120}`}; !slices.Equal(got, want) {
		t.Fatalf("got bodies %q, want only the matching %q", got, want)
	}
	waitFor(t, "every message, matched or not, to be deleted", func() bool { return queueDepth(t, e.sqs, url) == 0 })
	if n := len(waitRecords(t, record, 1)); n != 1 {
		t.Errorf("the function was invoked %d times, want once", n)
	}

	_, err = e.svc.PutMapping(context.Background(), Mapping{FunctionName: fn, EventSourceArn: arn, Filters: []string{`{"body":"x"}`}})
	if err == nil || !strings.Contains(err.Error(), "invalid filter pattern definition") {
		t.Errorf("got %v, want a refused filter", err)
	}
}
