// Retries, fallback origins and circuit breakers in real workerd, against origins that fail a given
// number of times, stall, reset the connection or refuse it (a closed port), counting what reached
// each: a GET is tried again and moved to a fallback, a POST is sent exactly once, a circuit opens,
// answers 503 or sends to the fallback, then lets one request probe and closes.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { startGateway, json } from "../support/gateway.mjs";
import { startOrigin, sendJson } from "../support/origins.mjs";

const TOKEN = "resilience-token";
const auth = { headers: { access_token: TOKEN } };
let gateway, flaky, stalling, resetting, backup, switchable, closedPort;
// How many more requests each flaky path fails before it answers, by path.
const failuresLeft = new Map();
let switchableDown = true;

const hits = (origin, path) => origin.received.filter((r) => new URL(r.url, "http://o").pathname === path).length;
const logLines = () => gateway.logs.map((l) => { try { return JSON.parse(l); } catch { return null; } }).filter(Boolean);

before(async () => {
  flaky = await startOrigin((req, res) => {
    const path = new URL(req.url, "http://o").pathname;
    const left = failuresLeft.get(path) ?? 0;
    if (left > 0) {
      failuresLeft.set(path, left - 1);
      return sendJson(res, 503, { detail: "overloaded" });
    }
    if (path.startsWith("/always-503")) return sendJson(res, 503, { detail: "overloaded" });
    sendJson(res, 200, { path, query: new URL(req.url, "http://o").search, from: "flaky" });
  });
  stalling = await startOrigin(async (req, res) => {
    await new Promise((r) => setTimeout(r, 3000));
    if (!res.destroyed) sendJson(res, 200, { late: true });
  });
  resetting = await startOrigin((req, res) => res.socket.destroy());
  backup = await startOrigin((req, res) => {
    const url = new URL(req.url, "http://o");
    sendJson(res, 200, { path: url.pathname, query: url.search, from: "backup", key: req.headers["x-api-key"] ?? null });
  });
  switchable = await startOrigin((req, res) => {
    if (switchableDown) return res.socket.destroy();
    sendJson(res, 200, { from: "switchable" });
  });
  closedPort = await new Promise((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => { const { port } = server.address(); server.close(() => resolve(port)); });
  });
  const retries = { attempts: 3, backoff: 0.05 };
  gateway = await startGateway({
    config: {
      auth: { token: TOKEN },
      extensions: { rest: { services: [
        { name: "flaky", base_url: flaky.url + "/", expose: "inference", timeout: 1, retries },
        { name: "stall", base_url: stalling.url + "/", expose: "inference", timeout: 1, retries: { attempts: 2 } },
        { name: "reset", base_url: resetting.url + "/v1/", expose: "inference", timeout: 2, retries,
          headers: { "x-api-key": "svc-key" }, fallback_urls: [backup.url + "/v2/"] },
        { name: "refused", base_url: `http://127.0.0.1:${closedPort}/`, expose: "inference", timeout: 2, retries,
          fallback_urls: [backup.url + "/"] },
        { name: "breaker", base_url: switchable.url + "/", expose: "telemetry", timeout: 2,
          circuit: { failures: 2, cooldown: 1 } },
        { name: "breakerfb", base_url: `http://127.0.0.1:${closedPort}/`, expose: "telemetry", timeout: 2,
          fallback_urls: [backup.url + "/"], circuit: { failures: 1, cooldown: 30 } },
      ] } },
      dialog: [
        { condition: "message.text == 'post'",
          response: '{% POST "flaky://always-503/order" body {"n": 1} on_error "continue" %}{{ rest.ok }}/{{ rest.status_code }}' },
        { condition: "message.text == 'get'",
          response: '{% GET "flaky://tagged/get" %}{{ rest.json.from }}{{ rest.json.path }}' },
        { condition: "message.text == 'fallback'",
          response: '{% GET "refused://pi/system" parameters {"a": "1"} %}{{ rest.json.from }} {{ rest.json.path }}{{ rest.json.query }}' },
      ],
    },
  });
});
after(() => Promise.all([gateway, flaky, stalling, resetting, backup, switchable].map((s) => s?.close())));

async function say(message) {
  const response = await gateway.fetch("/webhooks/rest/webhook", { method: "POST", body: JSON.stringify({ sender: "r", message }) });
  return { status: response.status, body: await json(response) };
}

test("a proxied GET that fails twice with 503 is answered by the third try", async () => {
  failuresLeft.set("/twice", 2);
  const response = await gateway.fetch("/models/flaky/twice?x=1", auth);
  assert.equal(response.status, 200);
  assert.deepEqual(await json(response), { path: "/twice", query: "?x=1", from: "flaky" });
  assert.equal(hits(flaky, "/twice"), 3);
});

