// What the benchmark and the load run share: Workers in workerd and wrk against them.
import { execFile, execFileSync, spawn } from "node:child_process";
import net from "node:net";
import { promisify } from "node:util";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const wasmPath = path.join(root, "build/index_bg.wasm");
export const COMPAT = "2026-04-01";
const WORKERD = path.join(root, "node_modules/@cloudflare/workerd-linux-64/bin/workerd");

/** The /health rows' baseline: an empty JavaScript Worker answering as the gateway's /health does. */
export const EMPTY_JS = `export default { async fetch() { return new Response('{"status":"OK"}', { headers: { "content-type": "application/json" } }); } };`;

/** The benchmark's baseline: a JavaScript Worker that only forwards to `origin`, dropping the
 *  route's first two path segments (/models/{svc}/x → origin/x), with no auth and no header rules. */
export const forwardingJs = (origin) => `export default { async fetch(request) {
  const url = new URL(request.url);
  return fetch("${origin}" + url.pathname.replace(/^\\/[^/]+\\/[^/]+/, "") + url.search, { method: request.method, headers: request.headers, body: request.body });
} };`;

/** The JWT route's baseline: a JavaScript Worker that checks an HS256 bearer token with Web Crypto
 *  (the algorithm pinned, the signature verified with a key imported once per isolate, `exp`
 *  enforced), then forwards as `forwardingJs` does, without the Authorization header. */
export const jwtJs = (origin, secret) => `const encoder = new TextEncoder();
let key;
const fromBase64Url = (text) => Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
const refuse = () => new Response('{"status":"failure","code":401}', { status: 401, headers: { "content-type": "application/json" } });
export default { async fetch(request) {
  const bearer = request.headers.get("authorization");
  if (!bearer || !bearer.startsWith("Bearer ")) return refuse();
  const parts = bearer.slice(7).split(".");
  if (parts.length !== 3) return refuse();
  try {
    if (JSON.parse(atob(parts[0].replace(/-/g, "+").replace(/_/g, "/"))).alg !== "HS256") return refuse();
    key ??= crypto.subtle.importKey("raw", encoder.encode(${JSON.stringify(secret)}), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
    const valid = await crypto.subtle.verify("HMAC", await key, fromBase64Url(parts[2]), encoder.encode(parts[0] + "." + parts[1]));
    const claims = JSON.parse(new TextDecoder().decode(fromBase64Url(parts[1])));
    if (!valid || typeof claims.exp !== "number" || claims.exp * 1000 <= Date.now()) return refuse();
  } catch {
    return refuse();
  }
  const url = new URL(request.url);
  const headers = new Headers(request.headers);
  headers.delete("authorization");
  return fetch("${origin}" + url.pathname.replace(/^\\/[^/]+\\/[^/]+/, "") + url.search, { method: request.method, headers, body: request.body });
} };`;

/** A second baseline: a JavaScript Worker doing, in JavaScript, the per-request duties the contract
 *  gives the gateway on a token-authenticated proxied GET: check the token, drop the client's
 *  credentials and hop-by-hop headers, add the service's own header and X-Forwarded-Proto, give
 *  the origin `timeoutMs` to answer, filter the answer's headers, write one JSON log line. It
 *  separates what those duties cost any Worker from what the gateway's implementation costs.
 *
 *  Its timeout ends at the answer's head: an origin that stalls in the body holds the client.
 *  With `guardBody`, the Worker also guards the body, as the gateway does and as a careful Worker
 *  facing slow origins would: an answer declaring at most 16 KiB is read whole under the same timer
 *  (a 504 when it is late), a longer one is copied through a reader that cuts it once the origin
 *  sends nothing for `timeoutMs`. */
