//! When a try is repeated (CONTRACT section 7): which methods may be, which failures call for
//! another try, how long to wait before it, and how many extra tries one request may spend.

use std::cell::Cell;

use crate::http::{is_origin_failure_status, FetchFailure};

/// A service's `retries`, resolved: tries in all (1 when unset) and the first backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub backoff_ms: u64,
}

impl Default for RetryPolicy {
    /// One try, as a service without `retries` gets.
    fn default() -> Self {
        RetryPolicy { attempts: 1, backoff_ms: 0 }
    }
}

impl RetryPolicy {
    /// The wait before try `next` (2 or later): `backoff` × 2^(next − 2), i.e. `backoff` before the
    /// second try, twice that before the third. Saturates instead of overflowing.
    pub fn delay_before(&self, next: u32) -> u64 {
        let doublings = next.saturating_sub(2).min(63);
        self.backoff_ms.saturating_mul(1u64 << doublings)
    }

    /// The longest a request's tries and waits on one origin take: `attempts` × `timeout_ms` plus
    /// the backoffs between them.
    pub fn bound_ms(&self, timeout_ms: u64) -> u64 {
        let waits = (2..=self.attempts).map(|next| self.delay_before(next)).fold(0u64, u64::saturating_add);
        timeout_ms.saturating_mul(u64::from(self.attempts)).saturating_add(waits)
    }
}

/// Methods that mean the same when sent twice (RFC 9110 section 9.2.2, less TRACE, which the
/// gateway never sends). A POST or PATCH is sent once, always.
pub fn is_idempotent(method: &str) -> bool {
    ["GET", "HEAD", "OPTIONS", "PUT", "DELETE"].iter().any(|m| m.eq_ignore_ascii_case(method))
}

/// How one try failed in a way worth trying again (an origin failure, as
/// [`FetchFailure::is_origin_failure`] and [`is_origin_failure_status`] say, the same that a stale
/// copy answers), or `None` when it did not: an answer other than 502/503/504 is the origin's to
/// give, and a request the runtime refused (an invalid header, a body over its limit) would be
/// refused again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TryFailure {
    /// Refused, reset, or otherwise not reached: the runtime's own words.
    Unreachable(String),
    /// No answer within the try's timeout.
    Timeout,
    /// 502, 503 or 504.
    Status(u16),
}

impl TryFailure {
    pub fn of_fetch(failure: &FetchFailure) -> Option<TryFailure> {
        match failure {
            FetchFailure::Timeout => Some(TryFailure::Timeout),
            FetchFailure::Network(why) => Some(TryFailure::Unreachable(why.clone())),
            _ => None,
        }
        .filter(|_| failure.is_origin_failure())
    }

    pub fn of_status(status: u16) -> Option<TryFailure> {
        is_origin_failure_status(status).then_some(TryFailure::Status(status))
    }

    /// A word for the log: `timeout`, `unreachable` or the status.
    pub fn label(&self) -> String {
        match self {
            TryFailure::Unreachable(_) => "unreachable".into(),
            TryFailure::Timeout => "timeout".into(),
            TryFailure::Status(status) => status.to_string(),
        }
    }
}

/// The extra tries (retries, and first tries on fallback origins) one proxied request or one chat
/// message may still make: every try is a subrequest, and a Worker's subrequests are limited.
#[derive(Debug)]
pub struct RetryBudget(Cell<u32>);

/// Extra tries for one proxied request or one chat message.
pub const EXTRA_TRIES: u32 = 20;

impl Default for RetryBudget {
    fn default() -> Self {
        RetryBudget(Cell::new(EXTRA_TRIES))
    }
}

impl RetryBudget {
    pub fn new(extra_tries: u32) -> Self {
        RetryBudget(Cell::new(extra_tries))
    }

    /// Spends one extra try; false when none is left.
    pub fn take(&self) -> bool {
        let left = self.0.get();
        self.0.set(left.saturating_sub(1));
        left > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_second_try() {
        let policy = RetryPolicy { attempts: 5, backoff_ms: 200 };
        let waits: Vec<u64> = (2..=5).map(|next| policy.delay_before(next)).collect();
        assert_eq!(waits, [200, 400, 800, 1600]);
        assert_eq!(RetryPolicy { attempts: 3, backoff_ms: 0 }.delay_before(3), 0);
        assert_eq!(RetryPolicy { attempts: 10, backoff_ms: u64::MAX }.delay_before(10), u64::MAX);
    }

    #[test]
    fn the_bound_is_every_try_plus_every_wait() {
        let policy = RetryPolicy { attempts: 3, backoff_ms: 100 };
        assert_eq!(policy.bound_ms(1000), 3000 + 100 + 200);
        assert_eq!(RetryPolicy::default().bound_ms(5000), 5000);
    }

    #[test]
    fn only_idempotent_methods_are_retried() {
        for method in ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "get", "delete"] {
            assert!(is_idempotent(method), "{method}");
        }
        for method in ["POST", "PATCH", "post", "patch", "CONNECT", "TRACE", "PROPFIND", ""] {
            assert!(!is_idempotent(method), "{method}");
        }
    }

    #[test]
    fn which_failures_call_for_another_try() {
        assert_eq!(TryFailure::of_fetch(&FetchFailure::Timeout), Some(TryFailure::Timeout));
        assert_eq!(
            TryFailure::of_fetch(&FetchFailure::Network("connection refused".into())),
            Some(TryFailure::Unreachable("connection refused".into()))
        );
        assert_eq!(TryFailure::of_fetch(&FetchFailure::BodyTooLarge), None);
        assert_eq!(TryFailure::of_fetch(&FetchFailure::InvalidRequest("header".into())), None);
        for status in [502, 503, 504] {
            assert_eq!(TryFailure::of_status(status), Some(TryFailure::Status(status)));
        }
        for status in [200, 204, 304, 400, 404, 429, 500, 501, 505] {
            assert_eq!(TryFailure::of_status(status), None, "{status}");
        }
    }

    #[test]
    fn the_budget_runs_out() {
        let budget = RetryBudget::new(2);
        assert!(budget.take() && budget.take());
        assert!(!budget.take() && !budget.take());
    }
}