test("every try failing: the error says how the last one did, and no more than attempts tries are made", async () => {
  const response = await gateway.fetch("/models/flaky/always-503?secret=s3cret", auth);
  const body = await json(response);
  assert.equal(response.status, 503);
  assert.equal(body.reason, "ServiceUnavailable");
  assert.equal(body.message, "The service 'flaky' answered 503 Service Unavailable (3 tries).");
  assert.deepEqual(body.details, { status: 503, tries: 3 });
  assert.ok(!JSON.stringify(body).includes("s3cret") && !JSON.stringify(body).includes("127.0.0.1"));
  assert.equal(hits(flaky, "/always-503"), 3);
});

test("a stalling origin times out on each try, and the whole stays within attempts × timeout", async () => {
  const started = Date.now();
  const response = await gateway.fetch("/models/stall/slow", auth);
  const took = Date.now() - started;
  const body = await json(response);
  assert.equal(response.status, 504);
  assert.equal(body.reason, "GatewayTimeout");
  assert.equal(body.message, "The service 'stall' did not answer within 1000 ms (2 tries).");
  assert.equal(body.details.tries, 2);
  assert.ok(took >= 1900 && took < 2900, `took ${took} ms`);
  assert.equal(hits(stalling, "/slow"), 2);
});

test("a reset connection is tried again, then the fallback answers with the same path, query and headers", async () => {
  const response = await gateway.fetch("/models/reset/predict?top=3", auth);
  assert.equal(response.status, 200);
  assert.deepEqual(await json(response), { path: "/v2/predict", query: "?top=3", from: "backup", key: "svc-key" });
  assert.equal(hits(resetting, "/v1/predict"), 3);
  assert.equal(hits(backup, "/v2/predict"), 1);
});

test("a refused connection (closed port) moves on to the fallback", async () => {
  const response = await gateway.fetch("/models/refused/health", auth);
  assert.equal(response.status, 200);
  assert.equal((await json(response)).from, "backup");
  assert.equal(hits(backup, "/health"), 1);
});

test("a proxied POST to a 503 origin is sent exactly once", async () => {
  const before = hits(flaky, "/always-503/upload");
  const response = await gateway.fetch("/models/flaky/always-503/upload", { method: "POST", headers: auth.headers, body: '{"n": 1}' });
  assert.equal(response.status, 503);
  assert.equal((await json(response)).details.tries, 1);
  assert.equal(hits(flaky, "/always-503/upload") - before, 1);
});

test("rest_call: a POST to a 503 origin is sent exactly once; a GET is tried again; a fallback gets the query", async () => {
  const { status, body } = await say("post");
  assert.equal(status, 200);
  assert.equal(body[0].text, "False/503");
  assert.equal(hits(flaky, "/always-503/order"), 1, "the POST reached the origin exactly once");

  failuresLeft.set("/tagged/get", 2);
  const get = await say("get");
  assert.equal(get.body[0].text, "flaky/tagged/get");
  assert.equal(hits(flaky, "/tagged/get"), 3);

  const fallback = await say("fallback");
  assert.equal(fallback.body[0].text, "backup /pi/system?a=1");
});

test("a circuit opens after consecutive failures, answers 503 at once, then one request probes and closes it", async () => {
  switchableDown = true;
  for (let i = 0; i < 2; i++) {
    const failed = await gateway.fetch("/pi/breaker/system", auth);
    assert.equal(failed.status, 502);
    await failed.text();
  }
  assert.equal(switchable.received.length, 2);
  const open = await gateway.fetch("/pi/breaker/system", auth);
  const body = await json(open);
  assert.equal(open.status, 503);
  assert.equal(body.reason, "ServiceUnavailable");
  assert.equal(open.headers.get("retry-after"), "1");
  assert.equal(switchable.received.length, 2, "an open circuit sends nothing");

  switchableDown = false;
  await new Promise((r) => setTimeout(r, 1100));
  const probe = await gateway.fetch("/pi/breaker/system", auth);
  assert.equal(probe.status, 200);
  assert.deepEqual(await json(probe), { from: "switchable" });
  const after = await gateway.fetch("/pi/breaker/system", auth);
  assert.equal(after.status, 200);
  await after.text();
  assert.equal(switchable.received.length, 4);

  const states = logLines().filter((l) => l.event === "circuit" && l.service === "breaker").map((l) => l.state);
  assert.deepEqual(states, ["opened", "probing", "closed"], gateway.logs.join("\n"));
  const origin = logLines().find((l) => l.event === "circuit" && l.service === "breaker").origin;
  assert.equal(origin, switchable.url);
});

test("an open circuit sends requests straight to the fallback", async () => {
  const first = await gateway.fetch("/pi/breakerfb/a", auth);
  assert.equal((await json(first)).from, "backup");
  const second = await gateway.fetch("/pi/breakerfb/b", auth);
  assert.equal((await json(second)).from, "backup");
  assert.equal(hits(backup, "/a") + hits(backup, "/b"), 2);
  const states = logLines().filter((l) => l.event === "circuit" && l.service === "breakerfb").map((l) => l.state);
  assert.deepEqual(states, ["opened"]);
});
