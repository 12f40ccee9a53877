// The app's logic, apart from AWS: what a visit is, as a queue message and
// as an item of the table, and how visitors are greeted.

const NAME = /^[A-Za-z0-9-]{1,64}$/;

/** validName reports whether name may be a visitor's name. */
export function validName(name) {
  return typeof name === "string" && NAME.test(name);
}

/** greet is the greeting of name in stage. */
export function greet(greeting, name, stage) {
  return `${greeting}, ${name}! (${stage})`;
}

/** visitMessage is the queue message of a visit by name at time at. */
export function visitMessage(name, at) {
  return JSON.stringify({ name, at: at.toISOString() });
}

/** visitItem is the table item the worker makes of a visit message. */
export function visitItem(body, greeting, stage) {
  const visit = JSON.parse(body);
  if (!validName(visit.name)) {
    throw new Error(`a visit message without a valid name: ${body}`);
  }
  return {
    pk: { S: `visit#${visit.name}` },
    name: { S: visit.name },
    at: { S: String(visit.at) },
    greeting: { S: greeting },
    stage: { S: stage },
  };
}

/** tickItem is the table item of the schedule's tick at time at. */
export function tickItem(event, at, greeting, stage) {
  return {
    pk: { S: "tick" },
    source: { S: String(event?.source ?? "unknown") },
    at: { S: at.toISOString() },
    greeting: { S: greeting },
    stage: { S: stage },
  };
}

/** plain turns a table item of string attributes into an object. */
export function plain(item) {
  const out = {};
  for (const [k, v] of Object.entries(item ?? {})) {
    out[k] = v.S ?? v.N ?? null;
  }
  return out;
}
