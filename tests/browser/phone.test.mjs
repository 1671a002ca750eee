// Every page fits a phone: on a 390 px wide screen nothing lays out wider than the screen, so the
// phone need not zoom out and nothing scrolls sideways. Pages are shown with content (the demo's
// chat with a conversation, the dashboard connected to its Pi).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startDemo } from "../support/demo.mjs";
import { launch, screenshot } from "../support/browser.mjs";

const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 3, isMobile: true, hasTouch: true };
let demo, browser, context;

before(async () => {
  demo = await startDemo();
  browser = await launch();
  context = await browser.newContext(PHONE);
});
after(async () => {
  await browser?.close();
  await demo?.close();
});

/** Opens `path`, lets `show` put content on it, and checks that the page is no wider than the phone. */
async function fits(path, show = async () => {}) {
  const page = await context.newPage();
  await page.goto(demo.gateway.url + path);
  await show(page);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  await screenshot(page, `phone${path.replace(/\//g, "-").replace(/-$/, "") || "-chat"}`);
  await page.close();
  assert.ok(width <= 390, `${path} lays out ${width} px wide on a 390 px phone`);
}

test("the chat page fits a phone", () => fits("/", async (page) => {
  const input = page.getByRole("textbox", { name: "Message" });
  await input.fill("temperature");
  await input.press("Enter");
  await page.getByRole("log").getByText(/The Pi raspberrypi is at/).waitFor();
}));

test("the dashboard fits a phone", () => fits("/dashboard", async (page) => {
  await page.getByLabel("Gateway token or consumer key").fill(demo.token);
  await page.getByRole("button", { name: "Connect" }).click();
  await page.getByRole("region", { name: "Pi livingroom" }).getByText("raspberrypi").waitFor();
}));

test("the API docs fit a phone", () => fits("/docs", async (page) => {
  await page.getByText("/webhooks/rest/webhook").first().waitFor();
}));

test("the analytics page fits a phone", () => fits("/analytics", async (page) => {
  await page.getByLabel("Gateway token").fill(demo.token);
  await page.getByRole("button", { name: "Connect" }).click();
  await page.getByRole("table").waitFor();
}));
