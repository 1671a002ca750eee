// The Worker's entry module, copied into build/ by .ci/build next to worker-build's output.
//
// It exposes the Rust handler as a plain module Worker. worker-build's default export wraps every
// request in proxies (a class proxy, an instance proxy, a function proxy); calling the handler
// directly costs a fraction of that. Recovery after a Rust panic does not depend on those proxies:
// wasm-bindgen marks the instance terminated, the worker crate schedules a re-initialisation, and
// the next call gets a fresh instance. What this module adds is the answer to the failed request
// itself: a clean 500 in the gateway's error shape, never a stack trace.
//
// Rust's `serve` runs each request as a task (src/edge/tasks.rs): it returns the Response when
// nothing needed I/O, else a promise of it, settled as the runtime resumes the task.
import { env as workerEnv } from "cloudflare:workers";
import Gateway from "./index.js";

// The rate-limit counters' Durable Object class, bound as RATE_LIMITS in wrangler.toml.
export { RateLimitCounter } from "./counter.mjs";
// The conversations' Durable Object class, bound as CONVERSATIONS in wrangler.toml.
export { Conversation } from "./conversation.mjs";
// The analytics store's Durable Object class, bound as ANALYTICS_STORE in wrangler.toml.
export { AnalyticsStore } from "./analytics.mjs";

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

// A panic traps the wasm instance. In `serve` the trap is thrown here; in a task that waits it fails
// that task's promise (see src/edge/tasks.js). Either way the request gets the clean 500.
export default {
  fetch(request, env, ctx) {
    try {
      const answer = rustServe(request, env, ctx);
      return answer instanceof Response ? answer : answer.catch(internalError);
    } catch (error) {
      return internalError(error);
    }
  },
};
