package iam

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// recorder is an httptest server that keeps the last request the SDK
// sent (and answers it with an error the SDK gives up on).
type recorder struct {
	mu   sync.Mutex
	req  *http.Request
	body []byte
	url  string
	n    int // requests recorded
}

func setupRecorder(t *testing.T) *recorder {
	t.Helper()
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.req, rec.body = r.Clone(context.Background()), b
		rec.n++
		rec.mu.Unlock()
		http.Error(w, "recorded", http.StatusNotImplemented)
	}))
	t.Cleanup(srv.Close)
	rec.url = srv.URL
	return rec
}

// count returns how many requests the recorder has seen.
func (rec *recorder) count() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.n
}

func (rec *recorder) last() (*http.Request, []byte) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.req, rec.body
}

// TestActionsOfRealSDKRequests sends each call with aws-sdk-go-v2's own
// clients and wants the IAM action and resource AWS would authorize.
func TestActionsOfRealSDKRequests(t *testing.T) {
	rec := setupRecorder(t)
	cfg := aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDLOCAL", "secret", ""),
		BaseEndpoint:     aws.String(rec.url),
		RetryMaxAttempts: 1,
	}
	ctx := context.Background()
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	const acct = "000000000000"
	fn := "arn:aws:lambda:us-east-1:" + acct + ":function:hello"
	tests := []struct {
		name     string
		call     func()
		op       string
		action   string
		resource string
		context  map[string][]string
	}{
		{"s3 GetObject", func() {
			s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("artifacts"), Key: aws.String("runs/1/source.tar.gz")})
		},
			"GetObject", "s3:GetObject", "arn:aws:s3:::artifacts/runs/1/source.tar.gz", nil},
		{"s3 PutObject", func() {
			s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("artifacts"), Key: aws.String("a b/c.zip"), Body: strings.NewReader("x")})
		}, "PutObject", "s3:PutObject", "arn:aws:s3:::artifacts/a b/c.zip", nil},
		{"s3 HeadObject", func() {
			s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("artifacts"), Key: aws.String("k")})
		},
			"HeadObject", "s3:GetObject", "arn:aws:s3:::artifacts/k", nil},
		{"s3 ListObjectsV2", func() {
			s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("artifacts"), Prefix: aws.String("cache/")})
		}, "ListObjectsV2", "s3:ListBucket", "arn:aws:s3:::artifacts", map[string][]string{"s3:prefix": {"cache/"}}},
		{"s3 CreateBucket", func() { s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("artifacts")}) },
			"CreateBucket", "s3:CreateBucket", "arn:aws:s3:::artifacts", nil},
		{"s3 CreateMultipartUpload", func() {
			s3c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("artifacts"), Key: aws.String("big")})
		}, "CreateMultipartUpload", "s3:PutObject", "arn:aws:s3:::artifacts/big", nil},
		{"s3 GetBucketPolicy", func() { s3c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("artifacts")}) },
			"GetBucketPolicy", "s3:GetBucketPolicy", "arn:aws:s3:::artifacts", nil},
		{"s3 ListBuckets", func() { s3c.ListBuckets(ctx, &s3.ListBucketsInput{}) },
			"ListBuckets", "s3:ListAllMyBuckets", "*", nil},
		{"lambda Invoke", func() { lambda.NewFromConfig(cfg).Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello")}) },
			"Invoke", "lambda:InvokeFunction", fn, nil},
		{"lambda Invoke by ARN", func() { lambda.NewFromConfig(cfg).Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(fn)}) },
			"Invoke", "lambda:InvokeFunction", fn, nil},
		{"lambda GetFunction", func() {
			lambda.NewFromConfig(cfg).GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("hello")})
		},
			"GetFunction", "lambda:GetFunction", fn, nil},
		{"dynamodb GetItem", func() {
			dynamodb.NewFromConfig(cfg).GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("Locks"), Key: map[string]ddbtypes.AttributeValue{"id": &ddbtypes.AttributeValueMemberS{Value: "x"}}})
		}, "GetItem", "dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:" + acct + ":table/Locks", nil},
		{"dynamodb Query of an index", func() {
			dynamodb.NewFromConfig(cfg).Query(ctx, &dynamodb.QueryInput{TableName: aws.String("Runs"), IndexName: aws.String("byBranch"), KeyConditionExpression: aws.String("b = :b"),
				ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":b": &ddbtypes.AttributeValueMemberS{Value: "main"}}})
		}, "Query", "dynamodb:Query", "arn:aws:dynamodb:us-east-1:" + acct + ":table/Runs/index/byBranch", nil},
		{"dynamodb Query of a table", func() {
			dynamodb.NewFromConfig(cfg).Query(ctx, &dynamodb.QueryInput{TableName: aws.String("Runs"), KeyConditionExpression: aws.String("id = :id"),
				ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":id": &ddbtypes.AttributeValueMemberS{Value: "1"}}})
		}, "Query", "dynamodb:Query", "arn:aws:dynamodb:us-east-1:" + acct + ":table/Runs", nil},
		{"sqs SendMessage", func() {
			sqs.NewFromConfig(cfg).SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(rec.url + "/" + acct + "/jobs"), MessageBody: aws.String("m")})
		}, "SendMessage", "sqs:SendMessage", "arn:aws:sqs:us-east-1:" + acct + ":jobs", nil},
		{"sns Publish", func() {
			sns.NewFromConfig(cfg).Publish(ctx, &sns.PublishInput{TopicArn: aws.String("arn:aws:sns:us-east-1:" + acct + ":events"), Message: aws.String("m")})
		}, "Publish", "sns:Publish", "arn:aws:sns:us-east-1:" + acct + ":events", nil},
		{"secretsmanager GetSecretValue", func() {
			secretsmanager.NewFromConfig(cfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("arn:aws:secretsmanager:us-east-1:" + acct + ":secret:token-AbCdEf")})
		}, "GetSecretValue", "secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-east-1:" + acct + ":secret:token-AbCdEf", nil},
		{"sfn StartExecution", func() {
			sfn.NewFromConfig(cfg).StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String("arn:aws:states:us-east-1:" + acct + ":stateMachine:pipeline")})
		}, "StartExecution", "states:StartExecution", "arn:aws:states:us-east-1:" + acct + ":stateMachine:pipeline", nil},
		{"cloudformation DescribeStacks by name", func() {
			cloudformation.NewFromConfig(cfg).DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("hello-staging")})
		}, "DescribeStacks", "cloudformation:DescribeStacks", "arn:aws:cloudformation:us-east-1:" + acct + ":stack/hello-staging/*", nil},
		{"events PutEvents on the default bus", func() {
			eventbridge.NewFromConfig(cfg).PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{Source: aws.String("app"), DetailType: aws.String("t"), Detail: aws.String("{}")}}})
		}, "PutEvents", "events:PutEvents", "arn:aws:events:us-east-1:" + acct + ":event-bus/default", nil},
		{"events PutEvents on an app's bus", func() {
			eventbridge.NewFromConfig(cfg).PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{Source: aws.String("app"), DetailType: aws.String("t"), Detail: aws.String("{}"), EventBusName: aws.String("orders")}}})
		}, "PutEvents", "events:PutEvents", "arn:aws:events:us-east-1:" + acct + ":event-bus/orders", nil},
		{"sts AssumeRole", func() {
			sts.NewFromConfig(cfg).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + acct + ":role/stackflow/deploy"), RoleSessionName: aws.String("s")})
		}, "AssumeRole", "sts:AssumeRole", "arn:aws:iam::" + acct + ":role/stackflow/deploy", nil},
		{"sts GetCallerIdentity", func() { sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}) },
			"GetCallerIdentity", NeedsNoPermission, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.call()
			r, body := rec.last()
			sig, ok := ParseSignature(r)
			if !ok || sig.AccessKey != "AKIDLOCAL" || sig.Region != "us-east-1" {
				t.Fatalf("ParseSignature: got %+v %v, want the scope of AKIDLOCAL in us-east-1", sig, ok)
			}
			c, err := Identify(sig.Service, r, body)
			if err != nil {
				t.Fatalf("Identify: %v", err)
			}
			if c.Operation != tt.op {
				t.Errorf("operation: got %s, want %s", c.Operation, tt.op)
			}
			acts, err := Actions(c, "us-east-1", acct)
			if err != nil {
				t.Fatalf("Actions: %v", err)
			}
			if len(acts) != 1 || acts[0].Action != tt.action || acts[0].Resource != tt.resource {
				t.Fatalf("got %+v, want %s on %s", acts, tt.action, tt.resource)
			}
			for k, v := range tt.context {
				if !slices.Equal(acts[0].Context[k], v) {
					t.Errorf("context %s: got %q, want %q", k, acts[0].Context[k], v)
				}
			}
		})
	}
}

