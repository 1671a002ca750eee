// Large proxied answers come through the idle cut's sized reads byte for byte: with a declared length
// (reads sized to what is left of it) and chunked (reads starting small and doubling), with chunks
// of odd sizes so that no read boundary falls where a buffer's does; and on a cached service, whose
// answer is split between the client and the store (a declared one once came out empty there).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { startGateway } from "../support/gateway.mjs";
import { startOrigin } from "../support/origins.mjs";

const TOKEN = "large-answers-token";
const SIZE = 3 * 1024 * 1024 + 12345;
const payload = crypto.randomBytes(SIZE);
let origin, gateway;

before(async () => {
  origin = await startOrigin(async (req, res) => {
    const chunked = req.url.startsWith("/chunked");
    res.writeHead(200, chunked ? { "content-type": "application/octet-stream" } : { "content-type": "application/octet-stream", "content-length": SIZE });
    for (let at = 0; at < SIZE; at += 70001) {
      if (!res.write(payload.subarray(at, Math.min(at + 70001, SIZE)))) await new Promise((resolve) => res.once("drain", resolve));
    }
    res.end();
  });
  gateway = await startGateway({
    config: { auth: { token: "${AUTH_TOKEN}" }, extensions: { rest: { services: [
      { name: "blob", base_url: origin.url + "/", expose: "inference" },
      { name: "kept", base_url: origin.url + "/", expose: "inference", cache: 60 },
    ] } } },
    vars: { AUTH_TOKEN: TOKEN },
  });
});
after(async () => {
  await gateway?.close();
  await origin?.close();
});

for (const [service, kind] of [["blob", "declared"], ["blob", "chunked"], ["kept", "declared"], ["kept", "chunked"]]) {
  test(`a ${kind} answer of 3 MB arrives whole and unchanged${service === "kept" ? " from a cached service" : ""}`, async () => {
    const response = await gateway.fetch(`/models/${service}/${kind}`, { headers: { access_token: TOKEN } });
    assert.equal(response.status, 200);
    const body = Buffer.from(await response.arrayBuffer());
    assert.equal(body.length, SIZE);
    assert.ok(body.equals(payload), "the same bytes in the same order");
  });
}

// Several answers at once, read by clients that pause, arrive byte for byte: the idle cut reads
// into one buffer per answer, again and again (a smoke test; the runtime copies a chunk when it is
// written, so a buffer reused too early would not show here).
test("answers read slowly by several clients at once arrive whole and unchanged", async () => {
  const readSlowly = async (kind) => {
    const response = await gateway.fetch(`/models/blob/${kind}`, { headers: { access_token: TOKEN } });
    assert.equal(response.status, 200);
    const reader = response.body.getReader();
    const chunks = [];
    for (let n = 0; ; n++) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(Buffer.from(value));
      if (n % 8 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return Buffer.concat(chunks);
  };
  const bodies = await Promise.all(["declared", "chunked", "declared", "chunked"].map(readSlowly));
  for (const body of bodies) {
    assert.equal(body.length, SIZE);
    assert.ok(body.equals(payload), "the same bytes in the same order");
  }
});
