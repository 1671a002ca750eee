//! Rate limits and quotas (CONTRACT section 6): which limits a request matches, whose budget it
//! spends, and what the answer says about it.
//!
//! The counts live in the runtime's counters (one Durable Object per limit and key in a Worker,
//! see [`Platform::spend`]), never in the isolate: every isolate and location shares them. A
//! request pays one counter round trip per matching limit, all sent at once; a request that matches
//! no limit pays nothing.

mod matching;

use serde_json::json;
use sha2::{Digest, Sha256};

pub use matching::{LimitedRoute, RequestFacts};

use crate::config::{FailMode, LimitConfig, LimitKey};
use crate::error::{ErrorKind, GatewayError};
use crate::platform::{CounterCharge, Platform, Spent};

/// How long a counter may take to answer before its limit's `fail` mode decides.
pub const COUNTER_TIMEOUT_MS: u64 = 1_000;

/// The configured limits, in configuration order.
#[derive(Debug, Default)]
pub struct Limits {
    limits: Vec<LimitConfig>,
}

/// What the limit phase decided for one request.
#[derive(Debug, Default)]
pub struct Verdict {
    /// `RateLimit-*` headers for the answer, whatever it is (empty when no limit matched).
    pub headers: Vec<(&'static str, String)>,
    /// The 429 (or the 503 of a limit that fails closed) that answers instead.
    pub refusal: Option<GatewayError>,
}

impl Limits {
    pub fn new(limits: Vec<LimitConfig>) -> Limits {
        Limits { limits }
    }

    pub fn is_empty(&self) -> bool {
        self.limits.is_empty()
    }

    /// Spends one request from every limit `facts` matches (only the `ip`-keyed ones for a request
    /// already refused), and says what the answer must carry.
    pub async fn check<P: Platform>(&self, facts: &RequestFacts<'_>, refused: bool, platform: &P) -> Verdict {
        let matched: Vec<(&LimitConfig, CounterCharge)> = self
            .limits
            .iter()
            .filter(|limit| (!refused || limit.key == LimitKey::Ip) && matching::matches(limit, facts))
            .filter_map(|limit| Some((limit, charge(limit, &facts.key_of(limit)?))))
            .collect();
        if matched.is_empty() {
            return Verdict::default();
        }
        let charges: Vec<CounterCharge> = matched.iter().map(|(_, charge)| charge.clone()).collect();
        let answers = platform.spend(&charges, COUNTER_TIMEOUT_MS).await;
        decide(&matched, &answers, platform)
    }
}

/// The counter a request spends from: the limit's name and a digest of the key, so that no client
/// address or sender is kept in a counter's name and any key has the same short form.
fn charge(limit: &LimitConfig, key: &str) -> CounterCharge {
    let digest = Sha256::digest(key.as_bytes());
    let hex: String = digest[..16].iter().map(|byte| format!("{byte:02x}")).collect();
    CounterCharge { counter: format!("{}:{hex}", limit.name), requests: limit.requests, period: limit.period }
}

/// The verdict from the counters' answers (`None`: the counter could not be reached).
fn decide<P: Platform>(matched: &[(&LimitConfig, CounterCharge)], answers: &[Option<Spent>], platform: &P) -> Verdict {
    let mut reported: Option<(&LimitConfig, Spent)> = None;
    let mut refusal: Option<GatewayError> = None;
    for ((limit, _), answer) in matched.iter().zip(answers) {
        let Some(spent) = answer else {
            platform.log(
                &json!({"event": "limit_unavailable", "limit": limit.name, "fail": fail_word(limit.fail)}).to_string(),
            );
            if limit.fail == FailMode::Closed && refusal.is_none() {
                refusal = Some(
                    GatewayError::new(ErrorKind::ServiceUnavailable, "The rate limit could not be checked; try again.")
                        .with_details(json!({ "limit": limit.name })),
                );
            }
            continue;
        };
        // The limit with the fewest requests left is the one reported; among refusing ones, the
        // one that refuses longest (so Retry-After is when every refusing limit has room again).
        let fewer = reported.is_none_or(|(_, best)| {
            (spent.remaining, std::cmp::Reverse(spent.reset)) < (best.remaining, std::cmp::Reverse(best.reset))
        });
        if fewer {
            reported = Some((limit, *spent));
        }
    }
    let refused_by = reported.filter(|(_, spent)| !spent.allowed);
    if let Some((limit, spent)) = refused_by {
        refusal = Some(
            GatewayError::new(
                ErrorKind::TooManyRequests,
                format!("Rate limit '{}' exceeded; try again later.", limit.name),
            )
            .with_details(json!({ "limit": limit.name, "retry_after": spent.reset }))
            .with_header("retry-after", spent.reset.to_string()),
        );
    }
    if refusal.is_some() {
        give_back_allowed(matched, answers, platform);
    }
    let headers = reported.map_or_else(Vec::new, |(limit, spent)| {
        vec![
            ("ratelimit-limit", limit.requests.to_string()),
            ("ratelimit-remaining", spent.remaining.to_string()),
            ("ratelimit-reset", spent.reset.to_string()),
        ]
    });
    Verdict { headers, refusal }
}

/// A refused request spends nothing: what other limits counted for it is given back.
fn give_back_allowed<P: Platform>(matched: &[(&LimitConfig, CounterCharge)], answers: &[Option<Spent>], platform: &P) {
    let counted: Vec<(String, f64)> = matched
        .iter()
        .zip(answers)
        .filter_map(|((_, charge), answer)| match answer {
            Some(spent) if spent.allowed => Some((charge.counter.clone(), spent.counted_at)),
            _ => None,
        })
        .collect();
    if !counted.is_empty() {
        platform.give_back(counted);
    }
}

fn fail_word(mode: FailMode) -> &'static str {
    match mode {
        FailMode::Open => "open",
        FailMode::Closed => "closed",
    }
}

#[cfg(test)]
mod tests;
