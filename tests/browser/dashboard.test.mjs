// The Pi dashboard as a consumer sees it, and under a 429, in headless Chromium against the Worker in
// workerd. Each Pi is a fake RaspAP origin that can be told to answer 429 with Retry-After: 1 for a
// while; the gateway passes an origin's status and headers through, so the page meets the same
// answer as from one of the gateway's own limits.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway } from "../support/gateway.mjs";
import { startOrigin, sendJson } from "../support/origins.mjs";
import { launch, screenshot } from "../support/browser.mjs";

const TOKEN = "dashboard-admin-token";
const DISPLAY_KEY = "wall-display-key";
const SHOP_KEY = "shop-key";
let gateway, livingroom, garage, browser;

/** A RaspAP-like Pi whose /system answers carry its `hostname`; `throttle(n)` makes its next `n`
 *  /system requests answer 429 with Retry-After: 1. `polls` holds when each /system request came. */
async function startPi(hostname) {
  let throttled = 0;
  const polls = [];
  const origin = await startOrigin((req, res) => {
    if (req.headers["access_token"] !== "pi-key") return sendJson(res, 403, { detail: "403: Unauthorized" });
    if (new URL(req.url, "http://pi").pathname !== "/system") return sendJson(res, 404, { detail: "Not Found" });
    const limited = throttled > 0;
    if (limited) throttled -= 1;
    polls.push({ at: Date.now(), status: limited ? 429 : 200 });
    if (limited) return sendJson(res, 429, { detail: "Too Many Requests" }, { "retry-after": "1" });
    sendJson(res, 200, { hostname, uptime: "up 1 day", systemTemperature: 40 + polls.length % 5, systemLoadPercentage: 9, usedMemory: 30, hostapdStatus: 1 });
  });
  return { ...origin, polls, throttle: (n) => { throttled = n; } };
}

before(async () => {
  [livingroom, garage] = await Promise.all([startPi("livingroom-pi"), startPi("garage-pi")]);
  const pi = (name, origin) => ({ name, base_url: origin.url + "/", expose: "telemetry", headers: { access_token: "pi-key" } });
  gateway = await startGateway({
    config: {
      auth: {
        token: "${AUTH_TOKEN}",
        consumers: [
          { name: "wall-display", key: "${DISPLAY_KEY}", allow: ["pi/livingroom"] },
          { name: "shop", key: "${SHOP_KEY}", allow: ["webhook"] },
        ],
      },
      extensions: { rest: { services: [pi("livingroom", livingroom), pi("garage", garage)] } },
      dialog: [{ condition: "true", response: "ok" }],
    },
    vars: { AUTH_TOKEN: TOKEN, DISPLAY_KEY, SHOP_KEY },
  });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await Promise.all([gateway?.close(), livingroom?.close(), garage?.close()]);
});

async function connect(key, interval = 5000) {
  const page = await browser.newPage();
  await page.goto(`${gateway.url}/dashboard?interval=${interval}`);
  await page.getByLabel("Gateway token or consumer key").fill(key);
  await page.getByRole("button", { name: "Connect" }).click();
  return page;
}

const status = (page) => page.locator("#status");

test("a consumer's key sees only the Pi it may read", async () => {
  const garagePolls = garage.polls.length;
  const page = await connect(DISPLAY_KEY);
  await status(page).getByText("This key may read: livingroom.").waitFor();
  const section = page.getByRole("region", { name: "Pi livingroom" });
  await section.getByText("livingroom-pi").waitFor();
  assert.equal(await page.getByRole("region").count(), 1);
  assert.equal(await page.getByText("garage").count(), 0, "the other Pi is not even named");
  assert.equal(garage.polls.length, garagePolls, "nothing was asked of the other Pi");
  await screenshot(page, "dashboard-consumer");
  await page.close();
});

