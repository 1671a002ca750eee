// A service's secrets through workerd: what the public chat client and the log see when a
// rest_call fails (a 404, an origin that is down), where the service's credentials are sent when a
// template's URL names another origin, and a configuration error about a secret's value.
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

test("a failed rest_call shows the client and the log no query, no userinfo and no secret", async () => {
  const gateway = await gatewayWith([
    { condition: "message.text == 'missing'", response: '{% GET "vault://missing?page=2" %}never' },
    { condition: "message.text == 'down'", response: '{% GET "down://status?page=2" timeout 3 %}never' },
    { condition: "true", response: '{% GET "vault://x" headers "${VAULT_HEADER}" %}never' },
  ]);
  const missing = await say(gateway, "missing");
  assert.equal(missing.status, 500);
  assert.equal(missing.body.reason, "RestCallFailed");
  assert.equal(
    missing.body.message,
    `REST call failed: Client error '404 Not Found' for url '${vault.url}/api/missing'\n` +
      "For more information check: https://developer.mozilla.org/en-US/docs/Web/HTTP/Status/404",
  );
  assertNoSecret("the 404 answer", JSON.stringify(missing.body));
  // The origin itself got every credential, and the userinfo as Basic auth.
  const sent = vault.received.at(-1);
  assert.equal(sent.url, `/api/missing?page=2&api_key=${SECRETS.VAULT_PARAMETER}`);
  assert.equal(sent.headers["x-api-key"], SECRETS.VAULT_HEADER);
  assert.equal(sent.headers.authorization, basic(SECRETS.VAULT_USER, SECRETS.VAULT_PASSWORD));

  const down = await say(gateway, "down");
  assert.equal(down.status, 500);
  assert.match(down.body.message, /^REST call failed: /);
  assertNoSecret("the network failure", JSON.stringify(down.body));
  assert.ok(!down.body.message.includes("page=2"), down.body.message);

  const wrongType = await say(gateway, "headers as a string");
  assert.equal(wrongType.body.message, "headers must be a dict, got str");
  assertNoSecret("the argument error", JSON.stringify(wrongType.body));

  await new Promise((r) => setTimeout(r, 200));
  assert.ok(gateway.logs.some((line) => line.includes("REST call failed")), gateway.logs.join("\n"));
  assertNoSecret("the log", gateway.logs.join("\n"));
});

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

test("a configuration error names the field and the expected type, never a secret's value", async () => {
  const gateway = await startGateway({
    config: { auth: { jwt: { secret: "${VAULT_PASSWORD}", leeway: "${VAULT_USER}" }, webhook: "${VAULT_HEADER}" } },
    vars: SECRETS,
  });
  started.push(gateway);
  const response = await gateway.fetch("/webhooks/rest/");
  assert.equal(response.status, 500);
  const body = await json(response);
  assert.equal(body.reason, "ConfigError");
  assert.match(body.details.field, /^auth\.(jwt\.leeway|webhook)$/);
  assert.match(body.message, /invalid type: string, expected u64|unknown variant, expected `public` or `required`/);
  assertNoSecret("the configuration error", JSON.stringify(body));
  await new Promise((r) => setTimeout(r, 200));
  assertNoSecret("the log", gateway.logs.join("\n"));
});
