package iam

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/codedeploy"
	cdtypes "github.com/aws/aws-sdk-go-v2/service/codedeploy/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/sivchari/kumo"
)

const testAccount = "000000000000"

// syncBuffer is a log several goroutines write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// localAWS is kumo behind the IAM proxy, with the root's configuration
// and an authority that knows one function role.
type localAWS struct {
	auth *Authority
	log  *syncBuffer
	url  string
	root aws.Config
	role string
	// skew moves the local AWS's clock from this machine's (nanoseconds):
	// the SDK signs with this machine's.
	skew atomic.Int64
}

func setupLocalAWS(t *testing.T, mode Mode) *localAWS {
	t.Helper()
	k := kumo.NewServer()
	t.Cleanup(k.Close)
	log := &syncBuffer{}
	l := &localAWS{log: log, role: "arn:aws:iam::" + testAccount + ":role/app-fn"}
	auth := NewAuthority(Options{Account: testAccount, Region: "us-east-1", Mode: mode, Log: log,
		Now: func() time.Time { return time.Now().Add(time.Duration(l.skew.Load())) }})
	l.auth = auth
	proxy, err := NewProxy(auth, k.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	l.url = srv.URL
	l.root = l.config(aws.Credentials{AccessKeyID: "local", SecretAccessKey: "local"})
	auth.PutRole(&Role{
		ARN: l.role, Name: "app-fn", ID: "AROAAPPFN",
		Trust: mustPolicy(t, `{"Statement":{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}}`),
		Inline: map[string]*Policy{"app": mustPolicy(t, `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:Query"],"Resource":"arn:aws:dynamodb:*:*:table/Locks"},
			{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::artifacts/*"},
			{"Effect":"Allow","Action":"sns:Publish","Resource":"*"}]}`)},
	})
	return l
}

func (l *localAWS) config(c aws.Credentials) aws.Config {
	return aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(l.url), RetryMaxAttempts: 1,
		Credentials: credentials.StaticCredentialsProvider{Value: c}}
}

// as returns the configuration of a session of the function's role.
func (l *localAWS) as(t *testing.T) (aws.Config, *Session) {
	t.Helper()
	s, err := l.auth.Issue(l.role, "lambda.amazonaws.com", "app-fn")
	if err != nil {
		t.Fatal(err)
	}
	return l.config(aws.Credentials{AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey, SessionToken: s.SessionToken}), s
}

