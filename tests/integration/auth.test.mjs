// A representative subset of the auth attack table through workerd, with tokens minted by Node's
// crypto and an OIDC issuer serving its JWKS over HTTP (its requests are counted).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway, json } from "../support/gateway.mjs";
import { startIssuer, startRasa, startModel, mintJwt, now } from "../support/origins.mjs";

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
