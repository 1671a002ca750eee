// Where a route's time goes: the profiling build (function names kept) under `workerd serve`,
// loaded by wrk while V8's sampling profiler runs through workerd's inspector protocol.
//
//   node tests/bench/profile.mjs [--route health|model|jwt|pi|webhook|conversations] [--seconds 5] [--no-build]
//                                [--top 40] [--tree] [--baseline [--contract]] [--write]
//
// Prints the functions with the most self and inclusive time, and the isolate's time per request by
// kind of work; writes the raw profile to tests/artifacts/<route>.cpuprofile (Chrome DevTools opens
// it). --tree prints the call tree. --baseline profiles the forwarding JavaScript Worker instead
// (with --contract, the contract-duties one; for the jwt route, the JWT-checking one; for /health,
// the empty one). --write profiles both and writes the comparison to BENCHMARKS.md.
//
// The inspector makes console.log dearer than it is (each call is also recorded for the inspector):
// without it, one call measured about 12 µs, a tenth of an empty JavaScript Worker's request.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import WebSocket from "ws";
import { wrk, workerdServe, serveGateway, forwardingJs, contractJs, jwtJs, updateBenchmarks, root, chatMessages } from "./workers.mjs";
import { startPi, startModel, startOrigin, sendJson, mintJwt } from "../support/origins.mjs";

const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const ROUTE = option("--route", "model");
const SECONDS = Number(option("--seconds", 5));
const TOP = Number(option("--top", 40));
const TOKEN = "profile-token";
const JWT_SECRET = "profile-jwt-secret";
const hs256 = mintJwt({ alg: "HS256", typ: "JWT" }, { user: { username: "profile", role: "admin" }, exp: Math.floor(Date.now() / 1000) + 3600 }, JWT_SECRET);
const artifacts = path.join(root, "tests/artifacts");
fs.mkdirSync(artifacts, { recursive: true });

if (!args.includes("--no-build")) execFileSync("bash", [".ci/build", "--profiling"], { cwd: root, stdio: "inherit" });

const [pi, model, api] = await Promise.all([
  startPi("pi-key"), startModel(), startOrigin((req, res) => sendJson(res, 200, { temperature: 21.5, path: req.url })),
]);
const config = {
  auth: { token: "${AUTH_TOKEN}", jwt: { secret: JWT_SECRET, algorithm: "HS256" } },
  extensions: { rest: { services: [
    { name: "pi", base_url: pi.url + "/", expose: "telemetry", headers: { access_token: "pi-key" } },
    { name: "model", base_url: model.url + "/", expose: "inference" },
    { name: "api", base_url: api.url + "/" },
  ] } },
  // The webhook's target row is the one with conversations off (one sender here: on, its turns
  // would wait for each other).
  chat: { conversations: "off" },
  dialog: [{ condition: "true", response: "{% GET \"api://a\" cache 3600 %}{% set a = rest.json.temperature %}{% GET \"api://b\" cache 3600 %}It is {{ a }} and {{ rest.json.temperature }}." }],
};
const routes = {
  health: { path: "/health" },
  model: { path: "/models/model/health", headers: { access_token: TOKEN }, origin: model.url },
  jwt: { path: "/models/model/health", headers: { authorization: `Bearer ${hs256}` }, origin: model.url },
  pi: { path: "/pi/pi/system", headers: { access_token: TOKEN }, origin: pi.url },
  webhook: { path: "/webhooks/rest/webhook", method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ sender: "profile", message: "temperature?" }) },
  // The same with conversations on (the default), each message from another sender.
  conversations: { path: "/webhooks/rest/webhook", method: "POST", headers: { "content-type": "application/json" },
    script: chatMessages(), conversations: "on" },
};
const route = routes[ROUTE];
if (!route) throw new Error(`unknown route ${ROUTE}: one of ${Object.keys(routes).join(", ")}`);
const write = args.includes("--write");
if (write && !route.origin) throw new Error("--write needs a proxied route (model or pi)");
if (args.includes("--baseline") && route.method) throw new Error("--baseline needs a GET route (health, model or pi)");

let bodyFile;
if (route.body) {
  bodyFile = path.join(artifacts, "profile-body.json");
  fs.writeFileSync(bodyFile, route.body);
}

async function startGateway() {
  const chat = { ...config.chat, conversations: route.conversations ?? config.chat.conversations };
  return serveGateway(path.join(root, "build-profiling"), { GATEWAY_CONFIG: JSON.stringify({ ...config, chat }), AUTH_TOKEN: TOKEN },
    { inspector: true });
}

