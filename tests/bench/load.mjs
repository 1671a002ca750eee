// Load run (not a test): mixed traffic against the release Worker in workerd for a while, then
// checks that nothing failed, every status is one the contract names, and workerd's memory stayed
// flat. Usage: node tests/bench/load.mjs [--seconds 60] [--connections 64] [--no-build]
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startWorker, workerdPid, rssKb, updateBenchmarks, root } from "./workers.mjs";
import { startPi, startModel, startOrigin, sendJson } from "../support/origins.mjs";

const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const SECONDS = Number(option("--seconds", 60));
const CONNECTIONS = Number(option("--connections", 64));
const TOKEN = "load-token";
if (!args.includes("--no-build")) execFileSync("bash", [".ci/build"], { cwd: root, stdio: "ignore" });

const [pi, model, api] = await Promise.all([
  startPi("pi-key"), startModel(), startOrigin((req, res) => sendJson(res, 200, { temperature: 21.5 })),
]);
const gateway = await startWorker("gateway", {
  config: {
    auth: { token: "${AUTH_TOKEN}" },
    extensions: { rest: { services: [
      { name: "pi", base_url: pi.url + "/", expose: "telemetry", headers: { access_token: "pi-key" } },
      { name: "picached", base_url: pi.url + "/", expose: "telemetry", headers: { access_token: "pi-key" }, cache: 5 },
      { name: "model", base_url: model.url + "/", expose: "inference" },
      { name: "api", base_url: api.url + "/" },
    ] } },
    dialog: [{ condition: "true", response: "{% GET \"api://a\" cache 5 %}{% GET \"api://b\" %}It is {{ rest.json.temperature }}." }],
  },
  vars: { AUTH_TOKEN: TOKEN },
});
const pid = workerdPid();

// The mix, and the status each request must get (401 is the contract's answer without a token).
const mix = [
  ["GET", "/health", {}, null, 200],
  ["GET", "/pi/pi/system", { access_token: TOKEN }, null, 200],
  ["GET", "/pi/picached/system", { access_token: TOKEN }, null, 200],
  ["GET", "/models/model/health", { access_token: TOKEN }, null, 200],
  ["POST", "/webhooks/rest/webhook", { "content-type": "application/json" }, JSON.stringify({ sender: "load", message: "temperature?" }), 200],
  ["GET", "/pi/pi/system", {}, null, 401],
  ["GET", "/no/such/route", {}, null, 404],
];
const lua = `
local mix = {}
init = function(args)
${mix.map(([method, p, headers, body]) => `  table.insert(mix, wrk.format(${JSON.stringify(method)}, ${JSON.stringify(p)}, {${Object.entries(headers).map(([k, v]) => `[${JSON.stringify(k)}] = ${JSON.stringify(v)}`).join(", ")}}, ${body === null ? "nil" : JSON.stringify(body)}))`).join("\n")}
end
local n = 0
request = function() n = n + 1; return mix[(n % #mix) + 1] end
statuses = {}
response = function(status) statuses[status] = (statuses[status] or 0) + 1 end
local threads = {}
setup = function(thread) table.insert(threads, thread) end
done = function(summary, latency, requests)
  local totals = {}
  for _, t in ipairs(threads) do for k, v in pairs(t:get("statuses")) do totals[k] = (totals[k] or 0) + v end end
  for k, v in pairs(totals) do io.write(string.format("STATUS %d %d\\n", k, v)) end
  io.write(string.format("SUMMARY %d %d %f %f\\n", summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end`;
const script = path.join(os.tmpdir(), `load-${process.pid}.lua`);
fs.writeFileSync(script, lua);

// Warm up, then measure memory before and after the run.
await promisify(execFile)("wrk", ["-t2", "-c8", "-d3s", "-s", script, gateway.url]);
const rssBefore = rssKb(pid);
const samples = [];
const sampler = setInterval(() => samples.push(Math.round(rssKb(pid) / 1024)), 5000);
const { stdout } = await promisify(execFile)("wrk", ["-t2", `-c${CONNECTIONS}`, `-d${SECONDS}s`, "--timeout", "10s", "-s", script, gateway.url], { maxBuffer: 1 << 20 });
clearInterval(sampler);
await new Promise((r) => setTimeout(r, 2000));
const rssAfter = rssKb(pid);

const statuses = Object.fromEntries([...stdout.matchAll(/STATUS (\d+) (\d+)/g)].map((m) => [m[1], Number(m[2])]));
const [, requests, errors, p50, p99] = stdout.match(/SUMMARY (\d+) (\d+) (\S+) (\S+)/).map(Number);
const allowed = new Set(mix.map((entry) => String(entry[4])));
const unexpected = Object.entries(statuses).filter(([status]) => !allowed.has(status));
console.log(`${SECONDS} s at ${CONNECTIONS} connections: ${requests} requests (${(requests / SECONDS).toFixed(0)}/s), p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms`);
console.log(`statuses: ${JSON.stringify(statuses)}; socket errors: ${errors}`);
console.log(`workerd RSS: ${(rssBefore / 1024).toFixed(0)} MB before, ${(rssAfter / 1024).toFixed(0)} MB after; every 5 s: ${samples.join(", ")} MB`);
await gateway.close();
await Promise.all([pi.close(), model.close(), api.close()]);

// workerd's own memory grows under load whatever it runs; the same load on an empty JavaScript
// Worker is the baseline to read the gateway's numbers against.
const empty = await startWorker("js", { script: "export default { async fetch() { return new Response('ok'); } };" });
fs.writeFileSync(script, lua);
const emptyPid = workerdPid();
await promisify(execFile)("wrk", ["-t2", "-c8", "-d3s", "-s", script, empty.url]);
const emptyBefore = rssKb(emptyPid);
await promisify(execFile)("wrk", ["-t2", `-c${CONNECTIONS}`, `-d${SECONDS}s`, "--timeout", "10s", "-s", script, empty.url], { maxBuffer: 1 << 20 });
await new Promise((r) => setTimeout(r, 2000));
const emptyAfter = rssKb(emptyPid);
fs.rmSync(script);
await empty.close();
console.log(`baseline, empty JS Worker under the same load: workerd RSS ${(emptyBefore / 1024).toFixed(0)} MB before, ${(emptyAfter / 1024).toFixed(0)} MB after`);
const ok = errors === 0 && unexpected.length === 0;
const section = `## Load

\`node tests/bench/load.mjs\` on ${new Date().toISOString().slice(0, 10)}: ${SECONDS} s of mixed traffic (health, token and unauthenticated
telemetry, cached telemetry, inference, the chat webhook with two rest_calls, unknown routes) at ${CONNECTIONS} connections.

- ${requests} requests (${(requests / SECONDS).toFixed(0)}/s), p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, socket errors: ${errors}
- statuses: ${Object.entries(statuses).map(([k, v]) => `${k}: ${v}`).join(", ")} (all as the contract says: ${unexpected.length === 0 ? "yes" : "NO"})
- workerd RSS: ${(rssBefore / 1024).toFixed(0)} MB before, ${(rssAfter / 1024).toFixed(0)} MB after (every 5 s: ${samples.join(", ")} MB); it levels off
- the same load on an empty JavaScript Worker: ${(emptyBefore / 1024).toFixed(0)} MB before, ${(emptyAfter / 1024).toFixed(0)} MB after (workerd's own growth)
`;
updateBenchmarks("Load", section);
console.log(ok ? "load: OK" : `load: FAILED (${unexpected.length ? "unexpected statuses " + JSON.stringify(unexpected) : ""} ${errors} errors)`);
process.exit(ok ? 0 : 1);
