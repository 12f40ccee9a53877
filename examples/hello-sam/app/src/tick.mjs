// The schedule's function: records when it last ran.
import { DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { tickItem } from "./visits.mjs";

const db = new DynamoDBClient({});

export async function handler(event) {
  const item = tickItem(event, new Date(), process.env.GREETING, process.env.STAGE);
  await db.send(new PutItemCommand({ TableName: process.env.TABLE, Item: item }));
  return { ticked: item.at.S };
}
