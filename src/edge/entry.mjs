// The Worker's entry module, copied into build/ by .ci/build next to worker-build's output.
//
// It exposes the Rust handler as a plain module Worker. worker-build's default export wraps every
// request in proxies (a class proxy, an instance proxy, a function proxy); calling the handler
// directly costs a fraction of that. Recovery after a Rust panic does not depend on those proxies:
// wasm-bindgen marks the instance terminated, the worker crate schedules a re-initialisation, and
// the next call gets a fresh instance. What this module adds is the answer to the failed request
// itself: a clean 500 in the gateway's error shape, never a stack trace.
//
// Rust's `serve` runs each request as far as it goes without waiting: it returns the Response when
// nothing needed I/O, else a promise of it (the same run going on). For a chat message it first
// asks for the body, which is read here natively, in one call.
import { env as workerEnv } from "cloudflare:workers";
import Gateway from "./index.js";

// The rate-limit counters' Durable Object class, bound as RATE_LIMITS in wrangler.toml.
export { RateLimitCounter } from "./counter.mjs";
// The conversations' Durable Object class, bound as CONVERSATIONS in wrangler.toml.
export { Conversation } from "./conversation.mjs";
// The analytics store's Durable Object class, bound as ANALYTICS_STORE in wrangler.toml.
export { AnalyticsStore } from "./analytics.mjs";

// wasm-bindgen's futures executor schedules every task wake-up through the global queueMicrotask,
// which the runtime implements with bookkeeping of its own on each call. A resolved promise's then()
// queues the same kind of job on the same microtask queue, at a fraction of the cost: proxied
// routes and the chat webhook measured about 10 % more requests per second. Only this Worker's
// code runs in its isolate. A job that throws (a trap after a panic) now surfaces as an
// unhandled rejection instead of an error event; both are handled below.
const resolved = Promise.resolve();
globalThis.queueMicrotask = (job) => {
  resolved.then(job);
};

const rustServe = Gateway.prototype.serve;

const VERSION = "__GATEWAY_VERSION__";

function logWorkerError(error) {
  console.error(JSON.stringify({ event: "worker_error", error: String((error && error.message) || error) }));
}

// The gateway is built from its configuration while the isolate loads, which the platform can do
// while the client's TLS handshake is still under way; a configuration error is kept and answered
// by every request, as before. Durable Object isolates evaluate this module too, and build it once.
// A panic here (a trap) is logged and survived: the next request gets a fresh instance, which loads
// the gateway then.
try {
  Gateway.prototype.prepare(workerEnv);
} catch (error) {
  logWorkerError(error);
}

function internalError(error) {
  logWorkerError(error);
  const body = {
    version: VERSION, status: "failure", message: "The gateway failed while handling this request.",
    reason: "InternalError", details: {}, help: null, code: 500,
  };
  return new Response(JSON.stringify(body), { status: 500, headers: { "content-type": "application/json" } });
}

// A panic traps the wasm instance. In the run that waits it traps in a microtask, so its promise
// would never settle; the trap reaches the global error event (or an unhandled rejection) instead.
// In the synchronous run it is thrown here. Either way every request in flight shares the dead
// instance, so each is failed with the clean 500.
const inFlight = new Set();
function failInFlight(error) {
  if (error instanceof WebAssembly.RuntimeError) for (const fail of inFlight) fail(error);
}
addEventListener("error", (event) => failInFlight(event.error));
addEventListener("unhandledrejection", (event) => failInFlight(event.reason));

export default {
  async fetch(request, env, ctx) {
    let answer;
    try {
      answer = rustServe(request, undefined, env, ctx);
      if (typeof answer === "number") {
        // A chat message: its body read here when its declared length is within the limit. A body
        // that cannot be read (the client went away) or is too long is left to Rust (null), whose
        // own read fails or refuses it in the gateway's error shape.
        const declared = Number(request.headers.get("content-length") ?? NaN);
        const body = Number.isSafeInteger(declared) && declared <= answer
          ? await request.arrayBuffer().then((bytes) => new Uint8Array(bytes), () => null)
          : null;
        answer = rustServe(request, body, env, ctx);
      }
      if (answer instanceof Response) return answer;
    } catch (error) {
      failInFlight(error);
      return internalError(error);
    }
    let fail;
    try {
      return await new Promise((resolve, reject) => {
        fail = reject;
        inFlight.add(fail);
        answer.then(resolve, reject);
      });
    } catch (error) {
      return internalError(error);
    } finally {
      inFlight.delete(fail);
    }
  },
};
