// The chat widget with conversations kept at the edge, in real headless Chromium against the Worker
// in workerd: a conversation restored from the gateway's tracker in another browser, a widget that
// keeps working when the tracker cannot be read, and replies shown line by line as they stream,
// under a typing indicator, while the origin still holds the REST call.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway } from "../support/gateway.mjs";
import { startOrigin, sendJson, mintJwt } from "../support/origins.mjs";
import { launch, screenshot } from "../support/browser.mjs";

const SECRET = "widget-test-secret";
let gateway, origin, browser;
let release = () => {};
let released = Promise.resolve();

before(async () => {
  origin = await startOrigin(async (req, res) => {
    await released;
    sendJson(res, 200, { t: 21 });
  });
  gateway = await startGateway({
    config: {
      auth: { token: "${AUTH_TOKEN}", jwt: { secret: "${JWT_SECRET}", algorithm: "HS256" } },
      extensions: { rest: { services: [{ name: "weather", base_url: origin.url + "/" }] } },
      dialog: [
        { condition: "message.text == 'hello'", response: "Hi there!\n\nWhat next?\n<button payload=\"/bye\">Bye</button>" },
        { condition: "message.text == '/bye'", response: "Goodbye." },
        { condition: "message.text == 'weather'", response: "Let me look.\n\n{% GET \"weather://now\" %}It is {{ rest.json.t }} °C." },
        { condition: "true", response: "You said: {{ message.text }}" },
      ],
    },
    vars: { AUTH_TOKEN: "widget-admin-token", JWT_SECRET: SECRET },
  });
  browser = await launch();
});

after(async () => {
  release();
  await browser?.close();
  await Promise.all([gateway?.close(), origin?.close()]);
});

/** A signed-in user's JWT, as the page embedding the widget would hold it. */
function userToken(username) {
  const exp = Math.floor(Date.now() / 1000) + 3600;
  return mintJwt({ alg: "HS256", typ: "JWT" }, { user: { username, role: "user" }, exp }, SECRET);
}

