package sfn

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// integrationsMachine calls, in one execution, each optimized integration
// the service runs, then a putItem whose condition fails, caught.
const integrationsMachine = `{"StartAt":"Put","States":{
 "Put":{"Type":"Task","Resource":"arn:aws:states:::dynamodb:putItem","Parameters":{"TableName":"TABLE","Item":{"id":{"S":"k1"},"n":{"N":"1"}}},"ResultPath":null,"Next":"Update"},
 "Update":{"Type":"Task","Resource":"arn:aws:states:::dynamodb:updateItem","Parameters":{"TableName":"TABLE","Key":{"id":{"S":"k1"}},"UpdateExpression":"SET n = n + :one","ExpressionAttributeValues":{":one":{"N":"1"}},"ReturnValues":"ALL_NEW"},"ResultPath":"$.updated","Next":"Get"},
 "Get":{"Type":"Task","Resource":"arn:aws:states:::dynamodb:getItem","Parameters":{"TableName":"TABLE","Key":{"id":{"S":"k1"}}},"ResultPath":"$.got","Next":"Delete"},
 "Delete":{"Type":"Task","Resource":"arn:aws:states:::dynamodb:deleteItem","Parameters":{"TableName":"TABLE","Key":{"id":{"S":"k2"}}},"ResultPath":null,"Next":"Send"},
 "Send":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage","Parameters":{"QueueUrl":"QUEUE","MessageBody":{"n.$":"$.got.Item.n.N"}},"ResultPath":"$.sent","Next":"Publish"},
 "Publish":{"Type":"Task","Resource":"arn:aws:states:::sns:publish","Parameters":{"TopicArn":"TOPIC","Message":{"hello":"topic"},"Subject":"greeting"},"ResultPath":"$.published","Next":"PutEvents"},
 "PutEvents":{"Type":"Task","Resource":"arn:aws:states:::events:putEvents","Parameters":{"Entries":[{"Source":"SOURCE","DetailType":"Greeting","Detail":{"hello":"bus"}}]},"ResultPath":"$.events","Next":"Start"},
 "Start":{"Type":"Task","Resource":"arn:aws:states:::states:startExecution","Parameters":{"StateMachineArn":"CHILD","Input":{"from":"parent"}},"ResultPath":"$.child","Next":"Again"},
 "Again":{"Type":"Task","Resource":"arn:aws:states:::dynamodb:putItem","Parameters":{"TableName":"TABLE","Item":{"id":{"S":"k1"}},"ConditionExpression":"attribute_not_exists(id)"},
  "Catch":[{"ErrorEquals":["DynamoDB.ConditionalCheckFailedException"],"ResultPath":"$.caught","Next":"Done"}],"Next":"Done"},
 "Done":{"Type":"Succeed"}}}`