test("the admin token sees every Pi", async () => {
  const page = await connect(TOKEN);
  await status(page).getByText(/^This key may read: (garage, livingroom|livingroom, garage)\.$/).waitFor();
  await page.getByRole("region", { name: "Pi garage" }).getByText("garage-pi").waitFor();
  await page.getByRole("region", { name: "Pi livingroom" }).getByText("livingroom-pi").waitFor();
  await page.close();
});

test("a key that may read no Pi, or no key the gateway knows, is told so", async () => {
  const page = await connect(SHOP_KEY);
  await status(page).getByText("This key may not read any Pi (403: User has insufficient permissions.)").waitFor();
  assert.equal(await page.getByRole("region").count(), 0);
  await page.getByRole("button", { name: "Forget token" }).click();
  await page.getByLabel("Gateway token or consumer key").fill("not-a-key");
  await page.getByRole("button", { name: "Connect" }).click();
  await status(page).getByText("The gateway does not accept this key (401: User is not authenticated.)").waitFor();
  assert.equal(await page.getByRole("region").count(), 0);
  await page.close();
});

test("a Pi answering 429 is shown as rate limited, left alone until Retry-After, then read again", async () => {
  const page = await connect(DISPLAY_KEY, 200);
  const section = page.getByRole("region", { name: "Pi livingroom" });
  await section.getByText("livingroom-pi").waitFor();
  const points = () => page.evaluate(() => Number(document.querySelector("canvas.temperature").dataset.points));
  const first = livingroom.polls.length;
  livingroom.throttle(2);
  const charted = await points();
  await section.getByRole("status").getByText("Rate limited: next try in 1 s.").waitFor();
  await screenshot(page, "dashboard-rate-limited");
  assert.equal(await section.getByRole("alert").isVisible(), false, "a 429 is not shown as the Pi's failure");
  // Recovered: the message goes, and polling resumes at its own pace.
  await page.waitForFunction(() => document.querySelector(".service .state")?.textContent === "");
  const recovered = livingroom.polls.findIndex((poll, i) => i > first && poll.status === 200 && livingroom.polls[i - 1].status === 429);
  assert.ok(recovered > first, "a 200 followed the 429s");
  assert.ok(await points() > charted, "the answer after the 429s is charted");
  const polls = livingroom.polls.slice(first);
  const limited = polls.filter((poll) => poll.status === 429);
  assert.equal(limited.length, 2, "both 429s were met");
  for (let i = 0; i < polls.length - 1; i++) {
    if (polls[i].status !== 429) continue;
    const gap = polls[i + 1].at - polls[i].at;
    assert.ok(gap >= 950, `after a 429 with Retry-After: 1 the page waited ${gap} ms`);
  }
  const before = livingroom.polls.length;
  await new Promise((resolve) => setTimeout(resolve, 1000));
  assert.ok(livingroom.polls.length - before >= 3, "after recovering, the page polls at its interval again");
  assert.equal(livingroom.polls.slice(before).every((poll) => poll.status === 200), true);
  await page.close();
});

test("a 429 on the list of Pis is shown, and the list is asked again after Retry-After", async () => {
  const page = await browser.newPage();
  let listed = 0;
  const asked = [];
  await page.route("**/pi/", async (route) => {
    asked.push(Date.now());
    if (listed++ === 0) {
      return route.fulfill({ status: 429, headers: { "retry-after": "1", "content-type": "application/json" }, body: '{"reason":"TooManyRequests"}' });
    }
    return route.continue();
  });
  await page.goto(`${gateway.url}/dashboard`);
  await page.getByLabel("Gateway token or consumer key").fill(DISPLAY_KEY);
  await page.getByRole("button", { name: "Connect" }).click();
  await status(page).getByText("Rate limited: next try in 1 s.").waitFor();
  await status(page).getByText("This key may read: livingroom.").waitFor({ timeout: 5000 });
  assert.equal(asked.length, 2);
  assert.ok(asked[1] - asked[0] >= 950, `the list was asked again after ${asked[1] - asked[0]} ms`);
  await page.close();
});
