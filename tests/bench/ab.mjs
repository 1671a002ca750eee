// A/B of two builds of the gateway in one run (not a test): is a change free on the hot routes?
// Builds `--before` (a git revision) in a temporary worktree, takes the current build as "after",
// serves both under bare `workerd serve` with the same configuration and origins, and measures
// /health, the token-authenticated GET, a cached GET answered from the isolate (HIT) and the chat
// webhook (with conversations, without, and with conversations at their most turns) in
// alternation, ROUNDS times each, keeping the round with the median ratio after/before (the
// machine's load drifts; neighbouring runs compare well).
//
//   node tests/bench/ab.mjs --before <rev> [--label "what changed"] [--seconds 5] [--rounds 5] [--no-build]
//                           [--only <part of a route's name>] [--write]
//
// --write adds the result to BENCHMARKS.md under "A/B".
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { wrk, serveGateway, medianRound, withCpu, root, updateBenchmarks, chatLoad, fillConversations, LONG_CHAT_SENDERS } from "./workers.mjs";
import { startModel, startOrigin, sendJson } from "../support/origins.mjs";

const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const BEFORE = option("--before");
if (!BEFORE) throw new Error("usage: node tests/bench/ab.mjs --before <git revision> [--label text] [--write]");
const LABEL = option("--label", `${BEFORE} → working tree`);
const SECONDS = Number(option("--seconds", 5));
const ROUNDS = Number(option("--rounds", 5));
const TOKEN = "bench-token";

const git = (...argv) => execFileSync("git", argv, { cwd: root, encoding: "utf8" }).trim();
const beforeCommit = git("rev-parse", "--short", BEFORE);
if (!args.includes("--no-build")) execFileSync("bash", [".ci/build"], { cwd: root, stdio: "ignore" });

// The "before" build, in a worktree of its own (its target directory too: a clean release build).
const tree = fs.mkdtempSync(path.join(os.tmpdir(), "gateway-before-"));
git("worktree", "add", "--detach", tree, BEFORE);
let beforeBuild;
try {
  fs.symlinkSync(path.join(root, "node_modules"), path.join(tree, "node_modules"));
  execFileSync("bash", [".ci/build"], { cwd: tree, stdio: "ignore", env: { ...process.env, CARGO_TARGET_DIR: path.join(os.tmpdir(), "gateway-before-target") } });
  beforeBuild = fs.mkdtempSync(path.join(os.tmpdir(), "gateway-before-build-"));
  // Every module of the build: the entry imports its Durable Objects' modules, which vary by revision.
  for (const file of fs.readdirSync(path.join(tree, "build"))) {
    if (/\.(mjs|js|wasm)$/.test(file)) fs.copyFileSync(path.join(tree, "build", file), path.join(beforeBuild, file));
  }
} finally {
  git("worktree", "remove", "--force", tree);
}

const [model, api] = await Promise.all([
  startModel(),
  startOrigin((req, res) => sendJson(res, 200, { temperature: 21.5, path: req.url })),
]);
const config = {
  auth: { token: "${AUTH_TOKEN}" },
  extensions: { rest: { services: [
    { name: "model", base_url: model.url + "/", expose: "inference", timeout: 30 },
    { name: "api", base_url: api.url + "/" },
    { name: "cached", base_url: api.url + "/", expose: "telemetry", cache: 3600 },
  ] } },
  dialog: [{ condition: "true", response: "{% GET \"api://a\" cache 3600 %}{% set a = rest.json.temperature %}{% GET \"api://b\" cache 3600 %}It is {{ a }} and {{ rest.json.temperature }}." }],
};
const bindings = { GATEWAY_CONFIG: JSON.stringify(config), AUTH_TOKEN: TOKEN };
const before = await serveGateway(beforeBuild, bindings);
const after = await serveGateway(undefined, bindings);
// The webhook's target row (BENCHMARKS.md) has conversations off: a message is then its two cached
// calls, without the Durable Object's two.
const quiet = { ...bindings, GATEWAY_CONFIG: JSON.stringify({ ...config, chat: { conversations: "off" } }) };
const beforeQuiet = await serveGateway(beforeBuild, quiet);
const afterQuiet = await serveGateway(undefined, quiet);

