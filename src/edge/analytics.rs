//! The isolate's side of analytics (CONTRACT section 9): each finished request is added to a
//! [`Batch`] in this isolate's memory at once, whatever phase answered it, and the batch goes to
//! shared storage in the background, [`FLUSH_AFTER_MS`] after the first request it holds, through
//! `ctx.waitUntil`: no answer ever waits for it, and storage writes grow with isolates and time,
//! not with requests.
//!
//! The storage is the `AnalyticsStore` Durable Object (`analytics.mjs`), one object per UTC day:
//! every isolate writes the current day's object at most once per flush, which one object serves
//! easily (a few hundred isolates make tens of writes a second), and a read of up to a day's
//! minutes asks at most two objects. A whole day is deleted two days after it ends. With many
//! more isolates the day's name would take a shard suffix per isolate, and reads would ask every
//! shard. When an Analytics Engine dataset is bound as `ANALYTICS`, each flushed row is written
//! there too (see README, Analytics).

use std::cell::{Cell, RefCell};

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use worker::Env;

use super::runtime;
use super::tasks::{awaited, spawn};
use crate::platform::analytics::merge_counts;
use crate::platform::{AnalyticsUnavailable, Batch, RequestRecord};

/// How long a batch gathers requests before it is stored: with the write itself, a request is in
/// storage well within the contract's 10 seconds.
pub const FLUSH_AFTER_MS: f64 = 5_000.0;

/// The Durable Object namespace of the store, and the optional Analytics Engine dataset.
const STORE_BINDING: &str = "ANALYTICS_STORE";
const ENGINE_BINDING: &str = "ANALYTICS";

thread_local! {
    /// Requests counted since the last flush.
    static PENDING: RefCell<Batch> = RefCell::new(Batch::default());
    /// Whether a flush is already waiting (then a new request only adds to the batch).
    static FLUSH_SCHEDULED: Cell<bool> = const { Cell::new(false) };
    /// Whether this isolate's Worker has the store bound (bindings do not change in an isolate).
    static BOUND: std::cell::OnceCell<bool> = const { std::cell::OnceCell::new() };
}

fn binding(env: &Env, name: &str) -> Option<JsValue> {
    js_sys::Reflect::get(env, &JsValue::from_str(name)).ok().filter(|v| !v.is_undefined())
}

fn bound(env: &Env) -> bool {
    BOUND.with(|bound| *bound.get_or_init(|| binding(env, STORE_BINDING).is_some()))
}

/// Counts `record`, and schedules the flush when none is waiting. Without the store bound,
/// analytics are off and nothing is counted.
pub fn record(env: &Env, ctx: &worker::worker_sys::Context, record: RequestRecord) {
    if !bound(env) {
        return;
    }
    PENDING.with_borrow_mut(|pending| pending.add(&record));
    if FLUSH_SCHEDULED.replace(true) {
        return;
    }
    let (Some(store), engine) = (binding(env, STORE_BINDING), binding(env, ENGINE_BINDING)) else { return };
    spawn(ctx, async move {
        let _ = awaited(runtime::sleep(FLUSH_AFTER_MS)).await;
        FLUSH_SCHEDULED.set(false);
        let batch = PENDING.take();
        if batch.is_empty() {
            return;
        }
        let engine = engine.unwrap_or(JsValue::NULL);
        // Lost rather than counted twice: a write that failed may still have been stored.
        if awaited(runtime::record_analytics(&store, &engine, &batch.to_json())).await.is_err() {
            worker::console_log!("{}", serde_json::json!({"event": "analytics_flush_failed"}));
        }
    });
}

/// The stored minutes `from..=to` from every isolate.
pub async fn read(env: &Env, from: i64, to: i64) -> Result<Batch, AnalyticsUnavailable> {
    let store = binding(env, STORE_BINDING).ok_or(AnalyticsUnavailable::Off)?;
    let rows = awaited(runtime::read_analytics(&store, from as f64, to as f64))
        .await
        .map_err(|_| AnalyticsUnavailable::Failed)?;
    rows.as_string().as_deref().and_then(Batch::from_json).ok_or(AnalyticsUnavailable::Failed)
}

/// Adds a stored row's counts to a batch's (for the store's Durable Object, `analytics.mjs`).
#[wasm_bindgen]
pub fn analytics_merge(stored: &[u32], added: &[u32]) -> Vec<u32> {
    merge_counts(stored, added)
}