export const contractJs = (origin, token, { timeoutMs = 30000, guardBody = false } = {}) => `const DROP = new Set(["connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade", "host",
  "content-length", "authorization", "access_token", "cookie", "x-real-ip", "proxy-authorization", "proxy-authenticate"]);
${guardBody ? GUARDED_BODY : ""}export default { async fetch(request) {
  const started = Date.now();
  const url = new URL(request.url);
  if (request.headers.get("access_token") !== ${JSON.stringify(token)}) return new Response('{"status":"failure","code":401}', { status: 401 });
  const headers = new Headers();
  for (const [name, value] of request.headers) if (!DROP.has(name) && !name.startsWith("cf-") && !name.startsWith("x-forwarded-")) headers.append(name, value);
  headers.set("x-forwarded-proto", url.protocol.slice(0, -1));
  headers.set("access_token", "origin-key");
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), ${timeoutMs});
  let answer, body;
  try {
    answer = await fetch("${origin}" + url.pathname.replace(/^\\/[^/]+\\/[^/]+/, "") + url.search, { headers, redirect: "manual", signal: controller.signal });
    body = ${guardBody ? `await guarded(answer, controller.signal, ${timeoutMs})` : "answer.body"};
  } catch {
    if (!controller.signal.aborted) throw new Error("the origin failed");
    return new Response('{"status":"failure","code":504}', { status: 504 });
  } finally {
    clearTimeout(timer);
  }
  const out = new Headers();
  for (const [name, value] of answer.headers) if (name === "content-length" || !DROP.has(name)) out.append(name, value);
  out.set("x-cache-status", "BYPASS");
  console.log(JSON.stringify({ method: request.method, path: url.pathname, status: answer.status, duration_ms: Date.now() - started,
    client_ip: request.headers.get("cf-connecting-ip"), cache: "BYPASS", error: null }));
  return new Response(body, { status: answer.status, headers: out });
} };`;

/** `contractJs`'s body guard: a small answer read whole before the timer is cleared, a longer one
 *  cut when the origin goes quiet. */
const GUARDED_BODY = `async function guarded(answer, signal, idleMs) {
  if (!answer.body) return null;
  // The length the runtime holds the body to: digits only, and no content coding (decoded, the body
  // is longer than declared).
  const header = answer.headers.get("content-length");
  const declared = header !== null && /^[0-9]+$/.test(header) && !answer.headers.has("content-encoding") ? Number(header) : undefined;
  if (declared !== undefined && declared <= 16384) {
    const late = new Promise((_, reject) => signal.addEventListener("abort", () => reject(new Error("late"))));
    return await Promise.race([answer.arrayBuffer(), late]);
  }
  const reader = answer.body.getReader();
  const { readable, writable } = declared === undefined ? new IdentityTransformStream() : new FixedLengthStream(declared);
  const writer = writable.getWriter();
  (async () => {
    for (;;) {
      let quiet;
      const idle = new Promise((_, reject) => { quiet = setTimeout(() => reject(new Error("idle")), idleMs); });
      try {
        const { done, value } = await Promise.race([reader.read(), idle]);
        if (done) return writer.close();
        await writer.write(value);
      } finally {
        clearTimeout(quiet);
      }
    }
  })().catch((error) => { writer.abort(error).catch(() => {}); reader.cancel(error).catch(() => {}); });
  return readable;
}
`;

/** How many senders each wrk thread's chat messages come from, in turn. */
export const SENDERS_PER_THREAD = 1000;

/** A wrk script whose chat messages each come from another sender, as a public chat's do: with
 *  conversations on, one sender's messages wait for each other's turns in one Durable Object.
 *  Each thread's `senders` take turns; with more of them than connections, two messages in flight
 *  rarely share a sender. */
export const chatMessages = (senders = SENDERS_PER_THREAD) => `local threads = 0
function setup(thread) threads = threads + 1; thread:set("id", threads) end
local n = 0
function request()
  n = n + 1
  return wrk.format(nil, nil, nil, '{"sender":"bench-' .. id .. '-' .. (n % ${senders}) .. '","message":"temperature?"}')
end`;

/** Senders per wrk thread whose conversations are filled to their most turns (`fillConversations`). */
export const LONG_CHAT_SENDERS = 100;
/** The turns a conversation keeps (MAX_TURNS in src/chat/conversation.rs). */
const MAX_TURNS = 50;

/** The chat webhook of `worker`, each message from one of each thread's `senders` in turn; other
 *  options are wrk's. */
export function chatLoad(worker, { senders = SENDERS_PER_THREAD, query = "", ...options } = {}) {
  return wrk(worker.url + "/webhooks/rest/webhook" + query, { ...options, method: "POST", script: chatMessages(senders), headers: { "content-type": "application/json" } });
}

/** Fills the conversations of `worker`'s LONG_CHAT_SENDERS senders per thread to their most turns,
 *  as an active chat's are: wrk runs 2 threads, and each sender gets a fifth more than MAX_TURNS
 *  messages, as the messages are not spread evenly. */