// TestOperationsOfOtherActionsNames: the operations of the local AWS
// whose IAM action is not named after them need the action AWS's
// documentation of each operation names, mapped from the generated data
// alone (this table was the hand-written map before the data gave it).
func TestOperationsOfOtherActionsNames(t *testing.T) {
	t.Parallel()
	params := map[string][]string{"Bucket": {"artifacts"}, "Key": {"runs/1.zip"}, "FunctionName": {"deploy"}}
	tests := []struct {
		service, operation string
		params             map[string][]string
		action, by         string
	}{
		{"s3", "ListObjectsV2", nil, "s3:ListBucket", bySAR},
		{"s3", "ListObjects", nil, "s3:ListBucket", byMoto},
		{"s3", "HeadBucket", nil, "s3:ListBucket", byDoc},
		{"s3", "HeadObject", nil, "s3:GetObject", byMoto},
		{"s3", "ListBuckets", nil, "s3:ListAllMyBuckets", bySAR},
		{"s3", "CreateMultipartUpload", nil, "s3:PutObject", byMoto},
		{"s3", "UploadPart", nil, "s3:PutObject", byMoto},
		{"s3", "CompleteMultipartUpload", nil, "s3:PutObject", byMoto},
		{"s3", "UploadPartCopy", nil, "s3:PutObject", byMoto},
		{"s3", "CopyObject", nil, "s3:PutObject", byMoto},
		{"s3", "DeleteObjects", nil, "s3:DeleteObject", byDoc},
		{"s3", "ListObjectVersions", nil, "s3:ListBucketVersions", bySAR},
		{"s3", "ListParts", nil, "s3:ListMultipartUploadParts", bySAR},
		{"s3", "GetBucketNotificationConfiguration", nil, "s3:GetBucketNotification", byMoto},
		{"s3", "PutBucketNotificationConfiguration", nil, "s3:PutBucketNotification", byMoto},
		{"s3", "GetBucketLifecycleConfiguration", nil, "s3:GetLifecycleConfiguration", bySAR},
		{"s3", "PutBucketLifecycleConfiguration", nil, "s3:PutLifecycleConfiguration", bySAR},
		{"s3", "DeleteBucketLifecycle", nil, "s3:PutLifecycleConfiguration", byMoto},
		{"s3", "GetBucketEncryption", nil, "s3:GetEncryptionConfiguration", bySAR},
		{"s3", "PutBucketEncryption", nil, "s3:PutEncryptionConfiguration", bySAR},
		{"s3", "PutPublicAccessBlock", nil, "s3:PutBucketPublicAccessBlock", bySAR},
		{"s3", "GetPublicAccessBlock", nil, "s3:GetBucketPublicAccessBlock", bySAR},
		{"s3", "DeletePublicAccessBlock", nil, "s3:PutBucketPublicAccessBlock", byDoc},
		{"lambda", "Invoke", nil, "lambda:InvokeFunction", bySAR},
		{"lambda", "InvokeWithResponseStream", nil, "lambda:InvokeFunction", byDoc},
		// Per request: a version of an object is another action.
		{"s3", "GetObject", nil, "s3:GetObject", ""},
		{"s3", "GetObject", map[string][]string{"VersionId": {"3HL4kqtJlcpXroDTDmJ"}}, "s3:GetObjectVersion", ""},
		{"s3", "DeleteObject", map[string][]string{"VersionId": {"3HL4kqtJlcpXroDTDmJ"}}, "s3:DeleteObjectVersion", ""},
		{"sts", "GetCallerIdentity", nil, NeedsNoPermission, byDoc},
	}
	data, err := services()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.service+" "+tt.operation, func(t *testing.T) {
			p := maps.Clone(params)
			maps.Copy(p, tt.params)
			acts, err := Actions(Call{Service: tt.service, Operation: tt.operation, Params: p}, "us-east-1", "000000000000")
			if err != nil {
				t.Fatal(err)
			}
			if len(acts) != 1 || acts[0].Action != tt.action {
				t.Errorf("got %+v, want %s", acts, tt.action)
			}
			if by := data.Services[tt.service].Operations[tt.operation].By; by != tt.by {
				t.Errorf("mapped by %q, want %q", by, tt.by)
			}
		})
	}
}

