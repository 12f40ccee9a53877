package local

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// integrationsApp is a SAM app whose state machine Flow calls each
// optimized integration the local Step Functions runs, with SAM's policy
// templates for each; Denied, whose role may only read the table, tries
// to send to the queue.
const integrationsApp = `
Transform: AWS::Serverless-2016-10-31
Resources:
  Table: {Type: AWS::Serverless::SimpleTable}
  Queue: {Type: AWS::SQS::Queue}
  Topic: {Type: AWS::SNS::Topic}
  Child:
    Type: AWS::Serverless::StateMachine
    Properties:
      Definition: {StartAt: Hi, States: {Hi: {Type: Pass, End: true}}}
      Policies: [{DynamoDBReadPolicy: {TableName: !Ref Table}}]
  Flow:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionSubstitutions: {Table: !Ref Table, Queue: !Ref Queue, Topic: !Ref Topic, Child: !Ref Child}
      Definition:
        StartAt: Put
        States:
          Put: {Type: Task, Resource: "arn:aws:states:::dynamodb:putItem", Parameters: {TableName: "${Table}", Item: {id: {S: visit}, n: {N: "1"}}}, ResultPath: null, Next: Update}
          Update: {Type: Task, Resource: "arn:aws:states:::dynamodb:updateItem", Parameters: {TableName: "${Table}", Key: {id: {S: visit}}, UpdateExpression: "SET n = n + :one", ExpressionAttributeValues: {":one": {N: "1"}}}, ResultPath: null, Next: Get}
          Get: {Type: Task, Resource: "arn:aws:states:::dynamodb:getItem", Parameters: {TableName: "${Table}", Key: {id: {S: visit}}}, ResultPath: $.got, Next: Delete}
          Delete: {Type: Task, Resource: "arn:aws:states:::dynamodb:deleteItem", Parameters: {TableName: "${Table}", Key: {id: {S: gone}}}, ResultPath: null, Next: Send}
          Send: {Type: Task, Resource: "arn:aws:states:::sqs:sendMessage", Parameters: {QueueUrl: "${Queue}", "MessageBody.$": $.got.Item.n.N}, ResultPath: $.sent, Next: Publish}
          Publish: {Type: Task, Resource: "arn:aws:states:::sns:publish", Parameters: {TopicArn: "${Topic}", Message: {visits: 2}}, ResultPath: $.published, Next: PutEvents}
          PutEvents: {Type: Task, Resource: "arn:aws:states:::events:putEvents", Parameters: {Entries: [{Source: app.flow, DetailType: Visit, Detail: {n: 2}}]}, ResultPath: $.events, Next: Start}
          Start: {Type: Task, Resource: "arn:aws:states:::states:startExecution", Parameters: {StateMachineArn: "${Child}", Input: {from: flow}}, ResultPath: $.child, End: true}
      Policies:
        - DynamoDBCrudPolicy: {TableName: !Ref Table}
        - SQSSendMessagePolicy: {QueueName: !GetAtt Queue.QueueName}
        - SNSPublishMessagePolicy: {TopicName: !GetAtt Topic.TopicName}
        - EventBridgePutEventsPolicy: {EventBusName: default}
        - StepFunctionsExecutionPolicy: {StateMachineName: !GetAtt Child.Name}
  Denied:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionSubstitutions: {Queue: !Ref Queue}
      Definition:
        StartAt: Send
        States:
          Send: {Type: Task, Resource: "arn:aws:states:::sqs:sendMessage", Parameters: {QueueUrl: "${Queue}", MessageBody: denied}, End: true}
      Policies: [{DynamoDBReadPolicy: {TableName: !Ref Table}}]
Outputs:
  Flow: {Value: !Ref Flow}
  Denied: {Value: !Ref Denied}
  Table: {Value: !Ref Table}
  Queue: {Value: !Ref Queue}
`