// TestOptimizedIntegrationsReachTheLocalAWS runs DynamoDB's getItem,
// putItem, updateItem and deleteItem, SQS's sendMessage, SNS's publish,
// EventBridge's putEvents and Step Functions' startExecution in one
// execution, and finds each one's effect in kumo.
func TestOptimizedIntegrationsReachTheLocalAWS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""), BaseEndpoint: aws.String(kumoURL)}
	name := unique("integrations")
	db := dynamodb.NewFromConfig(cfg)
	if _, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String(name), BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: ddbtypes.KeyTypeHash}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(name), Item: map[string]ddbtypes.AttributeValue{"id": &ddbtypes.AttributeValueMemberS{Value: "k2"}}}); err != nil {
		t.Fatal(err)
	}
	q := sqs.NewFromConfig(cfg)
	queue := func(n string) (string, string) {
		t.Helper()
		out, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(n)})
		if err != nil {
			t.Fatal(err)
		}
		attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: out.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.QueueUrl), attrs.Attributes["QueueArn"]
	}
	sent, _ := queue(name + "-sent")
	published, publishedARN := queue(name + "-published")
	topic, err := sns.NewFromConfig(cfg).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sns.NewFromConfig(cfg).Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(publishedARN)}); err != nil {
		t.Fatal(err)
	}
	source := "sfn.test." + name
	_, matchedARN := queue(name + "-matched")
	eb := eventbridge.NewFromConfig(cfg)
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(name), EventPattern: aws.String(`{"source":["` + source + `"]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(name), Targets: []ebtypes.Target{{Id: aws.String("q"), Arn: aws.String(matchedARN)}}}); err != nil {
		t.Fatal(err)
	}
	child := machine(t, `{"StartAt":"Hi","States":{"Hi":{"Type":"Pass","End":true}}}`)

	def := strings.NewReplacer("TABLE", name, "QUEUE", sent, "TOPIC", aws.ToString(topic.TopicArn), "SOURCE", source, "CHILD", child).Replace(integrationsMachine)
	d := finished(t, start(t, machine(t, def), name, `{}`))
	if d.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("got %s %s: %s, want SUCCEEDED", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
	var out struct {
		Updated   struct{ Attributes map[string]map[string]string }
		Got       struct{ Item map[string]map[string]string }
		Sent      struct{ MessageId, MD5OfMessageBody string }
		Published struct {
			MessageId       string
			SdkHttpMetadata struct{ HttpStatusCode int }
		}
		Events struct {
			FailedEntryCount int
			Entries          []struct{ EventId string }
		}
		Child  struct{ ExecutionArn, StartDate string }
		Caught struct{ Error, Cause string }
	}
	if err := json.Unmarshal([]byte(aws.ToString(d.Output)), &out); err != nil {
		t.Fatalf("output %s: %v", aws.ToString(d.Output), err)
	}
	if out.Updated.Attributes["n"]["N"] != "2" || out.Got.Item["n"]["N"] != "2" {
		t.Errorf("got updateItem's %v and getItem's %v, want n = 2 in both", out.Updated.Attributes, out.Got.Item)
	}
	if out.Sent.MessageId == "" || out.Sent.MD5OfMessageBody == "" || out.Published.MessageId == "" || out.Published.SdkHttpMetadata.HttpStatusCode != 200 {
		t.Errorf("got sendMessage's %+v and publish's %+v, want their message IDs", out.Sent, out.Published)
	}
	if out.Events.FailedEntryCount != 0 || len(out.Events.Entries) != 1 || out.Events.Entries[0].EventId == "" {
		t.Errorf("got putEvents' %+v, want one entry put", out.Events)
	}
	if out.Caught.Error != "DynamoDB.ConditionalCheckFailedException" {
		t.Errorf("got the failed condition caught as %+v, want DynamoDB.ConditionalCheckFailedException", out.Caught)
	}

	item, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(name), Key: map[string]ddbtypes.AttributeValue{"id": &ddbtypes.AttributeValueMemberS{Value: "k1"}}})
	if n, ok := item.Item["n"].(*ddbtypes.AttributeValueMemberN); err != nil || !ok || n.Value != "2" {
		t.Errorf("got item k1 %v (%v), want n = 2", item.Item, err)
	}
	if gone, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(name), Key: map[string]ddbtypes.AttributeValue{"id": &ddbtypes.AttributeValueMemberS{Value: "k2"}}}); err != nil || gone.Item != nil {
		t.Errorf("got item k2 %v (%v), want it deleted", gone.Item, err)
	}
	receive := func(url string) string {
		t.Helper()
		m, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 5})
		if err != nil || len(m.Messages) != 1 {
			t.Fatalf("receive from %s: got %d messages (%v), want 1", url, len(m.Messages), err)
		}
		return aws.ToString(m.Messages[0].Body)
	}
	if got := receive(sent); got != `{"n":"2"}` {
		t.Errorf("got the queue's message %q, want the MessageBody as JSON text", got)
	}
	if got := receive(published); !strings.Contains(got, `{\"hello\":\"topic\"}`) && !strings.Contains(got, `{"hello":"topic"}`) {
		t.Errorf("got the topic's message %q, want the Message as JSON text in it", got)
	}
	if !matchedEvent(t, source) {
		t.Errorf("kumo's EventBridge matched no event of %s", source)
	}
	c := finished(t, out.Child.ExecutionArn)
	if c.Status != types.ExecutionStatusSucceeded || aws.ToString(c.Input) != `{"from":"parent"}` {
		t.Errorf("got the child execution %s with input %s, want SUCCEEDED with the parent's Input", c.Status, aws.ToString(c.Input))
	}
	var kinds []string
	for _, e := range history(t, aws.ToString(d.ExecutionArn), nil) {
		if e.TaskScheduledEventDetails != nil {
			kinds = append(kinds, aws.ToString(e.TaskScheduledEventDetails.ResourceType)+":"+aws.ToString(e.TaskScheduledEventDetails.Resource))
		}
	}
	if got := strings.Join(kinds, " "); got != "dynamodb:putItem dynamodb:updateItem dynamodb:getItem dynamodb:deleteItem sqs:sendMessage sns:publish events:putEvents states:startExecution dynamodb:putItem" {
		t.Errorf("got scheduled tasks %s", got)
	}
}

// matchedEvent reports whether kumo's EventBridge recorded a match of an
// event of source (GET /kumo/eventbridge/delivered-events), waiting a
// little for it.
func matchedEvent(t *testing.T, source string) bool {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(kumoURL + "/kumo/eventbridge/delivered-events")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), source) {
			return true
		}
	}
	return false
}
