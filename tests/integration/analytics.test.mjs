// Analytics through workerd (CONTRACT section 9): requests answered without waiting (health, a
// cached chat turn) and after I/O are counted per route and minute, stored by the Worker's own Durable
// Object within the contract's 10 seconds, read back by the admin, and still there after a
// restart that keeps the local state.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startGateway, json } from "../support/gateway.mjs";
import { startOrigin, sendJson } from "../support/origins.mjs";

const TOKEN = "analytics-admin-token";
const admin = { access_token: TOKEN };
let pi, model;

before(async () => {
  pi = await startOrigin((req, res) => sendJson(res, 200, { hostname: "pi", systemTemperature: 40 }));
  model = await startOrigin((req, res) => sendJson(res, 200, { status: "ok" }));
});
after(() => Promise.all([pi?.close(), model?.close()]));

const config = (extra = {}) => ({
  auth: { token: "${AUTH_TOKEN}", webhook: "public" },
  extensions: { rest: { services: [
    { name: "livingroom", base_url: pi.url + "/", expose: "telemetry", cache: 30 },
    { name: "catsdogs", base_url: model.url + "/", expose: "inference" },
  ] } },
  dialog: [{ condition: "true", response: "Hello." }],
  limits: [{ name: "model", routes: ["models/catsdogs"], key: "ip", requests: 2, period: 60 }],
  ...extra,
});

/** The routes' numbers of the last few minutes, added up per route. */
async function totals(gateway) {
  const answer = await gateway.fetch("/admin/analytics?minutes=5", { headers: admin });
  assert.equal(answer.status, 200);
  const { minutes } = await json(answer);
  assert.equal(minutes.length, 5);
  const sums = {};
  for (const { routes } of minutes) {
    for (const [route, n] of Object.entries(routes)) {
      const sum = (sums[route] ??= { requests: 0, statuses: {}, cache: {}, limited: 0, p95: [] });
      sum.requests += n.requests;
      sum.limited += n.limited;
      for (const [k, v] of Object.entries(n.statuses)) sum.statuses[k] = (sum.statuses[k] ?? 0) + v;
      for (const [k, v] of Object.entries(n.cache)) sum.cache[k] = (sum.cache[k] ?? 0) + v;
      sum.p95.push(n.duration_ms.p95);
    }
  }
  return sums;
}

/** Waits until `ready(totals)`, for at most `seconds`; answers the totals and the seconds waited. */
async function until(gateway, ready, seconds) {
  const started = Date.now();
  let last;
  while (Date.now() - started < seconds * 1000) {
    last = await totals(gateway);
    if (ready(last)) return { sums: last, waited: (Date.now() - started) / 1000 };
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.fail(`not stored within ${seconds} s: ${JSON.stringify(last)}`);
}

test("requests answered at once and after I/O are stored within 10 s per route, read back by the admin, and survive a restart", async () => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "gateway-analytics-"));
  const options = { config: config(), vars: { AUTH_TOKEN: TOKEN }, stateDir };
  try {
    let gateway = await startGateway(options);
    const statuses = [];
    const send = async (pathname, init) => {
      const answer = await gateway.fetch(pathname, init);
      statuses.push(answer.status);
      await answer.arrayBuffer();
    };
    for (let i = 0; i < 3; i++) await send("/pi/livingroom/system", { headers: admin }); // MISS, HIT, HIT
    await send("/models/catsdogs/health"); // 401, spending from the address's budget too
    await send("/models/catsdogs/health", { headers: admin });
    await send("/models/catsdogs/health", { headers: admin }); // 429 from the limit
    for (let i = 0; i < 2; i++) {
      // Answered without waiting: no I/O in its turn after the first.
      await send("/webhooks/rest/webhook", { method: "POST", body: JSON.stringify({ sender: "u", message: "hi" }) });
    }
    await send("/health"); // answered without waiting
    assert.deepEqual(statuses, [200, 200, 200, 401, 200, 429, 200, 200, 200]);

    const expected = (sums) => sums["pi/livingroom"]?.requests === 3 && sums["models/catsdogs"]?.requests === 3
      && sums.webhook?.requests === 2;
    const { sums, waited } = await until(gateway, expected, 15);
    assert.ok(waited <= 10, `stored after ${waited} s`);
    assert.deepEqual(sums["pi/livingroom"].cache, { HIT: 2, MISS: 1, BYPASS: 0, STALE: 0 });
    assert.deepEqual(sums["pi/livingroom"].statuses, { "2xx": 3, "3xx": 0, "4xx": 0, "5xx": 0 });
    assert.deepEqual(sums["models/catsdogs"].statuses, { "2xx": 1, "3xx": 0, "4xx": 2, "5xx": 0 });
    assert.equal(sums["models/catsdogs"].limited, 1);
    assert.equal(sums.webhook.statuses["2xx"], 2);
    assert.ok(sums.other.requests >= 1, "/health counts under other");
    assert.ok(sums["pi/livingroom"].p95.every((p) => typeof p === "number" && p > 0));
    const before = JSON.stringify(sums["pi/livingroom"]) + JSON.stringify(sums["models/catsdogs"]) + JSON.stringify(sums.webhook);
    await gateway.close();

    gateway = await startGateway(options);
    try {
      const again = await totals(gateway);
      assert.equal(JSON.stringify(again["pi/livingroom"]) + JSON.stringify(again["models/catsdogs"]) + JSON.stringify(again.webhook), before,
        "the restarted gateway reads the same numbers");
    } finally {
      await gateway.close();
    }
  } finally {
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
});

test("only the admin reads analytics; a bad range is a 400; switched off it is a 404", async () => {
  let gateway = await startGateway({ config: config(), vars: { AUTH_TOKEN: TOKEN } });
  try {
    assert.equal((await gateway.fetch("/admin/analytics")).status, 401);
    const bad = await gateway.fetch("/admin/analytics?minutes=0", { headers: admin });
    assert.equal(bad.status, 400);
    assert.equal((await json(bad)).reason, "BadRequest");
    const hour = await json(await gateway.fetch("/admin/analytics", { headers: admin }));
    assert.equal(hour.minutes.length, 60);
    assert.match(hour.minutes[59].start, /^\d{4}-\d\d-\d\dT\d\d:\d\d:00Z$/);
    assert.ok(Date.parse(hour.minutes[0].start) < Date.parse(hour.minutes[59].start), "oldest first");
  } finally {
    await gateway.close();
  }
  for (const options of [{ config: config({ analytics: { enabled: false } }) }, { config: config(), analytics: false }]) {
    gateway = await startGateway({ ...options, vars: { AUTH_TOKEN: TOKEN } });
    try {
      const off = await gateway.fetch("/admin/analytics", { headers: admin });
      assert.equal(off.status, 404);
      assert.equal((await json(off)).reason, "NotFound");
    } finally {
      await gateway.close();
    }
  }
});
