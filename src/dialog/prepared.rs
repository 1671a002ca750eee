//! Prepared `rest_call`s, remembered by their arguments. A dialog's templates make the same calls
//! with the same arguments message after message, and preparing one (the service lookup, the URL
//! join, the merged headers and parameters, the cache key's SHA-256) costs far more than comparing
//! a handful of arguments. The configuration is fixed for the isolate's life, so the same arguments
//! always prepare the same call.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use super::rest_call::{key_of, RestCall};
use crate::cache::CacheKey;
use crate::config::RestConfig;

/// Distinct argument sets remembered; the oldest is forgotten first. Calls built from per-message
/// values (a sender id in the URL) take one slot each and push out nothing a dialog uses often for long.
const REMEMBERED: usize = 64;
/// Calls larger than this (URL, headers, parameters, body and auth, as the cache key hashes them)
/// are prepared afresh each time, so the memory held stays small whatever the templates build.
const MAX_REMEMBERED_BYTES: usize = 2048;

/// A call ready to send, with its cache key.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedCall {
    pub call: RestCall,
    pub key: CacheKey,
}

/// A call's template arguments and what they prepared.
type Remembered = (Map<String, Value>, Arc<PreparedCall>);

#[derive(Default)]
pub struct PreparedCalls {
    recent: Mutex<VecDeque<Remembered>>,
}

impl PreparedCalls {
    /// The call these arguments prepare, from memory when they were seen before. Errors are not
    /// remembered: they end the message anyway.
    pub fn prepare(&self, args: Map<String, Value>, rest: &RestConfig) -> Result<Arc<PreparedCall>, String> {
        let mut recent = self.recent.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((_, prepared)) = recent.iter().find(|(seen, _)| same_in_order(seen, &args)) {
            return Ok(prepared.clone());
        }
        let call = RestCall::prepare(&args, rest)?;
        let identity = call.identity();
        let prepared = Arc::new(PreparedCall { key: key_of(&identity, &call.redact), call });
        if identity.len() <= MAX_REMEMBERED_BYTES {
            if recent.len() == REMEMBERED {
                recent.pop_front();
            }
            recent.push_back((args, prepared.clone()));
        }
        Ok(prepared)
    }
}

/// Equal, with every object's keys in the same order. A body goes out in the order its template
/// wrote it, so arguments that differ only in that order prepare different calls; serde_json's own
/// equality ignores the order.
fn same_in_order(a: &Map<String, Value>, b: &Map<String, Value>) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|((ka, va), (kb, vb))| ka == kb && same_value_in_order(va, vb))
}

fn same_value_in_order(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => same_in_order(a, b),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same_value_in_order(a, b))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rest() -> RestConfig {
        serde_json::from_value(json!({"services": [{"name": "api", "base_url": "http://api.example/v1/"}]})).unwrap()
    }

    fn args(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn the_same_arguments_give_the_same_call_as_preparing_afresh() {
        let (rest, calls) = (rest(), PreparedCalls::default());
        for _ in 0..2 {
            let prepared = calls.prepare(args(json!({"url": "api://t", "cache": 60})), &rest).unwrap();
            let fresh = RestCall::prepare(&args(json!({"url": "api://t", "cache": 60})), &rest).unwrap();
            assert_eq!(prepared.key, fresh.cache_key());
            assert_eq!(prepared.call, fresh);
        }
        // The second time, the very call prepared the first time.
        let first = calls.prepare(args(json!({"url": "api://t", "cache": 60})), &rest).unwrap();
        assert!(Arc::ptr_eq(&first, &calls.prepare(args(json!({"url": "api://t", "cache": 60})), &rest).unwrap()));
        let other = calls.prepare(args(json!({"url": "api://u", "cache": 60})), &rest).unwrap();
        assert_eq!(other.call.url, "http://api.example/v1/u");
    }

    #[test]
    fn a_body_in_another_key_order_is_another_call_with_the_same_cache_key() {
        let (rest, calls) = (rest(), PreparedCalls::default());
        let first = calls.prepare(args(json!({"url": "api://t", "body": {"a": 1, "b": [{"c": 2, "d": 3}]}})), &rest);
        let nested = calls.prepare(args(json!({"url": "api://t", "body": {"a": 1, "b": [{"d": 3, "c": 2}]}})), &rest);
        let outer = calls.prepare(args(json!({"url": "api://t", "body": {"b": [{"c": 2, "d": 3}], "a": 1}})), &rest);
        let (first, nested, outer) = (first.unwrap(), nested.unwrap(), outer.unwrap());
        assert!(!Arc::ptr_eq(&first, &nested) && !Arc::ptr_eq(&first, &outer));
        assert_eq!((&first.key, &first.key), (&nested.key, &outer.key));
        let again = calls.prepare(args(json!({"url": "api://t", "body": {"b": [{"c": 2, "d": 3}], "a": 1}})), &rest);
        assert!(Arc::ptr_eq(&outer, &again.unwrap()));
    }

    #[test]
    fn errors_are_reported_every_time_and_memory_stays_bounded() {
        let (rest, calls) = (rest(), PreparedCalls::default());
        for _ in 0..2 {
            assert_eq!(
                calls.prepare(args(json!({"service": "nope"})), &rest).unwrap_err(),
                "Unknown REST service \"nope\""
            );
        }
        for n in 0..REMEMBERED + 10 {
            calls.prepare(args(json!({"url": format!("api://{n}")})), &rest).unwrap();
        }
        assert_eq!(calls.recent.lock().unwrap().len(), REMEMBERED);
        // The oldest were forgotten, the call itself is still right.
        assert_eq!(calls.prepare(args(json!({"url": "api://0"})), &rest).unwrap().call.url, "http://api.example/v1/0");
    }

    #[test]
    fn large_calls_are_prepared_but_not_remembered() {
        let (rest, calls) = (rest(), PreparedCalls::default());
        let body = "x".repeat(MAX_REMEMBERED_BYTES);
        let arguments = args(json!({"url": "api://t", "method": "post", "body": body, "cache": 60}));
        let prepared = calls.prepare(arguments.clone(), &rest).unwrap();
        assert_eq!(prepared.key, RestCall::prepare(&arguments, &rest).unwrap().cache_key());
        assert!(calls.recent.lock().unwrap().is_empty());
    }
}
