// The entry module (src/edge/entry.mjs), in Node with stand-ins for the Rust exports: that the
// gateway is prepared from the Worker's env while the module loads, what `serve` is given, and that a Response, a promise of one, or a failure each
// reach the client as they should. Tasks are tested in tests/edge/tasks.test.mjs, and all of it
// end to end in workerd (tests/integration).
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
    serve: (request, env, ctx) => (calls.push({ request, env, ctx }), core.serve(request, env, ctx)),
  };
  worker = (await import(path.join(dir, "entry.mjs"))).default;
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

test("the gateway is prepared from the Worker's env while the module loads, and a failure there is survived", () => {
  assert.deepEqual(prepared, [{ GATEWAY_CONFIG: "{}" }]);
  assert.equal(typeof worker.fetch, "function");
});

/** `serve` answers with what `answer` gives. */
function reset(answer) {
  calls.length = 0;
  core.serve = () => (typeof answer === "function" ? answer() : answer);
}

test("an answer that needed no waiting is returned as it is, not as a promise", () => {
  const now = new Response("now");
  reset(now);
  assert.equal(worker.fetch(new Request("https://gw.example/health"), {}, {}), now);
  assert.equal(calls.length, 1);
});

test("a promise of the answer (a task that waits) is awaited, with the Worker's env and ctx given", async () => {
  reset(Promise.resolve(new Response("later")));
  const env = { binding: 1 }, ctx = { waitUntil() {} };
  const request = new Request("https://gw.example/models/m/x");
  const response = await worker.fetch(request, env, ctx);
  assert.equal(await response.text(), "later");
  assert.deepEqual(calls, [{ request, env, ctx }]);
});

test("a failure, thrown or in the promise, answers the gateway's clean 500", async () => {
  const boom = () => { throw new Error("boom"); };
  for (const answer of [boom, () => Promise.reject(new Error("boom"))]) {
    reset(answer);
    const original = console.error;
    console.error = () => {};
    try {
      const response = await worker.fetch(new Request("https://gw.example/models/m/x"), {}, {});
      assert.equal(response.status, 500);
      const body = await response.json();
      assert.equal(body.reason, "InternalError");
      assert.ok(!JSON.stringify(body).includes("boom"), "no internals in the answer");
    } finally {
      console.error = original;
    }
  }
});
