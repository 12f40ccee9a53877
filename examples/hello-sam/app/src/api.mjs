// POST /visits/{name}: queue a visit, answer 202 with the greeting.
import { SQSClient, SendMessageCommand } from "@aws-sdk/client-sqs";
import { greet, validName, visitMessage } from "./visits.mjs";

const sqs = new SQSClient({});

export async function handler(event) {
  const name = event.pathParameters?.name;
  if (!validName(name)) {
    return { statusCode: 400, body: JSON.stringify({ error: "a name is letters, digits and hyphens, at most 64" }) };
  }
  await sqs.send(new SendMessageCommand({ QueueUrl: process.env.QUEUE_URL, MessageBody: visitMessage(name, new Date()) }));
  return {
    statusCode: 202,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ queued: name, greeting: greet(process.env.GREETING, name, process.env.STAGE) }),
  };
}
