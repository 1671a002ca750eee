// Benchmarks (not tests): the release Worker against JavaScript baselines measured in the same run,
// because these machines are shared and noisy, so only ratios are comparable between runs.
//
//   node tests/bench/run.mjs [--seconds 5] [--connections 32] [--rounds 3] [--no-build] [--quick] [--only limits|analytics|conversations|features]
//
// Every Worker runs under its own bare `workerd serve` config, loaded by wrk; only the startup time
// is taken through Miniflare. Results: printed, and written to BENCHMARKS.md. --quick stops after
// the /health and proxied-GET rows. --only limits runs only the rate-limit rows and rewrites only
// BENCHMARKS.md's "Rate limits" section; --only analytics likewise its "Analytics" section,
// --only conversations its "Conversations" section, and --only features its "Features" section.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { fileURLToPath } from "node:url";
import { wrk as runWrk, startupMs, serveGateway, serveJs, medianRound, EMPTY_JS, forwardingJs, contractJs, jwtJs, chatLoad, SENDERS_PER_THREAD, LONG_CHAT_SENDERS, fillConversations, rssKb, updateBenchmarks } from "./workers.mjs";
import { startPi, startModel, startOrigin, sendJson, mintJwt, startIssuer } from "../support/origins.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const SECONDS = Number(option("--seconds", 5));
const CONNECTIONS = Number(option("--connections", 32));
const ROUNDS = Number(option("--rounds", 3));
const ONLY = option("--only", null);
const GROUPS = ["limits", "analytics", "conversations", "features"];
if (ONLY !== null && !GROUPS.includes(ONLY)) throw new Error(`--only: unknown row group ${ONLY} (known: ${GROUPS.join(", ")})`);
const TOKEN = "bench-token";
const SECRET = "bench-jwt-secret";

if (!args.includes("--no-build")) execFileSync("bash", [".ci/build"], { cwd: root, stdio: "ignore" });
const wasmPath = path.join(root, "build/index_bg.wasm");
const wasm = fs.readFileSync(wasmPath);

const wrk = (url, options = {}) => runWrk(url, { seconds: SECONDS, connections: CONNECTIONS, ...options });

// --- The run -------------------------------------------------------------------------------
// A row measures its route and its baseline in alternation, ROUNDS times each, and keeps the round
// with the median ratio (`medianRound`). Rows of a section of their own (limits, analytics,
// conversations, features) pass `section`: printed, but not in the main table.
async function compare(name, measureRoute, baselineName, measureBaseline, target, section = false) {
  const median = await medianRound(measureRoute, measureBaseline, ROUNDS);
  record(name, median.measured, baselineName, median.baseline, target, section);
  return median;
}

const results = [];
function record(name, measured, baselineName, baseline, target, section) {
  const ratio = measured.rps / baseline.rps;
  if (!section) results.push({ name, ...measured, baselineName, baselineRps: baseline.rps, ratio, target });
  const mark = target === undefined ? "" : ratio >= target ? ` (target ${target}: met)` : ` (target ${target}: MISSED)`;
  console.log(`${name.padEnd(48)} ${measured.rps.toFixed(0).padStart(7)} req/s  p50 ${measured.p50.toFixed(2)} ms  p99 ${measured.p99.toFixed(2)} ms  errors ${measured.errors}  ratio ${ratio.toFixed(2)} vs ${baselineName}${mark}`);
}

