import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";

import { greeting } from "./greeting";

// handler answers an HTTP API (payload 2.0) request.
export const handler = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => ({
  statusCode: 200,
  headers: { "content-type": "text/html; charset=utf-8" },
  body: greeting(process.env.STAGE ?? "dev", event.queryStringParameters?.name),
});