export async function fillConversations(worker) {
  for (let sent = 0; sent < 1.2 * 2 * LONG_CHAT_SENDERS * MAX_TURNS; ) {
    const { requests, errors } = await chatLoad(worker, { seconds: 5, senders: LONG_CHAT_SENDERS });
    if (requests === 0 || errors > 0) throw new Error(`filling the conversations: ${requests} messages, ${errors} errors`);
    sent += requests;
  }
}

/** Runs wrk against `url` (asynchronously: fake origins in this process must keep answering).
 *  A `--latency`-free summary: requests/s, p50 and p99 in ms, errors (socket errors, timeouts and
 *  answers with a status of 400 or more, together), requests, and wrk's own output. */
export async function wrk(url, { method = "GET", headers = {}, bodyFile, seconds = 5, connections = 32, script: extra = "" } = {}) {
  const script = path.join(os.tmpdir(), `bench-${process.pid}-${Math.random().toString(16).slice(2)}.lua`);
  const lines = [`wrk.method = "${method}"`];
  for (const [name, value] of Object.entries(headers)) lines.push(`wrk.headers["${name}"] = ${JSON.stringify(value)}`);
  if (bodyFile) lines.push(`local f = io.open(${JSON.stringify(bodyFile)}, "rb"); wrk.body = f:read("*all"); f:close()`);
  lines.push(extra);
  lines.push(`done = function(summary, latency, requests)
    io.write(string.format("RESULT %f %f %f %d %d\\n", summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
      summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout + summary.errors.status, summary.requests))
  end`);
  fs.writeFileSync(script, lines.join("\n"));
  const { stdout } = await promisify(execFile)("wrk", ["-t2", `-c${connections}`, `-d${seconds}s`, "--timeout", "10s", "-s", script, url], { encoding: "utf8" });
  fs.rmSync(script);
  const [rps, p50, p99, errors, requests] = stdout.match(/RESULT (\S+) (\S+) (\S+) (\S+) (\S+)/).slice(1).map(Number);
  return { rps, p50, p99, errors, requests, stdout };
}

/** A Worker in workerd (through Miniflare, with the Cache API), reached on its own socket. */
export async function startWorker(kind, { config, vars = {}, script } = {}) {
  const worker = kind === "gateway"
    ? { modules: [{ type: "ESModule", path: path.join(root, "build/entry.mjs") }, { type: "ESModule", path: path.join(root, "build/index.js") },
          ...OBJECT_MODULES.map(([name]) => ({ type: "ESModule", path: path.join(root, "build", name) })), { type: "CompiledWasm", path: wasmPath }],
        modulesRoot: path.join(root, "build"), bindings: { GATEWAY_CONFIG: JSON.stringify(config), ...vars },
        durableObjects: Object.fromEntries(OBJECT_MODULES.map(([, binding, className]) => [binding, { className, useSQLite: true }])) }
    : { modules: true, script };
  const mf = new Miniflare({ ...worker, compatibilityDate: COMPAT, cache: true, unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
    // Drain the Worker's log lines: an unread pipe would stall workerd.
    handleRuntimeStdio(stdout, stderr) { stdout.resume(); stderr.resume(); } });
  await mf.ready;
  const url = (await mf.unsafeGetDirectURL()).toString().replace(/\/$/, "");
  return { url, close: () => mf.dispose() };
}

/** Startup, the median of 3 each, in ms: `ready`, from starting the runtime with a fresh Worker
 *  until it serves (the process, compiling the modules, evaluating them: the gateway builds itself
 *  from its configuration then), and `first`, the first request to it. */
export async function startupMs(kind, options) {
  const ready = [];
  const first = [];
  for (let i = 0; i < 3; i++) {
    let t0 = performance.now();
    const worker = await startWorker(kind, options);
    ready.push(performance.now() - t0);
    t0 = performance.now();
    await fetch(worker.url + "/health").then((r) => r.text());
    first.push(performance.now() - t0);
    await worker.close();
  }
  const median = (times) => times.sort((a, b) => a - b)[1];
  return { ready: median(ready), first: median(first) };
}

/** The Durable Object modules of the gateway and the class each exports, bound as wrangler.toml
 *  binds them. Builds from before a module do not have it. */