const [pi, model, api, issuer] = await Promise.all([
  startPi("pi-key"), startModel(),
  startOrigin((req, res) => sendJson(res, 200, { temperature: 21.5, path: req.url })),
  startIssuer(),
]);
const services = [
  { name: "pi", base_url: pi.url + "/", expose: "telemetry", headers: { access_token: "pi-key" } },
  { name: "picached", base_url: pi.url + "/", expose: "telemetry", headers: { access_token: "pi-key" }, cache: 3600 },
  { name: "model", base_url: model.url + "/", expose: "inference", timeout: 30 },
  { name: "api", base_url: api.url + "/" },
];
const dialog = [{ condition: "true", response: "{% GET \"api://a\" cache 3600 %}{% set a = rest.json.temperature %}{% GET \"api://b\" cache 3600 %}It is {{ a }} and {{ rest.json.temperature }}." }];
const baseConfig = { auth: { token: "${AUTH_TOKEN}", jwt: { secret: "${JWT_SECRET}", algorithm: "HS256" } }, extensions: { rest: { services } }, dialog };
const rsaPem = issuer.rsa.publicKey.export({ type: "spki", format: "pem" });
const rsConfig = { auth: { jwt: { public_key: rsaPem, algorithm: "RS256" } }, extensions: { rest: { services } } };
const vars = { AUTH_TOKEN: TOKEN, JWT_SECRET: SECRET };
const exp = Math.floor(Date.now() / 1000) + 3600;
const hs256 = mintJwt({ alg: "HS256", typ: "JWT" }, { user: { username: "bench", role: "admin" }, exp }, SECRET);
const rs256 = mintJwt({ alg: "RS256", typ: "JWT" }, { user: { username: "bench", role: "admin" }, exp }, issuer.rsa.privateKey);

console.log(`wasm: ${(wasm.length / 1024).toFixed(0)} KB raw, ${(zlib.gzipSync(wasm, { level: 9 }).length / 1024).toFixed(0)} KB gzip`);
// Startup: the first request to a fresh Worker, beside the same for the empty JavaScript Worker.
const startup = ONLY ? null : { gateway: await startupMs("gateway", { config: baseConfig, vars }), empty: await startupMs("js", { script: EMPTY_JS }) };
if (startup) console.log(`first request to a fresh Worker: gateway ${startup.gateway.first.toFixed(1)} ms, empty JS ${startup.empty.first.toFixed(1)} ms; ready: gateway ${startup.gateway.ready.toFixed(0)} ms, empty JS ${startup.empty.ready.toFixed(0)} ms`);

// Every Worker below runs under its own bare `workerd serve` config, as the toolchain notes
// prescribe: no Miniflare in front, no Cache API behind (the gateway's memory tier still answers
// its small cached entries).
const gatewayWith = (config, bindings = {}, options = {}) => serveGateway(undefined, { GATEWAY_CONFIG: JSON.stringify(config), ...bindings }, options);

// The rate-limit rows: the token GET on /pi/pi/system with one limit, keyed by the client address and
// too large to refuse during the run, so every request pays its counter's Durable Object round trip,
// against the same GET on a gateway without limits (the counters bound in both, as in wrangler.toml).
// Every request carries one client address (CF-Connecting-IP), so one counter object takes them all.
// The counters' storage is in memory, then on local disk as `wrangler dev` keeps it.
const gateway = await gatewayWith(baseConfig, vars);
const limitedConfig = { ...baseConfig, limits: [{ name: "bench", key: "ip", requests: 1000000000, period: 60 }] };
const limited = await gatewayWith(limitedConfig, vars);
const limitedOnDisk = await gatewayWith(limitedConfig, vars, { objectStorage: "disk" });
const piClient = { access_token: TOKEN, "cf-connecting-ip": "203.0.113.7" };
const limitsRows = [];
async function rateLimitRow(name, worker) {
  // What the limit says is left; it also proves the counter answered (one that fails open sends no RateLimit headers).
  const remaining = async () => {
    const answer = await fetch(worker.url + "/pi/pi/system", { headers: piClient });
    await answer.text();
    const left = answer.headers.get("ratelimit-remaining");
    if (answer.status !== 200 || left === null) throw new Error(`${name}: answered ${answer.status} without RateLimit headers`);
    return Number(left);
  };
  let answered = 0;
  const run = (target) => async () => {
    const result = await wrk(target.url + "/pi/pi/system", { headers: piClient });
    if (result.errors) throw new Error(`${name}: ${result.errors} errors or non-2xx answers`);
    if (target === worker) answered += result.requests;
    return result;
  };
  const before = await remaining();
  const median = await compare(name, run(worker), "the same GET without limits", run(gateway), undefined, true);
  // Every answered request was counted (the requests wrk cuts off at each run's end may add a few).
  const counted = before - (await remaining()) - 1;
  if (counted < answered) throw new Error(`${name}: the counter counted ${counted} of ${answered} requests`);
  console.log(`  counter: ${counted} requests counted, ${answered} answered`);
  limitsRows.push({ name, ...median, counted, answered });
}
async function rateLimitRows() {
  await rateLimitRow("token GET /pi/{svc}/system, one rate limit", limited);
  await rateLimitRow("  same, counters on local disk", limitedOnDisk);
}

