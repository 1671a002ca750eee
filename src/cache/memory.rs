//! Two cache tiers: the isolate's memory in front of the Cache API.
//!
//! The Cache API is shared by the isolates of a location but costs a round trip per lookup; an
//! isolate serves many requests in a row, so small entries are also kept in its memory (bounded).
//! Entries written through here record their absolute expiry, so a copy promoted from the Cache API
//! into memory never outlives the original.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::http::{Body, GatewayResponse, Headers};
use crate::platform::Platform;

/// Largest body kept in memory.
pub const MAX_MEMORY_ENTRY_BYTES: usize = 256 * 1024;
/// Memory all entries of an isolate may take together.
pub const MAX_MEMORY_BYTES: usize = 16 * 1024 * 1024;
/// The header carrying an entry's absolute expiry (Unix seconds) in the Cache API copy.
const EXPIRES_HEADER: &str = "x-gateway-expires";

struct Entry {
    expires: f64,
    status: u16,
    headers: Headers,
    body: Arc<Vec<u8>>,
    /// The body parsed as JSON, on first use by [`TieredCache::peek_json`] (`None`: not JSON).
    json: std::cell::OnceCell<Option<Arc<serde_json::Value>>>,
}

#[derive(Default)]
struct Memory {
    entries: HashMap<String, Entry>,
    used: usize,
}

/// Shared by the requests of an isolate. A Worker isolate runs one thing at a time, so the lock is
/// never contended; it makes the memory tier readable from synchronous template functions too.
#[derive(Default)]
pub struct TieredCache {
    memory: Mutex<Memory>,
}

impl TieredCache {
    fn memory(&self) -> MutexGuard<'_, Memory> {
        self.memory.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The body of a fresh entry in memory, parsed as JSON once per entry: a template's cached
    /// rest_call reads the same entry on every message.
    pub fn peek_json(&self, key: &str, now: f64) -> Option<Arc<serde_json::Value>> {
        let memory = self.memory();
        let entry = memory.entries.get(key).filter(|e| e.expires > now)?;
        entry.json.get_or_init(|| serde_json::from_slice(&entry.body).ok().map(Arc::new)).clone()
    }

    /// A fresh entry from memory, else from the Cache API (promoted to memory when small).
    pub async fn get<P: Platform>(&self, platform: &P, key: &str) -> Option<GatewayResponse<P::Stream>> {
        let now = platform.now();
        if let Some(entry) = self.memory().entries.get(key).filter(|e| e.expires > now) {
            return Some(GatewayResponse {
                status: entry.status,
                headers: entry.headers.clone(),
                body: Body::Bytes(entry.body.to_vec()),
            });
        }
        let mut found = platform.cache_get(key).await?;
        let expires = found.headers.get(EXPIRES_HEADER).and_then(|v| v.parse::<f64>().ok());
        found.headers.remove(EXPIRES_HEADER);
        found.headers.remove("cache-control");
        let small = found
            .headers
            .get("content-length")
            .and_then(|v| v.parse::<usize>().ok())
            .is_some_and(|n| n <= MAX_MEMORY_ENTRY_BYTES);
        if let (Some(expires), true) = (expires, small) {
            let bytes =
                platform.read(std::mem::replace(&mut found.body, Body::Empty), MAX_MEMORY_ENTRY_BYTES).await.ok()?;
            self.remember(key, expires, found.status, &found.headers, &bytes, now);
            found.body = Body::Bytes(bytes);
        }
        Some(found)
    }

    /// Stores in the Cache API for `ttl` seconds, and in memory when the body is small and in hand.
    pub async fn put<P: Platform>(&self, platform: &P, key: &str, mut response: GatewayResponse<P::Stream>, ttl: u64) {
        let now = platform.now();
        let expires = now + ttl as f64;
        if let Body::Bytes(bytes) = &response.body {
            if bytes.len() <= MAX_MEMORY_ENTRY_BYTES {
                self.remember(key, expires, response.status, &response.headers, bytes, now);
            }
        }
        response.headers.set(EXPIRES_HEADER, format!("{expires}"));
        platform.cache_put(key, response, ttl).await;
    }

    fn remember(&self, key: &str, expires: f64, status: u16, headers: &Headers, body: &[u8], now: f64) {
        let mut memory = self.memory();
        if let Some(old) = memory.entries.remove(key) {
            memory.used -= old.body.len();
        }
        if memory.used + body.len() > MAX_MEMORY_BYTES {
            memory.entries.retain(|_, e| e.expires > now);
            memory.used = memory.entries.values().map(|e| e.body.len()).sum();
            if memory.used + body.len() > MAX_MEMORY_BYTES {
                memory.entries.clear();
                memory.used = 0;
            }
        }
        memory.used += body.len();
        let entry = Entry {
            expires,
            status,
            headers: headers.clone(),
            body: Arc::new(body.to_vec()),
            json: Default::default(),
        };
        memory.entries.insert(key.to_string(), entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::memory::{block_on, MemoryPlatform, MemoryStream};

    fn response(body: &[u8]) -> GatewayResponse<MemoryStream> {
        let mut response = GatewayResponse::json(200, &serde_json::Value::Null);
        response.body = Body::Bytes(body.to_vec());
        response
    }

    #[test]
    fn memory_answers_first_and_expires_with_the_entry() {
        let platform = MemoryPlatform::answering_json(serde_json::json!({}));
        let cache = TieredCache::default();
        block_on(cache.put(&platform, "https://k/1", response(b"one"), 10));
        let hit = block_on(cache.get(&platform, "https://k/1")).unwrap();
        assert!(matches!(hit.body, Body::Bytes(ref b) if b == b"one"));
        assert_eq!(hit.headers.get(EXPIRES_HEADER), None);
        platform.advance(11.0);
        assert!(block_on(cache.get(&platform, "https://k/1")).is_none());
    }

    #[test]
    fn json_is_parsed_once_and_expires_with_the_entry() {
        let platform = MemoryPlatform::answering_json(serde_json::json!({}));
        let cache = TieredCache::default();
        block_on(cache.put(&platform, "https://k/j", response(br#"{"a":1}"#), 10));
        let first = cache.peek_json("https://k/j", platform.now()).unwrap();
        assert_eq!(*first, serde_json::json!({"a": 1}));
        assert!(Arc::ptr_eq(&first, &cache.peek_json("https://k/j", platform.now()).unwrap()));
        block_on(cache.put(&platform, "https://k/n", response(b"not json"), 10));
        assert!(cache.peek_json("https://k/n", platform.now()).is_none());
        assert!(cache.peek_json("https://k/j", platform.now() + 11.0).is_none());
    }

    #[test]
    fn an_entry_from_the_cache_api_is_promoted_with_its_expiry() {
        let platform = MemoryPlatform::answering_json(serde_json::json!({}));
        let writer = TieredCache::default();
        let mut stored = response(b"shared");
        stored.headers.set("content-length", "6");
        block_on(writer.put(&platform, "https://k/2", stored, 10));
        let reader = TieredCache::default(); // another isolate
        platform.advance(5.0);
        assert!(block_on(reader.get(&platform, "https://k/2")).is_some());
        assert_eq!(reader.memory().entries.get("https://k/2").unwrap().expires, platform.now() + 5.0);
    }
}
