// Stale answers (stale_if_error) and one origin request per cache miss, through workerd, against
// real fake origins that can be told to go down, time out or answer slowly. Each origin counts
// what reached it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway, json } from "../support/gateway.mjs";
import { startOrigin, sendJson } from "../support/origins.mjs";

const TOKEN = "stale-test-token";
const auth = { access_token: TOKEN };
let gateway, pi, slow;

/** A Pi whose /system reading the test sets, and which can be told to fail: `"reset"` (the
 *  connection is dropped: unreachable), `"hang"` (no answer before the gateway's timeout) or a
 *  status such as 503. */
async function startFlakyPi() {
  let reading = 40;
  let failure = null;
  const origin = await startOrigin(async (req, res) => {
    if (failure === "reset") return req.socket.destroy();
    if (failure === "hang") await new Promise((resolve) => setTimeout(resolve, 2500));
    else if (failure) return sendJson(res, failure, { detail: "down" });
    sendJson(res, 200, { systemTemperature: reading, path: req.url }, { etag: `"${reading}"` });
  });
  return { ...origin, set: (value) => { reading = value; failure = null; }, fail: (how) => { failure = how; } };
}

before(async () => {
  [pi, slow] = await Promise.all([
    startFlakyPi(),
    // Answers after 300 ms; `cookie` paths set a cookie (an answer that may not be shared).
    startOrigin(async (req, res) => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const headers = req.url.startsWith("/cookie") ? { "set-cookie": "session=1" } : {};
      sendJson(res, 200, { path: req.url, n: slow.received.length, pad: "x".repeat(20000) }, headers);
    }),
  ]);
  gateway = await startGateway({
    config: {
      auth: { token: "${AUTH_TOKEN}" },
      extensions: { rest: { services: [
        { name: "livingroom", base_url: pi.url + "/", expose: "telemetry", cache: 1, stale_if_error: 30, timeout: 1 },
        { name: "plainpi", base_url: pi.url + "/", expose: "telemetry", cache: 1, timeout: 1 },
        { name: "slow", base_url: slow.url + "/", expose: "inference", cache: 30, timeout: 5 },
      ] } },
    },
    vars: { AUTH_TOKEN: TOKEN },
  });
});
after(() => Promise.all([gateway?.close(), pi?.close(), slow?.close()]));

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function read(path, headers = {}) {
  const response = await gateway.fetch(path, { headers: { ...auth, ...headers } });
  return { status: response.status, cache: response.headers.get("x-cache-status"), age: response.headers.get("age"), body: await json(response) };
}

test("a Pi that goes down is answered from the stored reading, STALE with its Age, until it is back", async () => {
  pi.set(41);
  const first = await read("/pi/livingroom/system");
  assert.deepEqual([first.status, first.cache, first.body.systemTemperature], [200, "MISS", 41]);
  assert.equal((await read("/pi/livingroom/system")).cache, "HIT");
  await sleep(1200); // past `cache`
  const reached = pi.received.length;
  for (const failure of ["reset", 503, 502, 504, "hang"]) {
    pi.fail(failure);
    const stale = await read("/pi/livingroom/system");
    assert.deepEqual([stale.status, stale.cache, stale.body.systemTemperature], [200, "STALE", 41], `origin ${failure}`);
    assert.ok(Number(stale.age) >= 1 && Number(stale.age) < 30, `Age ${stale.age} (origin ${failure})`);
  }
  assert.equal(pi.received.length - reached, 5, "every stale answer was asked of the origin first");
  // The dashboard's no-cache reads get the stored reading too.
  const refreshed = await read("/pi/livingroom/system", { "cache-control": "no-cache" });
  assert.deepEqual([refreshed.cache, refreshed.body.systemTemperature], ["STALE", 41]);
  // A client holding the stored ETag gets a 304, still STALE.
  const notModified = await gateway.fetch("/pi/livingroom/system", { headers: { ...auth, "if-none-match": '"41"' } });
  assert.deepEqual([notModified.status, notModified.headers.get("x-cache-status")], [304, "STALE"]);
  // Back: the new reading replaces the stored one.
  pi.set(42);
  const back = await read("/pi/livingroom/system");
  assert.deepEqual([back.status, back.cache, back.age, back.body.systemTemperature], [200, "MISS", null, 42]);
  assert.deepEqual([(await read("/pi/livingroom/system")).cache, (await read("/pi/livingroom/system")).body.systemTemperature], ["HIT", 42]);
  await sleep(1200);
  pi.fail(503);
  const again = await read("/pi/livingroom/system");
  assert.deepEqual([again.cache, again.body.systemTemperature], ["STALE", 42]);
  pi.set(43);
});

test("without stale_if_error a failed origin is an error, as before", async () => {
  pi.set(40);
  assert.equal((await read("/pi/plainpi/system")).cache, "MISS");
  await sleep(1200);
  pi.fail(503);
  const failed = await read("/pi/plainpi/system");
  assert.deepEqual([failed.status, failed.cache, failed.age], [503, "MISS", null]);
  pi.fail("reset");
  const unreachable = await read("/pi/plainpi/system");
  assert.deepEqual([unreachable.status, unreachable.body.reason], [502, "BadGateway"]);
  pi.set(40);
});

test("concurrent identical misses reach the origin once, and each caller gets the whole answer", async () => {
  const before = slow.received.length;
  const answers = await Promise.all(Array.from({ length: 8 }, () => read("/models/slow/shared?q=1")));
  assert.equal(slow.received.length - before, 1, "one request reached the origin");
  for (const answer of answers) {
    assert.deepEqual([answer.status, answer.cache, answer.body.path, answer.body.pad.length], [200, "MISS", "/shared?q=1", 20000]);
  }
  assert.equal(new Set(answers.map((answer) => answer.body.n)).size, 1, "all got the same answer");
  // Other URLs are other requests; the stored answer serves the next caller.
  await Promise.all([read("/models/slow/shared?q=2"), read("/models/slow/shared?q=3")]);
  assert.equal(slow.received.length - before, 3);
  assert.equal((await read("/models/slow/shared?q=1")).cache, "HIT");
});

test("an answer that may not be shared sends each waiting caller on its own", async () => {
  const before = slow.received.length;
  const answers = await Promise.all(Array.from({ length: 4 }, () => read("/models/slow/cookie")));
  assert.ok(answers.every((answer) => answer.status === 200 && answer.body.path === "/cookie"));
  assert.equal(slow.received.length - before, 4, "each caller asked the origin itself");
});