// BENCHMARKS.md's "Rate limits" section, from the rows above.
function writeLimitsSection() {
  const [memory, disk] = limitsRows;
  const line = ({ name, measured: m, baseline: b, ratio }) =>
    `| ${name.trim()} | ${m.rps.toFixed(0)} | ${m.p50.toFixed(2)} | ${m.p99.toFixed(2)} | ${m.errors} | ${b.rps.toFixed(0)} | ${b.p50.toFixed(2)} | **${ratio.toFixed(2)}** |`;
  updateBenchmarks("Rate limits", `## Rate limits

\`node tests/bench/run.mjs${ONLY ? " --only limits" : ""}\` on ${new Date().toISOString().slice(0, 10)} (wrk -t2 -c${CONNECTIONS}, ${SECONDS} s per run, ${ROUNDS} rounds in
alternation, the round with the median ratio): the token GET \`/pi/pi/system\` (uncached) with one matching
limit (\`"key": "ip"\`, too large to refuse during the run), against the same GET on a gateway without
limits; all requests come from one client address, so one counter object counts them all.

| route | req/s | p50 ms | p99 ms | errors | without limits req/s | without limits p50 ms | ratio |
|---|---|---|---|---|---|---|---|
${limitsRows.map(line).join("\n")}

The cost is one Durable Object RPC round trip on the request's path (the counter object's \`spend\`)
before the origin is called; a request matching no limit pays nothing. With the counters in memory the
ratio is **${memory.ratio.toFixed(2)}**. On local disk (as \`wrangler dev\` keeps them) workerd syncs the object's
write to disk before each answer, one at a time for one hot key, and the ratio is **${disk.ratio.toFixed(2)}**: that
row measures this machine's disk syncs, not Cloudflare's storage. Every answer was a 200 with RateLimit headers,
and the counter counted every request (in memory ${memory.counted} counted, ${memory.answered} answered; on disk ${disk.counted}, ${disk.answered}).`);
}

// The analytics row: the token GET on /models/model/health with analytics on (the store bound, as in
// wrangler.toml) against the same GET on a gateway whose configuration switches them off, in one run.
const analyticsOff = await gatewayWith({ ...baseConfig, analytics: { enabled: false } }, vars);
let analyticsRow;
async function analyticsRowRun() {
  const get = (worker) => () => wrk(worker.url + "/models/model/health", { headers: { access_token: TOKEN } });
  const median = await compare("token GET /models/{svc}/health, analytics on", get(gateway), "same GET, analytics off", get(analyticsOff), undefined, true);
  // The on side really counted: the store holds at least the requests of the kept round.
  await new Promise((resolve) => setTimeout(resolve, 7000));
  const { minutes } = await (await fetch(gateway.url + "/admin/analytics?minutes=60", { headers: { access_token: TOKEN } })).json();
  const stored = minutes.reduce((sum, m) => sum + (m.routes["models/model"]?.requests ?? 0), 0);
  // A shortfall is reported (here and in BENCHMARKS.md), not thrown: it must not discard the run's
  // other rows.
  const complete = stored >= median.measured.requests;
  console.log(`  analytics: ${stored} requests stored for the route over all rounds` +
    (complete ? "" : `: CHECK FAILED, fewer than the ${median.measured.requests} of the kept round`));
  analyticsRow = { ...median, stored, complete };
}

