// The foundation through real workerd: health, version, the error shape, configuration errors.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway, json } from "../support/gateway.mjs";

const version = (await import("node:fs")).readFileSync(new URL("../../Cargo.toml", import.meta.url), "utf8").match(/^version = "(.*)"$/m)[1];

const cases = [
  // [name, config, vars, method, path, status, check(body)]
  ["health", {}, {}, "GET", "/health", 200, (b) => assert.deepEqual(b, { status: "OK" })],
  ["version", {}, {}, "GET", "/version", 200, (b) => assert.deepEqual(b, { version })],
  ["webhook status", {}, {}, "GET", "/webhooks/rest/", 200, (b) => assert.deepEqual(b, { status: "ok" })],
  ["unknown route is a Rasa-shaped 404", {}, {}, "GET", "/no/such/route", 404, (b) =>
    assert.deepEqual(b, { version, status: "failure", message: "The requested resource could not be found.", reason: "NotFound", details: {}, help: null, code: 404 })],
  ["missing variable: /version fails naming it", { auth: { token: "${NOPE}" } }, {}, "GET", "/version", 500, (b) => {
    assert.equal(b.reason, "ConfigError");
    assert.match(b.message, /NOPE/);
  }],
  ["missing variable: /health still answers", { auth: { token: "${NOPE}" } }, {}, "GET", "/health", 200, (b) => assert.deepEqual(b, { status: "OK" })],
  ["missing variable: nothing is rendered", { auth: { token: "${NOPE}" } }, {}, "POST", "/webhooks/rest/webhook", 500, (b) => assert.equal(b.reason, "ConfigError")],
  ["variables are substituted", { auth: { token: "${AUTH_TOKEN}" } }, { AUTH_TOKEN: "s3cret" }, "GET", "/version", 200, (b) => assert.deepEqual(b, { version })],
  ["unknown field", { auth: { tokn: "x" } }, {}, "GET", "/version", 500, (b) => {
    assert.equal(b.reason, "ConfigError");
    assert.match(b.message, /tokn/);
  }],
  ["duplicate service names", { extensions: { rest: { services: [{ name: "my_service", base_url: "http://a/" }, { name: "My_Service", base_url: "http://b/" }] } } },
    {}, "GET", "/version", 500, (b) => assert.match(b.message, /Duplicate REST service names: 'My_Service' and 'my_service'/)],
  ["invalid value", { auth: { webhook: "sometimes" } }, {}, "GET", "/version", 500, (b) => assert.match(b.message, /auth\.webhook/)],
  ["template syntax error names the node", { dialog: [{ condition: "true", response: "{% if %}" }] }, {}, "GET", "/version", 500,
    (b) => assert.match(b.message, /dialog\[0\]\.response/)],
  ["not JSON", "{oops", {}, "GET", "/version", 500, (b) => assert.match(b.message, /GATEWAY_CONFIG/)],
  ["method not allowed", {}, {}, "DELETE", "/health", 405, (b) => assert.equal(b.code, 405)],
];

const started = [];
after(() => Promise.all(started.map((g) => g.close())));

for (const [name, config, vars, method, path, status, check] of cases) {
  test(name, async () => {
    const gateway = await startGateway({ config, vars });
    started.push(gateway);
    const response = await gateway.fetch(path, { method, body: method === "POST" ? "{}" : undefined });
    const body = await json(response);
    assert.equal(response.status, status, JSON.stringify(body));
    check(body);
  });
}

test("an object GATEWAY_CONFIG (a [vars] table) works", async () => {
  const gateway = await startGateway({ config: { dialog: [{ condition: "true", response: "obj" }] }, objectConfig: true });
  started.push(gateway);
  const response = await gateway.fetch("/webhooks/rest/webhook", { method: "POST", body: JSON.stringify({ sender: "s", message: "x" }) });
  assert.deepEqual(await json(response), [{ recipient_id: "s", text: "obj" }]);
});

test("one JSON log line per request, without secrets", async () => {
  const gateway = await startGateway({ config: { auth: { token: "${AUTH_TOKEN}" } }, vars: { AUTH_TOKEN: "very-secret-token" } });
  started.push(gateway);
  await (await gateway.fetch("/status?token=very-secret-token", { headers: { "CF-Connecting-IP": "203.0.113.5" } })).text();
  await new Promise((resolve) => setTimeout(resolve, 200));
  const line = gateway.logs.map((l) => { try { return JSON.parse(l); } catch { return null; } }).find((l) => l && l.path === "/status");
  assert.ok(line, gateway.logs.join("\n"));
  assert.equal(line.method, "GET");
  assert.equal(line.status, 404);
  assert.equal(line.client_ip, "203.0.113.5");
  assert.ok(typeof line.duration_ms === "number");
  assert.ok(!gateway.logs.join("\n").includes("very-secret-token"));
});

// The gateway is built while the isolate loads, but what its configuration says is logged with the
// isolate's first request: the platform keeps the log lines of requests.
test("a configuration error is logged once per isolate, with its first request, without the value", async () => {
  const gateway = await startGateway({ config: { auth: { token: "${AUTH_TOKEN}" }, proxy: { max_body_bytes: "${LIMIT}" } }, vars: { AUTH_TOKEN: "t", LIMIT: "s3cret-limit" } });
  started.push(gateway);
  const configErrors = () => gateway.logs.filter((line) => line.includes('"config_error"'));
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.deepEqual(configErrors(), [], "nothing is logged before a request");
  for (let i = 0; i < 2; i++) assert.equal((await gateway.fetch("/version")).status, 500);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(configErrors().length, 1, gateway.logs.join("\n"));
  assert.match(configErrors()[0], /max_body_bytes/);
  assert.ok(!gateway.logs.join("\n").includes("s3cret-limit"));
});

test("static files from www/ are served", async () => {
  const gateway = await startGateway({ config: {} });
  started.push(gateway);
  const response = await gateway.fetch("/");
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type"), /text\/html/);
});
