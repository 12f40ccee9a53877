// The queue's worker: each visit becomes an item of the table. A message
// that cannot be recorded is reported, so it alone returns to the queue
// (and after three tries lands in the dead-letter queue).
import { DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { visitItem } from "./visits.mjs";

const db = new DynamoDBClient({});

export async function handler(event) {
  const batchItemFailures = [];
  for (const record of event.Records) {
    try {
      const item = visitItem(record.body, process.env.GREETING, process.env.STAGE);
      await db.send(new PutItemCommand({ TableName: process.env.TABLE, Item: item }));
    } catch (err) {
      console.error(`visit ${record.messageId} not recorded: ${err.message}`);
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures };
}