function writeAnalyticsSection() {
  const { measured: m, baseline: b, ratio, stored, complete } = analyticsRow;
  updateBenchmarks("Analytics", `## Analytics

\`node tests/bench/run.mjs${ONLY ? " --only analytics" : ""}\` on ${new Date().toISOString().slice(0, 10)} (wrk -t2 -c${CONNECTIONS}, ${SECONDS} s per run, ${ROUNDS} rounds in
alternation, the round with the median ratio): the token GET \`/models/model/health\` (uncached) on a gateway
with analytics on (the \`AnalyticsStore\` bound, as in wrangler.toml) against the same GET on a gateway
whose configuration says \`"analytics": {"enabled": false}\`.

| route | req/s | p50 ms | p99 ms | errors | analytics off req/s | analytics off p50 ms | ratio |
|---|---|---|---|---|---|---|---|
| token GET /models/{svc}/health, analytics on | ${m.rps.toFixed(0)} | ${m.p50.toFixed(2)} | ${m.p99.toFixed(2)} | ${m.errors} | ${b.rps.toFixed(0)} | ${b.p50.toFixed(2)} | **${ratio.toFixed(2)}** |

A request's share is adding itself to the isolate's per-minute counts in memory; the store is written
once per isolate every 5 seconds, in the background. The store held ${stored} requests of the route
afterwards, ${complete ? "at least every request of the kept round" : `**fewer than the ${m.requests} of the kept round: counts were lost**`}.`);
}

// The conversations rows: the chat webhook (two cached rest_calls) on the gateway, whose
// conversations are on (the default; a Durable Object per sender, begin and commit on every
// message), against a gateway whose configuration says "off", in one run. Each request comes from
// another sender (1000 per wrk thread, in turn), as a public chat's do: one sender's messages
// would wait for each other. Without conversations a message whose calls are cached is answered
// without waiting for anything; the second row asks both with ?stream=true, which runs as a task of
// its own either way, so that its ratio is the objects' share alone.
const conversationsOff = await gatewayWith({ ...baseConfig, chat: { conversations: "off" } }, vars);
const conversationsRows = [];
async function conversationsRowsRun() {
  const chat = (worker, query = "", senders = SENDERS_PER_THREAD) => async () => {
    const result = await chatLoad(worker, { seconds: SECONDS, connections: CONNECTIONS, query, senders });
    if (result.errors) throw new Error(`webhook${query}: ${result.errors} errors or non-2xx answers`);
    return result;
  };
  for (const worker of [gateway, conversationsOff]) await chat(worker)(); // the calls cached, the isolates warm
  conversationsRows.push(await compare("POST webhook, two cached rest_calls, conversations on", chat(gateway), "same, conversations off", chat(conversationsOff), undefined, true));
  conversationsRows.push(await compare("  same, both ?stream=true (a task of their own)", chat(gateway, "?stream=true"), "same, conversations off", chat(conversationsOff, "?stream=true"), undefined, true));
  // Fewer senders, each of whose conversations holds its most turns before the rounds.
  await fillConversations(gateway);
  const long = (worker) => chat(worker, "", LONG_CHAT_SENDERS);
  conversationsRows.push(await compare("  same, conversations at 50 turns", long(gateway), "same, conversations off", long(conversationsOff), undefined, true));
  // The on side kept every sender's conversation: a sender of the run has its turns in the tracker.
  const tracker = await (await fetch(gateway.url + "/conversations/bench-1-7/tracker", { headers: { access_token: TOKEN } })).json();
  const turns = tracker.events.filter((event) => event.event === "user").length;
  if (turns < 2) throw new Error(`the conversation of bench-1-7 holds ${turns} turns`);
  console.log(`  conversations: bench-1-7 holds ${turns} turns (the last 50 are kept)`);
}

