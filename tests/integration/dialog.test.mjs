// The chat webhook through workerd: templates whose rest_call reaches a real fake origin over Fetch,
// results kept in the Cache API, and Rasa NLU / upstream forwarding.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway, json } from "../support/gateway.mjs";
import { startOrigin, startRasa, sendJson } from "../support/origins.mjs";

let api, rasa;
const started = [];
before(async () => {
  [api, rasa] = await Promise.all([
    startOrigin(async (req, res, body) => {
      const url = new URL(req.url, "http://api");
      if (url.pathname === "/slow") await new Promise((r) => setTimeout(r, 3000));
      if (url.pathname === "/fail") return sendJson(res, 500, { error: "boom" });
      if (url.pathname === "/orders" && req.method === "POST") return sendJson(res, 201, { id: 42, item: JSON.parse(body).item });
      if (url.pathname.startsWith("/orders/")) return sendJson(res, 200, { state: "baking" });
      sendJson(res, 200, { temperature: 21.5, path: url.pathname, query: url.search });
    }),
    startRasa(),
  ]);
});
after(() => Promise.all([api?.close(), rasa?.close(), ...started.map((g) => g.close())]));

async function gatewayWith(dialog, extra = {}) {
  const gateway = await startGateway({
    config: { extensions: { rest: { services: [{ name: "api", base_url: api.url + "/", headers: { "x-api-key": "${API_KEY}" } }] } }, dialog, ...extra },
    vars: { API_KEY: "k-123" },
  });
  started.push(gateway);
  return gateway;
}

async function say(gateway, message, sender = "u1") {
  const response = await gateway.fetch("/webhooks/rest/webhook", {
    method: "POST", headers: { "content-type": "text/plain" }, body: JSON.stringify({ sender, message }),
  });
  return { status: response.status, body: await json(response) };
}

test("a templated reply from a REST call", async () => {
  const gateway = await gatewayWith([
    { condition: "message.text == 'temperature'", response: "{% GET \"api://sensors/livingroom\" %}It is {{ rest.json.temperature }} °C.\n\n<button payload=\"/more\">More</button>" },
    { condition: "true", response: "?" },
  ]);
  const { status, body } = await say(gateway, "temperature");
  assert.equal(status, 200);
  // A paragraph of buttons joins the text before it.
  assert.deepEqual(body, [{ recipient_id: "u1", text: "It is 21.5 °C.", buttons: [{ title: "More", payload: "/more" }] }]);
  const sent = api.received.at(-1);
  assert.equal(sent.url, "/sensors/livingroom");
  assert.equal(sent.headers["x-api-key"], "k-123");
});

test("a POST is sent once and a later call uses its result", async () => {
  const gateway = await gatewayWith([{ condition: "true",
    response: "{% POST \"api://orders\" body {\"item\": message.text} %}{% set id = rest.json.id %}{% GET \"api://orders/\" ~ id %}Order {{ id }}: {{ rest.json.state }}" }]);
  const before = api.received.length;
  const { body } = await say(gateway, "pizza");
  assert.equal(body[0].text, "Order 42: baking");
  const sent = api.received.slice(before);
  assert.deepEqual(sent.map((r) => `${r.method} ${r.url}`), ["POST /orders", "GET /orders/42"]);
  assert.equal(sent[0].body, '{"item": "pizza"}');
  assert.equal(sent[0].headers["content-type"], "application/json");
});

test("cache: hit on reordered dict arguments, miss on a different password, errors not cached", async () => {
  const call = (auth, extra = "") => `{% GET "api://cached" cache 60 auth ${auth} ${extra} %}{{ rest.ok }}`;
  const gateway = await gatewayWith([
    { condition: "message.text == 'a'", response: call('{"user": "u", "password": "p"}') },
    { condition: "message.text == 'b'", response: call('{"password": "p", "user": "u"}') },
    { condition: "message.text == 'c'", response: call('{"user": "u", "password": "other"}') },
    { condition: "true", response: '{% GET "api://fail" cache 60 on_error "continue" %}{{ rest.ok }}' },
  ]);
  const count = () => api.received.length;
  const start = count();
  assert.equal((await say(gateway, "a")).body[0].text, "True");
  await new Promise((r) => setTimeout(r, 100)); // the cache is written after the answer
  assert.equal((await say(gateway, "b")).body[0].text, "True");
  assert.equal(count() - start, 1, "reordered dict arguments hit the cache");
  await say(gateway, "c");
  assert.equal(count() - start, 2, "a different password misses");
  assert.equal((await say(gateway, "d")).body[0].text, "False");
  await new Promise((r) => setTimeout(r, 100));
  await say(gateway, "d");
  assert.equal(count() - start, 4, "errors are not cached");
});

