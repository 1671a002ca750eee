//! Two cache tiers: the isolate's memory in front of the Cache API.
//!
//! The Cache API is shared by the isolates of a location but costs a round trip per lookup; an
//! isolate serves many requests in a row, so small entries are also kept in its memory (bounded).
//! Entries written through here record their [`Freshness`], so a copy promoted from the Cache API
//! into memory never outlives the original, and one kept past its freshness (`stale_if_error`)
//! answers only when asked for a stale copy.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::freshness::{Freshness, FRESHNESS_HEADER};
use crate::http::{Body, GatewayResponse, Headers};
use crate::platform::Platform;

/// Largest body kept in memory.
pub const MAX_MEMORY_ENTRY_BYTES: usize = 256 * 1024;
/// Memory all entries of an isolate may take together, their parsed forms included.
pub const MAX_MEMORY_BYTES: usize = 16 * 1024 * 1024;
/// What a parsed body is charged for, per byte of the body: the reader's tree is not measured.
/// Measured natively (with a counting allocator) for a cached call's result as template values:
/// 4-9 times the text for an API's objects, 1.8 for long strings, 20 for a list of digits; wasm's
/// pointers are half as wide.
const PARSED_BYTES_PER_BODY_BYTE: usize = 8;

struct Entry {
    freshness: Freshness,
    status: u16,
    headers: Headers,
    body: Arc<Vec<u8>>,
    /// What the body parses into, on first use by [`TieredCache::peek_parsed`] (`None`: it does not).
    parsed: std::cell::OnceCell<Option<Parsed>>,
}

/// An entry's body as its reader parsed it, of the reader's own type.
type Parsed = Arc<dyn std::any::Any + Send + Sync>;

impl Entry {
    /// The memory the entry is charged for: its body, and its parsed form once it has one.
    fn weight(&self) -> usize {
        self.body.len() + self.parsed.get().map_or(0, |parsed| parsed_weight(&self.body, parsed))
    }
}

/// What a body's parsed form is charged for (nothing when it does not parse).
fn parsed_weight(body: &[u8], parsed: &Option<Parsed>) -> usize {
    parsed.as_ref().map_or(0, |_| body.len() * PARSED_BYTES_PER_BODY_BYTE)
}

#[derive(Default)]
struct Memory {
    entries: HashMap<String, Entry>,
    /// The entries' weights together.
    used: usize,
    /// No entry is past its time before this (the earliest `kept_until` when it was last worked
    /// out, or earlier): until then, looking for entries to drop finds none.
    next_drop: f64,
}

impl Memory {
    /// Drops the entries past their time (fresh, then kept for stale answers). Reads of a full
    /// memory ask for this: it goes through the entries only when one may be past its time.
    fn drop_unkept(&mut self, now: f64) {
        if now < self.next_drop {
            return;
        }
        self.entries.retain(|_, e| e.freshness.is_kept(now));
        self.used = self.entries.values().map(Entry::weight).sum();
        self.next_drop = self.entries.values().map(|e| e.freshness.kept_until).fold(f64::INFINITY, f64::min);
    }
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