// TestAnAppsStateMachineCallsTheLocalAWSAsItsRole deploys a SAM app of
// state machines straight to the shared local CloudFormation (no run: a
// focused test on the shared setup) and runs them: Flow's optimized
// integrations reach the local AWS through IAM with its role's policies
// (SAM's policy templates), Denied's role lacks sqs:SendMessage.
func TestAnAppsStateMachineCallsTheLocalAWSAsItsRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	stack := "integrations-app"
	cs, err := shared.cfn.CreateChangeSet(ctx, &cloudformation.CreateChangeSetInput{
		StackName: aws.String(stack), ChangeSetName: aws.String("create"), ChangeSetType: cfntypes.ChangeSetTypeCreate,
		TemplateBody: aws.String(integrationsApp), Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam, cfntypes.CapabilityCapabilityAutoExpand},
	})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the change set", func() bool {
		d, err := shared.cfn.DescribeChangeSet(ctx, &cloudformation.DescribeChangeSetInput{ChangeSetName: cs.Id})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status == cfntypes.ChangeSetStatusFailed {
			t.Fatalf("change set FAILED: %s", aws.ToString(d.StatusReason))
		}
		return d.Status == cfntypes.ChangeSetStatusCreateComplete
	})
	if _, err := shared.cfn.ExecuteChangeSet(ctx, &cloudformation.ExecuteChangeSetInput{ChangeSetName: cs.Id}); err != nil {
		t.Fatal(err)
	}
	var st cfntypes.Stack
	waitFor(t, "the stack", func() bool {
		d, err := shared.cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: cs.StackId})
		if err != nil {
			t.Fatal(err)
		}
		st = d.Stacks[0]
		return !strings.HasSuffix(string(st.StackStatus), "_IN_PROGRESS")
	})
	if st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("got %s (%s), want CREATE_COMPLETE", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	t.Cleanup(func() {
		_, _ = shared.cfn.DeleteStack(context.Background(), &cloudformation.DeleteStackInput{StackName: st.StackId})
	})
	out := map[string]string{}
	for _, o := range st.Outputs {
		out[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	db := dynamodb.NewFromConfig(shared.aws)
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(out["Table"]), Item: map[string]ddbtypes.AttributeValue{"id": &ddbtypes.AttributeValueMemberS{Value: "gone"}}}); err != nil {
		t.Fatal(err)
	}

	execute := func(machine string) *awssfn.DescribeExecutionOutput {
		t.Helper()
		e, err := shared.sfn.StartExecution(ctx, &awssfn.StartExecutionInput{StateMachineArn: aws.String(machine), Input: aws.String(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
		var d *awssfn.DescribeExecutionOutput
		waitFor(t, "the execution", func() bool {
			if d, err = shared.sfn.DescribeExecution(ctx, &awssfn.DescribeExecutionInput{ExecutionArn: e.ExecutionArn}); err != nil {
				t.Fatal(err)
			}
			return d.Status != sfntypes.ExecutionStatusRunning
		})
		return d
	}
	d := execute(out["Flow"])
	if d.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("Flow: got %s %s: %s, want SUCCEEDED", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
	var res struct {
		Sent, Published struct{ MessageId string }
		Events          struct{ FailedEntryCount int }
		Child           struct{ ExecutionArn string }
	}
	if err := json.Unmarshal([]byte(aws.ToString(d.Output)), &res); err != nil {
		t.Fatal(err)
	}
	if res.Sent.MessageId == "" || res.Published.MessageId == "" || res.Events.FailedEntryCount != 0 || res.Child.ExecutionArn == "" {
		t.Errorf("got output %s, want a message sent and published, the event put and the child started", aws.ToString(d.Output))
	}
	item, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(out["Table"]), Key: map[string]ddbtypes.AttributeValue{"id": &ddbtypes.AttributeValueMemberS{Value: "visit"}}})
	if n, ok := item.Item["n"].(*ddbtypes.AttributeValueMemberN); err != nil || !ok || n.Value != "2" {
		t.Errorf("got the item %v (%v), want n = 2", item.Item, err)
	}
	if gone, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(out["Table"]), Key: map[string]ddbtypes.AttributeValue{"id": &ddbtypes.AttributeValueMemberS{Value: "gone"}}}); err != nil || gone.Item != nil {
		t.Errorf("got the item deleteItem deletes: %v (%v), want it gone", gone.Item, err)
	}
	msgs, err := sqs.NewFromConfig(shared.aws).ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(out["Queue"]), WaitTimeSeconds: 5})
	if err != nil || len(msgs.Messages) != 1 || aws.ToString(msgs.Messages[0].Body) != "2" {
		t.Errorf("got the queue's messages %v (%v), want the one Flow sent", msgs, err)
	}

	d = execute(out["Denied"])
	if d.Status != sfntypes.ExecutionStatusFailed || !strings.HasPrefix(aws.ToString(d.Error), "SQS.AccessDenied") || !strings.Contains(aws.ToString(d.Cause), "sqs:SendMessage") {
		t.Errorf("Denied: got %s %s: %s, want FAILED with SQS.AccessDenied... naming sqs:SendMessage", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
}
