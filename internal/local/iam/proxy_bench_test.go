package iam

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/sivchari/kumo"
)

// BenchmarkGetItem measures what the IAM proxy adds to a request: the
// same GetItem through the proxy (as a function's role, authorized) and
// straight to kumo.
func BenchmarkGetItem(b *testing.B) {
	k := kumo.NewServer()
	defer k.Close()
	auth := NewAuthority(Options{Account: testAccount, Region: "us-east-1"})
	proxy, err := NewProxy(auth, k.URL, nil)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(proxy)
	defer srv.Close()
	role := "arn:aws:iam::" + testAccount + ":role/fn"
	doc, _ := ParsePolicy([]byte(`{"Statement":[{"Effect":"Allow","Action":"dynamodb:GetItem","Resource":"arn:aws:dynamodb:*:*:table/Bench"}]}`))
	auth.PutRole(&Role{ARN: role, Name: "fn", ID: "AROAFN", Inline: map[string]*Policy{"p": doc}})
	sess, err := auth.Issue(role, "", "fn")
	if err != nil {
		b.Fatal(err)
	}
	l := &localAWS{url: k.URL}
	direct := dynamodb.NewFromConfig(l.config(aws.Credentials{AccessKeyID: "local", SecretAccessKey: "local"}))
	ctx := context.Background()
	if _, err := direct.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String("Bench"), BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: ddbtypes.KeyTypeHash}},
	}); err != nil {
		b.Fatal(err)
	}
	l.url = srv.URL
	proxied := dynamodb.NewFromConfig(l.config(aws.Credentials{AccessKeyID: sess.AccessKeyID, SecretAccessKey: sess.SecretAccessKey, SessionToken: sess.SessionToken}))
	in := &dynamodb.GetItemInput{TableName: aws.String("Bench"), Key: map[string]ddbtypes.AttributeValue{"id": &ddbtypes.AttributeValueMemberS{Value: "x"}}}
	for _, c := range []struct {
		name   string
		client *dynamodb.Client
	}{{"kumo", direct}, {"through the IAM proxy", proxied}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := c.client.GetItem(ctx, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkActions measures the mapping of a call to its IAM actions
// alone: an operation of its own action's name (DynamoDB's GetItem), one
// whose action is named otherwise (S3's ListObjectsV2 is
// s3:ListBucket), a transaction of two entries and a PartiQL statement.
func BenchmarkActions(b *testing.B) {
	for _, c := range []Call{
		{Service: "dynamodb", Operation: "GetItem", Params: map[string][]string{"TableName": {"Bench"}}},
		{Service: "s3", Operation: "ListObjectsV2", Params: map[string][]string{"Bucket": {"artifacts"}, "Prefix": {"runs/"}}},
		{Service: "dynamodb", Operation: "TransactWriteItems", Entries: []Call{
			{Service: "dynamodb", Operation: "PutItem", Params: map[string][]string{"TableName": {"Bench"}}},
			{Service: "dynamodb", Operation: "DeleteItem", Params: map[string][]string{"TableName": {"Audit"}}}}},
		{Service: "dynamodb", Operation: "ExecuteStatement", Params: map[string][]string{"Statement": {`SELECT * FROM "Bench" WHERE id = ?`}}},
	} {
		b.Run(c.Operation, func(b *testing.B) {
			for b.Loop() {
				if _, err := Actions(c, "us-east-1", testAccount); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
