// The JavaScript half of the core's tasks (src/edge/tasks.js), in Node with a stand-in for Rust's
// `resume`: each settled operation resumes its task with its outcome, a task's output settles the
// request's promise, a task that answers and goes on keeps the Worker alive until it ends, and a
// trap or a lost instance fails the request instead of leaving it waiting. The Rust half runs in
// every integration test (tests/integration), panics included (panic.test.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { useResume, suspend, awaitSettled, goOn } from "../../src/edge/tasks.js";

// What the stand-in `resume` was called with, and what it answers next (by task).
const resumed = [];
const outputs = new Map();
useResume((task, operation, fulfilled, value) => {
  resumed.push({ task, operation, fulfilled, value });
  const output = outputs.get(task)?.shift();
  if (output instanceof Error) throw output;
  return output;
});
const turn = () => new Promise((resolve) => setTimeout(resolve, 0));
/** A ctx whose waitUntil promises are kept, to see when they end. */
const context = () => {
  const kept = [];
  return { kept, waitUntil: (promise) => kept.push(promise) };
};
const ended = (promise) => Promise.race([promise.then(() => true), turn().then(() => false)]);

test("each settled operation resumes its task with its outcome, until the task's output settles the request", async () => {
  outputs.set(1, [undefined, "the answer"]);
  const answer = suspend(1);
  const first = awaitSettled(1, Promise.resolve("fetched"));
  const second = awaitSettled(1, Promise.reject("timeout"));
  assert.notEqual(first, second);
  assert.equal(await answer, "the answer");
  assert.deepEqual(resumed.filter((call) => call.task === 1), [
    { task: 1, operation: first, fulfilled: true, value: "fetched" },
    { task: 1, operation: second, fulfilled: false, value: "timeout" },
  ]);
});

test("an operation settling after its task ended resumes nothing", async () => {
  outputs.set(2, ["done"]);
  const answer = suspend(2);
  awaitSettled(2, Promise.resolve("a"));
  assert.equal(await answer, "done");
  const late = Promise.resolve("late");
  awaitSettled(2, late);
  await turn();
  assert.equal(resumed.filter((call) => call.task === 2).length, 1);
});

test("a trap while a task is resumed fails that task's request", async () => {
  outputs.set(3, [new WebAssembly.RuntimeError("unreachable")]);
  const answer = suspend(3);
  awaitSettled(3, Promise.resolve("a"));
  await assert.rejects(answer, WebAssembly.RuntimeError);
});

test("a task its instance no longer knows (replaced after a trap) fails instead of waiting for ever", async () => {
  outputs.set(4, [false]);
  const answer = suspend(4);
  awaitSettled(4, Promise.resolve("a"));
  await assert.rejects(answer, /lost with its wasm instance/);
});

test("a number a fresh instance gives again fails its dead namesake's request, and serves the new one", async () => {
  const dead = suspend(5);
  const fresh = suspend(5);
  await assert.rejects(dead, /lost with its wasm instance/);
  outputs.set(5, ["fresh"]);
  awaitSettled(5, Promise.resolve("a"));
  assert.equal(await fresh, "fresh");
});

test("a task that answers and goes on: the request gets the answer, the Worker stays alive until the task ends", async () => {
  const ctx = context();
  outputs.set(6, [undefined, null]);
  const answer = suspend(6);
  goOn(6, ctx, "the head of a streamed reply");
  assert.equal(await answer, "the head of a streamed reply");
  assert.equal(ctx.kept.length, 1);
  awaitSettled(6, Promise.resolve("a line"));
  await turn();
  assert.equal(await ended(ctx.kept[0]), false, "it goes on");
  awaitSettled(6, Promise.resolve("the last line"));
  assert.equal(await ended(ctx.kept[0]), true, "it ended");
});

test("a task that answered in its first poll (or works in the background) is kept alive until it ends", async () => {
  const ctx = context();
  outputs.set(7, [null]);
  goOn(7, ctx, null);
  awaitSettled(7, Promise.resolve("flushed"));
  assert.equal(await ended(ctx.kept[0]), true);
});

test("a task in the background that traps still lets the Worker go", async () => {
  const ctx = context();
  outputs.set(8, [new WebAssembly.RuntimeError("unreachable")]);
  goOn(8, ctx, null);
  awaitSettled(8, Promise.resolve("a"));
  assert.equal(await ended(ctx.kept[0]), true);
});
