import assert from "node:assert/strict";
import { test } from "node:test";

import type { APIGatewayProxyEventV2 } from "aws-lambda";

import { handler } from "../src/app";

test("greets from the stage", async () => {
  process.env.STAGE = "staging";
  const got = await handler({ rawPath: "/hello" } as APIGatewayProxyEventV2);
  assert.equal(got.statusCode, 200);
  assert.equal(got.body, "<p>hello from staging</p>");
});

test("escapes the name", async () => {
  process.env.STAGE = "prod";
  const got = await handler({ queryStringParameters: { name: "<b>Ada</b>" } } as unknown as APIGatewayProxyEventV2);
  assert.equal(got.body, "<p>hello from prod, &lt;b&gt;Ada&lt;/b&gt;</p>");
});
