// Where a route's time goes: the profiling build (function names kept) under `workerd serve`,
// loaded by wrk while V8's sampling profiler runs through workerd's inspector protocol.
//
//   node tests/bench/profile.mjs [--route health|model|pi|webhook] [--seconds 5] [--no-build] [--top 40] [--baseline]
//
// --baseline profiles the forwarding JavaScript Worker of the benchmark instead (model and pi
// routes), to compare its busy samples per request with the gateway's.
//
// Prints the functions with the most self time and the most inclusive time (share of all samples,
// idle excluded), and writes the raw profile to tests/artifacts/<route>.cpuprofile, which Chrome
// DevTools opens.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import WebSocket from "ws";
import { wrk, workerdServe, gatewayModules, forwardingJs, root } from "./workers.mjs";
import { startPi, startModel, startOrigin, sendJson } from "../support/origins.mjs";

const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const ROUTE = option("--route", "model");
const SECONDS = Number(option("--seconds", 5));
const TOP = Number(option("--top", 40));
const TOKEN = "profile-token";

if (!args.includes("--no-build")) execFileSync("bash", [".ci/build", "--profiling"], { cwd: root, stdio: "inherit" });

const [pi, model, api] = await Promise.all([
  startPi("pi-key"), startModel(), startOrigin((req, res) => sendJson(res, 200, { temperature: 21.5, path: req.url })),
]);
const config = {
  auth: { token: "${AUTH_TOKEN}" },
  extensions: { rest: { services: [
    { name: "pi", base_url: pi.url + "/", expose: "telemetry", headers: { access_token: "pi-key" } },
    { name: "model", base_url: model.url + "/", expose: "inference" },
    { name: "api", base_url: api.url + "/" },
  ] } },
  dialog: [{ condition: "true", response: "{% GET \"api://a\" cache 3600 %}{% set a = rest.json.temperature %}{% GET \"api://b\" cache 3600 %}It is {{ a }} and {{ rest.json.temperature }}." }],
};
const routes = {
  health: { path: "/health" },
  model: { path: "/models/model/health", headers: { access_token: TOKEN } },
  pi: { path: "/pi/pi/system", headers: { access_token: TOKEN } },
  webhook: { path: "/webhooks/rest/webhook", method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ sender: "profile", message: "temperature?" }) },
};
const route = routes[ROUTE];
if (!route) throw new Error(`unknown route ${ROUTE}: one of ${Object.keys(routes).join(", ")}`);

const origins = { model: model.url, pi: pi.url };
let worker;
if (args.includes("--baseline")) {
  const script = path.join(root, "tests/artifacts/profile-forward.js");
  fs.mkdirSync(path.dirname(script), { recursive: true });
  fs.writeFileSync(script, forwardingJs(origins[ROUTE]));
  worker = await workerdServe([["worker.js", script, "esModule"]], {}, { inspector: true });
} else {
  worker = await workerdServe(gatewayModules(path.join(root, "build-profiling")), { GATEWAY_CONFIG: JSON.stringify(config), AUTH_TOKEN: TOKEN },
    { inspector: true });
}

// One inspector session on the Worker's isolate.
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

let bodyFile;
if (route.body) {
  bodyFile = path.join(root, "tests/artifacts/profile-body.json");
  fs.mkdirSync(path.dirname(bodyFile), { recursive: true });
  fs.writeFileSync(bodyFile, route.body);
}
const load = () => wrk(worker.url + route.path, { method: route.method, headers: route.headers, bodyFile, seconds: SECONDS });
await load(); // warm up: JIT tiers, caches
await send("Profiler.enable");
await send("Profiler.setSamplingInterval", { interval: 50 });
await send("Profiler.start");
const measured = await load();
const { result } = await send("Profiler.stop");
socket.close();
worker.close();
for (const origin of [pi, model, api]) await origin.close();

const profile = result.profile;
fs.writeFileSync(path.join(root, `tests/artifacts/${ROUTE}.cpuprofile`), JSON.stringify(profile));
console.log(`${ROUTE}: ${measured.rps.toFixed(0)} req/s under the profiler, ${measured.requests} requests`);

// Self and inclusive sample counts by function (recursion counted once per sample).
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
const label = (node) => node.callFrame.functionName || `(anonymous ${path.basename(node.callFrame.url || "")})`;
const self = new Map();
const inclusive = new Map();
let busy = 0;
const outside = new Map();
for (const id of profile.samples) {
  const node = byId.get(id);
  const name = label(node);
  if (name === "(idle)" || name === "(program)") {
    outside.set(name, (outside.get(name) ?? 0) + 1);
    continue;
  }
  busy++;
  self.set(name, (self.get(name) ?? 0) + 1);
  const seen = new Set();
  for (let at = id; at !== undefined; at = parent.get(at)) seen.add(label(byId.get(at)));
  for (const name of seen) inclusive.set(name, (inclusive.get(name) ?? 0) + 1);
}
const print = (title, counts) => {
  console.log(`\n${title} (of ${busy} busy samples)`);
  for (const [name, count] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, TOP)) {
    console.log(`${((100 * count) / busy).toFixed(1).padStart(6)} %  ${name.slice(0, 150)}`);
  }
};
console.log(`samples: ${profile.samples.length}, busy ${busy} (${((busy * 1e3) / measured.requests).toFixed(2)} per 1000 requests), ${[...outside].map(([n, c]) => `${n} ${c}`).join(", ")}`);
print("self", self);
print("inclusive", inclusive);

// The call tree, heaviest first, down to branches of at least 1 % of busy samples.
if (args.includes("--tree")) {
  const total = new Map();
  const count = (node) => {
    let sum = profile.samples.filter((id) => id === node.id).length;
    for (const child of node.children ?? []) sum += count(byId.get(child));
    total.set(node.id, sum);
    return sum;
  };
  const rootNode = profile.nodes[0];
  count(rootNode);
  const show = (node, depth) => {
    const share = (100 * total.get(node.id)) / busy;
    if (share < 1 || depth > 40) return;
    console.log(`${share.toFixed(1).padStart(6)} % ${"  ".repeat(depth)}${label(node).slice(0, 110)}`);
    for (const child of (node.children ?? []).map((id) => byId.get(id)).sort((a, b) => total.get(b.id) - total.get(a.id))) show(child, depth + 1);
  };
  console.log("\ncall tree");
  show(rootNode, 0);
}
