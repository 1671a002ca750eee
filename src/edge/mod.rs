//! The top floor: the only code that knows it runs in a Cloudflare Worker. `entry.mjs` calls the
//! [`entry`] point; it turns the runtime's request into the core's, serves it through the
//! [`gateway`](crate::gateway), and turns the answer back. [`platform`] is the core's
//! [`Platform`](crate::platform::Platform) on Fetch, the Cache API and Web Crypto, over the few
//! JavaScript helpers of `runtime.js`; `tasks` runs the core's futures, resumed by the runtime as
//! the operations they wait on settle.
//!
//! `counter` is the rate-limit counter's logic, exported for its Durable Object (`counter.mjs`);
//! `analytics` counts requests in the isolate and stores them through the `AnalyticsStore` object
//! (`analytics.mjs`).
//!
//! [`body_first`] and [`wire`] are plain Rust (tested natively): which request bodies a task reads
//! natively first (chat messages), and the form headers take between Rust and JavaScript.

#[cfg(target_arch = "wasm32")]
mod analytics;
pub mod body_first;
#[cfg(target_arch = "wasm32")]
mod counter;
#[cfg(target_arch = "wasm32")]
mod entry;
#[cfg(target_arch = "wasm32")]
mod platform;
#[cfg(target_arch = "wasm32")]
mod runtime;
#[cfg(target_arch = "wasm32")]
mod tasks;
pub mod wire;