function writeConversationsSection() {
  const [plain, streamed, long] = conversationsRows;
  const line = ({ measured: m, baseline: b, ratio }, name) =>
    `| ${name} | ${m.rps.toFixed(0)} | ${m.p50.toFixed(2)} | ${m.p99.toFixed(2)} | ${m.errors} | ${b.rps.toFixed(0)} | ${b.p50.toFixed(2)} | **${ratio.toFixed(2)}** |`;
  // A message's time, from the throughput of the kept round (wrk keeps CONNECTIONS messages in flight).
  const share = ({ ratio }) => `${((1 - ratio) * 100).toFixed(0)} %`;
  const latencyShare = ({ measured: m, baseline: b }) => `${(((m.p50 - b.p50) / m.p50) * 100).toFixed(0)} %`;
  updateBenchmarks("Conversations", `## Conversations

\`node tests/bench/run.mjs${ONLY ? " --only conversations" : ""}\` on ${new Date().toISOString().slice(0, 10)} (wrk -t2 -c${CONNECTIONS}, ${SECONDS} s per run, ${ROUNDS} rounds in
alternation, the round with the median ratio): the chat webhook whose dialog makes two cached rest_calls,
on a gateway keeping conversations (\`chat.conversations\` "on", the default: a Durable Object per sender,
SQLite-backed, in memory here) against the same gateway with \`"off"\`. Every request comes from another
sender (${2 * SENDERS_PER_THREAD} in turn), as a public chat's messages do.

| route | req/s | p50 ms | p99 ms | errors | conversations off req/s | off p50 ms | ratio |
|---|---|---|---|---|---|---|---|
${line(plain, "POST webhook, conversations on")}
${line(streamed, "same, both with ?stream=true")}
${line(long, "same, " + 2 * LONG_CHAT_SENDERS + " senders whose conversations hold 50 turns")}

With conversations on, the webhook answered **${plain.ratio.toFixed(2)}** of the messages it answered without them in the
same time: conversations take **${share(plain)}** of a message's time (of its p50 latency: ${latencyShare(plain)}). That is two
Durable Object calls (begin, which waits for the sender's previous turn and reads the record, and commit,
which writes the turn's record), the record's JSON read and written, and the task that waits for
them, as a message without conversations whose calls are cached is answered without waiting. Asked with
\`?stream=true\`, both run as a task of their own, so the second row's difference is the objects' alone: **${share(streamed)}** of a message's
time (p50: ${latencyShare(streamed)}). The objects keep their storage in memory here; on Cloudflare each call is also
a network round trip to where the sender's object lives, which this machine cannot show. The third row's
senders had each sent more than 50 messages before its rounds, so every turn reads and stores a
conversation holding its most turns, as an active chat's does: **${long.ratio.toFixed(2)}**. The machine is
shared and noisy: runs of these rows have differed by 0.1 in their ratios, so read them to the first
digit.`);
}

// The features' rows: what each feature added since the first version costs the token GET when it is
// turned on but its Durable Objects are not on that request's path, each against the same GET on a
// gateway without it (everything else as configured by default). Each gateway starts when its row runs.
const withFeature = {
  "consumers and limits (a consumer, and limits on the webhook and another service)": () => gatewayWith({ ...baseConfig,
    auth: { ...baseConfig.auth, consumers: [{ name: "display", key: "display-key", allow: ["pi/*"] }] },
    limits: [{ name: "chat", routes: ["webhook"], key: "sender", requests: 1000, period: 60 }, { name: "pi", routes: ["pi/*"], key: "ip", requests: 1000, period: 60 }] },
  vars),
  "resilience (retries, a fallback origin, a circuit breaker)": () => gatewayWith({ ...baseConfig, extensions: { rest: { services: services.map((service) => service.name === "model"
    ? { ...service, retries: { attempts: 3, backoff: 0.2 }, fallback_urls: [api.url + "/"], circuit: { failures: 5, cooldown: 30 } } : service) } } }, vars),
  "conversations on (the default), against off": () => null,
  "analytics on (the default), against off": () => null,
};
const featureRows = [];
async function featureRowsRun() {
  const get = (worker) => () => wrk(worker.url + "/models/model/health", { headers: { access_token: TOKEN } });
  for (const [name, start] of Object.entries(withFeature)) {
    const started = await start();
    const [on, off] = name.startsWith("conversations") ? [gateway, conversationsOff]
      : name.startsWith("analytics") ? [gateway, analyticsOff] : [started, gateway];
    featureRows.push({ name, ...(await compare(`token GET, ${name}`, get(on), "without", get(off), undefined, true)) });
    started?.close();
  }
}

