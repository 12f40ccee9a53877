package iam

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// sigv4AWS is the local AWS with a bucket "artifacts" holding runs/1.zip
// and a table "Locks" (kumo's servers in one process share them), which
// the function's role may read and write, and may list SNS topics.
func sigv4AWS(t *testing.T) *localAWS {
	t.Helper()
	l := setupLocalAWS(t, Enforce)
	l.auth.PutRole(&Role{ARN: l.role, Name: "app-fn", ID: "AROAAPPFN",
		Trust: mustPolicy(t, `{"Statement":{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}}`),
		Inline: map[string]*Policy{"app": mustPolicy(t, `{"Statement":[
			{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::artifacts/*"},
			{"Effect":"Allow","Action":"dynamodb:GetItem","Resource":"arn:aws:dynamodb:*:*:table/Locks"},
			{"Effect":"Allow","Action":"sns:ListTopics","Resource":"*"}]}`)}})
	ctx := context.Background()
	var inUse *ddbtypes.ResourceInUseException
	if _, err := dynamodb.NewFromConfig(l.root).CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String("Locks"), BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: ddbtypes.KeyTypeHash}},
	}); err != nil && !errors.As(err, &inUse) {
		t.Fatal(err)
	}
	rootS3 := s3.NewFromConfig(l.root, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := rootS3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("artifacts")}); err != nil && !strings.Contains(err.Error(), "BucketAlready") {
		t.Fatal(err)
	}
	if _, err := rootS3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("artifacts"), Key: aws.String("runs/1.zip"), Body: strings.NewReader("zip")}); err != nil {
		t.Fatal(err)
	}
	return l
}

// calls makes one request of each protocol with cfg: S3 (REST-XML),
// DynamoDB (JSON), SNS and STS (query).
func calls(cfg aws.Config) map[string]func(context.Context) error {
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	return map[string]func(context.Context) error{
		"s3": func(ctx context.Context) error {
			out, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("artifacts"), Key: aws.String("runs/1.zip")})
			if err == nil {
				out.Body.Close()
			}
			return err
		},
		"dynamodb": func(ctx context.Context) error {
			_, err := dynamodb.NewFromConfig(cfg).GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("Locks"),
				Key: map[string]ddbtypes.AttributeValue{"id": &ddbtypes.AttributeValueMemberS{Value: "staging"}}})
			return err
		},
		"sns": func(ctx context.Context) error {
			_, err := sns.NewFromConfig(cfg).ListTopics(ctx, &sns.ListTopicsInput{})
			return err
		},
		"sts": func(ctx context.Context) error {
			_, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			return err
		},
	}
}

func TestSignaturesAreVerifiedWithTheSessionsSecret(t *testing.T) {
	l := sigv4AWS(t)
	ctx := context.Background()
	good, s := l.as(t)
	wrongSecret := l.config(aws.Credentials{AccessKeyID: s.AccessKeyID, SecretAccessKey: strings.Repeat("A", 40), SessionToken: s.SessionToken})
	wrongToken := l.config(aws.Credentials{AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey, SessionToken: "forged"})
	tests := []struct {
		name    string
		cfg     aws.Config
		codes   map[string]string // by service; "" means it succeeds
		message string
	}{
		{"the session's secret", good, map[string]string{"s3": "", "dynamodb": "", "sns": "", "sts": ""}, ""},
		{"another secret", wrongSecret, map[string]string{"s3": "SignatureDoesNotMatch", "dynamodb": "InvalidSignatureException", "sns": "SignatureDoesNotMatch", "sts": "SignatureDoesNotMatch"},
			"The request signature we calculated does not match the signature you provided. Check your key and signing method."},
		{"another session token", wrongToken, map[string]string{"s3": "InvalidToken", "dynamodb": "UnrecognizedClientException", "sns": "InvalidClientTokenId", "sts": "InvalidClientTokenId"},
			"The security token included in the request is invalid."},
	}
	for _, tt := range tests {
		for svc, call := range calls(tt.cfg) {
			t.Run(tt.name+"/"+svc, func(t *testing.T) {
				err := call(ctx)
				if tt.codes[svc] == "" {
					if err != nil {
						t.Errorf("got %v, want success", err)
					}
					return
				}
				wantAccessDenied(t, err, tt.codes[svc], tt.message)
			})
		}
	}
	if strings.Contains(l.log.String(), s.SecretAccessKey) {
		t.Errorf("the log has the session's secret: %s", l.log.String())
	}
}

func TestExpiredCredentialsAreRefused(t *testing.T) {
	l := sigv4AWS(t)
	ctx := context.Background()
	cfg, s := l.as(t)
	l.skew.Store(int64(time.Until(s.Expiration) + time.Minute)) // the local AWS's clock is past the session's expiry
	want := map[string]string{"s3": "ExpiredToken", "dynamodb": "ExpiredTokenException", "sns": "ExpiredToken", "sts": "ExpiredToken"}
	for svc, call := range calls(cfg) {
		t.Run(svc, func(t *testing.T) {
			wantAccessDenied(t, call(ctx), want[svc], "The security token included in the request is expired")
		})
	}
}

