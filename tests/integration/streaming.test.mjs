// Streamed replies (`POST /webhooks/rest/webhook?stream=true`, CONTRACT section 8) in real workerd:
// one JSON message per line, each out as soon as it is complete. The fake origins hold their answer
// until the test has read the first line, so a line that arrives proves incremental delivery
// without measuring time.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway, json } from "../support/gateway.mjs";
import { startOrigin, sendJson } from "../support/origins.mjs";

/** An origin whose answers wait until `release()`; `arrived` resolves when a request reached it. */
async function startHeldOrigin(answer) {
  let release, arrived;
  const state = { released: null, arrived: null };
  const reset = () => {
    state.released = new Promise((resolve) => (release = resolve));
    state.arrived = new Promise((resolve) => (arrived = resolve));
  };
  reset();
  const origin = await startOrigin(async (req, res) => {
    arrived();
    await state.released;
    answer(req, res);
  });
  return { ...origin, release: () => release(), arrived: () => state.arrived, reset };
}

/** The lines of a streamed body, one by one, as they arrive. */
function lineReader(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  return async function next() {
    for (;;) {
      const end = buffered.indexOf("\n");
      if (end >= 0) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 1);
        return JSON.parse(line);
      }
      const { done, value } = await reader.read();
      if (done) return buffered.trim() ? JSON.parse(buffered) : null;
      buffered += decoder.decode(value, { stream: true });
    }
  };
}

let held, failing, gateway;

const DIALOG = [
  { condition: "message.text == 'weather'",
    response: "{% set user.asked = (user.asked or 0) + 1 %}Let me look.\n\n{% GET \"held://t\" %}It is {{ rest.json.t }} °C.\n\nAnything else?" },
  { condition: "message.text == 'broken'", response: "{% set user.broke = true %}Let me look.\n\n{% GET \"failing://t\" %}It is {{ rest.json.t }}." },
  { condition: "message.text == 'early'", response: "{% GET \"failing://t\" %}It is {{ rest.json.t }}." },
  { condition: "true", response: "Hello.\n\nHow are you?" },
];

before(async () => {
  held = await startHeldOrigin((req, res) => sendJson(res, 200, { t: 21 }));
  failing = await startHeldOrigin((req, res) => sendJson(res, 500, { error: "down" }));
  gateway = await startGateway({
    config: {
      extensions: { rest: { services: [{ name: "held", base_url: held.url + "/" }, { name: "failing", base_url: failing.url + "/" }] } },
      dialog: DIALOG,
    },
  });
});

after(async () => {
  await gateway?.close();
  await Promise.all([held?.close(), failing?.close()]);
});

const say = (sender, message, query = "?stream=true") =>
  gateway.fetch("/webhooks/rest/webhook" + query, { method: "POST", body: JSON.stringify({ sender, message }) });

test("the message before a REST call arrives while the call is held, the rest after", async () => {
  held.reset();
  const response = await say("ann", "weather");
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "text/event-stream");
  const next = lineReader(response);
  assert.deepEqual(await next(), { recipient_id: "ann", text: "Let me look." });
  // The first line is here and the origin has not answered: the reply is delivered as it is made.
  await held.arrived();
  held.release();
  assert.deepEqual(await next(), { recipient_id: "ann", text: "It is 21 °C." });
  assert.deepEqual(await next(), { recipient_id: "ann", text: "Anything else?" });
  assert.equal(await next(), null);
  // The turn committed once, with every message, its state set once.
  const tracker = await json(await gateway.fetch("/conversations/ann/tracker"));
  assert.deepEqual(tracker.events.filter((e) => e.event === "bot").map((e) => e.text), ["Let me look.", "It is 21 °C.", "Anything else?"]);
  held.reset();
  const again = say("ann", "weather");
  await held.arrived();
  held.release();
  await (await again).text();
  assert.equal((await json(await gateway.fetch("/conversations/ann/tracker"))).events.filter((e) => e.event === "user").length, 2);
});

test("a turn that fails after its first line ends the stream with the error, and stores nothing", async () => {
  failing.reset();
  const response = await say("bob", "broken");
  assert.equal(response.status, 200);
  const next = lineReader(response);
  assert.equal((await next()).text, "Let me look.");
  await failing.arrived();
  failing.release();
  const error = await next();
  assert.equal(error.status, "failure");
  assert.equal(error.reason, "RestCallFailed");
  assert.equal(error.code, 500);
  assert.match(error.message, /^REST call failed: Server error '500 Internal Server Error' for url 'http:\/\/127\.0\.0\.1:\d+\/t'/);
  assert.equal(await next(), null);
  const tracker = await json(await gateway.fetch("/conversations/bob/tracker"));
  assert.deepEqual([tracker.events, tracker.slots], [[], {}]);
  // The conversation is free: the sender's next message is answered.
  const answer = await say("bob", "hi");
  assert.equal((await answer.text()).split("\n").filter(Boolean).length, 2);
});

test("a turn that fails before any line answers its error as a JSON reply would", async () => {
  failing.reset();
  failing.release();
  const response = await say("cat", "early");
  const body = await json(response);
  assert.equal(response.status, 500);
  assert.equal(response.headers.get("content-type"), "application/json");
  assert.equal(body.reason, "RestCallFailed");
});

test("a reply complete before any call is answered whole, in lines", async () => {
  const response = await say("dan", "hi");
  assert.equal(response.headers.get("content-type"), "text/event-stream");
  assert.equal(await response.text(), '{"recipient_id":"dan","text":"Hello."}\n{"recipient_id":"dan","text":"How are you?"}\n');
  // Without ?stream=true the webhook answers its JSON list, as before.
  const plain = await say("dan", "hi", "");
  assert.equal(plain.headers.get("content-type"), "application/json");
  assert.deepEqual(await json(plain), [{ recipient_id: "dan", text: "Hello." }, { recipient_id: "dan", text: "How are you?" }]);
});

test("with chat.upstream, Rasa's stream is passed through as it arrives", async () => {
  let release;
  const released = new Promise((resolve) => (release = resolve));
  const rasa = await startOrigin(async (req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.write(JSON.stringify({ recipient_id: "eve", text: "one" }) + "\n");
    await released;
    res.end(JSON.stringify({ recipient_id: "eve", text: "two" }) + "\n");
  });
  const forwarding = await startGateway({
    config: {
      extensions: { rest: { services: [{ name: "rasa", base_url: rasa.url + "/", expose: "rasa" }] } },
      chat: { upstream: "rasa" },
    },
  });
  try {
    const response = await forwarding.fetch("/webhooks/rest/webhook?stream=true", {
      method: "POST", body: JSON.stringify({ sender: "eve", message: "hi" }),
    });
    assert.equal(response.headers.get("content-type"), "text/event-stream");
    const next = lineReader(response);
    assert.equal((await next()).text, "one");
    release();
    assert.equal((await next()).text, "two");
    assert.equal(await next(), null);
    assert.equal(rasa.received[0].url, "/webhooks/rest/webhook?stream=true");
  } finally {
    release();
    await forwarding.close();
    await rasa.close();
  }
});
