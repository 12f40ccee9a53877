package iam

import (
	"fmt"
	"strings"
)

// PrincipalFromARN returns the principal an ARN names: a role session
// (arn:aws:sts::<account>:assumed-role/<role>/<session>, whose role is
// taken to have no path), a user or an account's root; a service
// principal ("lambda.amazonaws.com") is returned as one.
func PrincipalFromARN(arn string) (Principal, error) {
	if strings.HasSuffix(arn, ".amazonaws.com") && !strings.HasPrefix(arn, "arn:") {
		return Principal{Service: arn}, nil
	}
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[4] == "" {
		return Principal{}, fmt.Errorf("%q is not a principal's ARN (arn:aws:sts::<account>:assumed-role/<role>/<session>, arn:aws:iam::<account>:user/<name>) nor a service principal", arn)
	}
	p := Principal{ARN: arn, Account: parts[4]}
	if rest, ok := strings.CutPrefix(parts[5], "assumed-role/"); ok && parts[2] == "sts" {
		role, _, ok := strings.Cut(rest, "/")
		if !ok {
			return Principal{}, fmt.Errorf("%q is not a role session's ARN: it has no session name", arn)
		}
		p.RoleARN = "arn:" + parts[1] + ":iam::" + p.Account + ":role/" + role
	}
	return p, nil
}
