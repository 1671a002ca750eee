//! How a synchronous template reaches the asynchronous network: **render, suspend, fetch, replay**.
//!
//! minijinja functions are synchronous and a Worker has no threads, so `rest_call` cannot wait for
//! Fetch. Instead a message's turn is rendered from the start as often as needed:
//!
//! 1. `rest_call` number *i* looks in the message's [`CallLog`]. If result *i* is recorded, it
//!    returns it (after checking that the call is the one recorded: same method, URL, body...).
//! 2. Otherwise it records the prepared call as *pending* and fails the render.
//! 3. The driver ([`run`]) sees the pending call, sends it (or finds it in the cache), records the
//!    result and renders again. Earlier calls now return instantly from the log.
//!
//! Templates are deterministic (same context, same `utc_time`), so the replayed render takes the
//! same path as a straight-line execution would, and a later call may depend on an earlier result.
//! Each call is sent **exactly once**: a recorded call is never sent again, so a POST is never
//! repeated. N calls cost N fetches plus N+1 renders, and a render is microseconds next to a fetch.

use std::sync::{Arc, Mutex};

use minijinja::value::{Kwargs, Object};
use minijinja::{Error, ErrorKind, State, Value};
use serde_json::Value as Json;

use super::prepared::{PreparedCall, PreparedCalls};
use crate::config::RestConfig;

/// The context variable that carries the log into `rest_call`.
pub const CALL_LOG_VAR: &str = "__rest_call_log";

/// Why a turn stopped before finishing.
#[derive(Debug, Clone, PartialEq)]
pub enum Suspension {
    /// A call was made that has no recorded result yet.
    Pending(Arc<PreparedCall>),
    /// A call failed with `on_error` `break_flow`.
    Failed(String),
    /// More calls than a message may make.
    TooManyCalls(usize),
    /// The replay diverged from the recording (the template is not deterministic).
    Diverged,
}

#[derive(Debug, Default)]
struct LogState {
    /// Results as the template sees them, converted once: a replay hands out clones, which are cheap.
    recorded: Vec<(Arc<PreparedCall>, Value)>,
    cursor: usize,
    suspension: Option<Suspension>,
}

/// Answers a call during the render itself, without suspending, when its result is already known
/// (a cached call in the isolate's memory): no replay, no await. The replay loop does not know
/// where such answers come from.
pub trait Recall: Send + Sync {
    fn recall(&self, call: &PreparedCall) -> Option<Value>;
}

/// The calls of one message and their results, shared with `rest_call` through the context.
pub struct CallLog {
    state: Mutex<LogState>,
    max_calls: usize,
    recall: Option<Box<dyn Recall>>,
}

impl std::fmt::Debug for CallLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallLog").field("state", &self.state).field("max_calls", &self.max_calls).finish()
    }
}

impl Object for CallLog {}

impl CallLog {
    pub fn new(max_calls: usize, recall: Option<Box<dyn Recall>>) -> Arc<Self> {
        Arc::new(CallLog { state: Mutex::new(LogState::default()), max_calls, recall })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LogState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts a render from the first call again.
    pub fn rewind(&self) {
        let mut state = self.lock();
        state.cursor = 0;
        state.suspension = None;
    }

    pub fn take_suspension(&self) -> Option<Suspension> {
        self.lock().suspension.take()
    }

    pub fn record(&self, call: Arc<PreparedCall>, result: Json) {
        self.lock().recorded.push((call, Value::from(minijinja::value::Serde(&result))));
    }

    pub fn calls_made(&self) -> usize {
        self.lock().recorded.len()
    }

    /// Called by `rest_call` for each call, in order.
    fn next(&self, call: Arc<PreparedCall>) -> Result<Value, Suspension> {
        let mut state = self.lock();
        let index = state.cursor;
        state.cursor += 1;
        let outcome = match state.recorded.get(index) {
            Some((recorded, result)) if Arc::ptr_eq(recorded, &call) || **recorded == *call => Ok(result.clone()),
            Some(_) => Err(Suspension::Diverged),
            None if index >= self.max_calls => Err(Suspension::TooManyCalls(self.max_calls)),
            None => match self.recall.as_ref().and_then(|recall| recall.recall(&call)) {
                Some(result) => {
                    state.recorded.push((call, result.clone()));
                    Ok(result)
                }
                None => Err(Suspension::Pending(call)),
            },
        };
        if let Err(suspension) = &outcome {
            state.suspension = Some(suspension.clone());
        }
        outcome
    }

    pub fn fail(&self, message: String) {
        self.lock().suspension = Some(Suspension::Failed(message));
    }
}

/// The `rest_call` global: prepares the call and answers it from the message's log.
pub fn rest_call_function(
    rest: Arc<RestConfig>,
) -> impl Fn(&State, Kwargs) -> Result<Value, Error> + Send + Sync + 'static {
    let prepared_calls = PreparedCalls::default();
    move |state: &State, kwargs: Kwargs| {
        let log_value = state.lookup(CALL_LOG_VAR).ok_or_else(|| {
            Error::new(ErrorKind::InvalidOperation, "rest_call is only available in dialog templates")
        })?;
        let log = log_value
            .downcast_object_ref::<CallLog>()
            .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "rest_call has no call log"))?;
        // Dicts keep the order the template wrote them in, in the arguments' conversion to JSON too
        // (both crates' `preserve_order`): MaxBot sends a body as its Python dict is ordered.
        let call = prepared_calls
            .prepare(&Value::from(kwargs), &rest)
            .map_err(|message| Error::new(ErrorKind::InvalidOperation, message))?;
        match log.next(call) {
            Ok(result) => Ok(result),
            // The render stops here; the driver reads the suspension from the log.
            Err(_) => Err(Error::new(ErrorKind::InvalidOperation, "rest_call suspended")),
        }
    }
}