    /// The body of a fresh entry in memory, parsed by `parse` once per entry and kept with it: a
    /// template's cached rest_call reads the same entry, as the same template values, on every
    /// message. `None` when the body does not parse, or was parsed into another type first. The
    /// parsed form counts towards [`MAX_MEMORY_BYTES`]; without room for it, it is not kept.
    pub fn peek_parsed<T: Send + Sync + 'static>(
        &self,
        key: &str,
        now: f64,
        parse: impl FnOnce(&[u8]) -> Option<T>,
    ) -> Option<Arc<T>> {
        let mut memory = self.memory();
        let entry = memory.entries.get(key).filter(|e| e.freshness.is_fresh(now))?;
        if let Some(parsed) = entry.parsed.get() {
            return parsed.clone()?.downcast().ok();
        }
        let body = entry.body.clone();
        let parsed = parse(&body).map(|value| Arc::new(value) as Parsed);
        // Kept with the entry when the memory has room for it, if need be once the entries no
        // longer kept are dropped; else parsed again on each read.
        let charge = parsed_weight(&body, &parsed);
        if memory.used + charge > MAX_MEMORY_BYTES {
            memory.drop_unkept(now);
        }
        if memory.used + charge <= MAX_MEMORY_BYTES {
            // Fresh, the entry is still there.
            if let Some(entry) = memory.entries.get(key) {
                if entry.parsed.set(parsed.clone()).is_ok() {
                    memory.used += charge;
                }
            }
        }
        parsed?.downcast().ok()
    }

    /// A fresh entry from memory, else from the Cache API (promoted to memory when small).
    pub async fn get<P: Platform>(&self, platform: &P, key: &str) -> Option<GatewayResponse<P::Stream>> {
        // An entry without a record (stored before records were kept) is fresh while the Cache
        // API keeps it.
        let fresh = |freshness: Option<&Freshness>, now| freshness.is_none_or(|f| f.is_fresh(now));
        self.find(platform, key, fresh).await.map(|(response, _)| response)
    }

    /// An entry that may answer for a failed origin (fresh or expired at most `stale_if_error`
    /// seconds ago), with its `Age` header.
    pub async fn get_stale<P: Platform>(
        &self,
        platform: &P,
        key: &str,
        stale_if_error: f64,
    ) -> Option<GatewayResponse<P::Stream>> {
        let usable =
            |freshness: Option<&Freshness>, now| freshness.is_some_and(|f| f.may_answer_error(now, stale_if_error));
        let (mut response, freshness) = self.find(platform, key, usable).await?;
        let age = freshness.map_or(0, |f| f.age(platform.now()));
        response.headers.set("age", age.to_string());
        Some(response)
    }

    /// An entry `usable` accepts, from memory, else from the Cache API. A small Cache API entry
    /// with a record is promoted to memory whether or not it is usable now: an entry kept past
    /// its freshness is read again when its origin fails.
    async fn find<P: Platform>(
        &self,
        platform: &P,
        key: &str,
        usable: impl Fn(Option<&Freshness>, f64) -> bool,
    ) -> Option<(GatewayResponse<P::Stream>, Option<Freshness>)> {
        let now = platform.now();
        if let Some(entry) = self.memory().entries.get(key).filter(|e| usable(Some(&e.freshness), now)) {
            let response = GatewayResponse {
                status: entry.status,
                headers: entry.headers.clone(),
                body: Body::Bytes(entry.body.to_vec()),
            };
            return Some((response, Some(entry.freshness)));
        }
        let mut found = platform.cache_get(key).await?;
        let freshness = found.headers.get(FRESHNESS_HEADER).and_then(Freshness::parse);
        found.headers.remove(FRESHNESS_HEADER);
        found.headers.remove("cache-control");
        let small = found.headers.content_length().is_some_and(|n| n <= MAX_MEMORY_ENTRY_BYTES as u64);
        if let (Some(freshness), true) = (freshness, small) {
            let bytes =
                platform.read(std::mem::replace(&mut found.body, Body::Empty), MAX_MEMORY_ENTRY_BYTES).await.ok()?;
            self.remember(key, freshness, found.status, &found.headers, &bytes, now);
            found.body = Body::Bytes(bytes);
        }
        usable(freshness.as_ref(), now).then_some((found, freshness))
    }

    /// Stores in the Cache API for `ttl` seconds, and in memory when the body is small and in hand.
    pub async fn put<P: Platform>(&self, platform: &P, key: &str, response: GatewayResponse<P::Stream>, ttl: u64) {
        self.put_kept(platform, key, response, ttl, 0).await
    }

    /// As [`put`](Self::put), fresh for `fresh` seconds and kept `stale` more to answer when the
    /// origin fails ([`get_stale`](Self::get_stale)).
    pub async fn put_kept<P: Platform>(
        &self,
        platform: &P,
        key: &str,
        mut response: GatewayResponse<P::Stream>,
        fresh: u64,
        stale: u64,
    ) {
        let now = platform.now();
        let freshness = Freshness::new(now, fresh, stale);
        if let Body::Bytes(bytes) = &response.body {
            if bytes.len() <= MAX_MEMORY_ENTRY_BYTES {
                self.remember(key, freshness, response.status, &response.headers, bytes, now);
            }
        }
        response.headers.set(FRESHNESS_HEADER, freshness.header_value());
        platform.cache_put(key, response, fresh + stale).await;
    }

    fn remember(&self, key: &str, freshness: Freshness, status: u16, headers: &Headers, body: &[u8], now: f64) {
        let mut memory = self.memory();
        if let Some(old) = memory.entries.remove(key) {
            memory.used -= old.weight();
        }
        if memory.used + body.len() > MAX_MEMORY_BYTES {
            memory.drop_unkept(now);
            if memory.used + body.len() > MAX_MEMORY_BYTES {
                memory.entries.clear();
                memory.used = 0;
            }
        }
        memory.used += body.len();
        memory.next_drop = memory.next_drop.min(freshness.kept_until);
        let entry = Entry {
            freshness,
            status,
            headers: headers.clone(),
            body: Arc::new(body.to_vec()),
            parsed: Default::default(),
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
        assert_eq!(hit.headers.get(FRESHNESS_HEADER), None);
        platform.advance(11.0);
        assert!(block_on(cache.get(&platform, "https://k/1")).is_none());
    }

    #[test]
    fn a_body_is_parsed_once_and_expires_with_the_entry() {
        let platform = MemoryPlatform::answering_json(serde_json::json!({}));
        let cache = TieredCache::default();
        let json = |bytes: &[u8]| serde_json::from_slice::<serde_json::Value>(bytes).ok();
        block_on(cache.put(&platform, "https://k/j", response(br#"{"a":1}"#), 10));
        let first = cache.peek_parsed("https://k/j", platform.now(), json).unwrap();
        assert_eq!(*first, serde_json::json!({"a": 1}));
        let again = cache
            .peek_parsed("https://k/j", platform.now(), |_| -> Option<serde_json::Value> { panic!("parsed again") });
        assert!(Arc::ptr_eq(&first, &again.unwrap()));
        // Read as another type than it was parsed into, it is not found.
        assert!(cache.peek_parsed("https://k/j", platform.now(), |_| Some(1u8)).is_none());
        block_on(cache.put(&platform, "https://k/n", response(b"not json"), 10));
        assert!(cache.peek_parsed("https://k/n", platform.now(), json).is_none());
        assert!(cache.peek_parsed("https://k/j", platform.now() + 11.0, json).is_none());
        // Stored again, the entry is parsed again.
        block_on(cache.put(&platform, "https://k/j", response(br#"{"a":2}"#), 10));
        assert_eq!(*cache.peek_parsed("https://k/j", platform.now(), json).unwrap(), serde_json::json!({"a": 2}));
    }

    #[test]
    fn a_parsed_form_counts_towards_the_memory_limit() {
        let platform = MemoryPlatform::answering_json(serde_json::json!({}));
        let cache = TieredCache::default();
        let json = |bytes: &[u8]| serde_json::from_slice::<serde_json::Value>(bytes).ok();
        let consistent = |cache: &TieredCache| {
            let memory = cache.memory();
            assert!(memory.used <= MAX_MEMORY_BYTES, "{} > {MAX_MEMORY_BYTES}", memory.used);
            assert_eq!(memory.used, memory.entries.values().map(Entry::weight).sum::<usize>());
            memory.used
        };
        let body = format!("[{}1]", "1,".repeat(MAX_MEMORY_ENTRY_BYTES / 2 - 2));
        let parsed = body.len() * PARSED_BYTES_PER_BODY_BYTE;
        // Entries fresh for 5 s, enough for one parsed form once they are gone, then entries fresh
        // for 100 s up to where two parsed forms fit, and less than a body more.
        let short = PARSED_BYTES_PER_BODY_BYTE + 1;
        let long = (MAX_MEMORY_BYTES - 2 * parsed) / body.len() - short;
        for at in 0..short + long {
            let ttl = if at < short { 5 } else { 100 };
            block_on(cache.put(&platform, &format!("https://k/{at}"), response(body.as_bytes()), ttl));
        }
        let bodies = (short + long) * body.len();
        assert_eq!(consistent(&cache), bodies);
        // A body that does not parse is charged nothing more.
        let first = format!("https://k/{short}");
        assert!(cache.peek_parsed(&first, platform.now(), |_| None::<u8>).is_none());
        assert_eq!(consistent(&cache), bodies);
        for at in 1..=2 {
            assert!(cache.peek_parsed(&format!("https://k/{}", short + at), platform.now(), json).is_some());
            assert_eq!(consistent(&cache), bodies + at * parsed);
        }
        // Without room, the third is parsed on each read and not kept; the entries stay.
        let third = format!("https://k/{}", short + 3);
        for _ in 0..2 {
            let value = cache.peek_parsed(&third, platform.now(), json).unwrap();
            assert_eq!(value.as_array().map(Vec::len), Some(MAX_MEMORY_ENTRY_BYTES / 2 - 1));
        }
        assert_eq!((consistent(&cache), cache.memory().entries.len()), (bodies + 2 * parsed, short + long));
        // Looking for room found the short-lived entries to be the next past their time.
        assert_eq!(cache.memory().next_drop, platform.now() + 5.0);
        // Once the short-lived entries are gone, they make room for it.
        platform.advance(10.0);
        assert!(cache.peek_parsed(&third, platform.now(), json).is_some());
        assert_eq!(consistent(&cache), long * body.len() + 3 * parsed);
        assert_eq!(cache.memory().next_drop, platform.now() - 10.0 + 100.0);
        assert!(cache
            .peek_parsed(&third, platform.now(), |_| -> Option<serde_json::Value> { panic!("parsed again") })
            .is_some());
        // Stored again, an entry sheds its parsed form's charge.
        block_on(cache.put(&platform, &third, response(body.as_bytes()), 100));
        assert_eq!(consistent(&cache), long * body.len() + 2 * parsed);
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
        assert_eq!(reader.memory().entries.get("https://k/2").unwrap().freshness.fresh_until, platform.now() + 5.0);
    }
}
