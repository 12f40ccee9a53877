// Package restapi serves API Gateway REST APIs on this machine for
// `stackflow local`: each API listens on its own loopback port
// (127.0.0.1:0), each of its stages under /<stage> (/Prod/hello/), and
// hands every request to the function its method names, through Lambda's
// Invoke API (kumo's), as a Lambda proxy event of payload format 1.0
// (events.APIGatewayProxyRequest).
//
// The API comes from what SAM's translator writes: Parse reads an
// AWS::ApiGateway::RestApi's Body (Swagger 2.0, or OpenAPI 3.0 when
// OpenApiVersion is set) with its x-amazon-apigateway-integration,
// x-amazon-apigateway-any-method and x-amazon-apigateway-binary-media-types;
// ResourceRoutes reads an API built from AWS::ApiGateway::Resource and
// AWS::ApiGateway::Method instead (MockFrom reads a mock method's
// answer). Serve, Update and Close run it; the local CloudFormation
// (internal/local/cfn) does so for the REST APIs of a stack.
//
// Emulated as API Gateway does it:
//
//   - Resources with {param} parts and a greedy {proxy+} last part, the ANY
//     method, and the intermediate resources a path implies. At each part a
//     literal wins over {param}, which wins over {proxy+}; {proxy+} needs at
//     least one part; a trailing slash is the same resource.
//   - The event: resource, path (after the stage), httpMethod, headers and
//     multiValueHeaders (a repeated header's last value, and all of them),
//     queryStringParameters and multiValueQueryStringParameters (likewise,
//     decoded; null when there is no query), pathParameters (decoded; null
//     when none), stageVariables (null when none), body (null when empty;
//     base64 with isBase64Encoded when the Content-Type is one of the API's
//     binary media types, where */* and image/* match as on AWS), and
//     requestContext: accountId, apiId, domainName, domainPrefix,
//     extendedRequestId, httpMethod, identity.sourceIp and userAgent, path
//     (with the stage), protocol, requestId (a UUID), requestTime,
//     requestTimeEpoch, resourceId, resourcePath and stage. Host,
//     X-Forwarded-For, X-Forwarded-Port and X-Forwarded-Proto are set as
//     API Gateway sets them.
//   - The answer: a JSON object of statusCode, headers, multiValueHeaders
//     (merged with headers, a value given in both sent once), body (a
//     string) and isBase64Encoded; a body marked base64 is decoded when the
//     request's first Accept type is a binary media type, and otherwise
//     sent as the base64 text. Content-Type is application/json when the
//     function sets none.
//   - API Gateway's own answers: no stage, resource or method is 403
//     {"message":"Missing Authentication Token"}; a function error or an
//     answer that is not such an object (not JSON, another key, a body that
//     is not a string, a bad statusCode) is 502 {"message": "Internal
//     server error"}; a failed invocation is 500 with the same message; an
//     invocation that outlasts the integration timeout (29 s, or the
//     integration's timeoutInMillis) is 504 {"message": "Endpoint request
//     timed out"}; a body over 10 MB is 413. Every answer carries
//     X-Amzn-RequestId and X-Amz-Apigw-Id.
//   - Stage variables, also in an integration's function
//     (${stageVariables.name}).
//   - Mock integrations with a static answer (a statusCode, literal header
//     values and a literal template), which is what SAM writes for Cors.
//   - Lambda authorizers of the body's security schemes (token and
//     request, SAM's Auth.Authorizers with a FunctionArn), for the
//     operations whose security (or the document's) names one: a request
//     without its identity sources, or whose token does not match the
//     identityValidationExpression, is 401 {"message":"Unauthorized"}
//     without running the function; the function gets the TOKEN event
//     (authorizationToken, methodArn) or the REQUEST event (the request's
//     fields and methodArn); its error "Unauthorized" is 401, a policy
//     that denies execute-api:Invoke on the method's ARN is 403
//     {"Message":"User is not authorized to access this resource with an
//     explicit deny"}, one that does not allow it 403 {"Message":"User is
//     not authorized to access this resource"}, any other failure 500
//     {"message": null}; an allowed request's event has
//     requestContext.authorizer with principalId and the answer's context.
//
// What differs from AWS: the API is plain HTTP on 127.0.0.1 (no TLS,
// custom domains or edge); every stage serves the API as it is now, not
// the deployment it was given; header names reach the function in Go's
// canonical form (X-Custom-Header) rather than as the client wrote them,
// and the identity fields other than sourceIp and userAgent are empty
// strings rather than null; integrations other than Lambda proxy and
// static mocks (Lambda custom, HTTP, AWS service, Velocity templates),
// Cognito user pool and IAM authorizers, API keys and usage plans,
// request validation, gateway responses, resource policies, caching,
// throttling and the 6 MB Lambda payload limit are not applied. A Lambda
// authorizer runs for every request: its answers are not cached
// (authorizerResultTtlInSeconds), and the policy's conditions and
// NotAction or NotResource are not read.
package restapi
