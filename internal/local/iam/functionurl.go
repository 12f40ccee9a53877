package iam

import (
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
)

// ErrUnsigned is FunctionURLCaller's answer to a request without a SigV4
// signature: a function URL with AuthType AWS_IAM answers it 403
// Forbidden, as Lambda does.
var ErrUnsigned = errors.New("the request is not signed with SigV4 (AuthType AWS_IAM): sign it with the caller's AWS credentials, service lambda")

// FunctionURLCaller is who calls a function URL whose AuthType is
// AWS_IAM, as Lambda hands it to the function in
// requestContext.authorizer.iam: the principal of the request's access
// key (a role session the authority issued; any other key is the
// account's root, as every request signed with the local AWS's own key
// is), when it may call lambda:InvokeFunctionUrl on function (an ARN).
// The function's AWS_IAM URL is its resource: within the account, an
// identity policy of the session's role or the function's resource
// policy must allow it; the root may. An unsigned request is ErrUnsigned;
// a denied one an error in AWS's words.
func (a *Authority) FunctionURLCaller(r *http.Request, function string) (events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription, error) {
	var none events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription
	sig, ok := ParseSignature(r)
	if !ok {
		return none, ErrUnsigned
	}
	s := a.session(sig.AccessKey)
	if s == nil || s.Principal.Service != "" {
		root := "arn:aws:iam::" + a.opts.Account + ":root"
		return events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{
			AccessKey: sig.AccessKey, AccountID: a.opts.Account, CallerID: a.opts.Account, UserARN: root, UserID: a.opts.Account,
		}, nil
	}
	if a.opts.Mode != Off {
		ip, _, _ := net.SplitHostPort(r.RemoteAddr)
		act := Action{Action: "lambda:InvokeFunctionUrl", Resource: function, Context: map[string][]string{"lambda:FunctionUrlAuthType": {"AWS_IAM"}}}
		req, d := a.Authorize(s, act, ip)
		if !d.Allowed() {
			if msg := a.denied(req, d); msg != "" {
				return none, fmt.Errorf("%s", msg)
			}
		}
	}
	id := s.RoleID + ":" + sessionName(s.Principal.ARN)
	return events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{
		AccessKey: sig.AccessKey, AccountID: s.Principal.Account, CallerID: id, UserARN: s.Principal.ARN, UserID: id,
	}, nil
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
