//! Caching, shared by the proxy (proxied GETs), the dialog (`rest_call` results) and auth (the
//! JWKS): [`CacheKey`]s that never collide across kinds of entries, the [`TieredCache`] that puts
//! the isolate's memory in front of the Cache API, each entry's [`Freshness`] (fresh, then kept for
//! `stale_if_error`), and the [`InFlight`] map that lets concurrent misses share one origin request.

mod freshness;
mod in_flight;
mod key;
mod memory;
mod status;

pub use freshness::Freshness;
pub use in_flight::{InFlight, Lead, Turn, Wait};
pub use key::CacheKey;
pub use memory::TieredCache;
pub use status::CacheStatus;