const chatBody = path.join(os.tmpdir(), "ab-chat.json");
fs.writeFileSync(chatBody, JSON.stringify({ sender: "bench", message: "temperature?" }));
const routes = [
  ["GET /health", (w) => wrk(w.url + "/health", { seconds: SECONDS })],
  ["token GET /models/{svc}/health, uncached", (w) => wrk(w.url + "/models/model/health", { seconds: SECONDS, headers: { access_token: TOKEN } })],
  ["token GET /pi/{svc}/system, HIT", (w) => wrk(w.url + "/pi/cached/system", { seconds: SECONDS, headers: { access_token: TOKEN } })],
  // Each message from another sender: with conversations on (the default), one sender's turns would
  // wait for each other in one Durable Object.
  ["POST webhook, two cached rest_calls", (w) => chatLoad(w, { seconds: SECONDS })],
  ["same, conversations off", (w) => chatLoad(w, { seconds: SECONDS }), [beforeQuiet, afterQuiet]],
  // Senders whose conversations hold their most turns before the rounds: an active chat's, whose
  // record every turn reads and stores whole.
  ["same, conversations at 50 turns", (w) => chatLoad(w, { seconds: SECONDS, senders: LONG_CHAT_SENDERS }), [before, after], fillConversations],
];
for (const worker of [before, after, beforeQuiet, afterQuiet]) {
  await fetch(worker.url + "/webhooks/rest/webhook", { method: "POST", body: fs.readFileSync(chatBody) }).then((r) => r.text());
  await fetch(worker.url + "/pi/cached/system", { headers: { access_token: TOKEN } }).then((r) => r.text());
}

const rows = [];
const ONLY = option("--only");
for (const [name, measure, [first, second] = [before, after], prepare] of routes) {
  if (ONLY && !name.includes(ONLY)) continue;
  for (const worker of prepare ? [first, second] : []) await prepare(worker);
  const round = await medianRound(() => withCpu(second, () => measure(second)), () => withCpu(first, () => measure(first)), ROUNDS);
  const { baseline: a, measured: b, ratio } = round;
  const spread = `${round.lowest.toFixed(2)}–${round.highest.toFixed(2)}`;
  const cpuSpread = `${round.cpuLowest.toFixed(2)}–${round.cpuHighest.toFixed(2)}`;
  rows.push({ name, a, b, ratio, spread, cpuRatio: round.cpuRatio, cpuSpread });
  console.log(`${name.padEnd(44)} before ${a.rps.toFixed(0)} req/s, after ${b.rps.toFixed(0)} req/s, ratio ${ratio.toFixed(2)} (rounds ${spread}), errors ${a.errors}/${b.errors}; ` +
    `CPU per request before/after ${round.cpuRatio.toFixed(2)} (rounds ${cpuSpread})`);
}
for (const worker of [before, after, beforeQuiet, afterQuiet]) worker.close();
await Promise.all([model.close(), api.close()]);

if (args.includes("--write")) {
  const date = new Date().toISOString().slice(0, 10);
  const table = rows.map((r) => `| ${r.name} | ${r.a.rps.toFixed(0)} | ${r.b.rps.toFixed(0)} | **${r.ratio.toFixed(2)}** | ${r.spread} | **${r.cpuRatio.toFixed(2)}** | ${r.cpuSpread} |`).join("\n");
  const latest = `## A/B

\`node tests/bench/ab.mjs --before ${beforeCommit}\` on ${date}: ${LABEL}. Both builds under bare \`workerd serve\`
with the same configuration and origins, measured in alternation ${ROUNDS} times per route (${SECONDS} s each); the
round with the median ratio after/before is shown, with the range of all rounds' ratios. The runtime's CPU
time per request is measured in the same rounds (from /proc): before/after is the median of the rounds' ratios
(above 1: the change costs less CPU per request), which tells work done from time spent waiting.

| route | before req/s | after req/s | after/before | all rounds | CPU per request, before/after | all rounds |
|---|---|---|---|---|---|---|
${table}
`;
  updateBenchmarks("A/B", latest + earlierRuns());
}
process.exit(0);

/** What the A/B section held before this run, kept below it: its runs and notes as "### " parts,
 *  the run it showed until now (its head) becoming one of them, headed by its date and revision. */
function earlierRuns() {
  const file = path.join(root, "BENCHMARKS.md");
  const text = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
  const section = text.split(/\n(?=## )/).find((part) => part.startsWith("## A/B\n"));
  if (!section) return "";
  const head = section.slice("## A/B\n".length).split(/\n(?=### )/)[0];
  const rest = section.slice("## A/B\n".length + head.length);
  const run = head.match(/--before (\S+)` on (\S+):/);
  const title = run ? `### ${run[2]}, against ${run[1]}` : "### An earlier run";
  return `\n${title}\n${head.trimEnd()}\n${rest}`;
}
