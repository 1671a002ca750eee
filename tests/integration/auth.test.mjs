// A representative subset of the auth attack table through workerd, with tokens minted by Node's
// crypto and an OIDC issuer serving its JWKS over HTTP (its requests are counted).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway, json } from "../support/gateway.mjs";
import crypto from "node:crypto";
import { startIssuer, startRasa, startModel, startOrigin, mintJwt, now } from "../support/origins.mjs";

const SECRET = "jwt-secret-for-tests";
const TOKEN = "shared-token-for-tests";
let gateway, issuer, rasa, model;

before(async () => {
  [issuer, rasa, model] = await Promise.all([startIssuer(), startRasa(), startModel()]);
  gateway = await startGateway({
    config: {
      auth: {
        token: "${AUTH_TOKEN}",
        jwt: { secret: "${JWT_SECRET}", algorithm: "HS256" },
        oidc: { issuer: issuer.issuer, audience: "catsdogs-api", jwks_uri: issuer.url + "/.well-known/jwks.json" },
      },
      dialog: [{ condition: "true", response: "Hello {{ dialog.user_id }}." }],
      extensions: { rest: { services: [
        { name: "rasa", base_url: rasa.url + "/", expose: "rasa" },
        { name: "catsdogs", base_url: model.url + "/", expose: "inference", scope: "get::prediction" },
      ] } },
    },
    vars: { AUTH_TOKEN: TOKEN, JWT_SECRET: SECRET },
  });
});
after(() => Promise.all([gateway?.close(), issuer?.close(), rasa?.close(), model?.close()]));

const hs = (user, extra = {}) => mintJwt({ alg: "HS256", typ: "JWT" }, { user, exp: now() + 600, ...extra }, SECRET);
const bearer = (t) => ({ authorization: `Bearer ${t}` });
const access = (alg, kid, claims = {}) => {
  const key = alg === "RS256" ? issuer.rsa.privateKey : issuer.ec.privateKey;
  const base = { iss: issuer.issuer, aud: ["catsdogs-api"], sub: "client", exp: now() + 300, scope: "get::prediction" };
  return mintJwt({ alg, kid, typ: "at+jwt" }, { ...base, ...claims }, key);
};

test("Rasa's own cases", async () => {
  const admin = hs({ username: "testadmin", role: "admin" });
  const user = hs({ username: "testuser", role: "user" });
  const cases = [
    [`/conversations/testadmin/tracker?token=${TOKEN}`, {}, 200],
    [`/conversations/testuser/tracker?token=${TOKEN}`, {}, 200],
    ["/conversations/testadmin/tracker", bearer(admin), 200],
    ["/conversations/testadmin/tracker", bearer(user), 403],
    ["/conversations/testuser/tracker", bearer(user), 200],
    ["/status", bearer(user), 403],
    ["/status", {}, 401],
    ["/status", { access_token: TOKEN }, 200],
  ];
  for (const [path, headers, status] of cases) {
    const response = await gateway.fetch(path, { headers });
    const body = await json(response);
    assert.equal(response.status, status, `${path} ${JSON.stringify(headers)}: ${JSON.stringify(body)}`);
    if (status === 401) {
      assert.deepEqual({ ...body, version: undefined }, { version: undefined, status: "failure", message: "User is not authenticated.", reason: "NotAuthenticated", details: {}, help: null, code: 401 });
    }
    if (status === 403) assert.equal(body.reason, "NotAuthorized");
  }
});