// TestGeneratedActionsAreRealOnes checks every operation the generated
// data maps to another action against both data sets: a real operation
// with no action of its own name, a real action, a known source.
func TestGeneratedActionsAreRealOnes(t *testing.T) {
	t.Parallel()
	data, err := services()
	if err != nil {
		t.Fatal(err)
	}
	mapped := 0
	for _, svc := range sortedKeys(data.Services) {
		m := data.Services[svc]
		for _, name := range sortedKeys(m.Operations) {
			op := m.Operations[name]
			if op.Action == "" && !op.NoPermission && len(op.OneOf) == 0 && op.By != "" {
				t.Errorf("%s %s: mapped by %s to no action", svc, name, op.By)
			}
			if op.NoPermission && op.By != byDoc {
				t.Errorf("%s %s: needs no permission by %q, want %s", svc, name, op.By, byDoc)
			}
			for _, member := range sortedKeys(op.ActionIf) {
				if a := m.action(op.ActionIf[member]); a == nil || a.Name != op.ActionIf[member] {
					t.Errorf("%s %s with %s: iam-data has no action %s:%s", svc, name, member, m.Prefix, op.ActionIf[member])
				}
				if _, ok := op.Members[member]; !ok {
					t.Errorf("%s %s: botocore's input has no member %s", svc, name, member)
				}
			}
			if op.Action == "" {
				continue
			}
			mapped++
			if !slices.Contains([]string{bySAR, byMoto, byDoc}, op.By) {
				t.Errorf("%s %s: mapped by %q, no source of the generator", svc, name, op.By)
			}
			if m.action(name) != nil {
				t.Errorf("%s %s: iam-data has an action of that name, yet the data maps it to %s", svc, name, op.Action)
			}
			if a := m.action(op.Action); a == nil || a.Name != op.Action {
				t.Errorf("%s %s: iam-data has no action %s:%s", svc, name, m.Prefix, op.Action)
			}
		}
	}
	if mapped < 25 {
		t.Errorf("the data maps %d operations to actions of other names, want at least the 25 of TestOperationsOfOtherActionsNames", mapped)
	}
}

