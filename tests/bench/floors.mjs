// What the runtime itself costs on the target rows whose baseline is not a Worker doing the same
// job (a benchmark, not a test): /health is held to an empty Worker, and the chat webhook to the
// gateway's own /health. JavaScript Workers that do only the unavoidable part of each job show
// how near a Worker of any kind can come to those baselines.
//
//   node tests/bench/floors.mjs [--seconds 4] [--rounds 3] [--no-build] [--write]
//
// Each row runs its Worker and its baseline in alternation ROUNDS times and keeps the round with
// the median ratio, as run.mjs does. --write replaces BENCHMARKS.md's "Floors" section.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { wrk, serveGateway, serveJs, medianRound, EMPTY_JS, root, updateBenchmarks } from "./workers.mjs";
import { startOrigin, sendJson } from "../support/origins.mjs";

const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const SECONDS = Number(option("--seconds", 4));
const ROUNDS = Number(option("--rounds", 3));
if (!args.includes("--no-build")) execFileSync("bash", [".ci/build"], { cwd: root, stdio: "ignore" });

// The empty Worker of run.mjs's /health row.
const empty = await serveJs("floors-empty.js", EMPTY_JS);
// Reads what any router must (method, URL, every header) and answers through a Headers object, as
// the gateway does.
const reading = await serveJs("floors-reading.js", `export default { fetch(request) {
  let head = request.method + " " + request.url;
  request.headers.forEach((value, name) => { head += name + value; });
  const headers = new Headers();
  headers.append("content-type", "application/json");
  return new Response(head ? '{"status":"OK"}' : "", { headers });
} };`);
// Answers a chat message with fixed text: reads and parses the message, answers Rasa's list, writes
// one log line. No dialog, no REST call: what the webhook costs before any rendering.
const answering = await serveJs("floors-answering.js", `export default { async fetch(request) {
  const started = Date.now();
  const path = new URL(request.url).pathname;
  let message;
  try {
    message = JSON.parse(await request.text());
  } catch {
    return new Response('{"status":"failure","code":400}', { status: 400, headers: { "content-type": "application/json" } });
  }
  const body = JSON.stringify([{ recipient_id: message.sender, text: "It is 21.5 and 21.5." }]);
  console.log(JSON.stringify({ method: request.method, path, status: 200, duration_ms: Date.now() - started,
    client_ip: request.headers.get("cf-connecting-ip"), cache: null, error: null }));
  return new Response(body, { headers: { "content-type": "application/json" } });
} };`);

const api = await startOrigin((req, res) => sendJson(res, 200, { temperature: 21.5 }));
const gatewayWith = (response) => serveGateway(undefined, { GATEWAY_CONFIG: JSON.stringify({
  chat: { conversations: "off" },
  extensions: { rest: { services: [{ name: "api", base_url: api.url + "/" }] } },
  dialog: [{ condition: "true", response }],
}) });
const fixedText = await gatewayWith("It is 21.5 and 21.5.");
const twoCalls = await gatewayWith("{% GET \"api://a\" cache 3600 %}{% set a = rest.json.temperature %}{% GET \"api://b\" cache 3600 %}It is {{ a }} and {{ rest.json.temperature }}.");

const bodyFile = path.join(os.tmpdir(), "floors-message.json");
fs.writeFileSync(bodyFile, JSON.stringify({ sender: "bench", message: "temperature?" }));
const message = { method: "POST", bodyFile, headers: { "content-type": "application/json" } };
// Every webhook answers once before it is measured (the cached calls fill the cache).
for (const worker of [answering, fixedText, twoCalls]) {
  const answer = await fetch(worker.url + "/webhooks/rest/webhook", { method: "POST", body: fs.readFileSync(bodyFile) });
  if (answer.status !== 200) throw new Error(`${worker.url}: ${answer.status} ${await answer.text()}`);
  await answer.text();
}

const measure = (worker, route, options = {}) => () => wrk(worker.url + route, { seconds: SECONDS, ...options });
const health = (worker) => measure(worker, "/health");
const webhook = (worker) => measure(worker, "/webhooks/rest/webhook", message);

const rows = [
  ["request-reading JS Worker, GET /health", "empty JS Worker", health(reading), health(empty)],
  ["gateway, GET /health (target 0.9)", "empty JS Worker", health(fixedText), health(empty)],
  ["message-answering JS Worker, POST webhook", "gateway's GET /health", webhook(answering), health(fixedText)],
  ["gateway, POST webhook, fixed text", "gateway's GET /health", webhook(fixedText), health(fixedText)],
  ["gateway, POST webhook, two cached rest_calls (target 0.6)", "gateway's GET /health", webhook(twoCalls), health(fixedText)],
];
const measured = [];
for (const [name, against, run, baseline] of rows) {
  const { measured: worker, baseline: base, ratio } = await medianRound(run, baseline, ROUNDS);
  const row = { rps: worker.rps, baseRps: base.rps, ratio };
  measured.push({ name, against, ...row });
  console.log(`${name.padEnd(58)} ${row.rps.toFixed(0).padStart(6)} req/s  ${against} ${row.baseRps.toFixed(0)}  ratio ${row.ratio.toFixed(2)}`);
}
for (const worker of [empty, reading, answering, fixedText, twoCalls]) worker.close();
await api.close();
fs.rmSync(bodyFile, { force: true });

const text = `## Floors

\`node tests/bench/floors.mjs\` on ${new Date().toISOString().slice(0, 10)} (wrk -t2 -c32, ${SECONDS} s per run, ${ROUNDS} rounds in
alternation, the round with the median ratio). Two target rows have no Worker doing the same job as
their baseline: \`/health\` is held to an empty Worker, and the chat webhook to the gateway's own
\`/health\`. JavaScript Workers that do only the unavoidable part of each job show how near any
Worker comes to those baselines; conversations are off in every gateway here.

| Worker and route | req/s | against | its req/s | ratio |
|---|---|---|---|---|
${measured.map((r) => `| ${r.name} | ${r.rps.toFixed(0)} | ${r.against} | ${r.baseRps.toFixed(0)} | **${r.ratio.toFixed(2)}** |`).join("\n")}

The request-reading Worker reads the method, the URL and every header and answers through a
Headers object; the message-answering Worker reads and parses a chat message, answers Rasa's list
with fixed text and writes one log line, with no dialog and no REST call. Its ratio is where the
webhook row would stand if the gateway's own work on a message cost nothing: receiving and answering
a POST costs the runtime more than the gateway's whole \`/health\`. The fixed-text row against it is
that own work (the crossing into Rust and back, reading the message, rendering, the answer's JSON);
the two cached calls add theirs.
`;
console.log(text);
if (args.includes("--write")) updateBenchmarks("Floors", text);
process.exit(0);
