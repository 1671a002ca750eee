//! An edge gateway for chatbots, ML models and Raspberry Pi devices.
//!
//! The request's path through the gateway reads in the module names: [`config`] is loaded once,
//! [`gateway`] routes and runs the phases (authenticate with [`auth`], then [`dialog`] or [`proxy`],
//! with [`cache`] in between). Everything here is plain Rust tested natively; only [`edge`] knows it
//! runs in a Cloudflare Worker.

pub mod config;
pub mod error;
pub mod http;
pub mod platform;

pub mod auth;
pub mod cache;
pub mod dialog;
#[cfg(target_arch = "wasm32")]
mod edge;
pub mod gateway;
pub mod proxy;
#[cfg(test)]
mod rest_cases;
