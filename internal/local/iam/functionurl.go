package iam

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// ErrUnsigned is FunctionURL's answer to a request to an AWS_IAM function
// URL without a SigV4 signature: the URL answers it 403 Forbidden, as
// Lambda does.
var ErrUnsigned = errors.New("the request is not signed with SigV4 (AuthType AWS_IAM): sign it with the caller's AWS credentials, service lambda")

// Caller is who calls a function URL of AuthType AWS_IAM, as Lambda hands
// it to the function in requestContext.authorizer.iam.
type Caller = events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription

// FunctionURL decides a request to a function URL (of function, an ARN
// or a name) as Lambda does, in one pass, and returns who calls.
//
// With AuthType AWS_IAM Lambda always authenticates the request, whatever
// the policies say, and so does FunctionURL, in every Mode: the request
// must be signed (SigV4), with a key the local AWS knows (a session the
// authority issued, or one of Options.AccountKeys, the account's root),
// and its signature must verify with that key's secret, its session
// token be the session's, its credentials unexpired and its time within
// 15 minutes. Only then is the caller the key's principal; a refused
// signature is an error in every mode. The caller's policies then decide
// lambda:InvokeFunctionUrl on the function (with
// lambda:FunctionUrlAuthType AWS_IAM), as the Mode says: Enforce denies,
// Warn logs and lets through, Off does not evaluate; the root may.
//
// With NONE there is no caller: the function's resource policy must let
// anyone ("*") lambda:InvokeFunctionUrl (SAM's <Function>UrlPublicPermissions)
// and lambda:InvokeFunction with lambda:InvokedViaFunctionUrl (its
// <Function>URLInvokeAllowPublicAccess), as Lambda asks of function URLs
// made since October 2025, as the Mode says.
//
// body is the request's body, for its signature. A non-nil error is the
// refusal, to answer with 403 Forbidden; it never holds a secret.
func (a *Authority) FunctionURL(r *http.Request, body []byte, function, authType string) (Caller, error) {
	fn := a.functionARN(function)
	if authType != "AWS_IAM" {
		if a.opts.Mode == Off {
			return Caller{}, nil
		}
		for _, action := range []string{"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"} {
			req := Request{Principal: Principal{Service: "anonymous"}, Action: action, Resource: fn, ResourceAccount: a.opts.Account,
				Context: map[string][]string{"aws:SecureTransport": {"true"}, "lambda:FunctionUrlAuthType": {authType}, "lambda:InvokedViaFunctionUrl": {"true"}}}
			if d := Evaluate(Input{Request: req, Resource: a.resourcePolicy(fn)}); !d.Allowed() {
				if msg := a.denied(req, d); msg != "" {
					return Caller{}, errors.New(msg)
				}
			}
		}
		return Caller{}, nil
	}

	// Who: authentication, in every mode.
	s, root, err := a.urlSigner(r, body)
	if err != nil {
		fmt.Fprintf(a.opts.Log, "stackflow local: IAM refused a request to the function URL of %s: %v\n", fn, err)
		return Caller{}, err
	}
	if root {
		return Caller{AccessKey: s.AccessKeyID, AccountID: a.opts.Account, CallerID: a.opts.Account, UserARN: s.Principal.ARN, UserID: a.opts.Account}, nil
	}

	// What they may: authorization, as the mode says.
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	req, d := a.Authorize(s, Action{Action: "lambda:InvokeFunctionUrl", Resource: fn, Context: map[string][]string{"lambda:FunctionUrlAuthType": {"AWS_IAM"}}}, ip)
	if !d.Allowed() {
		if msg := a.denied(req, d); msg != "" {
			return Caller{}, errors.New(msg)
		}
	}
	id := s.RoleID + ":" + sessionName(s.Principal.ARN)
	return Caller{AccessKey: s.AccessKeyID, AccountID: s.Principal.Account, CallerID: id, UserARN: s.Principal.ARN, UserID: id}, nil
}

// urlSigner authenticates a request signed for a function URL: the
// session of its access key, whose signature verified, and whether it is
// the account's root (one of Options.AccountKeys, or a service's
// credentials, which call as the account).
func (a *Authority) urlSigner(r *http.Request, body []byte) (s *Session, root bool, err error) {
	sig, ok := ParseSignature(r)
	if !ok {
		return nil, false, ErrUnsigned
	}
	s = a.session(sig.AccessKey)
	rootARN := "arn:aws:iam::" + a.opts.Account + ":root"
	switch {
	case s != nil:
		root = s.Principal.Service != ""
	case a.opts.AccountKeys[sig.AccessKey] != "":
		// The account's own key: no session token, no expiry.
		s = &Session{Principal: Principal{ARN: rootARN, Account: a.opts.Account}, AccessKeyID: sig.AccessKey,
			SecretAccessKey: a.opts.AccountKeys[sig.AccessKey], Expiration: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}
		root = true
	default:
		return nil, false, fmt.Errorf("the request is signed with access key %s, which the local AWS did not issue: "+
			"sign it with the local AWS's own key (AWS_ACCESS_KEY_ID=local, AWS_SECRET_ACCESS_KEY=local) or a session its STS issued", sig.AccessKey)
	}
	if ref := verifySignature(r, sig, s, body, a.opts.Now()); ref != nil {
		return nil, false, fmt.Errorf("its signature is refused: %s", ref.message)
	}
	if root {
		s = &Session{Principal: Principal{ARN: rootARN, Account: a.opts.Account}, AccessKeyID: sig.AccessKey}
	}
	return s, root, nil
}

// sessionName is the session of a role session's ARN (its last part).
func sessionName(arn string) string {
	for i := len(arn) - 1; i >= 0; i-- {
		if arn[i] == '/' {
			return arn[i+1:]
		}
	}
	return arn
}