// TestActionsRefusesWhatNoSourceMaps: an operation with no action of its
// name that no source maps (S3's
// DeleteBucketIntelligentTieringConfiguration) is an error naming it,
// which the proxy lets through with a warning.
func TestActionsRefusesWhatNoSourceMaps(t *testing.T) {
	t.Parallel()
	_, err := Actions(Call{Service: "s3", Operation: "DeleteBucketIntelligentTieringConfiguration"}, "us-east-1", "000000000000")
	if err == nil || !strings.Contains(err.Error(), "s3 DeleteBucketIntelligentTieringConfiguration") {
		t.Errorf("got %v, want an error naming s3 DeleteBucketIntelligentTieringConfiguration", err)
	}
}

func TestIdentifyRefusesWhatItCannotName(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest("POST", "/", bytes.NewReader([]byte("{}")))
	r.Header.Set("X-Amz-Target", "DynamoDB_20120810.NoSuchOperation")
	if _, err := Identify("dynamodb", r, []byte("{}")); err == nil || !strings.Contains(err.Error(), "NoSuchOperation") {
		t.Errorf("got %v, want an error naming NoSuchOperation", err)
	}
	if _, err := Identify("nosuchservice", r, nil); err == nil {
		t.Error("got no error for an unknown service")
	}
}

// TestPassingARoleIsAuthorizedAsIAMPassRole: a change set made with a
// service role also needs iam:PassRole on the role, passed to
// CloudFormation.
func TestPassingARoleIsAuthorizedAsIAMPassRole(t *testing.T) {
	rec := setupRecorder(t)
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCAL", "secret", ""),
		BaseEndpoint: aws.String(rec.url), RetryMaxAttempts: 1}
	role := "arn:aws:iam::000000000000:role/stackflow/cloudformation"
	cloudformation.NewFromConfig(cfg).CreateChangeSet(context.Background(), &cloudformation.CreateChangeSetInput{ //nolint:errcheck // recorded
		StackName: aws.String("hello-staging"), ChangeSetName: aws.String("cs"), RoleARN: aws.String(role), TemplateURL: aws.String("https://example.com/t")})
	r, body := rec.last()
	sig, _ := ParseSignature(r)
	c, err := Identify(sig.Service, r, body)
	if err != nil {
		t.Fatal(err)
	}
	acts, err := Actions(c, "us-east-1", "000000000000")
	if err != nil {
		t.Fatal(err)
	}
	if len(acts) != 2 || acts[0].Action != "cloudformation:CreateChangeSet" || acts[1].Action != "iam:PassRole" || acts[1].Resource != role ||
		!slices.Equal(acts[1].Context["iam:PassedToService"], []string{"cloudformation.amazonaws.com"}) {
		t.Errorf("got %+v, want CreateChangeSet, then iam:PassRole on %s passed to cloudformation.amazonaws.com", acts, role)
	}
}

// batchProxy is the IAM proxy in front of a recorder: a request it lets
// through reaches the recorder (which answers 501), a denied one does
// not.
type batchProxy struct {
	auth *Authority
	rec  *recorder
	log  *syncBuffer
	url  string
}

func setupBatchProxy(t *testing.T, mode Mode) *batchProxy {
	t.Helper()
	rec := setupRecorder(t)
	log := &syncBuffer{}
	auth := NewAuthority(Options{Account: testAccount, Region: "us-east-1", Mode: mode, Log: log})
	proxy, err := NewProxy(auth, rec.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	return &batchProxy{auth: auth, rec: rec, log: log, url: srv.URL}
}

// as returns the configuration of a session of a new role whose one
// inline policy has statements, and the session's principal.
func (b *batchProxy) as(t *testing.T, name, statements string) (aws.Config, string) {
	t.Helper()
	arn := "arn:aws:iam::" + testAccount + ":role/" + name
	b.auth.PutRole(&Role{ARN: arn, Name: name, ID: "AROA" + strings.ToUpper(name),
		Trust:  mustPolicy(t, `{"Statement":{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}}`),
		Inline: map[string]*Policy{"p": mustPolicy(t, `{"Version":"2012-10-17","Statement":[`+statements+`]}`)}})
	s, err := b.auth.Issue(arn, "lambda.amazonaws.com", name)
	if err != nil {
		t.Fatal(err)
	}
	return aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(b.url), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(s.AccessKeyID, s.SecretAccessKey, s.SessionToken)}, s.Principal.ARN
}

