// The published demo token never protects a deployed gateway: wrangler.toml's own [vars] (its
// GATEWAY_CONFIG and AUTH_TOKEN), as `wrangler deploy` would upload them, answer a configuration
// error that says to set a real secret; /health still answers. With GATEWAY_DEMO=true, which only
// local runs pass, the same variables work.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { startGateway, json } from "../support/gateway.mjs";

const toml = fs.readFileSync(new URL("../../wrangler.toml", import.meta.url), "utf8");
const vars = {
  GATEWAY_CONFIG: toml.match(/^GATEWAY_CONFIG = '''\n([\s\S]*?)'''$/m)[1],
  AUTH_TOKEN: toml.match(/^AUTH_TOKEN = "(.*)"$/m)[1],
};
const started = [];
after(() => Promise.all(started.map((gateway) => gateway.close())));

async function start(extra = {}) {
  const gateway = await startGateway({ vars: { ...vars, ...extra } });
  started.push(gateway);
  return gateway;
}
const chat = (gateway) => gateway.fetch("/webhooks/rest/webhook", {
  method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ sender: "ann", message: "hello" }),
});

test("deployed with the demo token, the gateway refuses with a configuration error naming the fix", async () => {
  const gateway = await start();
  assert.deepEqual(await json(await gateway.fetch("/health")), { status: "OK" });
  for (const response of [await gateway.fetch("/pi/", { headers: { access_token: vars.AUTH_TOKEN } }), await chat(gateway)]) {
    assert.equal(response.status, 500);
    const body = await json(response);
    assert.equal(body.reason, "ConfigError");
    assert.match(body.message, /^auth\.token: is the demo token/);
    assert.match(body.message, /wrangler secret put AUTH_TOKEN/);
    assert.equal(body.message.includes(vars.AUTH_TOKEN), false, "the token is not repeated");
    assert.deepEqual(body.details, { field: "auth.token" });
  }
});

test("locally, with GATEWAY_DEMO=true, the demo token works", async () => {
  const gateway = await start({ GATEWAY_DEMO: "true" });
  const reply = await chat(gateway);
  assert.equal(reply.status, 200);
  assert.match((await json(reply))[0].text, /demo bot/);
  const pis = await gateway.fetch("/pi/", { headers: { access_token: vars.AUTH_TOKEN } });
  assert.equal(pis.status, 200);
  assert.equal((await gateway.fetch("/pi/", { headers: { access_token: "wrong" } })).status, 401);
});

test("a real secret needs no flag", async () => {
  const gateway = await start({ AUTH_TOKEN: "a-long-random-secret" });
  assert.equal((await chat(gateway)).status, 200);
  assert.equal((await gateway.fetch("/pi/", { headers: { access_token: "a-long-random-secret" } })).status, 200);
});
