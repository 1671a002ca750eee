// Rate limits and quotas through workerd, counted by the Worker's own Durable Objects: a spent
// budget answers 429 with the contract's headers and reaches no origin, a daily quota stays spent
// across a restart that keeps the local state, and a counter that cannot be reached fails open
// (with a log line) or closed, as the limit says.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startGateway, json } from "../support/gateway.mjs";
import { startModel, startOrigin, sendJson } from "../support/origins.mjs";

const TOKEN = "limits-admin-token";
let model, weather;

before(async () => {
  model = await startModel();
  weather = await startOrigin((req, res) => sendJson(res, 200, { t: 21 }));
});
after(() => Promise.all([model?.close(), weather?.close()]));

function config(limits) {
  return {
    auth: { token: "${AUTH_TOKEN}", webhook: "public" },
    extensions: { rest: { services: [
      { name: "catsdogs", base_url: model.url + "/", expose: "inference" },
      { name: "weather", base_url: weather.url + "/" },
    ] } },
    dialog: [{ condition: "true", response: '{% GET "weather://now" %}It is {{ rest.json.t }}.' }],
    limits,
  };
}

const admin = { access_token: TOKEN };
const chat = (gateway, sender) => gateway.fetch("/webhooks/rest/webhook", {
  method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ sender, message: "hi" }),
});

/** The log lines (JSON) that `matches`, waiting a little for the runtime's output. */
async function logLines(gateway, matches) {
  for (let tries = 0; tries < 40; tries++) {
    const lines = gateway.logs
      .map((l) => { try { return JSON.parse(l.slice(l.indexOf("{"))); } catch { return null; } })
      .filter((l) => l && matches(l));
    if (lines.length) return lines;
    await new Promise((r) => setTimeout(r, 50));
  }
  return [];
}

test("past its budget a route answers 429 with Retry-After and RateLimit headers, and sends nothing", async () => {
  const gateway = await startGateway({
    config: config([{ name: "model", routes: ["models/catsdogs"], key: "identity", requests: 3, period: 3600 }]),
    vars: { AUTH_TOKEN: TOKEN },
  });
  try {
    const before = model.received.length;
    for (let i = 0; i < 3; i++) {
      const ok = await gateway.fetch("/models/catsdogs/health", { headers: admin });
      assert.equal(ok.status, 200);
      assert.equal(ok.headers.get("ratelimit-limit"), "3");
      assert.equal(ok.headers.get("ratelimit-remaining"), String(2 - i));
      assert.ok(Number(ok.headers.get("ratelimit-reset")) > 0);
      await ok.arrayBuffer();
    }
    const limited = await gateway.fetch("/models/catsdogs/health", { headers: admin });
    assert.equal(limited.status, 429);
    const body = await json(limited);
    assert.equal(body.reason, "TooManyRequests");
    assert.equal(body.details.limit, "model");
    assert.equal(body.status, "failure");
    const retryAfter = Number(limited.headers.get("retry-after"));
    assert.ok(retryAfter >= 1 && retryAfter <= 3600 + 60, String(retryAfter));
    assert.equal(limited.headers.get("ratelimit-remaining"), "0");
    assert.equal(limited.headers.get("ratelimit-reset"), String(retryAfter));
    assert.equal(model.received.length - before, 3, "the refused request never reached the model");
    // Unlimited routes are not touched by it.
    const health = await gateway.fetch("/health");
    assert.equal(health.status, 200);
    assert.equal(health.headers.get("ratelimit-limit"), null);
  } finally {
    await gateway.close();
  }
});

test("each sender has its own chat budget, and a limited message is not rendered", async () => {
  const gateway = await startGateway({
    config: config([{ name: "chat", routes: ["webhook"], key: "sender", requests: 2, period: 60 }]),
    vars: { AUTH_TOKEN: TOKEN },
  });
  try {
    const before = weather.received.length;
    for (let i = 0; i < 2; i++) assert.equal((await chat(gateway, "alice")).status, 200);
    const limited = await chat(gateway, "alice");
    assert.equal(limited.status, 429);
    assert.equal((await json(limited)).details.limit, "chat");
    assert.equal(weather.received.length - before, 2, "the refused message's rest_call never ran");
    const bob = await chat(gateway, "bob");
    assert.equal(bob.status, 200);
    assert.deepEqual((await json(bob)).map((m) => m.text), ["It is 21."]);
  } finally {
    await gateway.close();
  }
});

test("guessing keys spends the address's budget, and is limited by it", async () => {
  const gateway = await startGateway({
    config: config([
      { name: "per-ip", key: "ip", requests: 3, period: 60 },
      { name: "who", key: "identity", requests: 100, period: 60 },
    ]),
    vars: { AUTH_TOKEN: TOKEN },
  });
  try {
    for (let i = 0; i < 3; i++) {
      const refused = await gateway.fetch("/models/catsdogs/health", { headers: { access_token: "guess-" + i } });
      assert.equal(refused.status, 401);
      assert.equal(refused.headers.get("ratelimit-remaining"), String(2 - i));
    }
    const limited = await gateway.fetch("/models/catsdogs/health", { headers: { access_token: "guess-4" } });
    assert.equal(limited.status, 429);
    assert.equal((await json(limited)).details.limit, "per-ip");
  } finally {
    await gateway.close();
  }
});

test("a spent daily quota stays spent across a restart that keeps the local state", async () => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "gateway-limits-"));
  const options = {
    config: config([{ name: "daily", routes: ["models/*"], key: "identity", requests: 2, period: 86400 }]),
    vars: { AUTH_TOKEN: TOKEN },
    stateDir,
  };
  try {
    let gateway = await startGateway(options);
    for (let i = 0; i < 2; i++) {
      const ok = await gateway.fetch("/models/catsdogs/health", { headers: admin });
      assert.equal(ok.status, 200);
      await ok.arrayBuffer();
    }
    await gateway.close();
    gateway = await startGateway(options);
    try {
      const limited = await gateway.fetch("/models/catsdogs/health", { headers: admin });
      assert.equal(limited.status, 429, "the restarted gateway still counts the day's requests");
      assert.ok(Number(limited.headers.get("retry-after")) > 86400 - 3600);
    } finally {
      await gateway.close();
    }
  } finally {
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
});

for (const failure of ["throw", "hang"]) {
  test(`a counter that cannot be reached (${failure}) fails open with a log line, or closed with 503`, async () => {
    const gateway = await startGateway({
      config: config([
        { name: "soft", routes: ["models/catsdogs"], key: "ip", requests: 1, period: 60 },
        { name: "hard", routes: ["webhook"], key: "sender", requests: 1, period: 60, fail: "closed" },
      ]),
      vars: { AUTH_TOKEN: TOKEN },
      failingCounters: failure,
    });
    try {
      for (let i = 0; i < 2; i++) {
        const open = await gateway.fetch("/models/catsdogs/health", { headers: admin });
        assert.equal(open.status, 200, "fail open: the model still answers");
        assert.equal(open.headers.get("ratelimit-limit"), null);
        await open.arrayBuffer();
      }
      const lines = await logLines(gateway, (l) => l.event === "limit_unavailable" && l.limit === "soft");
      assert.equal(lines[0]?.fail, "open", gateway.logs.join("\n"));
      const closed = await chat(gateway, "alice");
      assert.equal(closed.status, 503);
      const body = await json(closed);
      assert.equal(body.reason, "ServiceUnavailable");
      assert.equal(body.details.limit, "hard");
    } finally {
      await gateway.close();
    }
  });
}
