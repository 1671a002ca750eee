// The demo's small services, in plain Node: a RaspAP-like Pi (its RestAPI: /system with a
// temperature and load that change, /ap with a Wi-Fi passphrase for the gateway to remove,
// /clients/<iface>) and a FastAPI-like image classifier (POST /upload with a multipart `file`).
// Demo stand-ins, not fakes of a test: they answer what a real Pi and model would, nothing recorded.
import http from "node:http";

function sendJson(res, status, value) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(value));
}

/** Listens on 127.0.0.1:`port` (0: any free port); resolves to `{ url, requests, close }`, where
 *  `requests` counts what was asked so far. */
function listen(handler, port) {
  const sockets = new Set();
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests += 1;
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => handler(req, res, Buffer.concat(chunks)));
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve({
      url: `http://127.0.0.1:${server.address().port}/`,
      get requests() { return requests; },
      close: () => new Promise((done) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => done());
      }),
    }));
  });
}

/** Readings that drift like a Pi's: a slow wave with a little noise, in one decimal. */
function reading(base, swing, periodSeconds) {
  const phase = (Date.now() / 1000 / periodSeconds) * 2 * Math.PI;
  return Math.round((base + swing * Math.sin(phase) + (Math.random() - 0.5) * swing * 0.3) * 10) / 10;
}

const drifting = () => ({
  systemTemperature: reading(48, 4, 60), systemLoadPercentage: reading(20, 12, 23), usedMemory: reading(38, 3, 90),
});

/** A RaspAP-like Pi: every route needs its `access_token` header, as RaspAP's RestAPI does.
 *  `readings()` may fix the changing values (the tests' screenshots do). */
export function startPi({ port = 0, apiKey, readings = drifting }) {
  const started = Date.now();
  return listen((req, res) => {
    if (req.headers["access_token"] !== apiKey) return sendJson(res, 403, { detail: "403: Unauthorized" });
    const path = new URL(req.url, "http://pi").pathname;
    if (path === "/system") {
      const hours = Math.floor((Date.now() - started) / 3_600_000);
      return sendJson(res, 200, {
        hostname: "raspberrypi", uptime: `up 3 days, ${hours} hours`, processorCount: 4,
        kernelVersion: "6.6.31+rpt-rpi-v8", hostapdStatus: 1, ...readings(),
      });
    }
    if (path === "/ap") {
      return sendJson(res, 200, { interface: "wlan0", ssid: "raspi-webgui", channel: 1, hw_mode: "g", wpa: 2,
        wpa_key_mgmt: "WPA-PSK", wpa_passphrase: "ChangeMe" });
    }
    const clients = path.match(/^\/clients\/([^/]+)$/);
    if (clients) {
      return sendJson(res, 200, { active_clients_amount: 2, iface: clients[1], active_clients: [
        { timestamp: 1733223600, mac_address: "dc:a6:32:01:02:03", ip_address: "10.3.141.7", hostname: "phone", client_id: "*" },
        { timestamp: 1733223900, mac_address: "b8:27:eb:04:05:06", ip_address: "10.3.141.12", hostname: "laptop", client_id: "*" },
      ] });
    }
    sendJson(res, 404, { detail: "Not Found" });
  }, port);
}

/** A FastAPI-like image classifier: `GET /health`, and `POST /upload` with a multipart `file`
 *  answering a label and its score (decided by the file's size, so the same image gets the same
 *  answer). */
export function startClassifier({ port = 0 } = {}) {
  return listen((req, res, body) => {
    const path = new URL(req.url, "http://model").pathname;
    if (req.method === "GET" && path === "/health") return sendJson(res, 200, { status: "ok" });
    if (req.method === "POST" && path === "/upload") {
      const type = req.headers["content-type"] || "";
      if (!type.startsWith("multipart/form-data") || !body.includes('name="file"')) {
        return sendJson(res, 422, { detail: [{ loc: ["body", "file"], msg: "field required", type: "value_error.missing" }] });
      }
      const cat = body.length % 2 === 0;
      const score = 0.8 + (body.length % 19) / 100;
      return sendJson(res, 200, { label: cat ? "cat" : "dog", score, prediction: cat ? "Cat" : "Dog",
        values: cat ? [score, 1 - score] : [1 - score, score] });
    }
    sendJson(res, 404, { detail: "Not Found" });
  }, port);
}
