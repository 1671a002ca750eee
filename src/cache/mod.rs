//! Caching, shared by the proxy (proxied GETs), the dialog (`rest_call` results) and auth (the
//! JWKS): [`CacheKey`]s that never collide across kinds of entries, and the [`TieredCache`] that puts
//! the isolate's memory in front of the Cache API.

mod key;
mod memory;
mod status;

pub use key::CacheKey;
pub use memory::TieredCache;
pub use status::CacheStatus;