async function startForwarding() {
  const script = path.join(artifacts, "profile-forward.js");
  // /health's baseline is the empty JavaScript Worker answering the same body.
  // --contract: the model route's contract-duties Worker instead (the jwt route's is the JWT-checking one).
  const baseline = ROUTE === "jwt" ? jwtJs(route.origin, JWT_SECRET)
    : args.includes("--contract") ? contractJs(route.origin, TOKEN) : route.origin && forwardingJs(route.origin);
  fs.writeFileSync(script, baseline
    || `export default { async fetch() { return new Response('{"status":"OK"}', { headers: { "content-type": "application/json" } }); } };`);
  return workerdServe([["worker.js", script, "esModule"]], {}, { inspector: true });
}

/** Loads the Worker (after a warm-up run) while its isolate is profiled. */
async function profileUnderLoad(worker) {
  const targets = await fetch(`http://127.0.0.1:${worker.inspectorPort}/json/list`).then((r) => r.json());
  const socket = new WebSocket(targets[0].webSocketDebuggerUrl.replace("localhost", "127.0.0.1"));
  await new Promise((resolve, reject) => { socket.once("open", resolve); socket.once("error", reject); });
  let nextId = 1;
  const pending = new Map();
  socket.on("message", (data) => {
    const message = JSON.parse(data);
    if (message.id && pending.has(message.id)) { pending.get(message.id)(message); pending.delete(message.id); }
  });
  const send = (method, params = {}) => new Promise((resolve) => {
    const id = nextId++;
    pending.set(id, resolve);
    socket.send(JSON.stringify({ id, method, params }));
  });
  const load = () => wrk(worker.url + route.path, { method: route.method, headers: route.headers, bodyFile, script: route.script, seconds: SECONDS });
  await load(); // warm up: JIT tiers, caches
  await send("Profiler.enable");
  await send("Profiler.setSamplingInterval", { interval: 50 });
  await send("Profiler.start");
  const measured = await load();
  const { result } = await send("Profiler.stop");
  socket.close();
  worker.close();
  return { profile: result.profile, measured };
}

// --- Reading a profile --------------------------------------------------------------------------
const label = (node) => node.callFrame.functionName || `(anonymous ${path.basename(node.callFrame.url || "")})`;
const IDLE = new Set(["(idle)", "(program)"]);

/** The kind of work a function's own time is, by its name and where it comes from; the runtime's
 *  nameless native work is its caller's kind when that is the log line (console.log's own work). */
function kindOf(node, caller) {
  const { functionName: name, url } = node.callFrame;
  if (name === "(garbage collector)") return "garbage collector";
  if (name === "" && url === "" && caller && /__wbg_log_/.test(caller.callFrame.functionName)) return "console.log of the log line (inflated by the inspector)";
  // The edge's tasks (src/edge/tasks.rs, tasks.js), and wasm-bindgen's futures in builds before them.
  if (/edge::tasks::|^(settle|awaitSettled|suspend|goOn|resume|task_resume)$/.test(name)) return "tasks (handing operations over, resuming)";
  if (/js_sys::futures|wasm_bindgen::convert::closures|queueMicrotask|__wbg_new_typed|__wbg_then|cb_unref/.test(name)) return "wasm-bindgen futures (tasks, wakers, promise callbacks)";
  if (url.endsWith(".wasm") || name.includes("::") || /^<|dlmalloc|externref shim/.test(name)) return "Rust (routing, auth, header rules, url, serde_json, allocator)";
  if (/__wbg_log_/.test(name)) return "console.log of the log line (inflated by the inspector)";
  if (url === "" && name === "fetch") return "the subrequest (native fetch)";
  if (url === "" && ["setTimeout", "clearTimeout", "AbortController", "abort"].includes(name)) return "the origin timeout (timer, AbortController)";
  if (url === "" && ["Response", "Headers", "append", "get", "set", "has", "delete"].includes(name)) return "Response and Headers objects";
  if (url === "" && name === "URL") return "URL parsing (JavaScript)";
  if (url !== "") return "JavaScript (bindings, runtime.js, entry module, the Worker's own code)";
  return "other runtime work";
}

