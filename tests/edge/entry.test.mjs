// The entry module (src/edge/entry.mjs), in Node with stand-ins for the Rust exports: that the
// gateway is prepared from the Worker's env while the module loads, what `serve` is given on each
// call, that a chat body is read first and handed over as bytes, and that a Response, a promise of
// one, or a failure each reach the client as they should. The Rust side is
// tested natively (src/platform/poll.rs, src/edge/body_first.rs) and end to end in workerd
// (tests/integration).
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
const prepared = [];
// What each stand-in export does in the current test (set by `reset`).
const core = {};

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "entry-"));
  // The runtime's own module, `cloudflare:workers`, stands in as a file holding the Worker's env.
  const entry = fs.readFileSync(path.join(root, "src/edge/entry.mjs"), "utf8");
  fs.writeFileSync(path.join(dir, "entry.mjs"), entry.replace('from "cloudflare:workers"', 'from "./cloudflare-workers.mjs"'));
  fs.writeFileSync(path.join(dir, "cloudflare-workers.mjs"), "export const env = { GATEWAY_CONFIG: \"{}\" };\n");
  // The Durable Object classes the entry module re-exports need the Workers runtime; not tested here.
  fs.writeFileSync(path.join(dir, "counter.mjs"), "export class RateLimitCounter {}\n");
  fs.writeFileSync(path.join(dir, "conversation.mjs"), "export class Conversation {}\n");
  fs.writeFileSync(path.join(dir, "analytics.mjs"), "export class AnalyticsStore {}\n");
  fs.writeFileSync(path.join(dir, "index.js"), `
export default class Gateway {}
Gateway.prototype.serve = (...args) => globalThis.entryTestCore.serve(...args);
Gateway.prototype.prepare = (env) => globalThis.entryTestCore.prepare(env);
`);
  globalThis.entryTestCore = {
    // The gateway is built while the module loads; a trap there must not fail the module.
    prepare: (env) => {
      prepared.push(env);
      throw new Error("a trap while the module loads");
    },
    serve: (request, body, env, ctx) => (calls.push({ request, body, env, ctx }), core.serve(request, body, env, ctx)),
  };
  globalThis.addEventListener ??= () => {}; // the Workers runtime has it; Node does not
  worker = (await import(path.join(dir, "entry.mjs"))).default;
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

test("the gateway is prepared from the Worker's env while the module loads, and a failure there is survived", () => {
  assert.deepEqual(prepared, [{ GATEWAY_CONFIG: "{}" }]);
  assert.equal(typeof worker.fetch, "function");
});

/** `serve` answers with what `answers` gives for its first, then its second call. */
function reset(...answers) {
  calls.length = 0;
  core.serve = () => {
    const answer = answers[calls.length - 1];
    return typeof answer === "function" ? answer() : answer;
  };
}

// As a client sends it: with its Content-Length (the runtime's incoming requests carry it).
const chat = (body, length = new TextEncoder().encode(body).byteLength) =>
  new Request("https://gw.example/webhooks/rest/webhook", { method: "POST", body, headers: { "content-length": String(length) } });
const text = (bytes) => new TextDecoder().decode(bytes);

test("an answer of the synchronous run is returned at once", async () => {
  reset(new Response("now"));
  const response = await worker.fetch(new Request("https://gw.example/health"), {}, {});
  assert.equal(await response.text(), "now");
  assert.equal(calls.length, 1);
  assert.equal(calls[0].body, undefined, "the first call may ask for the body");
});

test("a promise of the answer (the run waiting for I/O) is awaited, with the Worker's env and ctx given", async () => {
  reset(Promise.resolve(new Response("later")));
  const env = { binding: 1 }, ctx = { waitUntil() {} };
  const response = await worker.fetch(new Request("https://gw.example/models/m/x"), env, ctx);
  assert.equal(await response.text(), "later");
  assert.equal(calls[0].env, env);
  assert.equal(calls[0].ctx, ctx);
});

test("a chat body is read first and handed over as bytes, once", async () => {
  reset(1024, Promise.resolve(new Response("turn")));
  const response = await worker.fetch(chat('{"sender":"u","message":"hi"}'), {}, {});
  assert.equal(await response.text(), "turn");
  assert.equal(calls.length, 2);
  assert.ok(calls[1].body instanceof Uint8Array);
  assert.equal(text(calls[1].body), '{"sender":"u","message":"hi"}');
});

test("a body declared longer than the limit, or not declared, is left to Rust (null): it reads and refuses it", async () => {
  for (const request of [chat("0123456789"), new Request("https://gw.example/webhooks/rest/webhook", { method: "POST", body: "{}" })]) {
    let seen;
    reset(4, () => request.text().then((body) => ((seen = body), new Response("streamed"))));
    const response = await worker.fetch(request, {}, {});
    assert.equal(await response.text(), "streamed");
    assert.equal(calls[1].body, null);
    assert.ok(seen === "0123456789" || seen === "{}", "the body was still there to read");
  }
});

test("a failure in any call answers the gateway's clean 500", async () => {
  const boom = () => { throw new Error("boom"); };
  for (const answers of [[boom], [1024, boom], [() => Promise.reject(new Error("boom"))]]) {
    reset(...answers);
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
