// The JavaScript half of the core's tasks (src/edge/tasks.rs): the runtime performs each operation
// a task waits on and resumes the task when it settles. No executor runs between them: a settled
// promise's callback calls the task's `resume`, which polls it right there.
//
// A task that waits is an object of Rust's (`Task`), held only by the callbacks of the promises it
// waits on. The request it serves awaits the promise `suspend` gives. A task that answers and goes
// on (a streamed reply, work in the background) keeps the Worker alive with `ctx.waitUntil` until
// it ends.
//
// A panic traps the wasm instance; the next call into it gets a fresh one. A trap while a task is
// resumed fails that task's request here; a task of the dead instance refuses to be resumed (it
// throws), so every other one fails its request when its next operation settles.

// The waiting side of each task that waits: { resolve, reject, end }, `end` once it has answered and
// goes on. Weak: it never keeps a task alive.
const waiting = new WeakMap();
// Operation numbers are never reused, not even by a fresh instance: an old promise settling late
// can never be taken for another operation.
let operations = 0;

// A promise of `task`'s output.
export function suspend(task) {
  return new Promise((resolve, reject) => waiting.set(task, { resolve, reject, end: undefined }));
}

// Resumes `task` with `promise`'s outcome when it settles; answers the operation's number.
export function awaitSettled(task, promise) {
  const operation = ++operations;
  promise.then(
    (value) => settle(task, operation, true, value),
    (reason) => settle(task, operation, false, reason),
  );
  return operation;
}

function settle(task, operation, fulfilled, value) {
  const waiter = waiting.get(task);
  if (waiter === undefined) return; // it ended, or failed
  let output;
  try {
    output = task.resume(task, operation, fulfilled, value);
  } catch (error) {
    waiting.delete(task);
    end(waiter, error);
    return;
  }
  if (output === undefined) return;
  waiting.delete(task);
  end(waiter, undefined, output);
}

// `task` answered `answer` and goes on until it ends: its request gets the answer now (when it
// waits for one), and the Worker is kept alive meanwhile.
export function goOn(task, ctx, answer) {
  let waiter = waiting.get(task);
  if (waiter === undefined) {
    waiter = { resolve() {}, reject() {}, end: undefined };
    waiting.set(task, waiter);
  }
  waiter.resolve(answer);
  ctx.waitUntil(new Promise((ended) => (waiter.end = ended)));
}

function end(waiter, error, output) {
  if (error === undefined) waiter.resolve(output);
  else waiter.reject(error);
  waiter.end?.();
}
