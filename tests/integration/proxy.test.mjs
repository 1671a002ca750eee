// Proxying through workerd to real fake origins: a FastAPI-like model, a RaspAP-like Pi, a Rasa-like
// server. Each origin records what reached it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { startGateway, json } from "../support/gateway.mjs";
import { startModel, startPi, startRasa, startOrigin, sendJson } from "../support/origins.mjs";

const TOKEN = "proxy-test-token";
const PI_KEY = "pi-api-key";
let gateway, model, pi, rasa, slow, closedPort;

before(async () => {
  [model, pi, rasa, slow] = await Promise.all([
    startModel(), startPi(PI_KEY), startRasa({ token: "rasa-token" }),
    startOrigin(async (req, res) => { await new Promise((r) => setTimeout(r, 3000)); sendJson(res, 200, {}); }),
  ]);
  closedPort = await new Promise((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => { const { port } = server.address(); server.close(() => resolve(port)); });
  });
  gateway = await startGateway({
    config: {
      auth: { token: "${AUTH_TOKEN}" },
      cors: { allow_origins: ["https://shop.example"] },
      proxy: { max_body_bytes: 32 * 1024 * 1024 },
      extensions: { rest: { services: [
        { name: "catsdogs", base_url: model.url + "/", expose: "inference", timeout: 30 },
        { name: "small", base_url: model.url + "/", expose: "inference", max_body_bytes: 1024 },
        { name: "livingroom", base_url: pi.url + "/", expose: "telemetry", headers: { access_token: "${PI_KEY}" }, cache: 30 },
        { name: "wrongkey", base_url: pi.url + "/", expose: "telemetry", headers: { access_token: "nope" } },
        { name: "rasa", base_url: rasa.url + "/", expose: "rasa", parameters: { token: "rasa-token" } },
        { name: "rasamodels", base_url: rasa.url + "/models/", expose: "inference", parameters: { token: "rasa-token" } },
        { name: "slow", base_url: slow.url + "/", expose: "inference", timeout: 1 },
        { name: "down", base_url: `http://127.0.0.1:${closedPort}/`, expose: "inference" },
        { name: "internal", base_url: model.url + "/" },
      ] } },
    },
    vars: { AUTH_TOKEN: TOKEN, PI_KEY },
  });
});
after(() => Promise.all([gateway?.close(), model?.close(), pi?.close(), rasa?.close(), slow?.close()]));

const auth = { access_token: TOKEN };

function multipart(size, field = "file") {
  const boundary = "----edge" + Math.random().toString(16).slice(2);
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="cat.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return { body: Buffer.concat([head, Buffer.alloc(size, 0xab), tail]), type: `multipart/form-data; boundary=${boundary}` };
}

test("an image upload reaches the model and its prediction comes back", async () => {
  const { body, type } = multipart(2048);
  const response = await gateway.fetch("/models/catsdogs/upload?explain=1", { method: "POST", headers: { ...auth, "content-type": type }, body });
  assert.equal(response.status, 200);
  assert.deepEqual(await json(response), { prediction: "Cat", values: [0.93, 0.07] });
  const sent = model.received.at(-1);
  assert.equal(sent.url, "/upload?explain=1");
  assert.equal(sent.size, body.length);
  assert.equal(sent.headers["access_token"], undefined);
  assert.equal(sent.headers["x-forwarded-proto"], "http");
  assert.ok(sent.headers["x-forwarded-for"]);
});

test("a 20 MB multipart upload streams through", async () => {
  const { body, type } = multipart(20 * 1024 * 1024);
  const response = await gateway.fetch("/models/catsdogs/upload", { method: "POST", headers: { ...auth, "content-type": type }, body });
  assert.equal(response.status, 200);
  await response.text();
  const crypto = await import("node:crypto");
  assert.equal(model.received.at(-1).size, body.length);
  assert.equal(model.received.at(-1).sha256, crypto.createHash("sha256").update(body).digest("hex"));
});

test("the model's own errors pass through (422 without a file)", async () => {
  const { body, type } = multipart(10, "notfile");
  const response = await gateway.fetch("/models/catsdogs/upload", { method: "POST", headers: { ...auth, "content-type": type }, body });
  assert.equal(response.status, 422);
  assert.equal((await json(response)).detail[0].loc[1], "file");
});

test("bodies over the limit answer 413 and reach nothing", async () => {
  const before = model.received.length;
  const response = await gateway.fetch("/models/small/upload", { method: "POST", headers: auth, body: Buffer.alloc(4096) });
  assert.equal(response.status, 413);
  assert.equal((await json(response)).reason, "PayloadTooLarge");
  assert.equal(model.received.length, before);
});

