package iam

import (
	"bytes"
	"context"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
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
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// recorder is an httptest server that keeps the last request the SDK
// sent (and answers it with an error the SDK gives up on).
type recorder struct {
	mu   sync.Mutex
	req  *http.Request
	body []byte
	url  string
}

func setupRecorder(t *testing.T) *recorder {
	t.Helper()
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.req, rec.body = r.Clone(context.Background()), b
		rec.mu.Unlock()
		http.Error(w, "recorded", http.StatusNotImplemented)
	}))
	t.Cleanup(srv.Close)
	rec.url = srv.URL
	return rec
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
			if op.Action == "" && !op.NoPermission && op.By != "" {
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
// name that no source maps (SQS's SendMessageBatch) is an error naming
// it, which the proxy lets through with a warning.
func TestActionsRefusesWhatNoSourceMaps(t *testing.T) {
	t.Parallel()
	_, err := Actions(Call{Service: "sqs", Operation: "SendMessageBatch"}, "us-east-1", "000000000000")
	if err == nil || !strings.Contains(err.Error(), "sqs SendMessageBatch") {
		t.Errorf("got %v, want an error naming sqs SendMessageBatch", err)
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