test("timeout fires and break_flow fails the message in the contract's shape", async () => {
  const gateway = await gatewayWith([
    { condition: "message.text == 'slow'", response: '{% GET "api://slow" timeout 1 %}never' },
    { condition: "message.text == 'slow-continue'", response: '{% GET "api://slow" timeout 1 on_error "continue" %}{{ rest|tojson }}' },
    { condition: "true", response: '{% GET "api://fail" %}never' },
  ]);
  const started = Date.now();
  const slow = await say(gateway, "slow");
  assert.ok(Date.now() - started < 2900, "the 1 s timeout fired before the 3 s origin answered");
  assert.equal(slow.status, 500);
  assert.equal(slow.body.reason, "RestCallFailed");
  assert.match(slow.body.message, /^REST call failed:/);
  assert.deepEqual(JSON.parse((await say(gateway, "slow-continue")).body[0].text), { ok: false });
  const failed = await say(gateway, "fail");
  assert.match(failed.body.message, /REST call failed: Server error '500 Internal Server Error'/);
});

test("bad input: invalid JSON is a 400, unknown services a clear error", async () => {
  const gateway = await gatewayWith([{ condition: "true", response: "{% GET \"nope://x\" %}" }]);
  const bad = await gateway.fetch("/webhooks/rest/webhook", { method: "POST", body: "{not json" });
  assert.equal(bad.status, 400);
  assert.equal((await json(bad)).reason, "BadRequest");
  const { status, body } = await say(gateway, "x");
  assert.equal(status, 500);
  assert.equal(body.message, "Unknown schema ('nope') in URL 'nope://x'\nMust be one of: http, https, api");
});

test("NLU intents and entities from a Rasa server, and forwarding to Rasa", async () => {
  const nlu = await startGateway({ config: {
    extensions: { rest: { services: [{ name: "rasa", base_url: rasa.url + "/", expose: "rasa" }] } },
    chat: { nlu: "rasa" },
    dialog: [
      { condition: "intents.top.name == 'greet'", response: "Hello {{ entities.name.value }} ({{ intents.top.confidence }})" },
      { condition: "true", response: "Sorry." },
    ],
  } });
  started.push(nlu);
  assert.equal((await say(nlu, "hello Ann")).body[0].text, "Hello Ann (0.98)");
  assert.equal((await say(nlu, "weather?")).body[0].text, "Sorry.");
  const upstream = await startGateway({ config: {
    extensions: { rest: { services: [{ name: "rasa", base_url: rasa.url + "/", expose: "rasa" }] } }, chat: { upstream: "rasa" },
  } });
  started.push(upstream);
  assert.deepEqual((await say(upstream, "hi there", "s9")).body, [{ recipient_id: "s9", text: "rasa heard: hi there" }]);
});

// MaxBot's `intents.<name>` is the top intent when it has that name, and none otherwise: a named
// intent further down the ranking must not answer, so the catch-all node after it does.
test("NLU: a named intent answers only as the top intent; otherwise irrelevant or the catch-all", async () => {
  const rankings = {
    "book a table": [["book_table", 0.91], ["greet", 0.06], ["order", 0.03]],
    "pizza please": [["order", 0.72], ["book_table", 0.2], ["greet", 0.08]],
    "hmm": [["greet", 0.35], ["book_table", 0.33], ["order", 0.32]],
  };
  const parser = await startOrigin((req, res, body) => {
    const text = JSON.parse(body.toString() || "{}").text || "";
    const ranking = (rankings[text] || []).map(([name, confidence]) => ({ name, confidence }));
    sendJson(res, 200, { text, intent: ranking[0] ?? null, intent_ranking: ranking, entities: [] });
  });
  const gateway = await startGateway({ config: {
    extensions: { rest: { services: [{ name: "nlu", base_url: parser.url + "/", expose: "rasa" }] } },
    chat: { nlu: "nlu" },
    dialog: [
      { condition: "intents.book_table", response: "Booking ({{ intents.book_table.confidence }})." },
      { condition: "intents.irrelevant", response: "Could you rephrase? ({{ intents.ranking|length }} guesses)" },
      { condition: "true", response: "Catch-all: {{ intents.top.name }}." },
    ],
  } });
  started.push(gateway, parser);
  assert.equal((await say(gateway, "book a table")).body[0].text, "Booking (0.91).");
  assert.equal((await say(gateway, "pizza please")).body[0].text, "Catch-all: order.");
  assert.equal((await say(gateway, "hmm")).body[0].text, "Could you rephrase? (3 guesses)");
  assert.deepEqual(parser.received.map((r) => `${r.method} ${r.url}`), Array(3).fill("POST /model/parse"));
});