test("telemetry: the Pi's key is injected, secrets are removed, responses are cached", async () => {
  const ap = await gateway.fetch("/pi/livingroom/ap", { headers: auth });
  const body = await json(ap);
  assert.equal(body.ssid, "raspi-webgui");
  assert.equal(body.wpa_passphrase, undefined);
  const ddns = await json(await gateway.fetch("/pi/livingroom/ddns", { headers: auth }));
  assert.equal(ddns.password, undefined);
  assert.equal(ddns.domain, "pi.duckdns.org");
  assert.equal(pi.received.at(-1).headers["access_token"], PI_KEY);

  const first = await gateway.fetch("/pi/livingroom/system", { headers: auth });
  assert.equal(first.headers.get("x-cache-status"), "MISS");
  assert.equal((await json(first)).hostname, "raspberrypi");
  // The copy is stored after the answer is sent (waitUntil): wait for it to land.
  let second, count;
  for (let attempt = 0; attempt < 30; attempt++) {
    await new Promise((r) => setTimeout(r, 100));
    count = pi.received.length;
    second = await gateway.fetch("/pi/livingroom/system", { headers: auth });
    if (second.headers.get("x-cache-status") === "HIT") break;
    await second.text();
  }
  assert.equal(second.headers.get("x-cache-status"), "HIT");
  assert.equal((await json(second)).hostname, "raspberrypi");
  assert.equal(pi.received.length, count, "a HIT does not reach the Pi");
  const refreshed = await gateway.fetch("/pi/livingroom/system", { headers: { ...auth, "cache-control": "no-cache" } });
  assert.equal(refreshed.headers.get("x-cache-status"), "BYPASS");
  await refreshed.text();
  const other = await gateway.fetch("/pi/livingroom/clients/wlan0", { headers: auth });
  assert.equal(other.headers.get("x-cache-status"), "MISS");
  assert.equal((await json(other)).iface, "wlan0");
});

test("a Pi refusing the key answers its own 403", async () => {
  const response = await gateway.fetch("/pi/wrongkey/system", { headers: auth });
  assert.equal(response.status, 403);
  assert.deepEqual(await json(response), { detail: "403: Unauthorized" });
});

test("Rasa routes get the Rasa token, and model pulls honour If-None-Match", async () => {
  const status = await gateway.fetch(`/status?token=${TOKEN}`);
  assert.equal(status.status, 200);
  assert.equal((await json(status)).model_id, "abc");
  assert.match(rasa.received.at(-1).url, /^\/status\?token=rasa-token$/);
  const parse = await gateway.fetch("/model/parse", { method: "POST", headers: auth, body: JSON.stringify({ text: "hello" }) });
  assert.equal((await json(parse)).intent.name, "greet");

  const pull = await gateway.fetch("/models/rasamodels/model.tar.gz", { headers: auth });
  assert.equal(pull.status, 200);
  const etag = pull.headers.get("etag");
  assert.equal(etag, '"model-v1"');
  assert.equal((await pull.arrayBuffer()).byteLength, 64 * 1024);
  const again = await gateway.fetch("/models/rasamodels/model.tar.gz", { headers: { ...auth, "if-none-match": etag } });
  assert.equal(again.status, 304);
  assert.equal(rasa.received.at(-1).headers["if-none-match"], etag);
});

test("no open proxy: escapes and unexposed services are 404 and reach nothing", async () => {
  const before = model.received.length + pi.received.length + rasa.received.length;
  const attempts = [
    "/models/catsdogs/..%2f..%2finternal", "/models/catsdogs/%2e%2e/%2e%2e/etc/passwd", "/models/catsdogs/%2e%2e",
    "/models/catsdogs/a/%2E%2E/%2E%2E/x", "/models/catsdogs/%5c..%5cx", "/models/internal/health", "/pi/catsdogs/system",
    "/models/nope/x", "/models/catsdogs/..\\..\\x",
  ];
  for (const path of attempts) {
    const response = await gateway.fetch(path, { headers: auth });
    assert.equal(response.status, 404, path);
    assert.equal((await json(response)).reason, "NotFound", path);
  }
  for (const path of ["/models/catsdogs//evil.example/x", "/models/catsdogs/@evil.example/x", "/models/catsdogs/http://evil.example/"]) {
    const response = await gateway.fetch(path, { headers: auth });
    await response.text();
    assert.ok([404, 200].includes(response.status), path);
  }
  const after = model.received.length + pi.received.length + rasa.received.length;
  const reached = model.received.slice(-(after - before)).map((r) => r.url);
  for (const url of reached) assert.ok(url.startsWith("/") && !url.startsWith("//"), url);
});

test("slow origins answer 504, unreachable ones 502, and the next request works", async () => {
  const slowResponse = await gateway.fetch("/models/slow/x", { headers: auth });
  assert.equal(slowResponse.status, 504);
  assert.equal((await json(slowResponse)).reason, "GatewayTimeout");
  const down = await gateway.fetch("/models/down/x", { headers: auth });
  assert.equal(down.status, 502);
  assert.equal((await json(down)).reason, "BadGateway");
  const healthy = await gateway.fetch("/models/catsdogs/health", { headers: auth });
  assert.equal(healthy.status, 200);
  await healthy.text();
});

test("CORS preflight is answered by the gateway", async () => {
  const response = await gateway.fetch("/models/catsdogs/upload", {
    method: "OPTIONS", headers: { origin: "https://shop.example", "access-control-request-method": "POST", "access-control-request-headers": "authorization" },
  });
  assert.equal(response.status, 204);
  assert.equal(response.headers.get("access-control-allow-origin"), "https://shop.example");
  assert.match(response.headers.get("access-control-allow-headers"), /Authorization/);
  const actual = await gateway.fetch("/models/catsdogs/health", { headers: { ...auth, origin: "https://shop.example" } });
  assert.equal(actual.headers.get("access-control-allow-origin"), "https://shop.example");
  await actual.text();
});