func TestRequestsSignedLongAgoAreRefused(t *testing.T) {
	l := sigv4AWS(t)
	cfg, _ := l.as(t)
	l.skew.Store(int64(20 * time.Minute))
	err := calls(cfg)["dynamodb"](context.Background())
	if err == nil || !strings.Contains(err.Error(), "InvalidSignatureException") || !strings.Contains(err.Error(), "Signature expired") {
		t.Errorf("got %v, want InvalidSignatureException: Signature expired", err)
	}
}

func TestPresignedURLs(t *testing.T) {
	l := sigv4AWS(t)
	ctx := context.Background()
	cfg, s := l.as(t)
	presign := s3.NewPresignClient(s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }))
	req, err := presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("artifacts"), Key: aws.String("runs/1.zip")}, s3.WithPresignExpires(15*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	put, err := presign.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("artifacts"), Key: aws.String("runs/2.zip")}, s3.WithPresignExpires(15*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	get := func(t *testing.T, method, u, body string) (int, string) {
		t.Helper()
		r, err := http.NewRequest(method, u, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tamper := func(u, key, value string) string {
		p, _ := url.Parse(u)
		q := p.Query()
		q.Set(key, value)
		p.RawQuery = q.Encode()
		return p.String()
	}
	otherKey := strings.Replace(req.URL, "runs/1.zip", "runs/2.zip", 1)
	tests := []struct {
		name       string
		method, u  string
		body       string
		wantStatus int
		want       string // in the body
	}{
		{"as presigned", http.MethodGet, req.URL, "", http.StatusOK, "zip"},
		{"a PUT as presigned", http.MethodPut, put.URL, "zap", http.StatusOK, ""},
		{"another object", http.MethodGet, otherKey, "", http.StatusForbidden, "<Code>SignatureDoesNotMatch</Code>"},
		{"a longer expiry", http.MethodGet, tamper(req.URL, "X-Amz-Expires", "3600"), "", http.StatusForbidden, "<Code>SignatureDoesNotMatch</Code>"},
		{"another signature", http.MethodGet, tamper(req.URL, "X-Amz-Signature", strings.Repeat("0", 64)), "", http.StatusForbidden, "<Code>SignatureDoesNotMatch</Code>"},
		{"another token", http.MethodGet, tamper(req.URL, "X-Amz-Security-Token", "forged"), "", http.StatusBadRequest, "<Code>InvalidToken</Code>"},
		{"another method", http.MethodDelete, req.URL, "", http.StatusForbidden, "<Code>SignatureDoesNotMatch</Code>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := get(t, tt.method, tt.u, tt.body)
			if status != tt.wantStatus || !strings.Contains(body, tt.want) {
				t.Errorf("got %d %s, want %d with %s", status, body, tt.wantStatus, tt.want)
			}
		})
	}
	t.Run("expired", func(t *testing.T) {
		l.skew.Store(int64(16 * time.Minute))
		defer l.skew.Store(0)
		status, body := get(t, http.MethodGet, req.URL, "")
		if status != http.StatusForbidden || !strings.Contains(body, "<Code>AccessDenied</Code>") || !strings.Contains(body, "Request has expired") {
			t.Errorf("got %d %s, want 403 AccessDenied: Request has expired", status, body)
		}
	})
	if strings.Contains(l.log.String(), s.SecretAccessKey) {
		t.Errorf("the log has the session's secret: %s", l.log.String())
	}
}

func TestSignedPayloadsOfS3(t *testing.T) {
	l := sigv4AWS(t)
	ctx := context.Background()
	cfg, _ := l.as(t)
	c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	unsigned := s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
	for _, tt := range []struct {
		name string
		opts []func(*s3.Options)
	}{
		{"signed SHA-256", nil},
		{"UNSIGNED-PAYLOAD", []func(*s3.Options){unsigned}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := &s3.PutObjectInput{Bucket: aws.String("artifacts"), Key: aws.String("p/" + tt.name), Body: strings.NewReader(tt.name)}
			if _, err := c.PutObject(ctx, in, tt.opts...); err != nil {
				t.Errorf("PutObject: %v", err)
			}
		})
	}
}

func TestStreamingPayloadsAreVerifiedByTheirSeedSignature(t *testing.T) {
	l := sigv4AWS(t)
	_, s := l.as(t)
	body := "6\r\nstream\r\n0\r\n\r\n"
	for _, tt := range []struct {
		name, secret string
		refused      bool
	}{
		{"the session's secret", s.SecretAccessKey, false},
		{"another secret", strings.Repeat("B", 40), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := http.NewRequest(http.MethodPut, l.url+"/artifacts/streamed", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			const mode = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
			r.Header.Set("X-Amz-Content-Sha256", mode)
			r.Header.Set("Content-Encoding", "aws-chunked")
			r.Header.Set("X-Amz-Decoded-Content-Length", "6")
			creds := aws.Credentials{AccessKeyID: s.AccessKeyID, SecretAccessKey: tt.secret, SessionToken: s.SessionToken}
			if err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).SignHTTP(context.Background(), creds, r, mode, "s3", "us-east-1", time.Now()); err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if refused := strings.Contains(string(b), "<Code>SignatureDoesNotMatch</Code>"); refused != tt.refused {
				t.Errorf("got %d %s, want refused %v", resp.StatusCode, b, tt.refused)
			}
		})
	}
}
