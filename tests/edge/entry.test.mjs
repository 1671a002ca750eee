// The entry module's request phases (src/edge/entry.mjs), in Node with a stand-in for the Rust
// exports: which phase answers, what each is given, and that a chat body read first reaches the
// asynchronous handler intact when the body-first phase hands over. The Rust side of each phase is
// tested natively (src/gateway/ready.rs) and end to end in workerd (tests/integration).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
let dir;
let worker;
const calls = [];
// What each stand-in export does in the current test (set by `reset`).
const core = {};

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "entry-"));
  fs.copyFileSync(path.join(root, "src/edge/entry.mjs"), path.join(dir, "entry.mjs"));
  // The Durable Object classes the entry module re-exports need the Workers runtime; not tested here.
  fs.writeFileSync(path.join(dir, "counter.mjs"), "export class RateLimitCounter {}\n");
  fs.writeFileSync(path.join(dir, "conversation.mjs"), "export class Conversation {}\n");
  fs.writeFileSync(path.join(dir, "analytics.mjs"), "export class AnalyticsStore {}\n");
  fs.writeFileSync(path.join(dir, "index.js"), `
export default class Gateway {}
Gateway.prototype.fetch_now = (...args) => globalThis.entryTestCore.fetch_now(...args);
Gateway.prototype.fetch_read = (...args) => globalThis.entryTestCore.fetch_read(...args);
Gateway.prototype.fetch = function (request) { return globalThis.entryTestCore.fetch(request, this); };
`);
  globalThis.entryTestCore = {
    fetch_now: (request, ...rest) => (calls.push(["fetch_now", request]), core.fetch_now(request, ...rest)),
    fetch_read: (request, body, ...rest) => (calls.push(["fetch_read", request, body]), core.fetch_read(request, body, ...rest)),
    fetch: (request, self) => (calls.push(["fetch", request, self]), core.fetch(request, self)),
  };
  globalThis.addEventListener ??= () => {}; // the Workers runtime has it; Node does not
  worker = (await import(path.join(dir, "entry.mjs"))).default;
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

function reset(stand) {
  calls.length = 0;
  Object.assign(core, { fetch_now: () => undefined, fetch_read: () => undefined, fetch: async () => new Response("async") }, stand);
}

// As a client sends it: with its Content-Length (the runtime's incoming requests carry it).
const chat = (body, length = new TextEncoder().encode(body).byteLength) =>
  new Request("https://gw.example/webhooks/rest/webhook", { method: "POST", body, headers: { "content-length": String(length) } });
const names = () => calls.map(([name]) => name);

test("an answer of the synchronous phase is returned at once", async () => {
  reset({ fetch_now: () => new Response("now") });
  const response = await worker.fetch(new Request("https://gw.example/health"), {}, {});
  assert.equal(await response.text(), "now");
  assert.deepEqual(names(), ["fetch_now"]);
});

test("a chat body is read first and, when the turn needs no I/O, answered without the asynchronous handler", async () => {
  reset({ fetch_now: () => 1024, fetch_read: () => new Response("ready") });
  const response = await worker.fetch(chat('{"sender":"u","message":"hi"}'), {}, {});
  assert.equal(await response.text(), "ready");
  assert.deepEqual(names(), ["fetch_now", "fetch_read"]);
  assert.equal(new TextDecoder().decode(calls[1][2]), '{"sender":"u","message":"hi"}');
});

test("a turn that needs I/O is handed over with the same bytes, once", async () => {
  let seen;
  reset({ fetch_now: () => 1024, fetch: async (request) => ((seen = await request.text()), new Response("async")) });
  const env = { binding: 1 }, ctx = { waitUntil() {} };
  const response = await worker.fetch(chat('{"sender":"u","message":"weather?"}'), env, ctx);
  assert.equal(await response.text(), "async");
  assert.deepEqual(names(), ["fetch_now", "fetch_read", "fetch"]);
  assert.equal(seen, '{"sender":"u","message":"weather?"}');
  assert.equal(calls[2][2].env, env, "the asynchronous handler gets the Worker's env and ctx");
  assert.equal(calls[2][2].ctx, ctx);
});

test("a body declared longer than the limit is not read first: the asynchronous handler reads and refuses it", async () => {
  let seen;
  reset({ fetch_now: () => 4, fetch: async (request) => ((seen = await request.text()), new Response("async")) });
  await worker.fetch(chat("0123456789"), {}, {});
  assert.deepEqual(names(), ["fetch_now", "fetch"]);
  assert.equal(seen, "0123456789");
});

test("a body without a declared length goes straight to the asynchronous handler", async () => {
  reset({ fetch_now: () => 1024 });
  const request = new Request("https://gw.example/webhooks/rest/webhook", { method: "POST", body: "{}" });
  await worker.fetch(request, {}, {});
  assert.deepEqual(names(), ["fetch_now", "fetch"]);
});

test("a failure in any phase answers the gateway's clean 500", async () => {
  for (const stand of [
    { fetch_now: () => { throw new Error("boom"); } },
    { fetch_now: () => 1024, fetch_read: () => { throw new Error("boom"); } },
    { fetch: async () => { throw new Error("boom"); } },
  ]) {
    reset(stand);
    const original = console.error;
    console.error = () => {};
    try {
      const response = await worker.fetch(chat("{}"), {}, {});
      assert.equal(response.status, 500);
      const body = await response.json();
      assert.equal(body.reason, "InternalError");
      assert.ok(!JSON.stringify(body).includes("boom"), "no internals in the answer");
    } finally {
      console.error = original;
    }
  }
});
