// Reads an item of the table by its key: {"pk": "visit#ada"} or
// {"pk": "tick"}. The smoke checks invoke it.
import { DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import { plain } from "./visits.mjs";

const db = new DynamoDBClient({});

export async function handler(event) {
  const out = await db.send(new GetItemCommand({ TableName: process.env.TABLE, Key: { pk: { S: String(event.pk) } }, ConsistentRead: true }));
  if (!out.Item) {
    return { found: false, pk: event.pk };
  }
  return { found: true, ...plain(out.Item) };
}