// TestBatchesAreAuthorizedAsTheirEntries sends batches and transactions
// with aws-sdk-go-v2's clients through the proxy: each needs what each
// of its entries stands for, on the entry's resource, as AWS authorizes
// them; a denial names the entry's action and resource.
func TestBatchesAreAuthorizedAsTheirEntries(t *testing.T) {
	t.Parallel()
	b := setupBatchProxy(t, Enforce)
	ctx := context.Background()
	const region = "us-east-1"
	table := func(name string) string { return "arn:aws:dynamodb:" + region + ":" + testAccount + ":table/" + name }
	queueURL := b.rec.url + "/" + testAccount + "/jobs"
	queue := "arn:aws:sqs:" + region + ":" + testAccount + ":jobs"
	topic := "arn:aws:sns:" + region + ":" + testAccount + ":news"
	allow := func(actions, resource string) string {
		return `{"Effect":"Allow","Action":[` + actions + `],"Resource":"` + resource + `"}`
	}
	key := map[string]ddbtypes.AttributeValue{"id": &ddbtypes.AttributeValueMemberS{Value: "1"}}
	put := func(tbl string) ddbtypes.TransactWriteItem {
		return ddbtypes.TransactWriteItem{Put: &ddbtypes.Put{TableName: aws.String(tbl), Item: key}}
	}
	transact := func(items ...ddbtypes.TransactWriteItem) func(aws.Config) error {
		return func(cfg aws.Config) error {
			_, err := dynamodb.NewFromConfig(cfg).TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
			return err
		}
	}
	statement := func(st string) func(aws.Config) error {
		return func(cfg aws.Config) error {
			_, err := dynamodb.NewFromConfig(cfg).ExecuteStatement(ctx, &dynamodb.ExecuteStatementInput{Statement: aws.String(st)})
			return err
		}
	}
	sendBatch := func(cfg aws.Config) error {
		_, err := sqs.NewFromConfig(cfg).SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(queueURL),
			Entries: []sqstypes.SendMessageBatchRequestEntry{{Id: aws.String("1"), MessageBody: aws.String("m")}, {Id: aws.String("2"), MessageBody: aws.String("n")}}})
		return err
	}
	publishBatch := func(cfg aws.Config) error {
		_, err := sns.NewFromConfig(cfg).PublishBatch(ctx, &sns.PublishBatchInput{TopicArn: aws.String(topic),
			PublishBatchRequestEntries: []snstypes.PublishBatchRequestEntry{{Id: aws.String("1"), Message: aws.String("m")}}})
		return err
	}
	tests := []struct {
		name   string
		policy string
		call   func(aws.Config) error
		// deniedAction and deniedResource are the denial's, "" when the
		// request goes through.
		deniedAction, deniedResource string
	}{
		{"TransactWriteItems of a Put, allowed PutItem", allow(`"dynamodb:PutItem"`, table("Orders")),
			transact(put("Orders")), "", ""},
		{"TransactWriteItems with a Delete, allowed PutItem only", allow(`"dynamodb:PutItem"`, table("Orders")),
			transact(put("Orders"), ddbtypes.TransactWriteItem{Delete: &ddbtypes.Delete{TableName: aws.String("Orders"), Key: key}}),
			"dynamodb:DeleteItem", table("Orders")},
		{"TransactWriteItems with an Update, allowed PutItem only", allow(`"dynamodb:PutItem"`, table("Orders")),
			transact(ddbtypes.TransactWriteItem{Update: &ddbtypes.Update{TableName: aws.String("Orders"), Key: key, UpdateExpression: aws.String("SET n = :n"),
				ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":n": &ddbtypes.AttributeValueMemberN{Value: "1"}}}}),
			"dynamodb:UpdateItem", table("Orders")},
		{"TransactWriteItems with a ConditionCheck, allowed PutItem only", allow(`"dynamodb:PutItem"`, table("Orders")),
			transact(put("Orders"), ddbtypes.TransactWriteItem{ConditionCheck: &ddbtypes.ConditionCheck{TableName: aws.String("Stock"), Key: key, ConditionExpression: aws.String("attribute_exists(id)")}}),
			"dynamodb:ConditionCheckItem", table("Stock")},
		{"TransactWriteItems on two tables, allowed one", allow(`"dynamodb:PutItem"`, table("Orders")),
			transact(put("Orders"), put("Audit")), "dynamodb:PutItem", table("Audit")},
		{"TransactWriteItems, denied in transactions by EnclosingOperation",
			allow(`"dynamodb:PutItem"`, table("Orders")) + `,{"Effect":"Deny","Action":"dynamodb:*","Resource":"*","Condition":{"StringEquals":{"dynamodb:EnclosingOperation":"TransactWriteItems"}}}`,
			transact(put("Orders")), "dynamodb:PutItem", table("Orders")},
		{"TransactGetItems, allowed GetItem", allow(`"dynamodb:GetItem"`, table("Orders")), func(cfg aws.Config) error {
			_, err := dynamodb.NewFromConfig(cfg).TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: []ddbtypes.TransactGetItem{{Get: &ddbtypes.Get{TableName: aws.String("Orders"), Key: key}}}})
			return err
		}, "", ""},
		{"TransactGetItems, allowed Query only", allow(`"dynamodb:Query"`, table("Orders")), func(cfg aws.Config) error {
			_, err := dynamodb.NewFromConfig(cfg).TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: []ddbtypes.TransactGetItem{{Get: &ddbtypes.Get{TableName: aws.String("Orders"), Key: key}}}})
			return err
		}, "dynamodb:GetItem", table("Orders")},
		{"BatchWriteItem on two tables, allowed one", allow(`"dynamodb:BatchWriteItem"`, table("Orders")), func(cfg aws.Config) error {
			_, err := dynamodb.NewFromConfig(cfg).BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]ddbtypes.WriteRequest{
				"Orders":       {{PutRequest: &ddbtypes.PutRequest{Item: key}}},
				table("Audit"): {{DeleteRequest: &ddbtypes.DeleteRequest{Key: key}}}}})
			return err
		}, "dynamodb:BatchWriteItem", table("Audit")},
		{"BatchGetItem, allowed BatchGetItem", allow(`"dynamodb:BatchGetItem"`, table("Orders")), func(cfg aws.Config) error {
			_, err := dynamodb.NewFromConfig(cfg).BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]ddbtypes.KeysAndAttributes{
				"Orders": {Keys: []map[string]ddbtypes.AttributeValue{key}}}})
			return err
		}, "", ""},
		{"BatchGetItem, allowed GetItem only", allow(`"dynamodb:GetItem"`, table("Orders")), func(cfg aws.Config) error {
			_, err := dynamodb.NewFromConfig(cfg).BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]ddbtypes.KeysAndAttributes{
				"Orders": {Keys: []map[string]ddbtypes.AttributeValue{key}}}})
			return err
		}, "dynamodb:BatchGetItem", table("Orders")},
		{"SendMessageBatch, allowed SendMessage", allow(`"sqs:SendMessage"`, queue), sendBatch, "", ""},
		{"SendMessageBatch, allowed ReceiveMessage only", allow(`"sqs:ReceiveMessage"`, queue), sendBatch, "sqs:SendMessage", queue},
		{"DeleteMessageBatch, allowed ReceiveMessage only", allow(`"sqs:ReceiveMessage"`, queue), func(cfg aws.Config) error {
			_, err := sqs.NewFromConfig(cfg).DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(queueURL),
				Entries: []sqstypes.DeleteMessageBatchRequestEntry{{Id: aws.String("1"), ReceiptHandle: aws.String("r")}}})
			return err
		}, "sqs:DeleteMessage", queue},
		{"PublishBatch, allowed Publish", allow(`"sns:Publish"`, topic), publishBatch, "", ""},
		{"PublishBatch, allowed Subscribe only", allow(`"sns:Subscribe"`, topic), publishBatch, "sns:Publish", topic},
		{"ExecuteStatement SELECT, allowed PartiQLSelect", allow(`"dynamodb:PartiQLSelect"`, table("Orders")),
			statement(`SELECT * FROM "Orders" WHERE id = ?`), "", ""},
		{"ExecuteStatement SELECT, allowed GetItem only", allow(`"dynamodb:GetItem"`, table("Orders")),
			statement(`SELECT * FROM "Orders" WHERE id = ?`), "dynamodb:PartiQLSelect", table("Orders")},
		{"ExecuteStatement SELECT of an index, allowed on the table only", allow(`"dynamodb:PartiQLSelect"`, table("Orders")),
			statement(`SELECT * FROM "Orders"."byCustomer" WHERE customer = ?`), "dynamodb:PartiQLSelect", table("Orders") + "/index/byCustomer"},
		{"ExecuteStatement DELETE, allowed PartiQLSelect only", allow(`"dynamodb:PartiQLSelect"`, table("Orders")),
			statement(`delete from Orders where id = ?`), "dynamodb:PartiQLDelete", table("Orders")},
		{"BatchExecuteStatement of a SELECT and an INSERT, allowed PartiQLSelect only", allow(`"dynamodb:PartiQLSelect"`, table("Orders")), func(cfg aws.Config) error {
			_, err := dynamodb.NewFromConfig(cfg).BatchExecuteStatement(ctx, &dynamodb.BatchExecuteStatementInput{Statements: []ddbtypes.BatchStatementRequest{
				{Statement: aws.String(`SELECT * FROM "Orders" WHERE id = ?`)}, {Statement: aws.String(`INSERT INTO "Orders" VALUE {'id': ?}`)}}})
			return err
		}, "dynamodb:PartiQLInsert", table("Orders")},
		{"ExecuteTransaction, allowed PartiQLUpdate in transactions",
			`{"Effect":"Allow","Action":"dynamodb:PartiQLUpdate","Resource":"` + table("Orders") + `","Condition":{"StringEquals":{"dynamodb:EnclosingOperation":"ExecuteTransaction"}}}`,
			func(cfg aws.Config) error {
				_, err := dynamodb.NewFromConfig(cfg).ExecuteTransaction(ctx, &dynamodb.ExecuteTransactionInput{TransactStatements: []ddbtypes.ParameterizedStatement{
					{Statement: aws.String(`UPDATE "Orders" SET n = 1 WHERE id = ?`)}}})
				return err
			}, "", ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, principal := b.as(t, fmt.Sprintf("role%d", i), tt.policy)
			before := b.rec.count()
			err := tt.call(cfg)
			passed := b.rec.count() > before
			if tt.deniedAction == "" {
				if !passed {
					t.Fatalf("got %v, want the request let through to the local AWS", err)
				}
				return
			}
			if passed {
				t.Fatalf("the request reached the local AWS, want it denied %s on %s", tt.deniedAction, tt.deniedResource)
			}
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("got %v, want AccessDenied", err)
			}
			want := "User: " + principal + " is not authorized to perform: " + tt.deniedAction + " on resource: " + tt.deniedResource
			if !strings.Contains(apiErr.ErrorCode(), "AccessDenied") || !strings.HasPrefix(apiErr.ErrorMessage(), want) {
				t.Errorf("got %s %q, want AccessDenied %q", apiErr.ErrorCode(), apiErr.ErrorMessage(), want)
			}
		})
	}
}

