// The JavaScript half of the core's tasks (src/edge/tasks.js), in Node with stand-ins for Rust's
// task objects: each settled operation resumes its task with its outcome, a task's output settles
// the request's promise, a task that answers and goes on keeps the Worker alive until it ends, and
// a trap or a task of a dead instance fails the request instead of leaving it waiting. The Rust half
// runs in every integration test (tests/integration), panics included (panic.test.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { suspend, awaitSettled, goOn } from "../../src/edge/tasks.js";

/** A stand-in task: records what it is resumed with, and answers `outputs` in turn (an Error is
 *  thrown, as a trap or a dead instance's object throws). */
function task(...outputs) {
  return {
    resumed: [],
    resume(self, operation, fulfilled, value) {
      assert.equal(self, this, "a task is given itself");
      this.resumed.push({ operation, fulfilled, value });
      const output = outputs.shift();
      if (output instanceof Error) throw output;
      return output;
    },
  };
}
const turn = () => new Promise((resolve) => setTimeout(resolve, 0));
/** A ctx whose waitUntil promises are kept, to see when they end. */
const context = () => {
  const kept = [];
  return { kept, waitUntil: (promise) => kept.push(promise) };
};
const ended = (promise) => Promise.race([promise.then(() => true), turn().then(() => false)]);

test("each settled operation resumes its task with its outcome, until the task's output settles the request", async () => {
  const t = task(undefined, "the answer");
  const answer = suspend(t);
  const first = awaitSettled(t, Promise.resolve("fetched"));
  const second = awaitSettled(t, Promise.reject("timeout"));
  assert.notEqual(first, second);
  assert.equal(await answer, "the answer");
  assert.deepEqual(t.resumed, [
    { operation: first, fulfilled: true, value: "fetched" },
    { operation: second, fulfilled: false, value: "timeout" },
  ]);
});

test("operation numbers are never reused, whichever task they belong to", () => {
  const numbers = [task(), task(), task()].map((t) => awaitSettled(t, new Promise(() => {})));
  assert.equal(new Set(numbers).size, 3);
});

test("an operation settling after its task ended resumes nothing", async () => {
  const t = task("done");
  const answer = suspend(t);
  awaitSettled(t, Promise.resolve("a"));
  assert.equal(await answer, "done");
  awaitSettled(t, Promise.resolve("late"));
  await turn();
  assert.equal(t.resumed.length, 1);
});

test("a trap while a task is resumed, or a task of a dead instance, fails that task's request", async () => {
  for (const error of [new WebAssembly.RuntimeError("unreachable"), new Error("Invalid stale object from previous Wasm instance")]) {
    const t = task(error);
    const answer = suspend(t);
    awaitSettled(t, Promise.resolve("a"));
    await assert.rejects(answer, (reason) => reason === error);
  }
});

test("tasks are apart: one's outcome never reaches another", async () => {
  const a = task("a done"), b = task(undefined, "b done");
  const answers = [suspend(a), suspend(b)];
  awaitSettled(b, Promise.resolve("for b"));
  awaitSettled(a, Promise.resolve("for a"));
  awaitSettled(b, Promise.resolve("for b, again"));
  assert.deepEqual(await Promise.all(answers), ["a done", "b done"]);
  assert.deepEqual(a.resumed.map((r) => r.value), ["for a"]);
  assert.deepEqual(b.resumed.map((r) => r.value), ["for b", "for b, again"]);
});

test("a task that answers and goes on: the request gets the answer, the Worker stays alive until the task ends", async () => {
  const ctx = context();
  const t = task(undefined, null);
  const answer = suspend(t);
  goOn(t, ctx, "the head of a streamed reply");
  assert.equal(await answer, "the head of a streamed reply");
  assert.equal(ctx.kept.length, 1);
  awaitSettled(t, Promise.resolve("a line"));
  await turn();
  assert.equal(await ended(ctx.kept[0]), false, "it goes on");
  awaitSettled(t, Promise.resolve("the last line"));
  assert.equal(await ended(ctx.kept[0]), true, "it ended");
});

test("a task that answered in its first poll (or works in the background) is kept alive until it ends", async () => {
  const ctx = context();
  const t = task(null);
  goOn(t, ctx, null);
  awaitSettled(t, Promise.resolve("flushed"));
  assert.equal(await ended(ctx.kept[0]), true);
});

test("a task in the background that traps still lets the Worker go", async () => {
  const ctx = context();
  const t = task(new WebAssembly.RuntimeError("unreachable"));
  goOn(t, ctx, null);
  awaitSettled(t, Promise.resolve("a"));
  assert.equal(await ended(ctx.kept[0]), true);
});