function analyse({ profile, measured }) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const self = new Map();
  const inclusive = new Map();
  const kinds = new Map();
  const add = (map, key, value) => map.set(key, (map.get(key) ?? 0) + value);
  let busyUs = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    if (IDLE.has(label(node))) return;
    const us = profile.timeDeltas[i + 1] ?? 0; // a sample's time is the gap to the next one
    busyUs += us;
    add(self, label(node), us);
    add(kinds, kindOf(node, byId.get(parent.get(id))), us);
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) seen.add(label(byId.get(at)));
    for (const name of seen) add(inclusive, name, us);
  });
  return { byId, self, inclusive, kinds, busyUs, perRequest: (us) => us / measured.requests, measured, profile };
}

function printTop(title, counts, busyUs) {
  if (TOP === 0) return;
  console.log(`\n${title}`);
  for (const [name, us] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, TOP)) {
    console.log(`${((100 * us) / busyUs).toFixed(1).padStart(6)} %  ${name.slice(0, 150)}`);
  }
}

function printTree({ profile, byId, busyUs }) {
  const total = new Map();
  const own = new Map();
  profile.samples.forEach((id, i) => own.set(id, (own.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0)));
  const sum = (node) => {
    let us = own.get(node.id) ?? 0;
    for (const child of node.children ?? []) us += sum(byId.get(child));
    total.set(node.id, us);
    return us;
  };
  sum(profile.nodes[0]);
  const show = (node, depth) => {
    const share = (100 * total.get(node.id)) / busyUs;
    if (share < 1 || depth > 40) return;
    console.log(`${share.toFixed(1).padStart(6)} % ${"  ".repeat(depth)}${label(node).slice(0, 110)}`);
    for (const child of (node.children ?? []).map((id) => byId.get(id)).sort((a, b) => total.get(b.id) - total.get(a.id))) show(child, depth + 1);
  };
  console.log("\ncall tree (shares of busy time; idle and (program) above 100 %)");
  show(profile.nodes[0], 0);
}

function report(name, analysis) {
  const { measured, busyUs, kinds } = analysis;
  fs.writeFileSync(path.join(artifacts, `${name}.cpuprofile`), JSON.stringify(analysis.profile));
  console.log(`\n== ${name}: ${measured.rps.toFixed(0)} req/s under the profiler, ${measured.requests} requests, ` +
    `isolate busy ${analysis.perRequest(busyUs).toFixed(0)} µs per request`);
  for (const [kind, us] of [...kinds].sort((a, b) => b[1] - a[1])) console.log(`${analysis.perRequest(us).toFixed(1).padStart(8)} µs  ${kind}`);
  printTop("self", analysis.self, busyUs);
  printTop("inclusive", analysis.inclusive, busyUs);
  if (args.includes("--tree")) printTree(analysis);
}

// --- The run ------------------------------------------------------------------------------------
const runs = [];
if (write || args.includes("--baseline")) runs.push(["forwarding JS Worker", startForwarding]);
if (!args.includes("--baseline")) runs.push(["gateway", startGateway]);
const results = new Map();
for (const [name, start] of runs) {
  const analysis = analyse(await profileUnderLoad(await start()));
  results.set(name, analysis);
  report(`${ROUTE}-${name.split(" ")[0]}`, analysis);
}
for (const origin of [pi, model, api]) await origin.close();

if (write) {
  const gateway = results.get("gateway");
  const forwarding = results.get("forwarding JS Worker");
  const kinds = [...new Set([...gateway.kinds.keys(), ...forwarding.kinds.keys()])].sort((a, b) => (gateway.kinds.get(b) ?? 0) - (gateway.kinds.get(a) ?? 0));
  const cell = (analysis, kind) => analysis.perRequest(analysis.kinds.get(kind) ?? 0).toFixed(1);
  updateBenchmarks("Profile", `## Profile

\`node tests/bench/profile.mjs --route ${ROUTE} --write\` on ${new Date().toISOString().slice(0, 10)}: the isolate's time per request on
\`GET ${route.path}\` (token-authenticated, uncached) by kind of work, from V8's sampling profiler during ${SECONDS} s
of wrk load, beside the forwarding JavaScript Worker on the same origin. Absolute times include the profiler's
overhead; compare the rows.

| work | gateway µs/request | forwarding JS Worker µs/request |
|---|---|---|
${kinds.map((kind) => `| ${kind} | ${cell(gateway, kind)} | ${cell(forwarding, kind)} |`).join("\n")}
| **isolate busy in all** | **${gateway.perRequest(gateway.busyUs).toFixed(1)}** | **${forwarding.perRequest(forwarding.busyUs).toFixed(1)}** |
`);
  console.log("\nwritten: BENCHMARKS.md (## Profile)");
}