// TestStatementsThatCannotBeReadAreRefused: a PartiQL statement whose
// verb or table cannot be read is refused when enforcing, with an error
// naming the kind of statement, and let through with a line in the log
// in warn mode; neither quotes the statement.
func TestStatementsThatCannotBeReadAreRefused(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-literal"
	tests := []struct {
		statement, want string
	}{
		{`SELECT * WHERE id = '` + secret + `'`, "cannot read the table of a SELECT statement"},
		{`EXPLAIN SELECT * FROM "Orders" WHERE id = '` + secret + `'`, `a statement that begins with "EXPLAIN" is none of SELECT, INSERT, UPDATE and DELETE`},
		{`'` + secret + `'`, "the statement does not begin with a keyword"},
	}
	for _, mode := range []Mode{Enforce, Warn} {
		b := setupBatchProxy(t, mode)
		cfg, _ := b.as(t, "reader", `{"Effect":"Allow","Action":"dynamodb:*","Resource":"*"}`)
		for _, tt := range tests {
			before := b.rec.count()
			_, err := dynamodb.NewFromConfig(cfg).ExecuteStatement(context.Background(), &dynamodb.ExecuteStatementInput{Statement: aws.String(tt.statement)})
			if passed := b.rec.count() > before; passed == (mode == Enforce) {
				t.Errorf("%s %q: let through %v, want %v (%v)", mode, tt.statement, passed, mode != Enforce, err)
			}
			var apiErr smithy.APIError
			if mode == Enforce && (!errors.As(err, &apiErr) || apiErr.ErrorCode() != "AccessDeniedException" || !strings.Contains(apiErr.ErrorMessage(), tt.want)) {
				t.Errorf("%s %q: got %v, want AccessDeniedException saying %q", mode, tt.statement, err, tt.want)
			}
			if !strings.Contains(b.log.String(), tt.want) {
				t.Errorf("%s %q: the log does not say %q:\n%s", mode, tt.statement, tt.want, b.log.String())
			}
		}
		if strings.Contains(b.log.String(), secret) {
			t.Errorf("%s: the log quotes the statement:\n%s", mode, b.log.String())
		}
	}
}