function writeFeaturesSection() {
  const line = ({ name, measured: m, baseline: b, ratio }) =>
    `| ${name} | ${m.rps.toFixed(0)} | ${b.rps.toFixed(0)} | **${ratio.toFixed(2)}** | ${ratio >= 0.9 ? "yes" : "no"} |`;
  updateBenchmarks("Features", `## Features

\`node tests/bench/run.mjs${ONLY ? " --only features" : ""}\` on ${new Date().toISOString().slice(0, 10)} (wrk -t2 -c${CONNECTIONS}, ${SECONDS} s per run, ${ROUNDS} rounds in
alternation, the round with the median ratio): the token GET \`/models/model/health\` (uncached) on a gateway
with each feature added since the first version turned on, where its Durable Objects are not on that
request's path, against the same GET on a gateway without it. Target: at most 10 % (a ratio of 0.9).

| feature | with req/s | without req/s | with/without | within 10 % |
|---|---|---|---|---|
${featureRows.map(line).join("\n")}

Where a feature's objects are on the path, its cost is that of their round trips: see Rate limits,
Conversations and Analytics below.`);
}

// --only: one group's rows, and only its section of BENCHMARKS.md rewritten.
const GROUP_RUNS = {
  limits: [rateLimitRows, writeLimitsSection, "Rate limits"],
  analytics: [analyticsRowRun, writeAnalyticsSection, "Analytics"],
  conversations: [conversationsRowsRun, writeConversationsSection, "Conversations"],
  features: [featureRowsRun, writeFeaturesSection, "Features"],
};
if (ONLY) {
  const [run, write, section] = GROUP_RUNS[ONLY];
  await run();
  write();
  for (const worker of [gateway, conversationsOff, analyticsOff, limited, limitedOnDisk]) worker.close();
  for (const origin of [pi, model, api, issuer]) await origin.close();
  console.log(`\nwritten: BENCHMARKS.md (${section})`);
  process.exit(0);
}

const empty = await serveJs("bench-empty.js", EMPTY_JS);
const forwardModel = await serveJs("bench-forward-model.js", forwardingJs(model.url));
const forwardPi = await serveJs("bench-forward-pi.js", forwardingJs(pi.url));
const contract = await serveJs("bench-contract.js", contractJs(model.url, TOKEN));
const guarding = await serveJs("bench-contract-guarding.js", contractJs(model.url, TOKEN, { guardBody: true }));
const jwtModel = await serveJs("bench-jwt-model.js", jwtJs(model.url, SECRET));
const rsGateway = await gatewayWith(rsConfig);

const healthRun = () => wrk(gateway.url + "/health");
await compare("GET /health", healthRun, "empty JS Worker", () => wrk(empty.url + "/health"), 0.9);
const tokenGet = (worker) => () => wrk(worker.url + "/models/model/health", { headers: { access_token: TOKEN } });
const forwardModelGet = () => wrk(forwardModel.url + "/models/model/health");
await compare("token GET /models/{svc}/health, uncached", tokenGet(gateway), "forwarding JS Worker", forwardModelGet);
// What the contract's duties cost a Worker written in JavaScript, and the gateway against that.
await compare("  contract-duties JS Worker, same GET", tokenGet(contract), "forwarding JS Worker", forwardModelGet);
await compare("  gateway, same GET", tokenGet(gateway), "contract-duties JS Worker", tokenGet(contract), 1.0);
// The gateway also guards the answer's body against an origin that stalls in it; so does this one.
await compare("  gateway, same GET, against a body-guarding one", tokenGet(gateway), "body-guarding JS Worker", tokenGet(guarding));

if (args.includes("--quick")) process.exit(0); // only the rows above, for quick loops

const forwardPiGet = () => wrk(forwardPi.url + "/pi/pi/system", { headers: { access_token: "pi-key" } });
await compare("token GET /pi/{svc}/system (redacted), uncached", () => wrk(gateway.url + "/pi/pi/system", { headers: { access_token: TOKEN } }),
  "forwarding JS Worker", forwardPiGet);
