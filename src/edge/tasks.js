// The JavaScript half of the core's tasks (src/edge/tasks.rs): the runtime performs each operation
// a task waits on and resumes the task when it settles. No executor runs between them: a settled
// promise's callback calls Rust's `resume`, which polls the task right there.
//
// A task that waits is "suspended" under its number; the request it serves awaits the promise
// `suspend` gives. A task that answers and goes on (a streamed reply, work in the background)
// keeps the Worker alive with `ctx.waitUntil` until it ends.
//
// A panic traps the wasm instance; the next call into it gets a fresh one, which knows none of
// the old tasks. A trap while a task is resumed fails that task's request here; every other task
// of the dead instance fails when its next operation settles (`resume` answers false for a task
// it does not know). None is left waiting for ever.

// Suspended tasks by number: { resolve, reject, end }, `end` once the task has answered and goes on.
const waiting = new Map();
let resumeTask;
// Operation numbers are never reused, not even by a fresh instance: an old promise settling late
// can never be taken for a new task's operation.
let operations = 0;

// The function tasks are resumed with: Rust's `resume`, as the entry module reaches it.
export function useResume(resume) {
  resumeTask = resume;
}

// A promise of suspended task `task`'s output. A number a fresh instance gives again replaces its
// dead namesake's, which fails.
export function suspend(task) {
  return new Promise((resolve, reject) => register(task, { resolve, reject, end: undefined }));
}

function register(task, waiter) {
  const replaced = waiting.get(task);
  waiting.set(task, waiter);
  if (replaced !== undefined) lost(replaced);
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
    output = resumeTask(task, operation, fulfilled, value);
  } catch (error) {
    waiting.delete(task);
    end(waiter, error);
    return;
  }
  if (output === undefined) return;
  waiting.delete(task);
  if (output === false) lost(waiter);
  else end(waiter, undefined, output);
}

// `task` answered `answer` and goes on until it ends: its request gets the answer now (when it
// waits for one), and the Worker is kept alive meanwhile.
export function goOn(task, ctx, answer) {
  let waiter = waiting.get(task);
  if (waiter === undefined) {
    waiter = { resolve() {}, reject() {}, end: undefined };
    register(task, waiter);
  }
  waiter.resolve(answer);
  ctx.waitUntil(new Promise((ended) => (waiter.end = ended)));
}

function lost(waiter) {
  end(waiter, new Error("the task was lost with its wasm instance"));
}

function end(waiter, error, output) {
  if (error === undefined) waiter.resolve(output);
  else waiter.reject(error);
  waiter.end?.();
}