// TestEntriesNameRealOperationsAndActions checks every batch and
// transaction the generated data authorizes as its entries: the entries'
// member is the operation's, each stands for an operation of the service
// that maps to an action, or for an action of iam-data, its resource is a
// member of the request or of the operation it stands for, and the
// entries a proxy must read from the body are in a JSON protocol's. And
// those it maps are the ones AWS authorizes as their entries.
func TestEntriesNameRealOperationsAndActions(t *testing.T) {
	t.Parallel()
	data, err := services()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, svc := range sortedKeys(data.Services) {
		m := data.Services[svc]
		for _, name := range sortedKeys(m.Operations) {
			op := m.Operations[name]
			if len(op.OneOf) > 0 {
				got[svc+" "+name] = "one of " + strings.Join(op.OneOf, ", ")
				if op.By != bySAR {
					t.Errorf("%s %s: one of %v by %q, want %s", svc, name, op.OneOf, op.By, bySAR)
				}
				for _, a := range op.OneOf {
					if m.action(a) == nil {
						t.Errorf("%s %s: iam-data has no action %s:%s", svc, name, m.Prefix, a)
					}
				}
				if _, ok := op.Members[op.Statement]; !ok {
					t.Errorf("%s %s: botocore's input has no member %s", svc, name, op.Statement)
				}
			}
			if len(op.Entries) == 0 {
				continue
			}
			var kinds []string
			for _, e := range op.Entries {
				if e.Keyed {
					kinds = append(kinds, e.Operation+" on the "+e.Resource+" of each key")
					if e.Operation != name || m.action(name) == nil {
						t.Errorf("%s %s: entries keyed by their resource stand for %s, want the operation's own action", svc, name, e.Operation)
					} else if !strings.Contains(m.ResourceTypes[strings.ToLower(m.action(name).Resources[0].Type)], "${"+e.Resource+"}") {
						t.Errorf("%s %s: the keys fill %s, no variable of the action's resource", svc, name, e.Resource)
					}
					continue
				}
				if m.action(name) != nil || op.Action != "" {
					t.Errorf("%s %s: authorized as its entries, yet it has an action", svc, name)
				}
				kinds = append(kinds, strings.TrimPrefix(e.Kind+":", ":")+e.Operation+" on "+cmp.Or(e.Resource, "its statement's table"))
				if e.By != byShapes {
					t.Errorf("%s %s: entries by %q, want %s", svc, name, e.By, byShapes)
				}
				if _, ok := op.Members[e.Member]; !ok {
					t.Errorf("%s %s: botocore's input has no member %s", svc, name, e.Member)
				}
				stand := m.Operations[e.Operation]
				switch {
				case stand == nil && m.action(e.Operation) == nil:
					t.Errorf("%s %s: an entry stands for %s, neither an operation of the service nor an action of iam-data", svc, name, e.Operation)
				case stand != nil && m.action(e.Operation) == nil && stand.Action == "" && len(stand.OneOf) == 0:
					t.Errorf("%s %s: an entry stands for %s, which no action authorizes", svc, name, e.Operation)
				}
				switch {
				case e.InRequest:
					if _, ok := op.Members[e.Resource]; !ok {
						t.Errorf("%s %s: its resource %s is no member of the request", svc, name, e.Resource)
					}
				case e.Resource != "" && stand != nil:
					if _, ok := stand.Members[e.Resource]; !ok {
						t.Errorf("%s %s: its entries' resource %s is no member of %s", svc, name, e.Resource, e.Operation)
					}
				}
				if !e.InRequest && m.Protocol != "json" {
					t.Errorf("%s %s: entries read from the body of a %s request", svc, name, m.Protocol)
				}
			}
			got[svc+" "+name] = strings.Join(kinds, ", ")
		}
	}
	want := map[string]string{
		"dynamodb BatchGetItem":            "BatchGetItem on the TableName of each key",
		"dynamodb BatchWriteItem":          "BatchWriteItem on the TableName of each key",
		"dynamodb BatchExecuteStatement":   "ExecuteStatement on its statement's table",
		"dynamodb ExecuteStatement":        "one of PartiQLDelete, PartiQLInsert, PartiQLSelect, PartiQLUpdate",
		"dynamodb ExecuteTransaction":      "ExecuteStatement on its statement's table",
		"dynamodb TransactGetItems":        "Get:GetItem on TableName",
		"dynamodb TransactWriteItems":      "ConditionCheck:ConditionCheckItem on TableName, Delete:DeleteItem on TableName, Put:PutItem on TableName, Update:UpdateItem on TableName",
		"sns PublishBatch":                 "Publish on TopicArn",
		"sqs ChangeMessageVisibilityBatch": "ChangeMessageVisibility on QueueUrl",
		"sqs DeleteMessageBatch":           "DeleteMessage on QueueUrl",
		"sqs SendMessageBatch":             "SendMessage on QueueUrl",
	}
	if !maps.Equal(got, want) {
		t.Errorf("got %q,\nwant %q", got, want)
	}
}

