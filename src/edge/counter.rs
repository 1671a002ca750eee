//! The rate-limit counter's logic, exported for its Durable Object (`counter.mjs`): the object
//! keeps the window in its storage and asks here what a request does to it.

use wasm_bindgen::prelude::wasm_bindgen;

use crate::platform::Window;

/// Spends one request from `window` (its stored form) at `now`. Answers `[allowed, remaining,
/// reset, counted_at]` followed by the window's new stored form.
#[wasm_bindgen]
pub fn counter_spend(window: &[f64], now: f64, requests: u32, period: u32) -> Vec<f64> {
    let mut window = Window::from_flat(window);
    let spent = window.spend(now, requests, period);
    let mut answer =
        vec![f64::from(u8::from(spent.allowed)), f64::from(spent.remaining), spent.reset as f64, spent.counted_at];
    answer.extend(window.to_flat());
    answer
}

/// Gives back one request counted at `counted_at`; answers the window's new stored form.
#[wasm_bindgen]
pub fn counter_give_back(window: &[f64], counted_at: f64) -> Vec<f64> {
    let mut window = Window::from_flat(window);
    window.give_back(counted_at);
    window.to_flat()
}