func mustPolicy(t *testing.T, doc string) *Policy {
	t.Helper()
	p, err := ParsePolicy([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func wantAccessDenied(t *testing.T, err error, code, want string) {
	t.Helper()
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("got %v, want %s", err, code)
	}
	if apiErr.ErrorCode() != code || apiErr.ErrorMessage() != want {
		t.Errorf("got %s %q, want %s %q", apiErr.ErrorCode(), apiErr.ErrorMessage(), code, want)
	}
}

func TestProxyEnforcesTheRolesPolicies(t *testing.T) {
	l := setupLocalAWS(t, Enforce)
	ctx := context.Background()
	rootDB := dynamodb.NewFromConfig(l.root)
	// kumo's servers in one process share their tables and buckets: the
	// signature tests (sigv4AWS) make the same ones.
	var inUse *ddbtypes.ResourceInUseException
	if _, err := rootDB.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String("Locks"), BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: ddbtypes.KeyTypeHash}},
	}); err != nil && !errors.As(err, &inUse) {
		t.Fatal(err)
	}
	rootS3 := s3.NewFromConfig(l.root, func(o *s3.Options) { o.UsePathStyle = true })
	bucket := "artifacts"
	if _, err := rootS3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil && !strings.Contains(err.Error(), "BucketAlready") {
		t.Fatal(err)
	}
	if _, err := rootS3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("runs/1.zip"), Body: strings.NewReader("zip")}); err != nil {
		t.Fatal(err)
	}

	cfg, sess := l.as(t)
	db := dynamodb.NewFromConfig(cfg)
	key := map[string]ddbtypes.AttributeValue{"id": &ddbtypes.AttributeValueMemberS{Value: "staging"}}
	if _, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("Locks"), Key: key}); err != nil {
		t.Errorf("GetItem, which the role allows: %v", err)
	}
	_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("Locks"), Item: key})
	wantAccessDenied(t, err, "AccessDeniedException", "User: "+sess.Principal.ARN+" is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:us-east-1:"+testAccount+":table/Locks because no identity-based policy allows the dynamodb:PutItem action")

	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("runs/1.zip")}); err != nil {
		t.Errorf("GetObject, which the role allows: %v", err)
	}
	_, err = s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("runs/2.zip"), Body: strings.NewReader("x")})
	wantAccessDenied(t, err, "AccessDenied", "User: "+sess.Principal.ARN+" is not authorized to perform: s3:PutObject on resource: arn:aws:s3:::artifacts/runs/2.zip because no identity-based policy allows the s3:PutObject action")

	// A bucket policy's explicit deny wins over the role's allow.
	l.auth.PutResourcePolicy("arn:aws:s3:::"+bucket, "policy", mustPolicy(t, `{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::artifacts/runs/*"}]}`))
	_, err = s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("runs/1.zip")})
	wantAccessDenied(t, err, "AccessDenied", "User: "+sess.Principal.ARN+" is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::artifacts/runs/1.zip with an explicit deny in a resource-based policy")

	// A query protocol's denial.
	_, err = sns.NewFromConfig(cfg).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("events")})
	wantAccessDenied(t, err, "AccessDenied", "User: "+sess.Principal.ARN+" is not authorized to perform: sns:CreateTopic on resource: arn:aws:sns:us-east-1:"+testAccount+":events because no identity-based policy allows the sns:CreateTopic action")

	if !strings.Contains(l.log.String(), "IAM denied: User: "+sess.Principal.ARN+" is not authorized to perform: dynamodb:PutItem") {
		t.Errorf("the log does not show the denial:\n%s", l.log.String())
	}
}

func TestProxyWarnLetsDenialsThrough(t *testing.T) {
	l := setupLocalAWS(t, Warn)
	ctx := context.Background()
	cfg, sess := l.as(t)
	if _, err := sns.NewFromConfig(cfg).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("events")}); err != nil {
		t.Fatalf("CreateTopic in warn mode: %v", err)
	}
	want := "IAM would deny (let through, --iam warn): User: " + sess.Principal.ARN + " is not authorized to perform: sns:CreateTopic"
	if !strings.Contains(l.log.String(), want) {
		t.Errorf("the log does not say %q:\n%s", want, l.log.String())
	}
}

// TestProxyLetsThroughWhatTheDataCannotMap: a request whose operation
// no source maps to an IAM action (S3's
// DeleteBucketIntelligentTieringConfiguration) is let through with a
// warning naming it, even when enforcing; one that the data maps per
// request (GetObject of a version is s3:GetObjectVersion) is enforced.
func TestProxyLetsThroughWhatTheDataCannotMap(t *testing.T) {
	l := setupLocalAWS(t, Enforce)
	ctx := context.Background()
	cfg, sess := l.as(t)
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	_, err := s3c.DeleteBucketIntelligentTieringConfiguration(ctx, &s3.DeleteBucketIntelligentTieringConfigurationInput{
		Bucket: aws.String("artifacts"), Id: aws.String("archive")})
	if apiErr := (smithy.APIError)(nil); errors.As(err, &apiErr) && apiErr.ErrorCode() == "AccessDenied" {
		t.Errorf("DeleteBucketIntelligentTieringConfiguration, which no source maps: got %v, want it let through", err)
	}
	want := "IAM: let through a request the data cannot map: s3 DeleteBucketIntelligentTieringConfiguration"
	if !strings.Contains(l.log.String(), want) {
		t.Errorf("the log does not say %q:\n%s", want, l.log.String())
	}

	_, err = s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("artifacts"), Key: aws.String("runs/1.zip"), VersionId: aws.String("3HL4kqtJlcpXroDTDmJ")})
	wantAccessDenied(t, err, "AccessDenied", "User: "+sess.Principal.ARN+" is not authorized to perform: s3:GetObjectVersion on resource: arn:aws:s3:::artifacts/runs/1.zip because no identity-based policy allows the s3:GetObjectVersion action")
}

