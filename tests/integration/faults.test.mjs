// Faults at the origin and abusive input: each gets a clear answer in the contract's shape, a POST
// made by a template is never sent twice, and the next normal request succeeds.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { startGateway, json } from "../support/gateway.mjs";
import { startOrigin, sendJson } from "../support/origins.mjs";

let gateway, origin, closedPort;

before(async () => {
  origin = await startOrigin(async (req, res) => {
    const path = new URL(req.url, "http://o").pathname;
    if (path.endsWith("/slow")) await new Promise((r) => setTimeout(r, 2500));
    if (path.endsWith("/reset") || path.endsWith("/reset-large")) {
      const length = path.endsWith("/reset") ? "1000" : String(1024 * 1024); // read whole below 16 KiB, else streamed
      res.writeHead(200, { "content-type": "application/json", "content-length": length });
      res.write('{"partial": ');
      return setTimeout(() => res.socket.destroy(), 50);
    }
    if (path.endsWith("/error")) return sendJson(res, 500, { detail: "boom" });
    if (path.endsWith("/invalid")) {
      res.writeHead(200, { "content-type": "application/json" });
      return res.end("{not json");
    }
    sendJson(res, 200, { ok: 1 });
  });
  closedPort = await new Promise((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => { const { port } = server.address(); server.close(() => resolve(port)); });
  });
  const call = (path) => `{% POST "o://${path}" body {"n": 1} on_error "continue" %}{{ rest.ok }}/{{ rest.status_code }}`;
  gateway = await startGateway({
    config: {
      extensions: { rest: { services: [
        { name: "o", base_url: origin.url + "/", timeout: 1, expose: "inference" },
        { name: "down", base_url: `http://127.0.0.1:${closedPort}/`, expose: "inference" },
      ] } },
      dialog: ["refused", "slow", "reset", "error", "invalid", "fine"].map((kind) => ({
        condition: `message.text == '${kind}'`,
        response: kind === "refused" ? '{% POST "down://x" body {"n": 1} on_error "continue" %}{{ rest.ok }}' : call(kind),
      })),
    },
  });
});
after(() => Promise.all([gateway?.close(), origin?.close()]));

async function say(message) {
  const response = await gateway.fetch("/webhooks/rest/webhook", { method: "POST", body: JSON.stringify({ sender: "f", message }) });
  return { status: response.status, body: await json(response) };
}

async function stillHealthy() {
  const { status, body } = await say("fine");
  assert.equal(status, 200);
  assert.equal(body[0].text, "True/200");
}

test("template calls to failing origins: one POST each, a clear result, then a normal request", async () => {
  const expected = { refused: "False", slow: "False/", reset: "False/", error: "False/500", invalid: "True/200" };
  for (const [kind, text] of Object.entries(expected)) {
    const before = origin.received.filter((r) => r.url === `/${kind}`).length;
    const { status, body } = await say(kind);
    assert.equal(status, 200, kind);
    assert.equal(body[0].text, text, kind);
    const sent = origin.received.filter((r) => r.url === `/${kind}`).length - before;
    assert.equal(sent, kind === "refused" ? 0 : 1, `${kind}: the POST reached the origin exactly once`);
    await stillHealthy();
  }
});

test("proxied requests to failing origins: 502, 504, the origin's own 500, then a normal request", async () => {
  // A small answer the origin cuts short is read whole first, so it is a 502 in the error shape.
  const cases = [["/models/down/x", 502], ["/models/o/slow", 504], ["/models/o/error", 500], ["/models/o/reset", 502]];
  for (const [path, status] of cases) {
    const response = await gateway.fetch(path);
    assert.equal(response.status, status, path);
    await response.text();
  }
  // The declared length is kept, so a body cut by the origin fails instead of ending as if complete.
  // (Asked uncompressed: the runtime's own gzip on the way out would end the stream on its own.)
  const cut = await gateway.fetch("/models/o/reset-large", { headers: { "accept-encoding": "identity" } });
  assert.equal(cut.headers.get("content-length"), String(1024 * 1024));
  const reset = await cut.text().then(() => "complete", () => "broken");
  assert.equal(reset, "broken", "a body cut by the origin is not passed off as complete");
  const fine = await gateway.fetch("/models/o/fine");
  assert.equal(fine.status, 200);
  assert.deepEqual(await json(fine), { ok: 1 });
});

test("a 50 MB JSON body to the webhook is refused and loses nothing", async () => {
  const huge = JSON.stringify({ sender: "f", message: "x".repeat(50 * 1024 * 1024) });
  const response = await gateway.fetch("/webhooks/rest/webhook", { method: "POST", body: huge });
  assert.equal(response.status, 413);
  assert.equal((await json(response)).reason, "PayloadTooLarge");
  await stillHealthy();
});

test("malformed requests get 400s in the contract's shape", async () => {
  for (const body of ["{", "[]", '{"sender": {}}', '{"metadata": "x"}', "\u0000"]) {
    const response = await gateway.fetch("/webhooks/rest/webhook", { method: "POST", body });
    assert.equal(response.status, 400, body);
    const error = await json(response);
    assert.equal(error.status, "failure");
    assert.equal(error.reason, "BadRequest");
  }
  await stillHealthy();
});

test("a chat message whose client sends less than it declared and stops gets a 400, and the gateway lives on", async () => {
  const { hostname, port } = new URL(gateway.url);
  const answer = await new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => {
      socket.write(`POST /webhooks/rest/webhook HTTP/1.1\r\nhost: ${hostname}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"sender": "s"`);
      socket.end(); // the rest never comes
    });
    let text = "";
    socket.on("data", (chunk) => (text += chunk));
    socket.on("close", () => resolve(text));
    socket.on("error", reject);
  });
  const status = Number(answer.match(/^HTTP\/1\.1 (\d+)/)?.[1]);
  // A read that failed is the client's error (never a 413, nor a trap's 500).
  assert.equal(status, 400, answer.slice(0, 300));
  assert.match(answer, /"reason":"BadRequest"/);
  await stillHealthy();
});