test("attacks are refused with 401", async () => {
  const adminClaims = { user: { username: "a", role: "admin" }, exp: now() + 600 };
  const admin = mintJwt({ alg: "HS256" }, adminClaims, SECRET);
  const attacks = {
    "alg none": mintJwt({ alg: "none" }, adminClaims, ""),
    "HS384 instead of the pinned HS256": mintJwt({ alg: "HS384" }, adminClaims, SECRET),
    "wrong secret": mintJwt({ alg: "HS256" }, adminClaims, "guess"),
    "tampered payload": admin.split(".")[0] + "." + Buffer.from(JSON.stringify({ ...adminClaims, user: { username: "b", role: "admin" } })).toString("base64url") + "." + admin.split(".")[2],
    "truncated signature": admin.slice(0, -6),
    "expired beyond leeway": hs({ username: "a", role: "admin" }, { exp: now() - 200 }),
    "nbf in the future": hs({ username: "a", role: "admin" }, { nbf: now() + 600 }),
  };
  for (const [name, token] of Object.entries(attacks)) {
    const response = await gateway.fetch("/status", { headers: bearer(token) });
    assert.equal(response.status, 401, name);
    await response.text();
  }
  for (const header of [`bearer ${admin}`, `Token ${admin}`, `Bearer ${admin} x`, "Bearer ", `Bearer ${"a".repeat(10 * 1024)}`]) {
    const response = await gateway.fetch("/status", { headers: { authorization: header } });
    assert.equal(response.status, 401, header.slice(0, 20));
    await response.text();
  }
  const both = await gateway.fetch(`/status?token=${TOKEN}`, { headers: { access_token: "other" } });
  assert.equal(both.status, 401, "two different tokens are ambiguous");
  await both.text();
});

test("OIDC access tokens: scope, issuer, audience, expiry; the JWKS is fetched once", async () => {
  const before = issuer.received.length;
  const cases = [
    [access("RS256", "rsa-1"), 200],
    [access("ES256", "ec-1"), 200],
    [access("RS256", "rsa-1", { scope: undefined, scp: ["get::prediction"] }), 200],
    [access("RS256", "rsa-1", { scope: "openid" }), 403],
    [access("RS256", "rsa-1", { iss: "https://evil.example/" }), 401],
    [access("RS256", "rsa-1", { aud: "other" }), 401],
    [access("RS256", "rsa-1", { exp: undefined }), 401],
    [access("RS256", "rsa-1", { exp: now() - 3600 }), 401],
  ];
  for (const [token, status] of cases) {
    const response = await gateway.fetch("/models/catsdogs/health", { headers: bearer(token) });
    const body = await json(response);
    assert.equal(response.status, status, JSON.stringify(body));
    if (status === 403) assert.equal(body.message, "User has insufficient permissions.");
  }
  assert.equal(issuer.received.length - before, 1, "the JWKS is fetched once, then cached");
  const onRasa = await gateway.fetch("/status", { headers: bearer(access("RS256", "rsa-1")) });
  assert.equal(onRasa.status, 403);
  await onRasa.text();
});

test("client credentials never reach the origin", async () => {
  const response = await gateway.fetch(`/status?token=${TOKEN}`, { headers: { access_token: TOKEN, authorization: "Bearer x.y.z" } });
  assert.equal(response.status, 200);
  await response.text();
  const last = rasa.received.at(-1);
  assert.equal(new URL(last.url, "http://x").searchParams.get("token"), null);
  assert.equal(last.headers["access_token"], undefined);
  assert.equal(last.headers["authorization"], undefined);
});

/** A gateway whose OIDC issuer is `issuerUrl`, with the catsdogs model and a one-node dialog. */
const gatewayWith = (auth) =>
  startGateway({
    config: {
      auth: { jwt: { secret: "${JWT_SECRET}", algorithm: "HS256" }, ...auth },
      dialog: [{ condition: "true", response: "Hello {{ dialog.user_id }}." }],
      extensions: { rest: { services: [{ name: "catsdogs", base_url: model.url + "/", expose: "inference", scope: "get::prediction" }] } },
    },
    vars: { JWT_SECRET: SECRET },
  });

test("a failing JWKS issuer is asked once, not on every request", async () => {
  const failing = await startOrigin((_req, res) => {
    res.writeHead(500, { "content-type": "text/plain" });
    res.end("issuer down");
  });
  const down = await gatewayWith({ oidc: { issuer: issuer.issuer, audience: "catsdogs-api", jwks_uri: failing.url + "/jwks.json" } });
  try {
    const token = access("RS256", "rsa-1");
    for (let i = 0; i < 6; i++) {
      const response = await down.fetch("/models/catsdogs/health", { headers: bearer(token) });
      assert.equal(response.status, 401);
      await response.text();
    }
    const rotated = access("RS256", "rsa-2");
    const unknownKid = await down.fetch("/models/catsdogs/health", { headers: bearer(rotated) });
    assert.equal(unknownKid.status, 401);
    await unknownKid.text();
    assert.equal(failing.received.length, 1, "the failing issuer was asked again during its backoff");
    // Its failure is logged, without the token.
    assert.ok(down.logs.some((line) => line.includes("jwks_fetch_failed")), down.logs.join("\n"));
    for (const line of down.logs) {
      assert.ok(!line.includes(token.split(".")[1]) && !line.includes(rotated.split(".")[2]), line);
    }
  } finally {
    await Promise.all([down.close(), failing.close()]);
  }
});

