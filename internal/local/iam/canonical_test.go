package iam

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// TestCanonicalSignatureAgreesWithTheSDK proves canonicalSignature, which
// verifies the requests that sign headers aws-sdk-go-v2's signer never
// signs, against that signer on the requests it can sign: S3's paths as
// sent and other services' escaped again, queries with repeated keys,
// empty values, spaces and reserved characters, header values with runs
// of spaces, and presigned URLs.
func TestCanonicalSignatureAgreesWithTheSDK(t *testing.T) {
	t.Parallel()
	creds := aws.Credentials{AccessKeyID: "ASIAEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	requests := []struct {
		service, method, url, body string
		headers                    map[string]string
	}{
		{"dynamodb", "POST", "http://127.0.0.1:4566/", `{"TableName":"Locks"}`, map[string]string{"X-Amz-Target": "DynamoDB_20120810.GetItem", "Content-Type": "application/x-amz-json-1.0"}},
		{"s3", "GET", "http://127.0.0.1:4566/artifacts/runs/a%20b/c+d/%2Fe/%C3%A9.zip?versionId=1&list-type=2&prefix=a%20b&x=&x=b&x=a", "", nil},
		{"s3", "PUT", "http://127.0.0.1:4566/artifacts/x~y_z.-/k", "data", map[string]string{"X-Amz-Meta-Note": "  two   spaces  here "}},
		{"lambda", "POST", "http://127.0.0.1:4566/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Ahello/invocations", `{}`, map[string]string{"X-Amz-Invocation-Type": "RequestResponse"}},
		{"sqs", "POST", "http://127.0.0.1:4566/000000000000/q%20one?Action=SendMessage&MessageBody=a+b%2Bc", "", nil},
		{"execute-api", "GET", "http://127.0.0.1:4566/prod/items/a:b@c!d$e'f(g)*h,i;j=k?q=1%2C2&q=0", "", map[string]string{"Accept": "application/json"}},
	}
	for _, rq := range requests {
		for _, presign := range []bool{false, true} {
			r := httptest.NewRequest(rq.method, rq.url, strings.NewReader(rq.body))
			for k, v := range rq.headers {
				r.Header.Set(k, v)
			}
			sum := sha256.Sum256([]byte(rq.body))
			payload := hex.EncodeToString(sum[:])
			if presign && rq.service == "s3" {
				payload = unsignedPayload
			}
			signer := v4.NewSigner(func(o *v4.SignerOptions) {
				o.DisableHeaderHoisting = true
				o.DisableURIPathEscaping = rq.service == "s3"
			})
			var names []string
			var want string
			if presign {
				q := r.URL.Query()
				q.Set("X-Amz-Expires", "900")
				r.URL.RawQuery = q.Encode()
				signed, _, err := signer.PresignHTTP(context.Background(), creds, r, payload, rq.service, "us-east-1", at)
				if err != nil {
					t.Fatal(err)
				}
				if r = httptest.NewRequest(rq.method, signed, strings.NewReader(rq.body)); true {
					for k, v := range rq.headers {
						r.Header.Set(k, v)
					}
				}
				names = strings.Split(r.URL.Query().Get("X-Amz-SignedHeaders"), ";")
				want = r.URL.Query().Get("X-Amz-Signature")
			} else {
				if err := signer.SignHTTP(context.Background(), creds, r, payload, rq.service, "us-east-1", at); err != nil {
					t.Fatal(err)
				}
				auth := r.Header.Get("Authorization")
				_, sh, _ := strings.Cut(auth, "SignedHeaders=")
				sh, _, _ = strings.Cut(sh, ",")
				names = strings.Split(sh, ";")
				_, want, _ = strings.Cut(auth, "Signature=")
			}
			got := canonicalSignature(r, names, payload, rq.service, "us-east-1", at, creds.SecretAccessKey, presign, rq.service != "s3")
			if got != want {
				t.Errorf("%s %s (presigned %v, signed headers %v): got signature %s, the SDK's is %s", rq.method, rq.url, presign, names, got, want)
			}
		}
	}
}

// TestASignedUserAgentIsVerified: a request that signs User-Agent, as the
// AWS SDK for JavaScript does (the local Step Functions invoking a
// function as its role), is verified from its own SignedHeaders: with the
// session's secret it goes through, and with a wrong signature, or a
// signed header list without Host, it is refused, where before it was let
// through unverified.
func TestASignedUserAgentIsVerified(t *testing.T) {
	l := sigv4AWS(t)
	_, s := l.as(t)
	send := func(t *testing.T, names []string, sign func(r *http.Request) string) (int, string) {
		t.Helper()
		body := `{"TableName":"Locks","Key":{"id":{"S":"staging"}}}`
		r, err := http.NewRequest("POST", l.url+"/", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		at := time.Now().UTC()
		r.Header.Set("X-Amz-Target", "DynamoDB_20120810.GetItem")
		r.Header.Set("Content-Type", "application/x-amz-json-1.0")
		r.Header.Set("User-Agent", "aws-sdk-js/3.0.0 ua/2.1 os/linux lang/js md/nodejs#20.20.2 api/lambda#3.0.0")
		r.Header.Set("X-Amz-Date", at.Format("20060102T150405Z"))
		r.Header.Set("X-Amz-Security-Token", s.SessionToken)
		sum := sha256.Sum256([]byte(body))
		r.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
		sig := sign(r)
		r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+s.AccessKeyID+"/"+at.Format("20060102")+"/us-east-1/dynamodb/aws4_request, SignedHeaders="+strings.Join(names, ";")+", Signature="+sig)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	names := []string{"content-type", "host", "user-agent", "x-amz-content-sha256", "x-amz-date", "x-amz-security-token", "x-amz-target"}
	signWith := func(secret string, names []string) func(r *http.Request) string {
		return func(r *http.Request) string {
			at, _ := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
			// The server sees the Host the client sends.
			r.Host = r.URL.Host
			return canonicalSignature(r, names, r.Header.Get("X-Amz-Content-Sha256"), "dynamodb", "us-east-1", at, secret, false, true)
		}
	}
	t.Run("the session's secret", func(t *testing.T) {
		if code, body := send(t, names, signWith(s.SecretAccessKey, names)); code != http.StatusOK {
			t.Errorf("got %d %s, want 200", code, body)
		}
	})
	t.Run("a wrong signature", func(t *testing.T) {
		code, body := send(t, names, func(*http.Request) string { return strings.Repeat("0", 64) })
		if code != http.StatusBadRequest || !strings.Contains(body, "InvalidSignatureException") {
			t.Errorf("got %d %s, want 400 InvalidSignatureException", code, body)
		}
	})
	t.Run("another secret", func(t *testing.T) {
		code, body := send(t, names, signWith(strings.Repeat("A", 40), names))
		if code != http.StatusBadRequest || !strings.Contains(body, "InvalidSignatureException") {
			t.Errorf("got %d %s, want 400 InvalidSignatureException", code, body)
		}
	})
	t.Run("no host signed", func(t *testing.T) {
		noHost := []string{"content-type", "user-agent", "x-amz-content-sha256", "x-amz-date", "x-amz-security-token", "x-amz-target"}
		code, body := send(t, noHost, signWith(s.SecretAccessKey, noHost))
		if code != http.StatusBadRequest || !strings.Contains(body, "'Host' must be a 'SignedHeader'") {
			t.Errorf("got %d %s, want 400 naming Host", code, body)
		}
	})
	if strings.Contains(l.log.String(), "unverified") {
		t.Errorf("a request was let through unverified: %s", l.log.String())
	}
}
