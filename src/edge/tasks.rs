//! The core's futures, run without an executor: the runtime performs each operation and resumes
//! the core with its outcome.
//!
//! A request's future is polled once when the request arrives ([`run`]). When it waits, it waits
//! on promises of the runtime's (a fetch, a cache or body read, a timer, a Durable Object's
//! answer), each awaited through [`awaited`]: on its first poll the promise is handed to
//! `tasks.js` with the task, and its settlement calls [`Task::resume`], which delivers the outcome
//! to that operation and polls the task again, right there. A task is polled when one of its
//! operations has settled, and only then: no wake-up is queued, no waker is kept, and an answer
//! that needed no waiting (health, a cached HIT, a refusal) leaves from the first poll.
//!
//! This needs no waker because the core's futures wait on nothing else: they use no channel and
//! no timer of their own, and the one future that polls another (a streamed reply's turn) polls it
//! on every poll of its own. A future waiting on anything that is not an [`Awaited`] would never be
//! polled again.
//!
//! A task that waits is a JavaScript object ([`Task`]) held only by the callbacks of the promises
//! it waits on: no table of tasks is kept. A task none of whose promises can settle any more (its
//! request was cancelled when the client went away) is garbage, and collecting it frees its future.
//! After a trap, a task of the dead instance refuses to be resumed (wasm-bindgen checks the
//! instance of every object it is given), so its request fails instead of reaching a fresh
//! instance's memory.
//!
//! `tasks.js` holds the other half: the promise of each suspended request's answer, and the
//! `waitUntil` that keeps the Worker alive for a task that goes on after its answer ([`answer`],
//! a streamed reply) or has none ([`spawn`], work in the background).

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

#[wasm_bindgen(module = "/src/edge/tasks.js")]
extern "C" {
    /// A promise of `task`'s output.
    fn suspend(task: &JsValue) -> js_sys::Promise;
    /// Resumes `task` with `promise`'s outcome when it settles; answers the operation's number.
    #[wasm_bindgen(js_name = awaitSettled)]
    fn await_settled(task: &JsValue, promise: &js_sys::Promise) -> f64;
    /// `task` answered `answer` and goes on: resolves the promise of its answer, if `suspend` made
    /// one, and keeps the Worker alive (`ctx.waitUntil`) until the task ends.
    #[wasm_bindgen(js_name = goOn)]
    fn go_on(task: &JsValue, ctx: &JsValue, answer: &JsValue);
}

type Work = Pin<Box<dyn Future<Output = JsValue>>>;

/// A task that waits, as `tasks.js` holds it: its future, out of it while it is polled.
#[wasm_bindgen]
pub struct Task {
    work: Rc<RefCell<Option<Work>>>,
}

/// The answer of a task that goes on (see [`answer`]).
struct EarlyAnswer {
    response: JsValue,
    /// The request's `ctx`, whose `waitUntil` keeps the Worker alive until the task ends.
    ctx: JsValue,
}

/// The task being polled.
struct Polling {
    work: Rc<RefCell<Option<Work>>>,
    /// Its JavaScript object, made when its first operation is handed over (a task that needs no
    /// waiting never has one).
    handle: Option<JsValue>,
    /// The answer it gave in this poll while it goes on.
    answered: Option<EarlyAnswer>,
}

thread_local! {
    static POLLING: RefCell<Option<Polling>> = const { RefCell::new(None) };
    /// The outcome being delivered to the task being polled: its operation's number, and the
    /// promise's value (`Ok`) or reason (`Err`).
    static DELIVERED: RefCell<Option<(f64, Result<JsValue, JsValue>)>> = const { RefCell::new(None) };
}

/// Runs a request's future: its output when it needed no waiting, else a promise of it. A task
/// that gave its [`answer`] and goes on returns that answer, and ends in the background.
pub fn run(future: impl Future<Output = JsValue> + 'static) -> JsValue {
    let polling = Polling { work: Rc::default(), handle: None, answered: None };
    let (polled, polling) = poll(Box::pin(future), polling);
    match (polled, polling.answered, polling.handle) {
        (Poll::Ready(output), answered, _) => answered.map_or(output, |answer| answer.response),
        (Poll::Pending, Some(answer), Some(task)) => {
            go_on(&task, &answer.ctx, &answer.response);
            answer.response
        }
        (Poll::Pending, None, Some(task)) => suspend(&task).into(),
        // Waiting on nothing that can settle: it could never be resumed (see the module's doc).
        (Poll::Pending, _, None) => unreachable!("a task waits on no operation"),
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
    POLLING.with_borrow_mut(|polling| {
        let polling = polling.as_mut().expect("an answer given outside a task");
        polling.answered = Some(EarlyAnswer { response, ctx: ctx.clone() });
    });
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
            let task = POLLING.with_borrow_mut(|polling| {
                // Only a task's poll reaches here: every future the edge runs goes through `run`.
                let polling = polling.as_mut().expect("a promise awaited outside a task");
                let work = &polling.work;
                polling.handle.get_or_insert_with(|| Task { work: work.clone() }.into()).clone()
            });
            self.operation = await_settled(&task, &promise);
            return Poll::Pending;
        }
        let operation = self.operation;
        match DELIVERED.with_borrow_mut(|delivered| delivered.take_if(|(settled, _)| *settled == operation)) {
            Some((_, outcome)) => Poll::Ready(outcome),
            None => Poll::Pending,
        }
    }
}

#[wasm_bindgen]
impl Task {
    /// Called by `tasks.js` when an operation of this task has settled (`this` is the task's own
    /// object): delivers the outcome and polls the task. Answers the task's output when it ended,
    /// else `undefined`.
    pub fn resume(&self, this: JsValue, operation: f64, fulfilled: bool, value: JsValue) -> JsValue {
        // None only while it is polled, or after it ended; `tasks.js` resumes neither.
        let Some(work) = self.work.borrow_mut().take() else { return JsValue::UNDEFINED };
        DELIVERED.set(Some((operation, if fulfilled { Ok(value) } else { Err(value) })));
        let polling = Polling { work: self.work.clone(), handle: Some(this), answered: None };
        let (polled, polling) = poll(work, polling);
        // An outcome nothing took (its operation was dropped) is dropped with it.
        DELIVERED.take();
        match (polled, polling.answered) {
            (Poll::Ready(output), answered) => answered.map_or(output, |answer| answer.response),
            // `tasks.js` resolves the promise of the answer, and keeps the Worker alive meanwhile.
            (Poll::Pending, Some(answer)) => {
                if let Some(task) = &polling.handle {
                    go_on(task, &answer.ctx, &answer.response);
                }
                JsValue::UNDEFINED
            }
            (Poll::Pending, None) => JsValue::UNDEFINED,
        }
    }
}

/// Polls `work` as the task `polling` describes, and keeps it in the task while it waits. A task
/// started while another is polled (work it puts in the background) is polled within it: the
/// outer task is set aside meanwhile.
fn poll(mut work: Work, polling: Polling) -> (Poll<JsValue>, Polling) {
    let outer = POLLING.replace(Some(polling));
    let polled = work.as_mut().poll(&mut Context::from_waker(Waker::noop()));
    let polling = POLLING.replace(outer).expect("the task polled is set");
    if polled.is_pending() {
        *polling.work.borrow_mut() = Some(work);
    }
    (polled, polling)
}
