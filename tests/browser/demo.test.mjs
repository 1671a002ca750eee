// The demo end to end (demo/services.mjs and demo/config.json, as `npm run demo` runs them): the chat
// answers "temperature" from the Pi through rest_call, the Pi's passphrase never leaves the gateway,
// the classifier answers through /models/, the dashboard charts the Pi and /docs lists the routes.
// Its pages are the README's screenshots: the Pi's readings and the browser's clock are fixed so
// they come out the same on every run.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { json } from "../support/gateway.mjs";
import { startDemo } from "../support/demo.mjs";
import { launch, readmeScreenshot } from "../support/browser.mjs";

const TEMPERATURES = [46.1, 46.8, 47.9, 48.6, 48.2, 47.4, 47.9, 49.3, 50.1, 49.6];
let demo, browser, readings = 0;

before(async () => {
  demo = await startDemo({
    readings: () => {
      const i = readings++ % TEMPERATURES.length;
      return { systemTemperature: TEMPERATURES[i], systemLoadPercentage: 14 + (i * 7) % 23, usedMemory: 37 + (i % 4) };
    },
  });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await demo?.close();
});

const admin = () => ({ access_token: demo.token });

/** A page whose clock starts at a fixed instant and moves only when the test says so. */
async function newPage(viewport = { width: 1100, height: 760 }) {
  const page = await browser.newPage({ viewport });
  const start = Date.parse("2026-06-01T09:30:00Z");
  await page.clock.install({ time: start });
  await page.clock.pauseAt(start + 1000);
  return page;
}

test("the chat answers 'temperature' from the Pi, through rest_call", async () => {
  const page = await newPage();
  readings = 0;
  await page.goto(demo.gateway.url + "/");
  const log = page.getByRole("log");
  const input = page.getByRole("textbox", { name: "Message" });
  await input.fill("hello");
  await input.press("Enter");
  await log.getByText("Hello! I am the edge gateway's demo bot").waitFor();
  const before = demo.pi.requests;
  await log.getByRole("button", { name: "Temperature" }).click();
  await log.getByText(/^The Pi raspberrypi is at \d+(\.\d+)? °C, its load \d+ %\.$/).waitFor();
  assert.ok(demo.pi.requests > before, "the Pi was asked");
  await readmeScreenshot(page, "chat");
  await page.close();
});

test("the Pi's Wi-Fi passphrase is removed; its network and clients pass", async () => {
  const ap = await demo.gateway.fetch("/pi/livingroom/ap", { headers: admin() });
  assert.equal(ap.status, 200);
  const body = await json(ap);
  assert.equal(body.ssid, "raspi-webgui");
  assert.equal("wpa_passphrase" in body, false);
  const clients = await json(await demo.gateway.fetch("/pi/livingroom/clients/wlan0", { headers: admin() }));
  assert.equal(clients.active_clients_amount, 2);
  assert.equal((await demo.gateway.fetch("/pi/livingroom/ap")).status, 401, "not without the token");
});

test("the image classifier answers a label and a score through /models/", async () => {
  const form = new FormData();
  form.append("file", new Blob([Buffer.alloc(2048, 1)], { type: "image/jpeg" }), "cat.jpg");
  const response = await demo.gateway.fetch("/models/catsdogs/upload", { method: "POST", headers: admin(), body: form });
  assert.equal(response.status, 200);
  const answer = await json(response);
  assert.ok(["cat", "dog"].includes(answer.label), JSON.stringify(answer));
  assert.ok(answer.score > 0.5 && answer.score <= 1, JSON.stringify(answer));
});

test("the dashboard charts the Pi live", async () => {
  const page = await newPage();
  readings = 0;
  await page.goto(demo.gateway.url + "/dashboard?interval=1000");
  await page.getByLabel("Gateway token or consumer key").fill(demo.token);
  await page.getByRole("button", { name: "Connect" }).click();
  const section = page.getByRole("region", { name: "Pi livingroom" });
  await section.getByText("raspberrypi").waitFor();
  const points = () => page.evaluate(() => Number(document.querySelector("canvas.temperature").dataset.points));
  // Each second of the page's clock is one more reading.
  while ((await points()) < 8) {
    const charted = await points();
    await page.clock.runFor(1000);
    await page.waitForFunction((n) => Number(document.querySelector("canvas.temperature").dataset.points) > n, charted);
  }
  assert.equal(await points(), 8);
  await readmeScreenshot(page, "dashboard");
  await page.close();
});

test("/docs shows the routes", async () => {
  const page = await newPage();
  await page.goto(demo.gateway.url + "/docs");
  await page.getByText("/webhooks/rest/webhook").first().waitFor();
  await page.getByText("/pi/{service}/{path}").first().waitFor();
  await readmeScreenshot(page, "docs");
  await page.close();
});

test("/analytics fills as you click: the requests above are counted per route", async () => {
  const routes = ["webhook", "pi/livingroom", "models/catsdogs"];
  // Counts are stored within seconds of each request.
  for (let tries = 0; ; tries++) {
    const { minutes } = await json(await demo.gateway.fetch("/admin/analytics?minutes=10", { headers: admin() }));
    if (routes.every((route) => minutes.some((minute) => minute.routes[route]))) break;
    assert.ok(tries < 40, "the demo's requests reach the analytics within 20 s");
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const page = await newPage();
  await page.goto(demo.gateway.url + "/analytics");
  await page.getByLabel("Gateway token").fill(demo.token);
  await page.getByRole("button", { name: "Connect" }).click();
  for (const route of routes) await page.getByRole("row", { name: new RegExp(`^${route} `) }).waitFor();
  const chart = page.getByRole("img", { name: /^Requests by status/ });
  const hour = await chart.getAttribute("aria-label");
  await page.getByLabel("Range").selectOption("15");
  await page.waitForFunction((before) => document.querySelector("#requests-chart").getAttribute("aria-label") !== before, hour);
  await readmeScreenshot(page, "analytics", { live: true });
  await page.close();
});