const OBJECT_MODULES = [["counter.mjs", "RATE_LIMITS", "RateLimitCounter"], ["conversation.mjs", "CONVERSATIONS", "Conversation"],
  ["analytics.mjs", "ANALYTICS_STORE", "AnalyticsStore"]];

/** The gateway's modules for `workerdServe`, from a build directory (with the Durable Object
 *  modules the build has). */
export function gatewayModules(buildDir = path.join(root, "build")) {
  const objects = OBJECT_MODULES.filter(([name]) => fs.existsSync(path.join(buildDir, name))).map(([name]) => [name, path.join(buildDir, name), "esModule"]);
  return [["entry.mjs", path.join(buildDir, "entry.mjs"), "esModule"], ...objects, ["index.js", path.join(buildDir, "index.js"), "esModule"],
    ["index_bg.wasm", path.join(buildDir, "index_bg.wasm"), "wasm"]];
}

/** A JavaScript Worker from its source under `workerdServe` (`name` names its file). */
export function serveJs(name, source) {
  const file = path.join(os.tmpdir(), name);
  fs.writeFileSync(file, source);
  return workerdServe([["worker.js", file, "esModule"]]);
}

/** The CPU time a process has used so far, in seconds (user and system, from /proc). */
function cpuSeconds(pid) {
  // The fields after the command's closing parenthesis; utime and stime are the 12th and 13th.
  const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}
const CLOCK_TICKS = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }));

/** `measure` (a wrk run against `worker`) with the CPU time the worker's runtime spent per request,
 *  in µs: whether a change in throughput is a change in the work the runtime does per request, or
 *  in how long it waits. (On this machine both swing together from round to round: the runtime is
 *  busy throughout.) */
export async function withCpu(worker, measure) {
  const before = cpuSeconds(worker.pid);
  const result = await measure();
  return { ...result, cpuUs: ((cpuSeconds(worker.pid) - before) * 1e6) / result.requests };
}

/** Measures `measure` and `measureBaseline` in alternation (the baseline first) `rounds` times and
 *  answers the round with the median ratio, `{ measured, baseline, ratio }`, with the lowest and
 *  highest of all rounds' ratios (`lowest`, `highest`). The machine's load
 *  changes from second to second, and a ratio taken from neighbouring runs is far steadier than
 *  either number alone. With CPU times (`withCpu`), also the median of the rounds' baseline/measured
 *  CPU per request (`cpuRatio`), with its lowest and highest (`cpuLowest`, `cpuHighest`). */
export async function medianRound(measure, measureBaseline, rounds) {
  const seen = [];
  for (let i = 0; i < rounds; i++) {
    const baseline = await measureBaseline();
    const measured = await measure();
    seen.push({ measured, baseline, ratio: measured.rps / baseline.rps });
  }
  const middle = (sorted) => sorted[Math.floor(sorted.length / 2)];
  const cpuRatios = seen.map((round) => round.baseline.cpuUs / round.measured.cpuUs).sort((a, b) => a - b);
  const cpu = Number.isFinite(cpuRatios[0]) ? { cpuRatio: middle(cpuRatios), cpuLowest: cpuRatios[0], cpuHighest: cpuRatios.at(-1) } : {};
  seen.sort((a, b) => a.ratio - b.ratio);
  return { ...middle(seen), lowest: seen[0].ratio, highest: seen.at(-1).ratio, ...cpu };
}

/** The gateway from a build directory under `workerdServe`, its Durable Objects (rate-limit
 *  counters as RATE_LIMITS, the analytics store as ANALYTICS_STORE) bound when the build has them. */
export function serveGateway(buildDir, bindings, options = {}) {
  const modules = gatewayModules(buildDir);
  const durableObjects = Object.fromEntries(OBJECT_MODULES.filter(([name]) => modules.some(([m]) => m === name)).map(([, binding, className]) => [binding, className]));
  return workerdServe(modules, bindings, { ...options, durableObjects });
}

async function freePort() {
  return new Promise((resolve) => { const s = net.createServer().listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => resolve(port)); }); });
}

// Every workerd started here dies with this process, even when a run fails halfway.
const served = new Set();
process.on("exit", () => { for (const child of served) child.kill(); });

