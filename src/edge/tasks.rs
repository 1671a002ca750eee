//! The core's futures, run without an executor: the runtime performs each operation and resumes
//! the core with its outcome.
//!
//! A request's future is polled once when the request arrives ([`run`]). When it waits, it waits
//! on promises of the runtime's (a fetch, a cache read, a timer, a Durable Object's answer), each
//! awaited through [`awaited`]: on its first poll the promise is handed to `tasks.js` under the
//! task's number, and its settlement calls [`resume`], which delivers the outcome to that
//! operation and polls the task again, right there. A task is polled when one of its operations
//! has settled, and only then: no wake-up is queued, no waker is kept, and an answer that needed
//! no waiting (health, a cached HIT, a refusal, a chat turn whose calls are all in the isolate's
//! memory) leaves from the first poll.
//!
//! This needs no waker because the core's futures wait on nothing else: they use no channel and
//! no timer of their own, and the one future that polls another (a streamed reply's turn) polls it
//! on every poll of its own. A future waiting on anything that is not an [`Awaited`] would never be
//! polled again.
//!
//! `tasks.js` holds the other half: the promise of each suspended request's answer, and the
//! `waitUntil` that keeps the Worker alive for a task that goes on after its answer ([`answer`],
//! a streamed reply) or has none ([`spawn`], work in the background).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

#[wasm_bindgen(module = "/src/edge/tasks.js")]
extern "C" {
    /// The function tasks are resumed with ([`resume`], as the entry module reaches it).
    #[wasm_bindgen(js_name = useResume)]
    pub fn use_resume(resume: &JsValue);
    /// A promise of suspended task `task`'s output.
    fn suspend(task: u32) -> js_sys::Promise;
    /// Resumes `task` with `promise`'s outcome when it settles; answers the operation's number.
    #[wasm_bindgen(js_name = awaitSettled)]
    fn await_settled(task: u32, promise: &js_sys::Promise) -> f64;
    /// `task` answered `answer` and goes on: resolves the promise of its answer, if `suspend` made
    /// one, and keeps the Worker alive (`ctx.waitUntil`) until the task ends.
    #[wasm_bindgen(js_name = goOn)]
    fn go_on(task: u32, ctx: &JsValue, answer: &JsValue);
}

type Task = Pin<Box<dyn Future<Output = JsValue>>>;

/// An answer given by a task that goes on (see [`answer`]).
struct Answer {
    response: JsValue,
    /// The request's `ctx`, whose `waitUntil` keeps the Worker alive until the task ends.
    ctx: JsValue,
}

thread_local! {
    /// Tasks waiting for an operation, by number.
    static SUSPENDED: RefCell<HashMap<u32, Task>> = RefCell::new(HashMap::new());
    static NEXT_TASK: Cell<u32> = const { Cell::new(0) };
    /// The task being polled: the operations it starts are handed over under its number.
    static POLLING: Cell<Option<u32>> = const { Cell::new(None) };
    /// The outcome being delivered to the task being polled: its operation's number, and the
    /// promise's value (`Ok`) or reason (`Err`).
    static DELIVERED: RefCell<Option<(f64, Result<JsValue, JsValue>)>> = const { RefCell::new(None) };
    /// The answer the task being polled gave while it goes on, if it gave one in this poll.
    static ANSWERED: RefCell<Option<Answer>> = const { RefCell::new(None) };
}

/// Runs a request's future: its output when it needed no waiting, else a promise of it. A task
/// that gave its [`answer`] and goes on returns that answer, and ends in the background.
pub fn run(future: impl Future<Output = JsValue> + 'static) -> JsValue {
    let number = NEXT_TASK.get();
    NEXT_TASK.set(number.wrapping_add(1));
    let mut task: Task = Box::pin(future);
    let (polled, answered) = poll(number, &mut task);
    if polled.is_pending() {
        SUSPENDED.with_borrow_mut(|tasks| tasks.insert(number, task));
    }
    match (polled, answered) {
        (Poll::Ready(output), answered) => answered.map_or(output, |answer| answer.response),
        (Poll::Pending, Some(answer)) => {
            go_on(number, &answer.ctx, &answer.response);
            answer.response
        }
        (Poll::Pending, None) => suspend(number).into(),
    }
}

