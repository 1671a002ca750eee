// Consumers and path rules through workerd: a consumer reaches what its allow names and nothing
// else, its origin learns its name (never a client's claim), and a Pi's path rules hold for every
// caller.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway, json } from "../support/gateway.mjs";
import { startModel, startPi } from "../support/origins.mjs";

const TOKEN = "consumers-admin-token";
const SHOP_KEY = "consumers-shop-key";
const DISPLAY_KEY = "consumers-display-key";
const PI_KEY = "pi-api-key";
let gateway, model, pi;

before(async () => {
  [model, pi] = await Promise.all([startModel(), startPi(PI_KEY)]);
  gateway = await startGateway({
    config: {
      auth: {
        token: "${AUTH_TOKEN}",
        webhook: "required",
        consumers: [
          { name: "shop", key: "${SHOP_KEY}", allow: ["webhook", "models/catsdogs"] },
          { name: "wall-display", key: "${DISPLAY_KEY}", allow: ["pi/livingroom"] },
        ],
      },
      extensions: { rest: { services: [
        { name: "catsdogs", base_url: model.url + "/", expose: "inference" },
        { name: "livingroom", base_url: pi.url + "/", expose: "telemetry", headers: { access_token: "${PI_KEY}" },
          paths: ["/system", "/clients/*"] },
        { name: "kitchen", base_url: pi.url + "/", expose: "telemetry", headers: { access_token: "${PI_KEY}" } },
      ] } },
      dialog: [{ condition: "true", response: "hello" }],
    },
    vars: { AUTH_TOKEN: TOKEN, SHOP_KEY, DISPLAY_KEY, PI_KEY },
  });
});
after(() => Promise.all([gateway?.close(), model?.close(), pi?.close()]));

/** The last request log line that `matches`, waiting a little for the runtime's output. */
async function logLine(matches) {
  for (let tries = 0; tries < 40; tries++) {
    const line = gateway.logs
      .map((l) => { try { return JSON.parse(l.slice(l.indexOf("{"))); } catch { return null; } })
      .filter((l) => l && matches(l)).at(-1);
    if (line) return line;
    await new Promise((r) => setTimeout(r, 50));
  }
  return undefined;
}

test("a consumer calls its model, with its name and without a forged one", async () => {
  const response = await gateway.fetch(`/models/catsdogs/health?token=${SHOP_KEY}`, {
    headers: { "x-gateway-consumer": "admin" },
  });
  assert.equal(response.status, 200);
  const sent = model.received.at(-1);
  assert.equal(sent.headers["x-gateway-consumer"], "shop");
  assert.equal(sent.url, "/health");
  const line = await logLine((l) => l.path === "/models/catsdogs/health");
  assert.equal(line?.consumer, "shop", gateway.logs.join("\n"));
});

test("everything else answers a consumer 403 in Rasa's body", async () => {
  const before = pi.received.length;
  for (const path of ["/pi/livingroom/system", "/pi/", "/status", "/models/unknown/x"]) {
    const response = await gateway.fetch(path, { headers: { access_token: SHOP_KEY } });
    assert.equal(response.status, 403, path);
    const body = await json(response);
    assert.equal(body.message, "User has insufficient permissions.");
    assert.equal(body.reason, "NotAuthorized");
  }
  assert.equal(pi.received.length, before);
  const chat = await gateway.fetch("/webhooks/rest/webhook", {
    method: "POST", headers: { access_token: DISPLAY_KEY }, body: JSON.stringify({ sender: "u1", message: "hi" }),
  });
  assert.equal(chat.status, 403);
  const shopChat = await gateway.fetch("/webhooks/rest/webhook", {
    method: "POST", headers: { access_token: SHOP_KEY }, body: JSON.stringify({ sender: "u1", message: "hi" }),
  });
  assert.equal(shopChat.status, 200);
});

test("the wall display sees its Pi only, and only the paths it forwards", async () => {
  const list = await gateway.fetch("/pi/", { headers: { access_token: DISPLAY_KEY } });
  assert.deepEqual(await json(list), { services: ["livingroom"] });
  const admin = await gateway.fetch("/pi/", { headers: { access_token: TOKEN } });
  assert.deepEqual(await json(admin), { services: ["livingroom", "kitchen"] });
  const system = await gateway.fetch("/pi/livingroom/system", { headers: { access_token: DISPLAY_KEY } });
  assert.equal(system.status, 200);
  assert.equal(pi.received.at(-1).headers["x-gateway-consumer"], "wall-display");
  const before = pi.received.length;
  for (const path of ["/pi/livingroom/ap", "/pi/livingroom/ddns", "/pi/livingroom/clients/wlan0%2F..%2F..%2Fddns", "/pi/livingroom/system/"]) {
    for (const key of [DISPLAY_KEY, TOKEN]) {
      const response = await gateway.fetch(path, { headers: { access_token: key } });
      assert.equal(response.status, 404, path);
      assert.equal((await json(response)).reason, "NotFound");
    }
  }
  assert.equal(pi.received.length, before, "nothing outside the paths reached the Pi");
  const kitchen = await gateway.fetch("/pi/kitchen/ap", { headers: { access_token: TOKEN, "x-gateway-consumer": "wall-display" } });
  assert.equal(kitchen.status, 200);
  assert.equal(pi.received.at(-1).headers["x-gateway-consumer"], undefined);
});

test("a consumer mistake is a configuration error naming the field, never the key", async () => {
  const broken = await startGateway({
    config: { auth: { token: "${AUTH_TOKEN}", consumers: [{ name: "shop", key: "${AUTH_TOKEN}" }] } },
    vars: { AUTH_TOKEN: TOKEN },
  });
  try {
    const response = await broken.fetch("/status");
    assert.equal(response.status, 500);
    const text = await response.text();
    assert.match(text, /auth\.consumers\[0\]\.key/);
    assert.ok(!text.includes(TOKEN));
  } finally {
    await broken.close();
  }
});