func TestLocalSTS(t *testing.T) {
	l := setupLocalAWS(t, Enforce)
	ctx := context.Background()
	cfg, sess := l.as(t)
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(id.Arn); got != sess.Principal.ARN || got != "arn:aws:sts::"+testAccount+":assumed-role/app-fn/app-fn" {
		t.Errorf("GetCallerIdentity: got %s, want the session's ARN %s", got, sess.Principal.ARN)
	}

	deploy := "arn:aws:iam::" + testAccount + ":role/stackflow/deploy"
	l.auth.PutRole(&Role{ARN: deploy, Name: "deploy", ID: "AROADEPLOY",
		Trust: mustPolicy(t, `{"Statement":{"Effect":"Allow","Principal":{"AWS":"`+l.role+`"},"Action":"sts:AssumeRole"}}`)})
	cfnRole := "arn:aws:iam::" + testAccount + ":role/cloudformation"
	l.auth.PutRole(&Role{ARN: cfnRole, Name: "cloudformation", ID: "AROACFN",
		Trust: mustPolicy(t, `{"Statement":{"Effect":"Allow","Principal":{"Service":"cloudformation.amazonaws.com"},"Action":"sts:AssumeRole"}}`)})

	stsc := sts.NewFromConfig(cfg)
	out, err := stsc.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(deploy), RoleSessionName: aws.String("run-1")})
	if err != nil {
		t.Fatalf("AssumeRole of a role that trusts the caller: %v", err)
	}
	if got := aws.ToString(out.AssumedRoleUser.Arn); got != "arn:aws:sts::"+testAccount+":assumed-role/deploy/run-1" {
		t.Errorf("AssumeRole: got %s", got)
	}
	as := l.config(aws.Credentials{AccessKeyID: aws.ToString(out.Credentials.AccessKeyId), SecretAccessKey: aws.ToString(out.Credentials.SecretAccessKey), SessionToken: aws.ToString(out.Credentials.SessionToken)})
	id, err = sts.NewFromConfig(as).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(id.Arn) != aws.ToString(out.AssumedRoleUser.Arn) {
		t.Errorf("GetCallerIdentity with the assumed role's credentials: got %v %v", id, err)
	}

	_, err = stsc.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(cfnRole), RoleSessionName: aws.String("x")})
	wantAccessDenied(t, err, "AccessDenied", "User: "+sess.Principal.ARN+" is not authorized to perform: sts:AssumeRole on resource: "+cfnRole+" because no resource-based policy allows the sts:AssumeRole action")

	if _, err := l.auth.Issue(cfnRole, "lambda.amazonaws.com", "f"); err == nil || !strings.Contains(err.Error(), "trust policy") {
		t.Errorf("Issue for a service the role does not trust: got %v, want an error naming the trust policy", err)
	}
}

