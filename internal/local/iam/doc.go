// Package iam enforces IAM in `stackflow local`: every request to the
// local AWS is evaluated as IAM evaluates it, against the policies of the
// role that signed it and of the resource it reaches.
//
// Evaluate is IAM's policy evaluation logic for identity-based and
// resource-based policies within and across accounts: explicit deny over
// allow, Action and NotAction, Resource and NotResource with wildcards and
// policy variables, Principal and NotPrincipal, and the condition
// operators (String*, Numeric*, Date*, Bool, BinaryEquals, IpAddress,
// Arn*, Null, with IfExists and the ForAllValues and ForAnyValue sets).
// Service control, resource control and session policies and permission
// boundaries are not evaluated: the local AWS has no organization. The
// evaluator is proved against @cloud-copilot/iam-simulate, the reference
// simulator, on a table of cases (oracle_test.go).
package iam