// TestParametersNamedTwiceAreRefused: a JSON body that names a
// parameter twice in different cases (which Go's JSON decoding of the
// local AWS may read either way) is refused when enforcing, at the top
// of the request or in an entry, rather than authorized on one value and
// served on the other.
func TestParametersNamedTwiceAreRefused(t *testing.T) {
	t.Parallel()
	b := setupBatchProxy(t, Enforce)
	cfg, _ := b.as(t, "writer", `{"Effect":"Allow","Action":["dynamodb:PutItem","dynamodb:DeleteItem"],"Resource":"arn:aws:dynamodb:*:*:table/Orders"}`)
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	const twice = "more than once, in different cases"
	tests := []struct {
		name, target, body string
		// want is what the refusal says, "" when the request goes
		// through.
		want string
	}{
		{"an entry's table", "TransactWriteItems",
			`{"TransactItems":[{"Delete":{"TableName":"Orders","tablename":"Audit","Key":{"id":{"S":"1"}}}}]}`, twice},
		{"a request's table", "DeleteItem", `{"TableName":"Orders","TABLENAME":"Audit","Key":{"id":{"S":"1"}}}`, twice},
		{"a kind named in another case", "TransactWriteItems",
			`{"transactItems":[{"delete":{"tableName":"Audit","Key":{"id":{"S":"1"}}}}]}`, "dynamodb:DeleteItem on resource: arn:aws:dynamodb:us-east-1:" + testAccount + ":table/Audit"},
		{"one name each", "TransactWriteItems", `{"TransactItems":[{"Delete":{"TableName":"Orders","Key":{"id":{"S":"1"}}}}]}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := http.NewRequest("POST", b.url+"/", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			r.Header.Set("Content-Type", "application/x-amz-json-1.0")
			r.Header.Set("X-Amz-Target", "DynamoDB_20120810."+tt.target)
			sum := sha256.Sum256([]byte(tt.body))
			if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hex.EncodeToString(sum[:]), "dynamodb", "us-east-1", time.Now()); err != nil {
				t.Fatal(err)
			}
			before := b.rec.count()
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			msg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if passed := b.rec.count() > before; passed != (tt.want == "") {
				t.Fatalf("let through %v, want %v: %d %s", passed, tt.want == "", resp.StatusCode, msg)
			}
			if tt.want != "" && (resp.Header.Get("X-Amzn-ErrorType") != "AccessDeniedException" || !strings.Contains(string(msg), tt.want)) {
				t.Errorf("got %d %s %s, want AccessDeniedException saying %q", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), msg, tt.want)
			}
		})
	}
}
