// The chat widget, the dashboard and the docs page in real headless Chromium, against the Worker in
// workerd with fake origins. Screenshots of each page go to tests/artifacts/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway } from "../support/gateway.mjs";
import { startPi } from "../support/origins.mjs";
import { launch, screenshot } from "../support/browser.mjs";

const TOKEN = "browser-test-token";
let gateway, pi, browser, temperature = 45;

before(async () => {
  pi = await startPi("pi-key", () => ({ systemTemperature: (temperature += 1.5), systemLoadPercentage: 10 + (temperature % 7), usedMemory: 40 }));
  gateway = await startGateway({
    config: {
      auth: { token: "${AUTH_TOKEN}" },
      extensions: { rest: { services: [{ name: "livingroom", base_url: pi.url + "/", expose: "telemetry", headers: { access_token: "pi-key" } }] } },
      dialog: [
        { condition: "message.text == 'hello'", response: "Hi there!\n\nWhat next?\n<button payload=\"temperature\">Temperature</button><button payload=\"/bye\">Bye</button>" },
        { condition: "message.text == 'temperature'", response: "{% GET \"livingroom://system\" %}The Pi is at {{ rest.json.systemTemperature }} °C." },
        { condition: "message.text == 'xss'", response: "<img src=x onerror=alert(1)>" },
        { condition: "true", response: "You said: {{ message.text }}" },
      ],
    },
    vars: { AUTH_TOKEN: TOKEN },
  });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await Promise.all([gateway?.close(), pi?.close()]);
});

async function chatPage() {
  const page = await browser.newPage();
  const dialogs = [];
  page.on("dialog", (dialog) => { dialogs.push(dialog.message()); dialog.dismiss(); });
  await page.goto(gateway.url + "/");
  return { page, dialogs, log: page.getByRole("log"), input: page.getByRole("textbox", { name: "Message" }), send: page.getByRole("button", { name: "Send" }) };
}

test("send a message, click a button, keep the conversation across a reload", async () => {
  const { page, log, input, send } = await chatPage();
  await input.fill("hello");
  await send.click();
  await log.getByText("Hi there!").waitFor();
  await log.getByRole("button", { name: "Temperature" }).click();
  await log.getByText(/The Pi is at \d+(\.\d+)? °C\./).waitFor();
  assert.equal(await log.getByRole("button", { name: "Temperature" }).isDisabled(), true, "used buttons stay readable but inactive");
  await screenshot(page, "chat");
  await page.reload();
  await page.getByRole("log").getByText("Hi there!").waitFor();
  assert.ok(await page.getByRole("log").getByText(/The Pi is at/).isVisible());
  await page.close();
});

test("a reply containing markup stays text", async () => {
  const { page, dialogs, log, input } = await chatPage();
  await input.fill("xss");
  await input.press("Enter");
  await log.getByText("<img src=x onerror=alert(1)>").waitFor();
  assert.equal(await log.locator("img").count(), 0);
  assert.deepEqual(dialogs, []);
  await page.close();
});

test("an unreachable gateway shows an error, and Retry recovers", async () => {
  const { page, log, input } = await chatPage();
  // The widget asks for a streamed reply (?stream=true): the pattern covers the query.
  await page.route("**/webhooks/rest/webhook*", (route) => route.abort("connectionrefused"));
  await input.fill("are you there?");
  await input.press("Enter");
  await page.getByRole("alert").getByText("The chat service cannot be reached.").waitFor();
  await screenshot(page, "chat-offline");
  await page.unroute("**/webhooks/rest/webhook*");
  await page.getByRole("button", { name: "Retry" }).click();
  await log.getByText("You said: are you there?").waitFor();
  assert.equal(await page.getByRole("alert").count(), 0);
  await page.close();
});

test("new conversation starts afresh with a new sender id", async () => {
  const { page, log, input } = await chatPage();
  await input.fill("first");
  await input.press("Enter");
  await log.getByText("You said: first").waitFor();
  await page.getByRole("button", { name: "New conversation" }).click();
  assert.equal(await log.getByText("You said: first").count(), 0);
  await page.close();
});

test("the dashboard charts the Pi's values", async () => {
  const page = await browser.newPage();
  await page.goto(gateway.url + "/dashboard?interval=250");
  await page.getByLabel("Gateway token or consumer key").fill(TOKEN);
  await page.getByRole("button", { name: "Connect" }).click();
  const section = page.getByRole("region", { name: "Pi livingroom" });
  await section.getByText("raspberrypi").waitFor();
  await page.waitForFunction(() => Number(document.querySelector("canvas.temperature")?.dataset.points) >= 3);
  const label = await section.locator("canvas.temperature").getAttribute("aria-label");
  assert.match(label, /Temperature over time, latest \d+\.\d °C/);
  assert.equal(await section.getByText("running").count(), 1);
  assert.equal(await page.evaluate(() => localStorage.length), 0, "the token is kept in session storage only");
  await screenshot(page, "dashboard");
  await page.close();
});

test("/docs lists the routes", async () => {
  const page = await browser.newPage();
  await page.goto(gateway.url + "/docs");
  for (const route of ["/webhooks/rest/webhook", "/models/{service}/{path}", "/pi/{service}/{path}", "/conversations/{id}/{path}"]) {
    await page.getByRole("heading", { name: new RegExp(route.replace(/[{}/]/g, "\\$&")) }).first().waitFor();
  }
  await page.getByRole("heading", { name: "Consumers" }).waitFor();
  await page.getByRole("heading", { name: "Rate limits" }).waitFor();
  // The 429 of a limited route, with its headers, comes from /openapi.json; /health has none.
  const webhook = page.locator("section.route", { has: page.getByRole("heading", { name: "/webhooks/rest/webhook" }) });
  const row = webhook.getByRole("row").filter({ has: page.getByRole("cell", { name: "429", exact: true }) });
  await row.getByText(/TooManyRequests/).waitFor();
  await row.getByText("Headers: Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset").waitFor();
  const health = page.locator("section.route", { has: page.getByRole("heading", { name: "/health" }) });
  assert.equal(await health.getByRole("cell", { name: "429", exact: true }).count(), 0);
  await screenshot(page, "docs");
  await page.close();
});