test("a JWKS issuer that never answers costs one timeout, not one per request", async () => {
  const hanging = await startOrigin(() => new Promise(() => {}));
  const slow = await gatewayWith({ oidc: { issuer: issuer.issuer, audience: "catsdogs-api", jwks_uri: hanging.url + "/jwks.json" } });
  try {
    const token = access("RS256", "rsa-1");
    const first = await slow.fetch("/models/catsdogs/health", { headers: bearer(token) });
    assert.equal(first.status, 401);
    await first.text();
    const started = Date.now();
    for (let i = 0; i < 5; i++) {
      const response = await slow.fetch("/models/catsdogs/health", { headers: bearer(token) });
      assert.equal(response.status, 401);
      await response.text();
    }
    assert.ok(Date.now() - started < 2000, `five requests took ${Date.now() - started} ms`);
    assert.equal(hanging.received.length, 1);
  } finally {
    await Promise.all([slow.close(), hanging.close()]);
  }
});

test("a public webhook answers every caller as an anonymous one; a required one applies Rasa's rules", async () => {
  const other = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  const callers = {
    "anonymous": {},
    "a valid OIDC access token": bearer(access("RS256", "rsa-1")),
    "an OIDC token without the scope": bearer(access("RS256", "rsa-1", { scope: "openid" })),
    "a JWT with another role": bearer(hs({ username: "visitor-1", role: "guest" })),
    "a JWT without a user claim": bearer(mintJwt({ alg: "HS256" }, { exp: now() + 600 }, SECRET)),
    "a user JWT of another sender": bearer(hs({ username: "testuser", role: "user" })),
    "a user JWT of this sender": bearer(hs({ username: "visitor-1", role: "user" })),
    "an invalid JWT": bearer(mintJwt({ alg: "HS256" }, { user: { username: "visitor-1", role: "admin" } }, "guess")),
    "a token signed by an unknown key": bearer(mintJwt({ alg: "RS256", kid: "rsa-1" }, { iss: issuer.issuer, aud: "catsdogs-api", exp: now() + 60 }, other.privateKey)),
    "a wrong shared token": { access_token: "nope" },
  };
  const body = JSON.stringify({ sender: "visitor-1", message: "hi" });
  const send = async (target, headers) => {
    const response = await target.fetch("/webhooks/rest/webhook", { method: "POST", headers, body });
    return [response.status, await json(response)];
  };
  const [anonymousStatus, anonymousBody] = await send(gateway, {});
  assert.equal(anonymousStatus, 200);
  assert.deepEqual(anonymousBody, [{ recipient_id: "visitor-1", text: "Hello visitor-1." }]);
  for (const [name, headers] of Object.entries(callers)) {
    assert.deepEqual(await send(gateway, headers), [anonymousStatus, anonymousBody], name);
  }
  const required = await gatewayWith({
    webhook: "required",
    oidc: { issuer: issuer.issuer, audience: "catsdogs-api", jwks_uri: issuer.url + "/.well-known/jwks.json" },
  });
  try {
    const expected = {
      "anonymous": 401,
      "a valid OIDC access token": 403,
      "an OIDC token without the scope": 403,
      "a JWT with another role": 403,
      "a JWT without a user claim": 403,
      "a user JWT of another sender": 403,
      "a user JWT of this sender": 200,
      "an invalid JWT": 401,
      "a token signed by an unknown key": 401,
      "a wrong shared token": 401,
    };
    for (const [name, headers] of Object.entries(callers)) {
      const [status, answer] = await send(required, headers);
      assert.equal(status, expected[name], `${name}: ${JSON.stringify(answer)}`);
      if (status === 403) assert.equal(answer.message, "User has insufficient permissions.", name);
    }
  } finally {
    await required.close();
  }
});
