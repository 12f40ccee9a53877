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

func TestDeliveriesAreDecidedByTheTargetsPolicyOrTheSchedulesRole(t *testing.T) {
	t.Parallel()
	auth := NewAuthority(Options{Account: testAccount, Region: "us-east-1"})
	fn := "arn:aws:lambda:us-east-1:" + testAccount + ":function:worker"
	alias := fn + ":live"
	queue := "arn:aws:sqs:us-east-1:" + testAccount + ":jobs"
	rule := "arn:aws:events:us-east-1:" + testAccount + ":rule/nightly"
	topic := "arn:aws:sns:us-east-1:" + testAccount + ":news"
	auth.PutResourcePolicy(fn, "NightlyPermission", mustPolicy(t, `{"Statement":{"Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"`+fn+`","Condition":{"ArnLike":{"AWS:SourceArn":"`+rule+`"}}}}`))
	auth.PutResourcePolicy(alias, "NewsPermission", mustPolicy(t, `{"Statement":{"Effect":"Allow","Principal":{"Service":"sns.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"`+alias+`","Condition":{"ArnLike":{"AWS:SourceArn":"`+topic+`"}}}}`))
	auth.PutResourcePolicy(queue, "policy", mustPolicy(t, `{"Statement":{"Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":"sqs:SendMessage","Resource":"`+queue+`","Condition":{"ArnEquals":{"aws:SourceArn":"`+rule+`"}}}}`))
	schedRole := "arn:aws:iam::" + testAccount + ":role/tick-role"
	auth.PutRole(&Role{ARN: schedRole, Name: "tick-role", ID: "AROATICK",
		Trust:  mustPolicy(t, `{"Statement":{"Effect":"Allow","Principal":{"Service":"scheduler.amazonaws.com"},"Action":"sts:AssumeRole"}}`),
		Inline: map[string]*Policy{"invoke": mustPolicy(t, `{"Statement":{"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"`+alias+`"}}`)}})
	lambdaRole := "arn:aws:iam::" + testAccount + ":role/fn-role"
	auth.PutRole(&Role{ARN: lambdaRole, Name: "fn-role", ID: "AROAFN",
		Trust:  mustPolicy(t, `{"Statement":{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}}`),
		Inline: map[string]*Policy{"invoke": mustPolicy(t, `{"Statement":{"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"*"}}`)}})
	tests := []struct {
		name string
		d    Delivery
		want string // in the denial; "" means delivered
	}{
		{"the rule its permission names", Delivery{Service: "events.amazonaws.com", Action: "lambda:InvokeFunction", Target: fn, SourceARN: rule}, ""},
		{"another rule", Delivery{Service: "events.amazonaws.com", Action: "lambda:InvokeFunction", Target: fn, SourceARN: rule + "-2"},
			"User: events.amazonaws.com is not authorized to perform: lambda:InvokeFunction on resource: " + fn + " because no resource-based policy allows the lambda:InvokeFunction action"},
		{"S3, which no permission names", Delivery{Service: "s3.amazonaws.com", Action: "lambda:InvokeFunction", Target: fn, SourceARN: "arn:aws:s3:::uploads"}, "User: s3.amazonaws.com is not authorized"},
		{"SNS through the alias's permission", Delivery{Service: "sns.amazonaws.com", Action: "lambda:InvokeFunction", Target: fn, Targets: []string{alias}, SourceARN: topic}, ""},
		{"SNS without the alias", Delivery{Service: "sns.amazonaws.com", Action: "lambda:InvokeFunction", Target: fn, SourceARN: topic}, "User: sns.amazonaws.com is not authorized"},
		{"a queue its policy lets the rule send to", Delivery{Service: "events.amazonaws.com", Action: "sqs:SendMessage", Target: queue, SourceARN: rule}, ""},
		{"a queue with no policy for SNS", Delivery{Service: "sns.amazonaws.com", Action: "sqs:SendMessage", Target: queue, SourceARN: topic}, "not authorized to perform: sqs:SendMessage on resource: " + queue},
		{"a schedule's role", Delivery{Service: "scheduler.amazonaws.com", Action: "lambda:InvokeFunction", Target: fn, Targets: []string{alias}, SourceARN: "arn:aws:scheduler:us-east-1:" + testAccount + ":schedule/default/tick", Role: schedRole}, ""},
		{"a schedule's role on another function", Delivery{Service: "scheduler.amazonaws.com", Action: "lambda:InvokeFunction", Target: fn + "-other", Role: schedRole},
			"User: arn:aws:sts::" + testAccount + ":assumed-role/tick-role/scheduler is not authorized to perform: lambda:InvokeFunction on resource: " + fn + "-other because no identity-based policy allows"},
		{"a role that does not trust the Scheduler", Delivery{Service: "scheduler.amazonaws.com", Action: "lambda:InvokeFunction", Target: fn, Role: lambdaRole},
			"User: scheduler.amazonaws.com is not authorized to perform: sts:AssumeRole on resource: " + lambdaRole},
		{"a role no local stack made", Delivery{Service: "scheduler.amazonaws.com", Action: "lambda:InvokeFunction", Target: fn, Role: "arn:aws:iam::" + testAccount + ":role/elsewhere"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := auth.AuthorizeDelivery(tt.d)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("got %v, want delivered", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want a denial with %q", err, tt.want)
			}
		})
	}
}

