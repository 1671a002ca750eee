// A panic in the Rust code gives a clean 500 in the error shape, and the next request succeeds.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startGateway, json } from "../support/gateway.mjs";

for (const route of ["/__test/panic", "/__test/panic-async"]) test(`a panic (${route}) answers a clean 500 and the Worker recovers`, async () => {
  const gateway = await startGateway({ config: {}, vars: { GATEWAY_TEST_PANIC_ROUTE: "1" } });
  try {
    const panicked = await gateway.fetch(route);
    const body = await json(panicked);
    assert.equal(panicked.status, 500);
    assert.equal(body.reason, "InternalError");
    assert.equal(body.status, "failure");
    assert.ok(!JSON.stringify(body).includes("panic"), "no internals in the answer");
    for (let i = 0; i < 3; i++) {
      const next = await gateway.fetch("/health");
      assert.equal(next.status, 200);
      assert.deepEqual(await json(next), { status: "OK" });
    }
    const version = await gateway.fetch("/webhooks/rest/webhook", { method: "POST", body: "{}" });
    assert.equal(version.status, 200, "the async path works again too");
    await version.text();
  } finally {
    await gateway.close();
  }
});

test("without the test variable the route does not exist", async () => {
  const gateway = await startGateway({ config: {} });
  try {
    const response = await gateway.fetch("/__test/panic");
    assert.equal(response.status, 404);
    await response.text();
  } finally {
    await gateway.close();
  }
});