/** Opens, in `context`, a page of the gateway's origin embedding the widget with `attributes`. */
async function widgetPage(context, attributes = "") {
  const page = await context.newPage();
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>
    <script type="module" src="/edge-chat.js"></script></head>
    <body><edge-chat title="Support" ${attributes}></edge-chat></body></html>`;
  await page.route(gateway.url + "/shop.html", (route) => route.fulfill({ contentType: "text/html", body: html }));
  await page.goto(gateway.url + "/shop.html");
  return {
    page,
    log: page.getByRole("log"),
    input: page.getByRole("textbox", { name: "Message" }),
    send: page.getByRole("button", { name: "Send" }),
  };
}

async function say({ input }, text) {
  await input.fill(text);
  await input.press("Enter");
}

test("a conversation is restored from the tracker in a fresh browser with the same sender id", async () => {
  const attributes = `sender="pat" token="${userToken("pat")}"`;
  const first = await browser.newContext();
  const widget = await widgetPage(first, attributes);
  await say(widget, "hello");
  await widget.log.getByRole("button", { name: "Bye" }).click();
  await widget.log.getByText("Goodbye.").waitFor();
  await first.close();

  // Another browser: nothing in its storage, the same sender id and credentials.
  const second = await browser.newContext();
  const restored = await widgetPage(second, attributes);
  await restored.log.getByText("Goodbye.").waitFor();
  const lines = await restored.log.locator(".msg").allInnerTexts();
  assert.deepEqual(lines.map((line) => line.trim()), ["hello", "Hi there!", "What next?\nBye", "Bye", "Goodbye."]);
  // The button used before is shown used; the conversation goes on.
  assert.equal(await restored.log.getByRole("button", { name: "Bye" }).isDisabled(), true);
  assert.equal(await restored.page.getByRole("button", { name: "New conversation" }).isVisible(), false);
  await say(restored, "still there?");
  await restored.log.getByText("You said: still there?").waitFor();
  await screenshot(restored.page, "chat-restored");
  await second.close();
});

test("a tracker that cannot be read leaves the widget working, with no error", async () => {
  const failures = [
    ["404", (route) => route.fulfill({ status: 404, contentType: "application/json", body: "{}" })],
    ["500", (route) => route.fulfill({ status: 500, contentType: "application/json", body: '{"message":"boom"}' })],
    ["network", (route) => route.abort("connectionrefused")],
    ["not JSON", (route) => route.fulfill({ status: 200, contentType: "text/html", body: "<html>" })],
    // No route: the gateway's own 401, the widget having no credentials for the tracker.
    ["401", null],
  ];
  for (const [name, failure] of failures) {
    const context = await browser.newContext();
    const page = await context.newPage();
    if (failure) await page.route("**/conversations/*/tracker", failure);
    let trackerStatus = null;
    page.on("response", (response) => {
      if (response.url().endsWith("/tracker")) trackerStatus = response.status();
    });
    // The widget asks for the tracker on load; the test goes on once that request is over.
    const asked = new Promise((resolve) => {
      const over = (request) => request.url().endsWith("/tracker") && resolve();
      page.on("requestfinished", over);
      page.on("requestfailed", over);
    });
    await page.goto(gateway.url + "/");
    await asked;
    const log = page.getByRole("log");
    await say({ input: page.getByRole("textbox", { name: "Message" }) }, `hi ${name}`);
    await log.getByText(`You said: hi ${name}`).waitFor();
    assert.equal(await page.getByRole("alert").count(), 0, `${name}: no error is shown`);
    if (!failure) assert.equal(trackerStatus, 401);
    await context.close();
  }
});

test("a streamed reply shows its first message while the origin holds the call, under a typing indicator", async () => {
  released = new Promise((resolve) => (release = resolve));
  const context = await browser.newContext();
  const widget = await widgetPage(context);
  await say(widget, "weather");
  await widget.log.getByText("Let me look.").waitFor();
  // The origin has not answered: the first line came on its own, and the reply is still in progress.
  assert.equal(await widget.log.getByText(/It is/).count(), 0);
  const typing = widget.page.getByRole("status");
  assert.equal(await typing.textContent(), "Bot is typing…");
  assert.equal(await typing.isVisible(), true);
  assert.equal(await widget.send.isDisabled(), true);
  await screenshot(widget.page, "chat-streaming");
  release();
  await widget.log.getByText("It is 21 °C.").waitFor();
  await typing.waitFor({ state: "detached" });
  assert.equal(await widget.send.isDisabled(), false);
  await context.close();
});

test("a reply that is not a stream is shown whole", async () => {
  const context = await browser.newContext();
  const widget = await widgetPage(context);
  await widget.page.route("**/webhooks/rest/webhook*", (route) =>
    route.fulfill({ contentType: "application/json", body: JSON.stringify([{ recipient_id: "x", text: "Plain one." }, { recipient_id: "x", text: "Plain two." }]) }));
  await say(widget, "anything");
  await widget.log.getByText("Plain two.").waitFor();
  assert.equal(await widget.log.getByText("Plain one.").count(), 1);
  assert.equal(await widget.page.getByRole("status").count(), 0);
  await context.close();
});

test("a stream that ends with an error line shows the messages before it and the error", async () => {
  const context = await browser.newContext();
  const widget = await widgetPage(context);
  const lines = [{ recipient_id: "x", text: "Working on it." },
    { version: "0", status: "failure", message: "REST call failed: Server error", reason: "RestCallFailed", details: {}, help: null, code: 500 }];
  await widget.page.route("**/webhooks/rest/webhook*", (route) =>
    route.fulfill({ contentType: "text/event-stream", body: lines.map((line) => JSON.stringify(line) + "\n").join("") }));
  await say(widget, "anything");
  await widget.page.getByRole("alert").getByText("REST call failed: Server error").waitFor();
  assert.equal(await widget.log.getByText("Working on it.").count(), 1);
  await context.close();
});