/// What the driver needs to send one call: its result as the template will see it, or why there
/// is none.
#[allow(async_fn_in_trait)]
pub trait CallExecutor {
    async fn execute(&self, call: &PreparedCall) -> Result<Json, CallError>;
}

/// Why a call has no result for the template.
#[derive(Debug, Clone, PartialEq)]
pub enum CallError {
    /// It failed and its `on_error` breaks the flow: the message says why.
    Failed(String),
    /// The message ran out of time before the call could be answered, whatever its `on_error`.
    OutOfTime,
}

/// Why a turn could not produce its text.
#[derive(Debug, Clone, PartialEq)]
pub enum TurnError {
    RestCallFailed(String),
    TooManyCalls(usize),
    /// The message's deadline passed.
    OutOfTime,
    /// The message (MaxBot's exact wording where it has one) and where it happened.
    Template {
        message: String,
        location: Option<String>,
    },
}

/// Runs `render` until it completes, sending each pending call once through `executor`.
/// `paused` runs each time a render stopped at a call, before the call is sent (a streamed turn
/// sends the messages it has completed then); its error ends the turn.
pub async fn run<R, E, W>(log: &CallLog, mut render: R, executor: &E, mut paused: W) -> Result<String, TurnError>
where
    R: FnMut() -> Result<String, Error>,
    E: CallExecutor,
    W: FnMut() -> Result<(), TurnError>,
{
    loop {
        log.rewind();
        let error = match render() {
            Ok(text) => return Ok(text),
            Err(error) => error,
        };
        match log.take_suspension() {
            Some(Suspension::Pending(call)) => {
                paused()?;
                match executor.execute(&call).await {
                    Ok(result) => log.record(call, result),
                    Err(CallError::Failed(message)) => return Err(TurnError::RestCallFailed(message)),
                    Err(CallError::OutOfTime) => return Err(TurnError::OutOfTime),
                }
            }
            Some(Suspension::Failed(message)) => return Err(TurnError::RestCallFailed(message)),
            Some(Suspension::TooManyCalls(limit)) => return Err(TurnError::TooManyCalls(limit)),
            Some(Suspension::Diverged) => {
                let message = "the template made different REST calls when replayed".to_string();
                return Err(TurnError::Template { message, location: None });
            }
            None => return Err(TurnError::Template { message: message_of(&error), location: location_of(&error) }),
        }
    }
}

/// A template error's own message, without minijinja's decoration.
pub fn message_of(error: &Error) -> String {
    match error.detail() {
        Some(detail) if error.kind() == ErrorKind::InvalidOperation => detail.to_string(),
        Some(detail) => format!("{}: {detail}", error.kind()),
        None => error.kind().to_string(),
    }
}

/// Where a template error happened, as `name line N`.
pub fn location_of(error: &Error) -> Option<String> {
    Some(format!("{} line {}", error.name()?, error.line()?))
}
