import assert from "node:assert/strict";
import { test } from "node:test";
import { greet, plain, tickItem, validName, visitItem, visitMessage } from "../src/visits.mjs";

test("a visit goes from message to item", () => {
  const body = visitMessage("ada", new Date("2030-01-01T10:00:00Z"));
  const item = visitItem(body, "Howdy", "staging");
  assert.deepEqual(plain(item), { pk: "visit#ada", name: "ada", at: "2030-01-01T10:00:00.000Z", greeting: "Howdy", stage: "staging" });
});

test("names are checked", () => {
  assert.equal(validName("grace-1"), true);
  assert.equal(validName("../etc"), false);
  assert.equal(validName(""), false);
  assert.throws(() => visitItem('{"name":"a b"}', "Howdy", "staging"), /without a valid name/);
});

test("a tick says where it came from", () => {
  const item = tickItem({ source: "schedule" }, new Date("2030-01-01T11:00:00Z"), "Welcome", "prod");
  assert.equal(plain(item).source, "schedule");
  assert.equal(greet("Welcome", "grace", "prod"), "Welcome, grace! (prod)");
});