/** A Worker under a bare, generated `workerd serve` config (no Miniflare): `modules` are
 *  [name, file, "esModule" | "wasm"], `bindings` text variables. `durableObjects` binds namespaces of
 *  the Worker's own classes ({ BINDING: "ClassName" }), SQLite-backed, their storage in memory or,
 *  with `objectStorage: "disk"`, in SQLite files in the run's directory (as `wrangler dev` keeps
 *  them: workerd then syncs each object's writes to disk before the answer leaves). `inspector`
 *  opens the inspector protocol on a free port (returned as `inspectorPort`). Fails with workerd's
 *  own words when it does not start. */
export async function workerdServe(modules, bindings = {}, { inspector = false, durableObjects = {}, objectStorage = "memory" } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-workerd-"));
  const port = await freePort();
  const moduleLines = modules.map(([name, file, type]) => {
    fs.copyFileSync(file, path.join(dir, name));
    return `(name = "${name}", ${type} = embed "${name}")`;
  });
  const bindingLines = Object.entries(bindings).map(([name, value]) => `(name = "${name}", text = ${JSON.stringify(value)})`);
  const classes = [...new Set(Object.values(durableObjects))];
  let objects = "", objectService = "";
  if (classes.length) {
    for (const [name, className] of Object.entries(durableObjects)) bindingLines.push(`(name = "${name}", durableObjectNamespace = (className = "${className}"))`);
    const namespaces = classes.map((className) => `(className = "${className}", uniqueKey = "bench-${className}", enableSql = true)`);
    const storage = objectStorage === "disk" ? `localDisk = "objects"` : "inMemory = void";
    objects = `\n  durableObjectNamespaces = [ ${namespaces.join(", ")} ],\n  durableObjectStorage = (${storage}),`;
    if (objectStorage === "disk") {
      fs.mkdirSync(path.join(dir, "objects"));
      objectService = `, (name = "objects", disk = (path = ${JSON.stringify(path.join(dir, "objects"))}, writable = true))`;
    }
  }
  fs.writeFileSync(path.join(dir, "config.capnp"), `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .w), (name = "internet", network = (allow = ["public", "private", "local"]))${objectService} ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ]
);
const w :Workerd.Worker = (
  modules = [ ${moduleLines.join(", ")} ],
  compatibilityDate = "${COMPAT}",
  bindings = [ ${bindingLines.join(", ")} ],
  globalOutbound = "internet",${objects}
);`);
  const inspectorPort = inspector ? await freePort() : undefined;
  const extra = inspector ? [`--inspector-addr=127.0.0.1:${inspectorPort}`] : [];
  // stderr is read (an unread pipe would stall workerd) and its tail kept for the failure message.
  const child = spawn(WORKERD, ["serve", ...extra, path.join(dir, "config.capnp")], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk) => { stderr = (stderr + chunk).slice(-4000); });
  served.add(child);
  let ok = false;
  for (let i = 0; i < 100 && !ok && child.exitCode === null; i++) {
    ok = await fetch(`http://127.0.0.1:${port}/health`).then(() => true, () => false);
    if (!ok) await new Promise((r) => setTimeout(r, 100));
  }
  const close = () => { child.kill(); served.delete(child); fs.rmSync(dir, { recursive: true, force: true }); };
  if (!ok) {
    close();
    throw new Error(`workerd serve did not start:\n${stderr}`);
  }
  return { url: `http://127.0.0.1:${port}`, inspectorPort, pid: child.pid, close };
}

/** Replaces one part of BENCHMARKS.md and keeps the others: `heading` null is the part before the
 *  first "## " section (the benchmark table), else the section "## heading" (added at the end when
 *  new). `text` is the part's whole text, its heading included. */
export function updateBenchmarks(heading, text) {
  const file = path.join(root, "BENCHMARKS.md");
  const parts = (fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "# Benchmarks\n").split(/\n(?=## )/);
  const index = heading === null ? 0 : parts.findIndex((part, i) => i > 0 && part.startsWith(`## ${heading}\n`));
  if (index === -1) parts.push(text.trimEnd());
  else parts[index] = text.trimEnd();
  fs.writeFileSync(file, parts.map((part) => part.trimEnd()).join("\n\n") + "\n");
}

/** The newest workerd process (the one just started). */
export function workerdPid() {
  try {
    return execFileSync("pgrep", ["-n", "-f", "workerd serve"], { encoding: "utf8" }).trim();
  } catch {
    return null;
  }
}

export function rssKb(pid) {
  try {
    return Number(fs.readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/)[1]);
  } catch {
    return NaN;
  }
}