await rateLimitRows();
await fetch(gateway.url + "/pi/picached/system", { headers: { access_token: TOKEN } }).then((r) => r.text());
await new Promise((r) => setTimeout(r, 300));
await compare("token GET /pi/{svc}/system, HIT", () => wrk(gateway.url + "/pi/picached/system", { headers: { access_token: TOKEN } }), "forwarding JS Worker", forwardPiGet, 1.3);
await compare("JWT HS256 GET /models/{svc}/health", () => wrk(gateway.url + "/models/model/health", { headers: { authorization: `Bearer ${hs256}` } }),
  "JWT-checking JS Worker", () => wrk(jwtModel.url + "/models/model/health", { headers: { authorization: `Bearer ${hs256}` } }), 1.0);
await compare("JWT RS256 GET /pi/{svc}/system", () => wrk(rsGateway.url + "/pi/pi/system", { headers: { authorization: `Bearer ${rs256}` } }), "GET /health", healthRun);
await compare("  same, vs the token route", () => wrk(rsGateway.url + "/pi/pi/system", { headers: { authorization: `Bearer ${rs256}` } }), "token route",
  () => wrk(gateway.url + "/pi/pi/system", { headers: { access_token: TOKEN } }));
// Each message from another sender (see chatMessages in workers.mjs): with conversations on, as by default, each
// message begins and commits a turn in its sender's Durable Object; without them a turn whose calls
// are cached is answered without waiting for anything.
const chat = (worker) => () => chatLoad(worker, { seconds: SECONDS, connections: CONNECTIONS });
for (const worker of [gateway, conversationsOff]) await chat(worker)(); // the calls cached, the isolates warm
await compare("POST webhook, two cached rest_calls", chat(gateway), "GET /health", healthRun, 0.6);
await compare("  same, conversations off", chat(conversationsOff), "GET /health", healthRun, 0.6);

// 5 MB multipart upload, and workerd's memory while 20 MB uploads stream through.
const boundary = "benchboundary";
const upload = (size) => Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="cat.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`), Buffer.alloc(size, 1), Buffer.from(`\r\n--${boundary}--\r\n`)]);
const uploadFile = path.join(os.tmpdir(), "bench-upload.bin");
fs.writeFileSync(uploadFile, upload(5 * 1024 * 1024));
const uploadHeaders = { "content-type": `multipart/form-data; boundary=${boundary}` };
// Uploads with 4 connections: 32 concurrent 5 MB bodies would measure the loopback, not the Worker.
const uploadRun = (url, headers) => wrk(url, { method: "POST", bodyFile: uploadFile, headers, connections: 4 });
await compare("POST 5 MB multipart /models/{svc}/upload", () => uploadRun(gateway.url + "/models/model/upload", { ...uploadHeaders, access_token: TOKEN }),
  "forwarding JS Worker", () => uploadRun(forwardModel.url + "/models/model/upload", uploadHeaders));

const idleRss = rssKb(gateway.pid);
let peakRss = idleRss;
const sampler = setInterval(() => { peakRss = Math.max(peakRss, rssKb(gateway.pid)); }, 20);
const big = upload(20 * 1024 * 1024);
for (let i = 0; i < 3; i++) {
  await fetch(gateway.url + "/models/model/upload", { method: "POST", headers: { ...uploadHeaders, access_token: TOKEN }, body: big }).then((r) => r.text());
}
clearInterval(sampler);
console.log(`workerd RSS during 20 MB uploads: idle ${(idleRss / 1024).toFixed(0)} MB, peak ${(peakRss / 1024).toFixed(0)} MB (+${((peakRss - idleRss) / 1024).toFixed(0)} MB)`);

await analyticsRowRun();
await conversationsRowsRun();
await featureRowsRun();
for (const worker of [empty, forwardModel, forwardPi, contract, guarding, jwtModel, gateway, conversationsOff, analyticsOff, limited, limitedOnDisk, rsGateway]) worker.close();
for (const origin of [pi, model, api, issuer]) await origin.close();