func TestLambdaPermissionsDecideServiceInvocations(t *testing.T) {
	t.Parallel()
	auth := NewAuthority(Options{Account: testAccount, Region: "us-east-1"})
	fn := "arn:aws:lambda:us-east-1:" + testAccount + ":function:hello"
	api := "arn:aws:execute-api:us-east-1:" + testAccount + ":abc123/*/*/hello"
	if msg := auth.Check("apigateway.amazonaws.com", "lambda:InvokeFunction", fn, api, testAccount); msg == "" {
		t.Error("an invocation with no permission was allowed")
	}
	auth.PutResourcePolicy(fn, "HelloApiPermission", mustPolicy(t, `{"Statement":[{"Effect":"Allow","Principal":{"Service":"apigateway.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"`+fn+`","Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:execute-api:us-east-1:`+testAccount+`:abc123/*/*/hello"}}}]}`))
	if msg := auth.Check("apigateway.amazonaws.com", "lambda:InvokeFunction", fn, "arn:aws:execute-api:us-east-1:"+testAccount+":abc123/$default/GET/hello", testAccount); msg != "" {
		t.Errorf("the permission's invocation was denied: %s", msg)
	}
	if msg := auth.Check("sns.amazonaws.com", "lambda:InvokeFunction", fn, "arn:aws:sns:us-east-1:"+testAccount+":t", testAccount); msg == "" {
		t.Error("SNS invoked a function whose permission names API Gateway only")
	}
}

func TestReportShowsUsedAndUnusedActions(t *testing.T) {
	l := setupLocalAWS(t, Enforce)
	ctx := context.Background()
	cfg, _ := l.as(t)
	if _, err := sns.NewFromConfig(l.root).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("events")}); err != nil {
		t.Fatal(err)
	}
	if _, err := sns.NewFromConfig(cfg).Publish(ctx, &sns.PublishInput{TopicArn: aws.String("arn:aws:sns:us-east-1:" + testAccount + ":events"), Message: aws.String("m")}); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	l.auth.WriteReport(&b)
	want := l.role + "\n  used (1): sns:Publish\n  granted, never used (3): dynamodb:GetItem, dynamodb:Query, s3:GetObject\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// TestAServiceAssumesOnlyTheRolesThatTrustIt: the local Step Functions'
// credentials are the service principal states.amazonaws.com's, which
// may assume a role whose trust policy names it, and no other.
func TestAServiceAssumesOnlyTheRolesThatTrustIt(t *testing.T) {
	l := setupLocalAWS(t, Enforce)
	ctx := context.Background()
	machine := "arn:aws:iam::" + testAccount + ":role/machine"
	l.auth.PutRole(&Role{ARN: machine, Name: "machine", ID: "AROAMACHINE",
		Trust: mustPolicy(t, `{"Statement":{"Effect":"Allow","Principal":{"Service":"states.amazonaws.com"},"Action":"sts:AssumeRole"}}`)})
	svc := l.auth.ServiceCredentials("states.amazonaws.com")
	stsc := sts.NewFromConfig(l.config(aws.Credentials{AccessKeyID: svc.AccessKeyID, SecretAccessKey: svc.SecretAccessKey}))
	out, err := stsc.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(machine), RoleSessionName: aws.String("StepFunctions")})
	if err != nil {
		t.Fatalf("AssumeRole of a role that trusts states.amazonaws.com: %v", err)
	}
	if got := aws.ToString(out.AssumedRoleUser.Arn); got != "arn:aws:sts::"+testAccount+":assumed-role/machine/StepFunctions" {
		t.Errorf("got %s", got)
	}
	_, err = stsc.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(l.role), RoleSessionName: aws.String("StepFunctions")})
	wantAccessDenied(t, err, "AccessDenied", "User: states.amazonaws.com is not authorized to perform: sts:AssumeRole on resource: "+l.role+" because no resource-based policy allows the sts:AssumeRole action")
}

