// Header smuggling: a header built by a template from the message or its metadata, or a service's
// header from a secret, that holds a line break must never become a header of its own at the
// origin. Such a call is a clear error and nothing is sent; valid headers cross intact both ways.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway, json } from "../support/gateway.mjs";
import { startOrigin, sendJson } from "../support/origins.mjs";

let origin, gateway;
const INJECTED = "hi\r\nAuthorization: Bearer evil\r\nX-Injected: 1";

before(async () => {
  origin = await startOrigin((req, res) => {
    res.setHeader("x-colons", "a:b:c");
    // Header bytes are UTF-8 here (the runtime reads them so); Node writes strings byte per char.
    res.setHeader("x-utf8", Buffer.from("caf\u00e9 \u20ac", "utf8").toString("latin1"));
    res.setHeader("x-count", ["1", "2"]);
    sendJson(res, 200, { headers: req.headers });
  });
  const note = (source, extra = "") => `{% GET "api://echo" headers {"x-note": ${source}} ${extra} %}{{ rest.ok }}`;
  gateway = await startGateway({
    config: {
      extensions: { rest: { services: [
        { name: "api", base_url: origin.url + "/", headers: { "x-key": "k-1" } },
        { name: "leaky", base_url: origin.url + "/", expose: "inference", headers: { "x-key": "${LEAKY_KEY}" } },
        { name: "model", base_url: origin.url + "/", expose: "inference" },
      ] } },
      dialog: [
        { condition: "metadata.case == 'meta'", response: note("metadata.note") },
        { condition: "metadata.case == 'name'", response: '{{ rest_call(url="api://echo", headers={message.text: "1"}).ok }}' },
        { condition: "metadata.case == 'continue'", response: note("message.text", 'on_error "continue"') },
        { condition: "true", response: note("message.text") },
      ],
    },
    vars: { LEAKY_KEY: "k-2\r\nAuthorization: Bearer evil" },
  });
});
after(() => Promise.all([gateway?.close(), origin?.close()]));

async function say(message, metadata = {}) {
  const response = await gateway.fetch("/webhooks/rest/webhook", {
    method: "POST", body: JSON.stringify({ sender: "h", message, metadata }),
  });
  return { status: response.status, body: await json(response) };
}

test("a template header with CR LF from message.text is a rest_call error and nothing reaches the origin", async () => {
  for (const [message, metadata, named] of [
    [INJECTED, {}, "x-note"],
    ["meta", { case: "meta", note: INJECTED }, "x-note"],
    ["x-note\r\nAuthorization", { case: "name" }, "x-note\\r\\nauthorization"],
    ["line\nfeed only", {}, "x-note"],
    ["nul\u0000byte", {}, "x-note"],
  ]) {
    const before = origin.received.length;
    const { status, body } = await say(message, metadata);
    assert.equal(status, 500, message);
    assert.equal(body.reason, "RestCallFailed");
    assert.match(body.message, /^REST call failed: /);
    assert.ok(body.message.includes(`'${named}'`), body.message);
    assert.ok(!body.message.includes("evil"), "the value is never shown");
    assert.equal(origin.received.length, before, `${JSON.stringify(message)}: nothing was sent`);
  }
  // on_error "continue": the template goes on with a failed result, and still nothing was sent.
  const before = origin.received.length;
  const { status, body } = await say(INJECTED, { case: "continue" });
  assert.equal(status, 200);
  assert.equal(body[0].text, "False");
  assert.equal(origin.received.length, before);
  assert.ok(origin.received.every((r) => r.headers.authorization === undefined && r.headers["x-injected"] === undefined));
});

test("valid template headers reach the origin exactly as built", async () => {
  const { status, body } = await say("a: b, c\td");
  assert.equal(status, 200);
  assert.equal(body[0].text, "True");
  const sent = origin.received.at(-1);
  assert.equal(sent.headers["x-note"], "a: b, c\td");
  assert.equal(sent.headers["x-key"], "k-1");
  assert.equal(sent.headers.authorization, undefined);
});

test("a service header from a secret with a line break is refused, nothing is proxied", async () => {
  const before = origin.received.length;
  const response = await gateway.fetch("/models/leaky/predict");
  assert.equal(response.status, 500);
  const error = await json(response);
  assert.equal(error.reason, "ConfigError");
  assert.ok(error.message.includes("'x-key'") && !error.message.includes("evil"), error.message);
  assert.equal(origin.received.length, before);
});

test("headers cross the runtime boundary intact both ways", async () => {
  const response = await gateway.fetch("/models/model/echo", {
    headers: { "x-client": "v:1, w=2; q=\"x\"", "x-empty": "" },
  });
  assert.equal(response.status, 200);
  const { headers } = await json(response);
  assert.equal(headers["x-client"], "v:1, w=2; q=\"x\"");
  assert.equal(headers["x-empty"], "");
  assert.equal(response.headers.get("x-colons"), "a:b:c");
  assert.equal(Buffer.from(response.headers.get("x-utf8"), "latin1").toString("utf8"), "caf\u00e9 \u20ac");
  assert.equal(response.headers.get("x-count"), "1, 2");
});
