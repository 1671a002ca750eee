// Fake origins: real HTTP servers on 127.0.0.1 ephemeral ports, each recording what it received so
// tests assert on the request that reached it.
import http from "node:http";
import crypto from "node:crypto";

/** Starts a server whose `handler(req, res, body)` answers; `body` is a Buffer (or the byte count
 *  when `streamOnly`, for large uploads). Returns `{ url, received, close }`. */
export async function startOrigin(handler, { streamOnly = false } = {}) {
  const received = [];
  const sockets = new Set();
  const server = http.createServer(async (req, res) => {
    try {
      let size = 0;
      const chunks = [];
      const hash = crypto.createHash("sha256");
      let head = Buffer.alloc(0);
      for await (const chunk of req) {
        size += chunk.length;
        hash.update(chunk);
        if (head.length < 4096) head = Buffer.concat([head, chunk]).subarray(0, 4096);
        if (!streamOnly) chunks.push(chunk);
      }
      const body = Buffer.concat(chunks);
      const record = {
        method: req.method, url: req.url, headers: req.headers, size, sha256: hash.digest("hex"),
        head: head.toString("latin1"), body: streamOnly ? null : body.toString(),
      };
      received.push(record);
      await handler(req, res, body, record);
    } catch (error) {
      // A client that went away mid-request (a timeout test, the end of a load run) is no failure.
      if (!res.headersSent && !res.destroyed) res.writeHead(500);
      if (!res.destroyed) res.end(String(error));
    }
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    received,
    close: () => new Promise((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}

/** A JSON answer with its length declared, as FastAPI's JSONResponse and a Pi's web server send one. */
export function sendJson(res, status, value, headers = {}) {
  // As bytes: Node writes a string body in one piece with the headers, and would then encode
  // header strings as UTF-8 instead of byte per char.
  const bytes = Buffer.from(JSON.stringify(value));
  res.writeHead(status, { "content-type": "application/json", "content-length": bytes.length, ...headers });
  res.end(bytes);
}

/** A RaspAP-like Pi (its RestAPI): every route needs the `access_token` header. */
export function startPi(apiKey, readings = () => ({})) {
  return startOrigin((req, res) => {
    if (req.headers["access_token"] !== apiKey) return sendJson(res, 403, { detail: "403: Unauthorized" });
    const path = new URL(req.url, "http://pi").pathname;
    if (path === "/system") {
      return sendJson(res, 200, {
        hostname: "raspberrypi", uptime: "up 3 days, 4 hours", systemLoadPercentage: 12, systemTemperature: 47.2,
        usedMemory: 38.5, processorCount: 4, kernelVersion: "6.6.31+rpt-rpi-v8", hostapdStatus: 1, ...readings(),
      });
    }
    if (path === "/ap") {
      return sendJson(res, 200, { ssid: "raspi-webgui", channel: 1, wpa: 2, wpa_passphrase: "ChangeMe", hw_mode: "g" });
    }
    const clients = path.match(/^\/clients\/([^/]+)$/);
    if (clients) return sendJson(res, 200, { active_clients_amount: 1, active_clients: [{ mac: "aa:bb", ip: "10.3.141.7" }], iface: clients[1] });
    if (path === "/ddns") return sendJson(res, 200, { provider: "duckdns", domain: "pi.duckdns.org", login: "me", password: "ddns-secret" });
    sendJson(res, 404, { detail: "Not Found" });
  });
}

/** A FastAPI-like image classifier: `GET /health`, `POST /upload` with a multipart `file`. */
export function startModel() {
  return startOrigin(
    (req, res, _body, record) => {
      const path = new URL(req.url, "http://m").pathname;
      if (req.method === "GET" && path === "/health") return sendJson(res, 200, { status: "ok" });
      if (req.method === "POST" && path === "/upload") {
        const type = req.headers["content-type"] || "";
        if (!type.startsWith("multipart/form-data") || !record.head.includes('name="file"')) {
          return sendJson(res, 422, { detail: [{ loc: ["body", "file"], msg: "field required", type: "value_error.missing" }] });
        }
        return sendJson(res, 200, { prediction: "Cat", values: [0.93, 0.07] });
      }
      sendJson(res, 404, { detail: "Not Found" });
    },
    { streamOnly: true },
  );
}

/** A Rasa-like server: status, model/parse, tracker, webhook, and a model file with an ETag. */
export function startRasa({ token } = {}) {
  const etag = '"model-v1"';
  return startOrigin((req, res, body) => {
    const url = new URL(req.url, "http://rasa");
    if (token && url.searchParams.get("token") !== token) {
      return sendJson(res, 401, { version: "3.6.0", status: "failure", reason: "NotAuthenticated", code: 401 });
    }
    const path = url.pathname;
    if (path === "/status") return sendJson(res, 200, { model_file: "models/model.tar.gz", model_id: "abc", num_active_training_jobs: 0 });
    if (path === "/domain") return sendJson(res, 200, { intents: ["greet"] });
    if (path === "/model/parse") {
      let text;
      try {
        const parsed = JSON.parse(body.toString() || "{}");
        if (typeof parsed.text !== "string") throw new Error("no text");
        text = parsed.text;
      } catch {
        // As Rasa answers a body without a text message.
        return sendJson(res, 400, { version: "3.6.0", status: "failure",
          message: "No text message defined in request_body. Add text message to request body in order to obtain the intent and extracted entities.",
          reason: "BadRequest", details: {}, help: null, code: 400 });
      }
      const greet = /hello|hi/i.test(text);
      return sendJson(res, 200, {
        text, intent: { name: greet ? "greet" : "nlu_fallback", confidence: greet ? 0.98 : 0.3 },
        intent_ranking: [], entities: text.includes("Ann") ? [{ entity: "name", value: "Ann", start: text.indexOf("Ann"), end: text.indexOf("Ann") + 3 }] : [],
      });
    }
    const tracker = path.match(/^\/conversations\/([^/]+)\/tracker$/);
    if (tracker) return sendJson(res, 200, { sender_id: decodeURIComponent(tracker[1]), events: [] });
    if (path === "/webhooks/rest/webhook") {
      const message = JSON.parse(body.toString() || "{}");
      return sendJson(res, 200, [{ recipient_id: message.sender, text: `rasa heard: ${message.message}` }]);
    }
    if (path === "/models/model.tar.gz") {
      if (req.headers["if-none-match"] === etag) {
        res.writeHead(304, { etag });
        return res.end();
      }
      res.writeHead(200, { "content-type": "application/gzip", etag, "filename": "model.tar.gz" });
      return res.end(Buffer.alloc(64 * 1024, 7));
    }
    sendJson(res, 404, { detail: "Not Found" });
  });
}

/** An OIDC issuer serving its JWKS; `keys` holds the private keys tokens are signed with. */
export async function startIssuer() {
  const rsa = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  const ec = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = (key, kid, alg) => ({ ...key.publicKey.export({ format: "jwk" }), kid, alg, use: "sig" });
  const origin = await startOrigin((req, res) => {
    if (new URL(req.url, "http://i").pathname === "/.well-known/jwks.json") {
      return sendJson(res, 200, { keys: [jwk(rsa, "rsa-1", "RS256"), jwk(ec, "ec-1", "ES256")] });
    }
    sendJson(res, 404, {});
  });
  return { ...origin, issuer: origin.url + "/", rsa, ec };
}

const b64url = (buffer) => Buffer.from(buffer).toString("base64url");

/** Mints a JWT with Node's crypto (independent of the gateway's JWT code). */
export function mintJwt(header, claims, key) {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  let signature;
  if (header.alg.startsWith("HS")) {
    signature = crypto.createHmac("sha" + header.alg.slice(2), key).update(input).digest();
  } else if (header.alg === "RS256") {
    signature = crypto.sign("sha256", Buffer.from(input), key);
  } else if (header.alg === "ES256") {
    signature = crypto.sign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" });
  } else {
    signature = Buffer.alloc(0);
  }
  return `${input}.${b64url(signature)}`;
}

export const now = () => Math.floor(Date.now() / 1000);
