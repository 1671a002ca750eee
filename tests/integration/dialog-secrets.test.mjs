// A service's secrets through workerd: where the service's credentials are sent when a template's
// URL names another origin.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway, json } from "../support/gateway.mjs";
import { startOrigin, sendJson } from "../support/origins.mjs";

const SECRETS = {
  VAULT_USER: "vault-user-7Qx",
  VAULT_PASSWORD: "vault-pass-9Zr",
  VAULT_HEADER: "vault-header-4Kd",
  VAULT_PARAMETER: "vault-param-2Wm",
};
const basic = (user, password) => "Basic " + Buffer.from(`${user}:${password}`).toString("base64");

let vault, other, downUrl;
const started = [];
before(async () => {
  [vault, other] = await Promise.all([
    startOrigin((req, res) => {
      if (new URL(req.url, "http://v").pathname === "/api/missing") return sendJson(res, 404, { detail: "Not Found" });
      sendJson(res, 200, { ok: "vault" });
    }),
    startOrigin((req, res) => sendJson(res, 200, { ok: "other" })),
  ]);
  // An origin that was there and is gone: connections to its port are refused.
  const gone = await startOrigin(() => {});
  downUrl = gone.url;
  await gone.close();
});
after(() => Promise.all([vault?.close(), other?.close(), ...started.map((g) => g.close())]));

function withSecrets(baseUrl) {
  const { host } = new URL(baseUrl);
  return {
    base_url: `http://\${VAULT_USER}:\${VAULT_PASSWORD}@${host}/api/`,
    headers: { "x-api-key": "${VAULT_HEADER}" },
    parameters: { api_key: "${VAULT_PARAMETER}" },
  };
}

async function gatewayWith(dialog) {
  const gateway = await startGateway({
    config: {
      extensions: { rest: { services: [
        { name: "vault", ...withSecrets(vault.url) },
        { name: "down", ...withSecrets(downUrl) },
      ] } },
      dialog,
    },
    vars: SECRETS,
  });
  started.push(gateway);
  return gateway;
}

async function say(gateway, message) {
  const response = await gateway.fetch("/webhooks/rest/webhook", {
    method: "POST", body: JSON.stringify({ sender: "u1", message }),
  });
  return { status: response.status, body: await json(response) };
}

function assertNoSecret(what, text) {
  for (const secret of Object.values(SECRETS)) assert.ok(!text.includes(secret), `${what} shows ${secret}: ${text}`);
}

test("a service's credentials stay on its origin; the call's own arguments go anywhere", async () => {
  const elsewhere = other.url.replace("http:", "");
  const gateway = await gatewayWith([
    { condition: "message.text == 'absolute'", response: `{% GET "vault://${other.url}/x" headers {"x-own": "1"} %}{{ rest.json.ok }}` },
    { condition: "message.text == 'scheme-relative'", response: `{% set rest = rest_call(service="vault", url="${elsewhere}/y", parameters={"own": "1"}) %}{{ rest.json.ok }}` },
    { condition: "message.text == 'own auth'", response: `{% GET "vault://${other.url}/z" auth {"user": "me", "password": "mine"} %}{{ rest.json.ok }}` },
    { condition: "true", response: '{% GET "vault://home" %}{{ rest.json.ok }}' },
  ]);
  assert.equal((await say(gateway, "absolute")).body[0].text, "other");
  assert.equal((await say(gateway, "scheme-relative")).body[0].text, "other");
  assert.equal((await say(gateway, "own auth")).body[0].text, "other");
  assert.deepEqual(other.received.map((r) => r.url), ["/x", "/y?own=1", "/z"]);
  for (const request of other.received) assertNoSecret(`the request for ${request.url}`, JSON.stringify(request));
  assert.equal(other.received[0].headers["x-own"], "1");
  assert.equal(other.received[0].headers.authorization, undefined);
  assert.equal(other.received[2].headers.authorization, basic("me", "mine"));
  // Home, everything goes.
  assert.equal((await say(gateway, "home")).body[0].text, "vault");
  assert.equal(vault.received.at(-1).headers["x-api-key"], SECRETS.VAULT_HEADER);
});
