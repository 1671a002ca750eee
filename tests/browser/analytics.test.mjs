// The analytics page in headless Chromium against the Worker in workerd: after some traffic, the
// charts and the totals table show the stored numbers; the range and route controls work from the
// keyboard; every control is labelled and every chart has a text alternative.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway, json } from "../support/gateway.mjs";
import { startOrigin, sendJson } from "../support/origins.mjs";
import { launch, screenshot } from "../support/browser.mjs";

const TOKEN = "analytics-page-token";
let gateway, pi, browser;

before(async () => {
  pi = await startOrigin((req, res) => sendJson(res, 200, { hostname: "pi" }));
  gateway = await startGateway({
    config: {
      auth: { token: "${AUTH_TOKEN}" },
      extensions: { rest: { services: [{ name: "livingroom", base_url: pi.url + "/", expose: "telemetry", cache: 30 }] } },
      dialog: [{ condition: "true", response: "ok" }],
      limits: [{ name: "pi", routes: ["pi/livingroom"], key: "ip", requests: 5, period: 60 }],
    },
    vars: { AUTH_TOKEN: TOKEN },
  });
  browser = await launch();
  // Traffic: 1 unauthenticated (it spends from the address's budget too), 4 answered Pi reads (1 MISS,
  // 3 HIT), 2 refused by the limit.
  await (await gateway.fetch("/pi/livingroom/system")).arrayBuffer();
  for (let i = 0; i < 6; i++) await (await gateway.fetch("/pi/livingroom/system", { headers: { access_token: TOKEN } })).arrayBuffer();
  // Until the numbers are stored (the page reads what the admin route answers).
  for (let tries = 0; tries < 60; tries++) {
    const { minutes } = await json(await gateway.fetch("/admin/analytics?minutes=5", { headers: { access_token: TOKEN } }));
    const stored = minutes.reduce((sum, m) => sum + (m.routes["pi/livingroom"]?.requests ?? 0), 0);
    if (stored === 7) break;
    await new Promise((r) => setTimeout(r, 500));
  }
});
after(async () => {
  await browser?.close();
  await Promise.all([gateway?.close(), pi?.close()]);
});

test("after some traffic the charts and the table show the stored numbers, and the controls work by keyboard", async () => {
  const page = await browser.newPage();
  await page.goto(`${gateway.url}/analytics?interval=1000`);
  await page.getByLabel("Gateway token").fill(TOKEN);
  await page.keyboard.press("Enter");
  const row = page.getByRole("row", { name: /^pi\/livingroom / });
  await row.waitFor();
  const cells = await row.getByRole("cell").allTextContents();
  // Requests, 2xx, 3xx, 4xx, 5xx, hit ratio, limited, highest p95.
  assert.deepEqual(cells.slice(0, 7), ["7", "4", "0", "3", "0", "75 %", "2"]);
  assert.ok(Number(cells[7]) > 0, `p95 ${cells[7]}`);

  const requests = page.getByRole("img", { name: /^Requests by status/ });
  assert.match(await requests.getAttribute("aria-label"), /2xx \d+; 3xx 0; 4xx \d+; 5xx 0/);
  const limited = await page.getByRole("img", { name: /^Rate-limited/ }).getAttribute("aria-label");
  assert.match(limited, /429 from limits 2$/);
  assert.match(await page.getByRole("img", { name: /^Cache hit ratio/ }).getAttribute("aria-label"), /HIT.* latest \d+/);
  assert.match(await page.getByRole("img", { name: /^Latency in ms/ }).getAttribute("aria-label"), /p95 latest \d/);

  // The route chosen by keyboard: the charts then count only that route.
  await page.getByLabel("Route").focus();
  await page.getByLabel("Route").selectOption("pi/livingroom");
  assert.match(await requests.getAttribute("aria-label"), /2xx 4; 3xx 0; 4xx 3; 5xx 0/);
  // A range of 15 minutes: 15 minutes charted, refreshed by itself.
  await page.getByLabel("Range").selectOption("15");
  await page.waitForFunction(() => /updated/i.test(document.querySelector("#status").textContent));
  assert.match(await requests.getAttribute("aria-label"), /per minute, \d\d:\d\d to \d\d:\d\d/);
  const firstStatus = await page.locator("#status").textContent();
  await page.waitForFunction((before) => document.querySelector("#status").textContent !== before, firstStatus, { timeout: 5000 });
  await screenshot(page, "analytics");
  await page.close();
});

test("every control is labelled, reachable by Tab, and every chart has a text alternative", async () => {
  const page = await browser.newPage();
  await page.goto(`${gateway.url}/analytics`);
  await page.getByLabel("Gateway token").fill(TOKEN);
  await page.getByRole("button", { name: "Connect" }).click();
  await page.getByRole("row", { name: /^pi\/livingroom / }).waitFor();
  const unlabelled = await page.evaluate(() => [...document.querySelectorAll("input, select, button, canvas")]
    .filter((el) => !el.closest("[hidden]"))
    .filter((el) => {
      if (el.tagName === "CANVAS") return el.getAttribute("role") !== "img" || !el.getAttribute("aria-label");
      if (el.tagName === "BUTTON") return !el.textContent.trim();
      return !(el.labels && el.labels.length);
    })
    .map((el) => el.outerHTML.slice(0, 80)));
  assert.deepEqual(unlabelled, []);
  const reached = [];
  for (let i = 0; i < 12; i++) {
    await page.keyboard.press("Tab");
    reached.push(await page.evaluate(() => document.activeElement.id || document.activeElement.textContent.trim()));
  }
  for (const id of ["range", "route", "refresh", "logout"]) assert.ok(reached.includes(id), `${id} is reached by Tab: ${reached}`);
  assert.equal(await page.getByRole("link", { name: "Analytics" }).getAttribute("aria-current"), "page");
  await page.close();
});
