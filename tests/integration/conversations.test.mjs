// Conversations at the edge (CONTRACT section 8) in real workerd: one Durable Object per sender,
// state that lasts from one message to the next, followups, Rasa's tracker, one turn at a time
// per sender, and a restart that keeps `user`.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startGateway, json } from "../support/gateway.mjs";
import { startOrigin, sendJson } from "../support/origins.mjs";

let slow;
let gateway;

const DIALOG = [
  { condition: "message.text == 'hi'", response: "{% if user.name %}Welcome back, {{ user.name }}!{% else %}What is your name?{% endif %}",
    followup: [{ condition: "true", response: "{% set user.name = message.text %}Nice to meet you, {{ user.name }}." }] },
  { condition: "message.text == 'book'", response: "{% set slots.what = 'table' %}For how many?<button payload=\"2\">Two</button>",
    followup: [{ condition: "message.text in ['1', '2', '3']", response: "{% set slots.people = message.text|int %}A {{ slots.what }} for {{ slots.people }}." }] },
  // A slow origin between reading and writing the count: turns of one sender must not interleave.
  { condition: "message.text == 'count'",
    response: "{% set n = (user.count or 0) + 1 %}{% GET \"slow://wait\" %}{% set user.count = n %}Count {{ user.count }}." },
  { condition: "true", response: "{{ slots.what | default('no topic') }}" },
];

function config() {
  return {
    extensions: { rest: { services: [{ name: "slow", base_url: slow.url + "/" }] } },
    dialog: DIALOG,
  };
}

async function say(gw, sender, message) {
  const response = await gw.fetch("/webhooks/rest/webhook", { method: "POST", body: JSON.stringify({ sender, message }) });
  const body = await json(response);
  assert.equal(response.status, 200, JSON.stringify(body));
  return body.map((m) => m.text).join(" | ");
}

before(async () => {
  slow = await startOrigin(async (req, res) => {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    sendJson(res, 200, {});
  });
  gateway = await startGateway({ config: config() });
});

after(async () => {
  await gateway?.close();
  await slow?.close();
});

test("a dialog asks a name, then uses it in the next turn (and in later topics)", async () => {
  assert.equal(await say(gateway, "ann", "hi"), "What is your name?");
  assert.equal(await say(gateway, "ann", "Ann"), "Nice to meet you, Ann.");
  assert.equal(await say(gateway, "ann", "hi"), "Welcome back, Ann!");
  // Another sender is another conversation.
  assert.equal(await say(gateway, "bob", "hi"), "What is your name?");
});

test("followups are matched first, slots last for the topic", async () => {
  assert.equal(await say(gateway, "carl", "book"), "For how many?");
  assert.equal(await say(gateway, "carl", "3"), "A table for 3.");
  assert.equal(await say(gateway, "carl", "anything"), "no topic");
});

test("the tracker has Rasa's shape", async () => {
  await say(gateway, "dora", "book");
  const response = await gateway.fetch("/conversations/dora/tracker");
  assert.equal(response.status, 200);
  const tracker = await json(response);
  assert.equal(tracker.sender_id, "dora");
  assert.deepEqual(tracker.slots, { what: "table" });
  assert.deepEqual(tracker.latest_message, { text: "book" });
  assert.deepEqual(tracker.events.map((e) => e.event), ["user", "slot", "bot"]);
  const [user, slot, bot] = tracker.events;
  assert.equal(user.text, "book");
  assert.ok(Math.abs(user.timestamp - Date.now() / 1000) < 60, String(user.timestamp));
  assert.deepEqual([slot.name, slot.value], ["what", "table"]);
  assert.equal(bot.text, "For how many?");
  assert.deepEqual(bot.data, { buttons: [{ title: "Two", payload: "2" }] });
  // A sender with no conversation has an empty tracker.
  const empty = await json(await gateway.fetch("/conversations/nobody/tracker"));
  assert.deepEqual([empty.sender_id, empty.events, empty.slots], ["nobody", [], {}]);
});

test("a long conversation keeps its newest 50 turns, whole and in order", async () => {
  for (let i = 1; i <= 53; i++) assert.equal(await say(gateway, "hal", `m${i}`), "no topic");
  const tracker = await json(await gateway.fetch("/conversations/hal/tracker"));
  // Each kept turn whole, its user event and its bot event, the oldest three turns gone.
  const turns = Array.from({ length: 50 }, (_, i) => [["user", `m${i + 4}`], ["bot", "no topic"]]).flat();
  assert.deepEqual(tracker.events.map((e) => [e.event, e.text]), turns);
  assert.deepEqual(tracker.latest_message, { text: "m53" });
  assert.equal(tracker.latest_event_time, tracker.events.at(-1).timestamp);
});

test("two messages of one sender are answered one after the other, in arrival order", async () => {
  const first = say(gateway, "eve", "count");
  await new Promise((resolve) => setTimeout(resolve, 200)); // the first turn is at the slow origin
  const second = say(gateway, "eve", "count");
  // A third sender does not wait for eve's turns.
  const started = Date.now();
  assert.equal(await say(gateway, "fay", "anything"), "no topic");
  assert.ok(Date.now() - started < 700, "another sender waited");
  assert.deepEqual(await Promise.all([first, second]), ["Count 1.", "Count 2."]);
  const tracker = await json(await gateway.fetch("/conversations/eve/tracker"));
  assert.deepEqual(tracker.events.filter((e) => e.event === "bot").map((e) => e.text), ["Count 1.", "Count 2."]);
});

test("a restart keeps user state", async () => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "gateway-conversations-"));
  try {
    let gw = await startGateway({ config: config(), stateDir });
    await say(gw, "gus", "hi");
    assert.equal(await say(gw, "gus", "Gus"), "Nice to meet you, Gus.");
    await gw.close();
    gw = await startGateway({ config: config(), stateDir });
    try {
      assert.equal(await say(gw, "gus", "hi"), "Welcome back, Gus!");
    } finally {
      await gw.close();
    }
  } finally {
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
});

test("conversations off: stateless, no tracker, and state in a template is a config error", async () => {
  const off = await startGateway({ config: { chat: { conversations: "off" }, dialog: [{ condition: "true", response: "{{ message.text }}" }] } });
  try {
    assert.equal(await say(off, "hal", "echo"), "echo");
    assert.equal((await off.fetch("/conversations/hal/tracker")).status, 404);
  } finally {
    await off.close();
  }
  const broken = await startGateway({ config: { chat: { conversations: "off" }, dialog: DIALOG } });
  try {
    const response = await broken.fetch("/webhooks/rest/webhook", { method: "POST", body: JSON.stringify({ message: "hi" }) });
    const body = await json(response);
    assert.equal(response.status, 500);
    assert.equal(body.reason, "ConfigError");
    assert.equal(body.details.field, "dialog[0].followup");
  } finally {
    await broken.close();
  }
});
