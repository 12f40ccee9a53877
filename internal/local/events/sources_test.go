//go:build unix

package events

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/stackflow/stackflow/internal/testaws"
)

func TestSNSPublishReachesTheFunction(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	fn, record := e.function("subscriber", nil)
	ctx := context.Background()
	c := sns.NewFromConfig(e.cfg)
	topic, err := c.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(testaws.Name("orders"))})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := e.svc.Subscribe(ctx, Subscription{TopicArn: aws.ToString(topic.TopicArn), Endpoint: fn, FilterPolicy: `{"kind":["order"]}`})
	if err != nil {
		t.Fatal(err)
	}
	publish := func(msg, kind string) {
		t.Helper()
		_, err := c.Publish(ctx, &sns.PublishInput{
			TopicArn: topic.TopicArn, Message: aws.String(msg), Subject: aws.String("hello"),
			MessageAttributes: map[string]snstypes.MessageAttributeValue{"kind": {DataType: aws.String("String"), StringValue: aws.String(kind)}},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	publish("first", "order")
	publish("filtered out", "refund")
	publish("third", "order")
	got := waitRecords(t, record, 2)
	var msgs []string
	for _, raw := range got {
		ev := decode[lambdaevents.SNSEvent](t, raw)
		if len(ev.Records) != 1 {
			t.Fatalf("got %d records, want 1 per invocation", len(ev.Records))
		}
		r := ev.Records[0]
		msgs = append(msgs, r.SNS.Message)
		if r.EventSource != "aws:sns" || r.EventVersion != "1.0" || r.EventSubscriptionArn != sub || r.SNS.TopicArn != aws.ToString(topic.TopicArn) || r.SNS.Subject != "hello" || r.SNS.Type != "Notification" || r.SNS.MessageID == "" || r.SNS.Timestamp.IsZero() {
			t.Errorf("got record %+v, want aws:sns 1.0 from subscription %s of %s with its subject, type, id and time", r, sub, aws.ToString(topic.TopicArn))
		}
		if a, _ := r.SNS.MessageAttributes["kind"].(map[string]any); a["Type"] != "String" || a["Value"] != "order" {
			t.Errorf("got message attribute kind %v, want the String order", r.SNS.MessageAttributes["kind"])
		}
	}
	slices.Sort(msgs)
	if !slices.Equal(msgs, []string{"first", "third"}) {
		t.Errorf("got messages %q, want first and third (the filter policy drops the refund)", msgs)
	}
	if err := e.svc.Unsubscribe(ctx, sub); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(e.svc.Running(), "sns:"+sub) {
		t.Error("got the subscription's reader running after Unsubscribe")
	}
}

func TestPutEventsMatchingARuleReachesItsTargets(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	whole, wholeRecord := e.function("rule-target", nil)
	shaped, shapedRecord := e.function("rule-shaped", nil)
	ctx := context.Background()
	name := testaws.Name("orders-rule")
	arn, err := e.svc.PutRule(ctx, Rule{
		Name:         name,
		EventPattern: `{"source":["app.orders"],"detail-type":["OrderPlaced"]}`,
		Targets: []Target{
			{Id: "whole", Arn: whole},
			{Id: "shaped", Arn: shaped, InputTransformer: &InputTransformer{
				InputPathsMap: map[string]string{"id": "$.detail.id", "n": "$.detail.items[1].n"},
				InputTemplate: `{"order": <id>, "second": <n>, "text": "order <id> by <aws.events.rule-name>"}`,
			}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	c := eventbridge.NewFromConfig(e.cfg)
	for _, entry := range []ebtypes.PutEventsRequestEntry{
		{Source: aws.String("app.other"), DetailType: aws.String("OrderPlaced"), Detail: aws.String(`{"id":"o-0"}`)},
		{Source: aws.String("app.orders"), DetailType: aws.String("OrderPlaced"), Detail: aws.String(`{"id":"o-1","items":[{"n":1},{"n":2}]}`)},
	} {
		if _, err := c.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{entry}}); err != nil {
			t.Fatal(err)
		}
	}
	ev := decode[lambdaevents.CloudWatchEvent](t, waitRecords(t, wholeRecord, 1)[0])
	if ev.Source != "app.orders" || ev.DetailType != "OrderPlaced" || ev.Version != "0" || ev.AccountID != "000000000000" || ev.Region != "us-east-1" || ev.ID == "" || ev.Time.IsZero() {
		t.Errorf("got event %+v, want the OrderPlaced event of app.orders with EventBridge's envelope", ev)
	}
	if d := decode[map[string]any](t, ev.Detail); d["id"] != "o-1" {
		t.Errorf("got detail %s, want o-1's", ev.Detail)
	}
	shapedGot := decode[map[string]any](t, waitRecords(t, shapedRecord, 1)[0])
	want := map[string]any{"order": "o-1", "second": float64(2), "text": "order o-1 by " + name}
	if b, _ := json.Marshal(shapedGot); string(b) != mustJSON(want) {
		t.Errorf("got the transformed input %s, want %s", b, mustJSON(want))
	}
	if !strings.HasSuffix(arn, ":rule/"+name) {
		t.Errorf("got rule ARN %s, want one ending in :rule/%s (the default bus is not named)", arn, name)
	}
	if n := len(records(t, wholeRecord)); n != 1 {
		t.Errorf("got %d events, want only the matching one", n)
	}
	if err := e.svc.DeleteRule(ctx, "", name); err != nil {
		t.Fatal(err)
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestAScheduledRuleFiresOnItsClock(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC)
	clock := NewFakeClock(start)
	e := setup(t, clock)
	fn, record := e.function("ticker", nil)
	ctx := context.Background()
	name := testaws.Name("every-5")
	arn, err := e.svc.PutRule(ctx, Rule{Name: name, ScheduleExpression: "rate(5 minutes)", Targets: []Target{{Id: "fn", Arn: fn}}})
	if err != nil {
		t.Fatal(err)
	}
	clock.Set(start.Add(5 * time.Minute))
	ev := decode[lambdaevents.CloudWatchEvent](t, waitRecords(t, record, 1)[0])
	if ev.DetailType != "Scheduled Event" || ev.Source != "aws.events" || !slices.Equal(ev.Resources, []string{arn}) || !ev.Time.Equal(start.Add(5*time.Minute)) || string(ev.Detail) != "{}" {
		t.Errorf("got %+v, want the Scheduled Event of %s at 10:05", ev, arn)
	}
	if err := e.svc.FireRule(ctx, "", name); err != nil {
		t.Fatal(err)
	}
	waitRecords(t, record, 2)
}

func TestAScheduleFiresAtItsTimeAndOnRequest(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC)
	clock := NewFakeClock(start)
	e := setup(t, clock)
	fn, record := e.function("nightly", nil)
	ctx := context.Background()
	name := testaws.Name("nightly")
	arn, err := e.svc.PutSchedule(ctx, Schedule{
		Name:                       name,
		ScheduleExpression:         "cron(0 3 * * ? *)",
		ScheduleExpressionTimezone: "Europe/Paris",
		FlexibleTimeWindow:         FlexibleTimeWindow{Mode: "OFF"},
		Target:                     ScheduleTarget{Arn: fn, Input: `{"job":"nightly","at":"<aws.scheduler.scheduled-time>","schedule":"<aws.scheduler.schedule-arn>"}`},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := scheduler.NewFromConfig(e.cfg).GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String(name)})
	if err != nil || aws.ToString(got.ScheduleExpression) != "cron(0 3 * * ? *)" {
		t.Fatalf("got %v, %v from kumo's Scheduler, want the schedule recorded", got, err)
	}
	threeInParis := time.Date(2026, 3, 11, 2, 0, 0, 0, time.UTC) // 03:00 CET
	if next, ok := e.svc.NextFire(name); !ok || !next.Equal(threeInParis) {
		t.Fatalf("got next firing %s %v, want %s", next, ok, threeInParis)
	}
	// Fire now: synchronous, at the clock's time.
	if err := e.svc.Fire(ctx, name); err != nil {
		t.Fatal(err)
	}
	now := decode[map[string]string](t, records(t, record)[0])
	if now["job"] != "nightly" || now["at"] != "2026-03-10T10:00:00Z" || now["schedule"] != arn {
		t.Errorf("got input %v on request, want the job at 10:00 with the schedule's ARN", now)
	}
	clock.Set(threeInParis)
	night := decode[map[string]string](t, waitRecords(t, record, 2)[1])
	if night["at"] != "2026-03-11T02:00:00Z" {
		t.Errorf("got input %v at night, want scheduled-time 02:00Z", night)
	}
	waitFor(t, "the next night to be due", func() bool {
		next, ok := e.svc.NextFire(name)
		return ok && next.Equal(threeInParis.Add(24*time.Hour))
	})
	if err := e.svc.Fire(ctx, "nope"); err == nil || !strings.Contains(err.Error(), "no such schedule") {
		t.Errorf("got %v firing an unknown schedule, want no such schedule", err)
	}
}

func TestFireNamesAFailingFunctionsError(t *testing.T) {
	t.Parallel()
	e := setup(t, NewFakeClock(time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC)))
	fn, _ := e.function("failing-job", nil)
	ctx := context.Background()
	name := testaws.Name("failing")
	if _, err := e.svc.PutSchedule(ctx, Schedule{Name: name, ScheduleExpression: "rate(1 day)", State: "DISABLED", Target: ScheduleTarget{Arn: fn, Input: `{"fail-all":true}`}}); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.svc.NextFire(name); ok {
		t.Error("got a next firing for a DISABLED schedule, want none")
	}
	err := e.svc.Fire(ctx, name)
	var fe *FunctionError
	if !errorsAs(err, &fe) || fe.Type != "PoisonMessage" {
		t.Errorf("got %v, want the function's PoisonMessage", err)
	}
}

func TestS3NotificationsReachTheFunction(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	fn, record := e.function("uploads", nil)
	ctx := context.Background()
	bucket := testaws.Bucket(t, e.cfg, "uploads")
	err := e.svc.PutBucketNotification(ctx, bucket, []LambdaNotification{{Id: "incoming", Function: fn, Events: []string{"s3:ObjectCreated:*"}, Prefix: "in/", Suffix: ".txt"}})
	if err != nil {
		t.Fatal(err)
	}
	c := testaws.S3(e.cfg)
	for _, key := range []string{"out/skip.txt", "in/a.txt", "in/skip.bin"} {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
	}
	ev := decode[lambdaevents.S3Event](t, waitRecords(t, record, 1)[0])
	r := ev.Records[0]
	if r.EventSource != "aws:s3" || r.EventName != "ObjectCreated:Put" || r.S3.Bucket.Name != bucket || r.S3.Object.Key != "in/a.txt" || r.S3.ConfigurationID != "incoming" || r.S3.Object.Size != 1 {
		t.Errorf("got record %+v, want ObjectCreated:Put of in/a.txt in %s for configuration incoming", r, bucket)
	}
	if n := len(records(t, record)); n != 1 {
		t.Errorf("got %d events, want only in/a.txt's", n)
	}
}

func TestDynamoDBStreamRecordsReachTheFunction(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	fn, record := e.function("stream", nil)
	ctx := context.Background()
	db := dynamodb.NewFromConfig(e.cfg)
	table, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(testaws.Name("items")),
		BillingMode:          ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash}},
		StreamSpecification:  &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: ddbtypes.StreamViewTypeNewAndOldImages},
	})
	if err != nil {
		t.Fatal(err)
	}
	stream := aws.ToString(table.TableDescription.LatestStreamArn)
	if _, err := e.svc.PutMapping(ctx, Mapping{FunctionName: fn, EventSourceArn: stream, StartingPosition: "TRIM_HORIZON"}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"1", "2"} {
		_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: table.TableDescription.TableName, Item: map[string]ddbtypes.AttributeValue{
			"pk": &ddbtypes.AttributeValueMemberS{Value: "a"}, "n": &ddbtypes.AttributeValueMemberN{Value: n},
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	var recs []lambdaevents.DynamoDBEventRecord
	waitFor(t, "two stream records", func() bool {
		recs = nil
		for _, raw := range records(t, record) {
			recs = append(recs, decode[lambdaevents.DynamoDBEvent](t, raw).Records...)
		}
		return len(recs) >= 2
	})
	if recs[0].EventName != "INSERT" || recs[1].EventName != "MODIFY" {
		t.Fatalf("got %s then %s, want INSERT then MODIFY", recs[0].EventName, recs[1].EventName)
	}
	r := recs[1]
	if r.EventSource != "aws:dynamodb" || r.EventSourceArn != stream || r.Change.Keys["pk"].String() != "a" || r.Change.NewImage["n"].Number() != "2" || r.Change.OldImage["n"].Number() != "1" || r.Change.StreamViewType != "NEW_AND_OLD_IMAGES" {
		t.Errorf("got %+v, want the MODIFY of a from 1 to 2 from %s", r, stream)
	}
}

func TestCloseStopsEverySource(t *testing.T) {
	e := setup(t, NewFakeClock(time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC)))
	fn, _ := e.function("closing", nil)
	ctx := context.Background()
	_, arn := e.queue("closing", map[string]string{"VisibilityTimeout": "30"})
	if _, err := e.svc.PutMapping(ctx, Mapping{FunctionName: fn, EventSourceArn: arn}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.PutSchedule(ctx, Schedule{Name: testaws.Name("closing"), ScheduleExpression: "rate(1 hour)", Target: ScheduleTarget{Arn: fn}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.PutRule(ctx, Rule{Name: testaws.Name("closing"), EventPattern: `{"source":["x"]}`, Targets: []Target{{Id: "fn", Arn: fn}}}); err != nil {
		t.Fatal(err)
	}
	if n := len(e.svc.Running()); n != 2 {
		t.Fatalf("got %d sources running, want the mapping and the schedule", n)
	}
	if len(serviceGoroutines()) == 0 {
		t.Fatal("found no goroutine of the service while it runs: the check below would prove nothing")
	}
	if err := e.svc.Close(); err != nil {
		t.Fatal(err)
	}
	if left := serviceGoroutines(); len(left) > 0 {
		t.Errorf("got %d goroutines of the service after Close, want none:\n%s", len(left), strings.Join(left, "\n\n"))
	}
	if _, err := e.svc.PutSchedule(ctx, Schedule{Name: testaws.Name("late"), ScheduleExpression: "rate(1 hour)", Target: ScheduleTarget{Arn: fn}}); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("got %v putting a schedule after Close, want an error saying the sources are closed", err)
	}
}

// TestARulesWholePatternDecides: kumo matches only source, detail-type and
// detail; the service checks each of kumo's matches against the whole
// pattern (here its account), as EventBridge does.
func TestARulesWholePatternDecides(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	fn, record := e.function("whole-pattern", nil)
	ctx := context.Background()
	for i, pattern := range []string{
		`{"source":["app.acct"],"account":["111111111111"]}`,
		`{"source":["app.acct"],"account":["000000000000"],"detail":{"file":[{"suffix":".csv"}]}}`,
	} {
		if _, err := e.svc.PutRule(ctx, Rule{Name: testaws.Name(fmt.Sprintf("whole-%d", i)), EventPattern: pattern, Targets: []Target{{Id: "fn", Arn: fn}}}); err != nil {
			t.Fatal(err)
		}
	}
	c := eventbridge.NewFromConfig(e.cfg)
	for _, file := range []string{"in/a.csv", "in/b.txt"} {
		if _, err := c.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
			{Source: aws.String("app.acct"), DetailType: aws.String("File"), Detail: aws.String(`{"file":"` + file + `"}`)},
		}}); err != nil {
			t.Fatal(err)
		}
	}
	ev := decode[lambdaevents.CloudWatchEvent](t, waitRecords(t, record, 1)[0])
	if d := decode[map[string]any](t, ev.Detail); d["file"] != "in/a.csv" {
		t.Errorf("got detail %s, want in/a.csv's", ev.Detail)
	}
	waitFor(t, "kumo's matches of the other rule and event to be read", func() bool {
		return strings.Count(e.log.String(), "the rule's whole pattern does not") >= 2
	})
	if n := len(records(t, record)); n != 1 {
		t.Errorf("got %d events, want only the one the whole pattern matches", n)
	}
}