// TestConditionsOnResourceTagsReadTheResourcesTags: a grant on functions
// tagged with an environment (the pipeline's smoke role's) allows a
// function whose stack tagged it, and no other.
func TestConditionsOnResourceTagsReadTheResourcesTags(t *testing.T) {
	t.Parallel()
	tagged := "arn:aws:lambda:us-east-1:" + testAccount + ":function:hello-staging-Fn"
	auth := NewAuthority(Options{Account: testAccount, Region: "us-east-1", Resolve: func(arn string) (string, map[string]string) {
		if arn == tagged {
			return arn, map[string]string{"stackflow:environment": "staging"}
		}
		return "", nil
	}})
	role := "arn:aws:iam::" + testAccount + ":role/smoke"
	auth.PutRole(&Role{ARN: role, Name: "smoke", ID: "AROASMOKE", Inline: map[string]*Policy{"p": mustPolicy(t, `{"Statement":[{"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:*:*:function:*",
		"Condition":{"Null":{"aws:ResourceTag/stackflow:environment":"false"}}}]}`)}})
	s, err := auth.Issue(role, "", "smoke")
	if err != nil {
		t.Fatal(err)
	}
	if _, d := auth.Authorize(s, Action{Action: "lambda:InvokeFunction", Resource: tagged}, ""); !d.Allowed() {
		t.Errorf("the tagged function: got %s %s, want Allowed", d.Outcome, d.Reason)
	}
	if _, d := auth.Authorize(s, Action{Action: "lambda:InvokeFunction", Resource: "arn:aws:lambda:us-east-1:" + testAccount + ":function:other"}, ""); d.Allowed() {
		t.Error("a function without the tag was allowed")
	}
}

// TestHooksReportsAreAuthorizedOnTheirDeploymentGroup: a CodeDeploy hook's
// PutLifecycleEventHookExecutionStatus names only its deployment;
// Options.Deployment gives the deployment group IAM authorizes it on.
func TestHooksReportsAreAuthorizedOnTheirDeploymentGroup(t *testing.T) {
	codeDeploy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = w.Write([]byte(`{"lifecycleEventHookExecutionId":"x"}`))
	}))
	t.Cleanup(codeDeploy.Close)
	groups := map[string][2]string{"d-MINE00000": {"app", "hello"}, "d-OTHER0000": {"other", "hello"}}
	auth := NewAuthority(Options{Account: testAccount, Region: "us-east-1", Mode: Enforce, Log: io.Discard,
		Deployment: func(id string) (string, string, bool) {
			g, ok := groups[id]
			return g[0], g[1], ok
		}})
	proxy, err := NewProxy(auth, codeDeploy.URL, map[string]string{"codedeploy": codeDeploy.URL})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	role := "arn:aws:iam::" + testAccount + ":role/hook"
	auth.PutRole(&Role{ARN: role, Name: "hook", ID: "AROAHOOK",
		Trust: mustPolicy(t, `{"Statement":{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}}`),
		Inline: map[string]*Policy{"hook": mustPolicy(t, `{"Statement":{"Effect":"Allow","Action":"codedeploy:PutLifecycleEventHookExecutionStatus",
			"Resource":"arn:aws:codedeploy:us-east-1:`+testAccount+`:deploymentgroup:app/*"}}`)}})
	s, err := auth.Issue(role, "lambda.amazonaws.com", "hook")
	if err != nil {
		t.Fatal(err)
	}
	cd := codedeploy.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.StaticCredentialsProvider{Value: aws.Credentials{AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey, SessionToken: s.SessionToken}}})
	report := func(id string) error {
		_, err := cd.PutLifecycleEventHookExecutionStatus(context.Background(), &codedeploy.PutLifecycleEventHookExecutionStatusInput{
			DeploymentId: aws.String(id), LifecycleEventHookExecutionId: aws.String("x"), Status: cdtypes.LifecycleEventStatusSucceeded})
		return err
	}
	if err := report("d-MINE00000"); err != nil {
		t.Errorf("the report of a deployment of the group the role may report on: %v", err)
	}
	wantAccessDenied(t, report("d-OTHER0000"), "AccessDeniedException", "User: "+s.Principal.ARN+
		" is not authorized to perform: codedeploy:PutLifecycleEventHookExecutionStatus on resource: arn:aws:codedeploy:us-east-1:"+testAccount+
		":deploymentgroup:other/hello because no identity-based policy allows the codedeploy:PutLifecycleEventHookExecutionStatus action")
}