func TestFunctionURLsAreDecidedByTheirAuthType(t *testing.T) {
	t.Parallel()
	l := setupLocalAWS(t, Enforce)
	fn := "arn:aws:lambda:us-east-1:" + testAccount + ":function:web"
	other := fn + "-private"
	// What SAM makes of FunctionUrlConfig: {AuthType: NONE}.
	for _, p := range []struct {
		sid   string
		props map[string]any
	}{
		{"WebUrlPublicPermissions", map[string]any{"FunctionName": "web", "Principal": "*", "Action": "lambda:InvokeFunctionUrl", "FunctionUrlAuthType": "NONE"}},
		{"WebURLInvokeAllowPublicAccess", map[string]any{"FunctionName": "web", "Principal": "*", "Action": "lambda:InvokeFunction", "InvokedViaFunctionUrl": true}},
	} {
		if err := l.auth.ApplyResource("AWS::Lambda::Permission", p.sid, nil, p.props); err != nil {
			t.Fatal(err)
		}
	}
	// A role that may invoke fn's URL, not other's.
	caller := "arn:aws:iam::" + testAccount + ":role/caller"
	l.auth.PutRole(&Role{ARN: caller, Name: "caller", ID: "AROACALLER",
		Trust:  mustPolicy(t, `{"Statement":{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}}`),
		Inline: map[string]*Policy{"url": mustPolicy(t, `{"Statement":{"Effect":"Allow","Action":"lambda:InvokeFunctionUrl","Resource":"`+fn+`","Condition":{"StringEquals":{"lambda:FunctionUrlAuthType":"AWS_IAM"}}}}`)}})
	s, err := l.auth.Issue(caller, "lambda.amazonaws.com", "caller")
	if err != nil {
		t.Fatal(err)
	}
	request := func(secret string) *http.Request {
		r, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:9/hello", strings.NewReader(`{"a":1}`))
		if err != nil {
			t.Fatal(err)
		}
		r.RemoteAddr = "127.0.0.1:50000"
		if secret != "" {
			creds := aws.Credentials{AccessKeyID: s.AccessKeyID, SecretAccessKey: secret, SessionToken: s.SessionToken}
			if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, sha256Hex([]byte(`{"a":1}`)), "lambda", "us-east-1", time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		return r
	}
	tests := []struct {
		name     string
		r        *http.Request
		function string
		authType string
		want     string // in the denial; "" means allowed
	}{
		{"NONE with SAM's permissions", request(""), fn, "NONE", ""},
		{"NONE without them", request(""), other, "NONE", "User: anonymous is not authorized to perform: lambda:InvokeFunctionUrl on resource: " + other},
		{"AWS_IAM signed by a role that may", request(s.SecretAccessKey), fn, "AWS_IAM", ""},
		{"AWS_IAM signed by a role that may not", request(s.SecretAccessKey), other, "AWS_IAM", "assumed-role/caller/caller is not authorized to perform: lambda:InvokeFunctionUrl on resource: " + other},
		{"AWS_IAM signed with another secret", request(strings.Repeat("C", 40)), fn, "AWS_IAM", "The request signature we calculated does not match"},
		{"AWS_IAM unsigned", request(""), fn, "AWS_IAM", "not signed with SigV4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := l.auth.FunctionURL(tt.r, []byte(`{"a":1}`), tt.function, tt.authType)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("got %v, want allowed", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want a denial with %q", err, tt.want)
			}
		})
	}
}