/// Runs `future` in the background: the request's `ctx` keeps the Worker alive until it ends.
pub fn spawn(ctx: &JsValue, future: impl Future<Output = ()> + 'static) {
    let ctx = ctx.clone();
    run(async move {
        answer(JsValue::NULL, &ctx);
        future.await;
        JsValue::NULL
    });
}

/// Gives the task's answer (a `Response`) now, while the task goes on (a streamed reply goes on
/// writing its body). The client gets it when the current poll ends.
pub fn answer(response: JsValue, ctx: &JsValue) {
    ANSWERED.set(Some(Answer { response, ctx: ctx.clone() }));
}

/// A promise of the runtime's, awaited in a task: the promise's value, or its rejection's reason.
pub fn awaited(promise: js_sys::Promise) -> Awaited {
    Awaited { promise: Some(promise), operation: f64::NAN }
}

pub struct Awaited {
    /// The promise, until the first poll hands it over.
    promise: Option<js_sys::Promise>,
    /// The number `tasks.js` gave the operation.
    operation: f64,
}

impl Future for Awaited {
    type Output = Result<JsValue, JsValue>;

    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(promise) = self.promise.take() {
            // Only a task's poll reaches here: every future the edge runs goes through `run`.
            let task = POLLING.get().expect("a promise awaited outside a task");
            self.operation = await_settled(task, &promise);
            return Poll::Pending;
        }
        let operation = self.operation;
        match DELIVERED.with_borrow_mut(|delivered| delivered.take_if(|(settled, _)| *settled == operation)) {
            Some((_, outcome)) => Poll::Ready(outcome),
            None => Poll::Pending,
        }
    }
}

/// Called by `tasks.js` when an operation of `task` has settled: delivers the outcome and polls
/// the task. Answers the task's output when it ended; `false` when there is no such task (its
/// instance was replaced after a trap), so that the request it served fails; else `undefined`.
#[wasm_bindgen]
pub fn resume(task: u32, operation: f64, fulfilled: bool, value: JsValue) -> JsValue {
    let Some(mut future) = SUSPENDED.with_borrow_mut(|tasks| tasks.remove(&task)) else { return JsValue::FALSE };
    DELIVERED.set(Some((operation, if fulfilled { Ok(value) } else { Err(value) })));
    let (polled, answered) = poll(task, &mut future);
    // An outcome nothing took (its operation was dropped) is dropped with it.
    DELIVERED.take();
    if polled.is_pending() {
        SUSPENDED.with_borrow_mut(|tasks| tasks.insert(task, future));
    }
    match (polled, answered) {
        (Poll::Ready(output), answered) => answered.map_or(output, |answer| answer.response),
        // `tasks.js` resolves the promise of the answer, and keeps the Worker alive meanwhile.
        (Poll::Pending, Some(answer)) => {
            go_on(task, &answer.ctx, &answer.response);
            JsValue::UNDEFINED
        }
        (Poll::Pending, None) => JsValue::UNDEFINED,
    }
}

/// Polls `task` as task `number`, answering what it gave in this poll. A task started while
/// another is polled (work it puts in the background) is polled within it: the outer task's
/// number and answer are kept aside meanwhile.
fn poll(number: u32, task: &mut Task) -> (Poll<JsValue>, Option<Answer>) {
    let outer = POLLING.replace(Some(number));
    let outer_answer = ANSWERED.take();
    let polled = task.as_mut().poll(&mut Context::from_waker(Waker::noop()));
    POLLING.set(outer);
    (polled, ANSWERED.replace(outer_answer))
}