// --- BENCHMARKS.md ---------------------------------------------------------------------------
// The proxied GET's target in context: what the duties cost a JavaScript Worker in this very run.
function dutiesSummary() {
  const ratio = (name) => results.find((r) => r.name.trim() === name)?.ratio.toFixed(2);
  const duties = ratio("contract-duties JS Worker, same GET");
  const gateway = ratio("gateway, same GET");
  const guarded = ratio("gateway, same GET, against a body-guarding one");
  if (!duties || !gateway) return "";
  const verdict = duties < 0.8
    ? "so even written in JavaScript, the duties (the origin timeout's timer, the header rules, the log line) miss the 0.8 target against bare forwarding"
    : "so the duties themselves leave room for the 0.8 target against bare forwarding";
  return `
In this run the contract's duties alone took a JavaScript Worker to **${duties}** of the forwarding Worker's
throughput on the proxied GET, ${verdict}; the gateway reached **${gateway}** of that JavaScript Worker${guarded ? `, and
**${guarded}** of the same Worker guarding the answer's body as the gateway does` : ""}.
`;
}

const rows = results.map((r) => `| ${r.name} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.errors} | ${r.baselineName} (${r.baselineRps.toFixed(0)}) | **${r.ratio.toFixed(2)}** | ${r.target ?? ""} |`);
const report = `# Benchmarks

Measured by \`node tests/bench/run.mjs\` on ${new Date().toISOString().slice(0, 10)} (${os.cpus().length} cores, wrk -t2 -c${CONNECTIONS}, ${SECONDS} s per
run; uploads with 4 connections). Machines are shared and noisy: compare **ratios**. Each row runs its route and
its baseline in alternation ${ROUNDS} times and reports the round with the median ratio; never compare raw
requests/s between runs.

- wasm: ${(wasm.length / 1024).toFixed(0)} KB raw, **${(zlib.gzipSync(wasm, { level: 9 }).length / 1024).toFixed(0)} KB gzip**
- startup (first request to a fresh Worker; median of 3): gateway ${startup.gateway.first.toFixed(1)} ms, empty JS Worker ${startup.empty.first.toFixed(1)} ms. The gateway builds itself from its configuration while its module is evaluated, before the first request; from starting the runtime until it serves: gateway ${startup.gateway.ready.toFixed(0)} ms, empty JS Worker ${startup.empty.ready.toFixed(0)} ms (the runtime's process start included)
- workerd RSS while 20 MB uploads stream through: idle ${(idleRss / 1024).toFixed(0)} MB, peak ${(peakRss / 1024).toFixed(0)} MB (the body is never held)

| route | req/s | p50 ms | p99 ms | errors | baseline (req/s) | ratio | target |
|---|---|---|---|---|---|---|---|
${rows.join("\n")}

Baselines: an empty JavaScript Worker answering \`{"status":"OK"}\`, and a JavaScript Worker that only forwards to
the same origin (no auth, no header rules). The "contract-duties JS Worker" does in JavaScript what the contract asks
of the gateway on that GET (token check, credential and hop-by-hop header rules, the service's header, an origin
timeout, one JSON log line): it shows what those duties cost any Worker. Its timeout ends at the answer's head, as
most Workers' do; the "body-guarding JS Worker" is the same Worker guarding the body too, as the gateway does (an answer
declaring at most 16 KiB read whole under the same timer, a longer one cut when the origin goes quiet; this GET's small
answer takes the first way). The "JWT-checking JS Worker" verifies an HS256
bearer token with Web Crypto (algorithm pinned, key imported once, \`exp\` enforced) and forwards. Every Worker runs under its own bare, generated \`workerd serve\`
config (no Cache API: the gateway's in-isolate memory tier answers the HIT row).
${dutiesSummary()}`;
updateBenchmarks(null, report);
writeLimitsSection();
writeAnalyticsSection();
writeConversationsSection();
writeFeaturesSection();
console.log("\nwritten: BENCHMARKS.md");
