// Runs the built Worker (build/index.js + build/index_bg.wasm) in real workerd through Miniflare,
// with a per-test GATEWAY_CONFIG and secrets, the Cache API enabled and www/ as static assets.
import { Miniflare } from "miniflare";
import { fileURLToPath } from "node:url";
import path from "node:path";
import fs from "node:fs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const build = path.join(root, "build");

export function assertBuilt() {
  for (const file of ["entry.mjs", "index.js", "index_bg.wasm"]) {
    if (!fs.existsSync(path.join(build, file))) {
      throw new Error(`build/${file} is missing: run 'bash .ci/build' (the test command does)`);
    }
  }
}

// Rate-limit counters that fail, for the tests of what a limit does when its counter cannot be
// reached: real Durable Objects in workerd, in a worker of their own, that throw or never answer.
const FAILING_COUNTERS = `
import { DurableObject } from "cloudflare:workers";
export class RateLimitCounter extends DurableObject {
  spend() { if (this.env.MODE === "hang") return new Promise(() => {}); throw new Error("counter storage failed"); }
  giveBack() {}
}
export default { fetch() { return new Response("counters only"); } };
`;

/**
 * Starts a gateway. `config` is an object (sent as a JSON string, as `wrangler secret`/[vars] would)
 * or a string taken as is; `vars` become Worker variables/secrets. The rate-limit counters are the
 * Worker's own Durable Objects, as are the conversations; both are kept in `stateDir` when given
 * (a restart with the same directory keeps the counts and conversations, as `wrangler dev` does), or failing ones with `failingCounters: "throw" | "hang"`.
 * The analytics store is bound as in wrangler.toml (kept in `stateDir` too) unless `analytics` is false.
 * Returns `{ url, fetch, logs, close }`.
 */
export async function startGateway({ config, vars = {}, objectConfig = false, stateDir, failingCounters, analytics = true } = {}) {
  assertBuilt();
  const logs = [];
  const bindings = { ...vars };
  if (config !== undefined) {
    bindings.GATEWAY_CONFIG = objectConfig || typeof config === "string" ? config : JSON.stringify(config);
  }
  const gateway = {
    name: "gateway",
    modules: [
      { type: "ESModule", path: path.join(build, "entry.mjs") },
      { type: "ESModule", path: path.join(build, "counter.mjs") },
      { type: "ESModule", path: path.join(build, "conversation.mjs") },
      { type: "ESModule", path: path.join(build, "analytics.mjs") },
      { type: "ESModule", path: path.join(build, "index.js") },
      { type: "CompiledWasm", path: path.join(build, "index_bg.wasm") },
    ],
    modulesRoot: build,
    compatibilityDate: "2026-04-01",
    bindings,
    durableObjects: {
      RATE_LIMITS: failingCounters
        ? { className: "RateLimitCounter", scriptName: "failing-counters" }
        : { className: "RateLimitCounter", useSQLite: true },
      CONVERSATIONS: { className: "Conversation", useSQLite: true },
      ...(analytics ? { ANALYTICS_STORE: { className: "AnalyticsStore", useSQLite: true } } : {}),
    },
    cache: true,
    assets: { directory: path.join(root, "www"), routerConfig: { has_user_worker: true } },
  };
  const workers = [gateway];
  if (failingCounters) {
    workers.push({
      name: "failing-counters",
      modules: true,
      script: FAILING_COUNTERS,
      compatibilityDate: "2026-04-01",
      bindings: { MODE: failingCounters },
      durableObjects: { COUNTERS: { className: "RateLimitCounter", useSQLite: true } },
    });
  }
  const mf = new Miniflare({
    workers,
    ...(stateDir ? { durableObjectsPersist: stateDir } : {}),
    host: "127.0.0.1",
    port: 0,
    handleRuntimeStdio(stdout, stderr) {
      const collect = (stream) => stream.on("data", (chunk) => logs.push(...String(chunk).split("\n").filter(Boolean)));
      collect(stdout);
      collect(stderr);
    },
  });
  const url = (await mf.ready).toString().replace(/\/$/, "");
  return {
    url,
    logs,
    /** fetch relative to the gateway, with Node's fetch (a real HTTP client on 127.0.0.1). */
    fetch: (pathname, init) => fetchRetryingIdempotent(url + pathname, init),
    close: () => mf.dispose(),
  };
}

/** The errors of a request sent on a kept-alive connection the other side had already closed. */
const CLOSED_CONNECTION = new Set(["UND_ERR_SOCKET", "ECONNRESET", "EPIPE"]);

/**
 * Node's fetch, sending an idempotent request once more on a new connection when its kept-alive
 * one turns out to be closed. The runtime closes a connection after answering before the request's
 * body was read (a 413 for a declared length over the limit), and the client can hand that
 * connection to its next request before it sees it close: browsers and HTTP clients retry
 * idempotent requests then (RFC 9110, 9.2.2), and so does this. Any other failure is thrown.
 */
async function fetchRetryingIdempotent(url, init = {}) {
  try {
    return await fetch(url, init);
  } catch (error) {
    const idempotent = ["GET", "HEAD", "OPTIONS"].includes((init.method ?? "GET").toUpperCase());
    if (!idempotent || !CLOSED_CONNECTION.has(error?.cause?.code)) throw error;
    return fetch(url, init);
  }
}

/** Reads a JSON body, failing with the text when it is not JSON. */
export async function json(response) {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`not JSON (status ${response.status}): ${text.slice(0, 500)}`);
  }
}
