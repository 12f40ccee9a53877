// Package httpapi serves API Gateway HTTP APIs on this machine for
// `stackflow local`: each API listens on its own loopback port
// (127.0.0.1:0) and hands every request to the function its route names,
// through Lambda's Invoke API (kumo's), as an API Gateway HTTP API event of
// payload format 2.0 (events.APIGatewayV2HTTPRequest).
//
// Emulated as API Gateway does it:
//
//   - Routes "METHOD /path" with {param} segments, a greedy {proxy+} last
//     segment, the ANY method and the $default route. The most specific
//     route wins: a literal segment over {param} over {proxy+}, a method
//     over ANY, and $default only when nothing else matches.
//   - The event: version "2.0", routeKey, rawPath, rawQueryString, cookies
//     (taken out of the Cookie header), lower-cased headers (repeated ones
//     joined with commas), queryStringParameters (likewise), pathParameters,
//     requestContext (accountId, apiId, domainName, domainPrefix, http,
//     requestId, routeKey, stage, time, timeEpoch), and the body, base64
//     encoded with isBase64Encoded when it is not UTF-8 text.
//   - The answer: a structured response ({statusCode, headers, cookies,
//     body, isBase64Encoded}) as written; any other JSON value is a 200
//     with content-type application/json and that value as the body (a JSON
//     string's text). A function error, an answer that cannot be read, or a
//     failed invocation is 500 {"message":"Internal Server Error"}; no route
//     is 404 {"message":"Not Found"}; a body over 10 MiB is 413
//     {"message":"Request Entity Too Large"}; an invocation that takes over
//     the integration timeout (30 s, or Options.Timeout) is 503
//     {"message":"Service Unavailable"}.
//     Every answer carries an Apigw-Requestid header.
//   - A named stage serves under /<stage>; "$default" (or none) at the root.
//
// Lambda function URLs (AWS::Lambda::Url) use the same event and response
// format: FunctionURL is the API that serves one, at the root of its port,
// and Options.Timeout makes it wait for the function's own timeout rather
// than an HTTP API's 30 s; Options.AuthorizeRequest decides each request by
// the URL's AuthType, and names its caller (403 {"Message":"Forbidden"},
// as Lambda answers, when it refuses). What differs from AWS
// for them: the URL's Cors configuration is not applied, requests up to 10 MiB are accepted
// (AWS takes 6 MB), and a function error answers as an HTTP API does (500
// {"message":"Internal Server Error"}), not as a function URL does (502).
//
// What differs from AWS: the API is plain HTTP on 127.0.0.1 (no TLS, no
// custom domains); authorizers, CORS configuration, throttling, access logs
// and the 6 MB Lambda payload limit are not applied. The routes are given
// to Serve and Update (the local CloudFormation reads them from the API's
// OpenAPI body, as SAM's translator writes it).
package httpapi
