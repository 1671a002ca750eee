// The Pi dashboard when a Pi goes down and comes back, in headless Chromium against the Worker in
// workerd: the gateway answers the stored reading (`x-cache-status: STALE`, with its `Age`, as the
// service has `stale_if_error`), the page shows it as stale with its age and charts nothing new,
// and recovers by itself when the Pi answers again.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway } from "../support/gateway.mjs";
import { startOrigin, sendJson } from "../support/origins.mjs";
import { launch, screenshot } from "../support/browser.mjs";

const TOKEN = "dashboard-stale-token";
let gateway, pi, browser;

before(async () => {
  let down = false;
  let reading = 50;
  const origin = await startOrigin((req, res) => {
    if (down) return sendJson(res, 503, { detail: "Service Unavailable" });
    reading += 1;
    sendJson(res, 200, { hostname: "shed-pi", uptime: "up 2 days", systemTemperature: reading, systemLoadPercentage: 5, usedMemory: 20, hostapdStatus: 1 });
  });
  pi = { ...origin, down: () => { down = true; }, up: () => { down = false; } };
  gateway = await startGateway({
    config: {
      auth: { token: "${AUTH_TOKEN}" },
      extensions: { rest: { services: [
        { name: "shed", base_url: pi.url + "/", expose: "telemetry", cache: 1, stale_if_error: 3600 },
      ] } },
    },
    vars: { AUTH_TOKEN: TOKEN },
  });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await Promise.all([gateway?.close(), pi?.close()]);
});

test("a Pi that stops answering is shown stale with its age, then live again when it is back", async () => {
  const page = await browser.newPage();
  await page.goto(`${gateway.url}/dashboard?interval=250`);
  await page.getByLabel("Gateway token or consumer key").fill(TOKEN);
  await page.getByRole("button", { name: "Connect" }).click();
  const section = page.getByRole("region", { name: "Pi shed" });
  await section.getByText("shed-pi").waitFor();
  const points = () => page.evaluate(() => Number(document.querySelector("canvas.temperature").dataset.points));
  const isStale = () => page.evaluate(() => document.querySelector(".service").classList.contains("stale"));

  pi.down();
  const state = section.getByRole("status");
  await state.getByText(/^Stale: shed is not answering; showing its reading from \d+ s ago\.$/).waitFor();
  assert.equal(await isStale(), true);
  assert.equal(await section.getByRole("alert").isVisible(), false, "a stale reading is not an error");
  assert.match(await section.locator(".updated").textContent(), /\(stale\)$/);
  const chartedWhileDown = await points();
  // The age grows while the Pi stays down, and nothing more is charted.
  await state.getByText(/from ([2-9]|\d\d+) s ago/).waitFor({ timeout: 5000 });
  assert.equal(await points(), chartedWhileDown, "a stale reading is not charted again");
  await screenshot(page, "dashboard-stale");

  pi.up();
  await page.waitForFunction(() => document.querySelector(".service .state")?.textContent === "");
  assert.equal(await isStale(), false);
  assert.doesNotMatch(await section.locator(".updated").textContent(), /stale/);
  await page.waitForFunction((before) => Number(document.querySelector("canvas.temperature").dataset.points) > before, chartedWhileDown);
  await page.close();
});
