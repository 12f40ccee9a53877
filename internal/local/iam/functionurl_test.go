package iam

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// TestAFunctionURLAuthenticatesItsCallerInEveryMode: an AWS_IAM function
// URL takes its caller only from a signature it verified, whatever
// --iam says (AWS always authenticates such a URL): a wrong secret, a
// key the local AWS did not issue and an unsigned request are refused
// in enforce, warn and off alike; warn and off relax only what the
// caller's policies say, never who the caller is.
func TestAFunctionURLAuthenticatesItsCallerInEveryMode(t *testing.T) {
	t.Parallel()
	fn := "arn:aws:lambda:us-east-1:" + testAccount + ":function:approve"
	body := []byte(`{"answer":"approve"}`)
	const root = "arn:aws:iam::" + testAccount + ":root"
	for _, mode := range []Mode{Enforce, Warn, Off} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			auth := NewAuthority(Options{Account: testAccount, Region: "us-east-1", Mode: mode, AccountKeys: map[string]string{"local": "local"}})
			// A role whose sessions may not call the URL.
			dev := "arn:aws:iam::" + testAccount + ":role/developer"
			auth.PutRole(&Role{ARN: dev, Name: "developer", ID: "AROADEV",
				Trust: mustPolicy(t, `{"Statement":{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}}`)})
			s, err := auth.Issue(dev, "lambda.amazonaws.com", "bob")
			if err != nil {
				t.Fatal(err)
			}
			sign := func(c aws.Credentials) *http.Request {
				r, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:9/", strings.NewReader(string(body)))
				if err != nil {
					t.Fatal(err)
				}
				r.RemoteAddr = "127.0.0.1:50000"
				if c.AccessKeyID != "" {
					if err := v4.NewSigner().SignHTTP(context.Background(), c, r, sha256Hex(body), "lambda", "us-east-1", time.Now()); err != nil {
						t.Fatal(err)
					}
				}
				return r
			}
			session := aws.Credentials{AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey, SessionToken: s.SessionToken}
			forged := session
			forged.SecretAccessKey = strings.Repeat("F", 40)
			// A signature of the root's key over another body.
			replayed := sign(aws.Credentials{AccessKeyID: "local", SecretAccessKey: "local"})
			replayed.Body = http.NoBody
			tests := []struct {
				name string
				r    *http.Request
				body []byte
				// caller is who the function is told calls; "" means
				// refused, with want in the error.
				caller, want string
			}{
				{name: "the account's key", r: sign(aws.Credentials{AccessKeyID: "local", SecretAccessKey: "local"}), body: body, caller: root},
				{name: "the account's key with another secret", r: sign(aws.Credentials{AccessKeyID: "local", SecretAccessKey: "guess"}), body: body, want: "signature we calculated does not match"},
				{name: "another body than was signed", r: replayed, body: []byte(`{"answer":"reject"}`), want: "signature we calculated does not match"},
				{name: "a session's key with another secret", r: sign(forged), body: body, want: "signature we calculated does not match"},
				{name: "a key the local AWS did not issue", r: sign(aws.Credentials{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI"}), body: body, want: "which the local AWS did not issue"},
				{name: "unsigned", r: sign(aws.Credentials{}), body: body, want: "not signed with SigV4"},
				{name: "a session that may not", r: sign(session), body: body, caller: s.Principal.ARN, want: "is not authorized to perform: lambda:InvokeFunctionUrl"},
			}
			for _, tt := range tests {
				got, err := auth.FunctionURL(tt.r, tt.body, fn, "AWS_IAM")
				switch {
				case tt.name == "a session that may not" && mode == Enforce:
					// Enforced, the policies refuse the caller.
					if err == nil || !strings.Contains(err.Error(), tt.want) {
						t.Errorf("%s: got %+v, %v; want denied with %q", tt.name, got, err, tt.want)
					}
				case tt.caller != "":
					if err != nil || got.UserARN != tt.caller {
						t.Errorf("%s: got %q, %v; want the caller %s", tt.name, got.UserARN, err, tt.caller)
					}
				default:
					if err == nil || !strings.Contains(err.Error(), tt.want) || got.UserARN != "" {
						t.Errorf("%s: got %q, %v; want refused with %q", tt.name, got.UserARN, err, tt.want)
					}
					if err != nil && strings.Contains(err.Error(), s.SecretAccessKey) {
						t.Errorf("%s: the refusal %q holds the session's secret", tt.name, err)
					}
				}
			}
		})
	}
}
