//! `limits`: rate limits and quotas (CONTRACT section 6), each a budget of `requests` per `period`
//! seconds, spent by the requests it matches, per key.

use std::fmt;

use serde::Deserialize;

use super::Grant;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitConfig {
    /// Names the limit in 429 answers and log lines, and its counters.
    pub name: String,
    /// The routes it applies to (`allow`'s words, or `"*"`); unset: every route.
    pub routes: Option<Vec<RouteWord>>,
    /// The consumers it applies to; unset: every caller.
    pub consumers: Option<Vec<String>>,
    /// Whose budget a request spends.
    pub key: LimitKey,
    pub requests: u32,
    /// Seconds.
    pub period: u32,
    /// May be counted per location by the Rate Limiting binding (periods of 10 or 60 s only).
    #[serde(default)]
    pub approximate: bool,
    /// What happens when the counter cannot be reached.
    #[serde(default)]
    pub fail: FailMode,
}

/// One entry of a limit's `routes`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum RouteWord {
    /// `"*"`: every limitable route.
    Every,
    /// A word of a consumer's `allow`.
    Grant(Grant),
}

impl TryFrom<String> for RouteWord {
    type Error = RouteWordError;

    fn try_from(text: String) -> Result<Self, RouteWordError> {
        if text == "*" {
            return Ok(RouteWord::Every);
        }
        Grant::try_from(text).map(RouteWord::Grant).map_err(|_| RouteWordError)
    }
}

impl fmt::Display for RouteWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteWord::Every => f.write_str("*"),
            RouteWord::Grant(grant) => grant.fmt(f),
        }
    }
}

/// Why a `routes` entry was refused.
#[derive(Debug)]
pub struct RouteWordError;

impl fmt::Display for RouteWordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("must be one of: *, webhook, models/<service>, pi/<service>, models/*, pi/*")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LimitKey {
    /// The client's address (`CF-Connecting-IP`).
    Ip,
    /// The chat message's sender (the conversation of Rasa's routes).
    Sender,
    /// The consumer's name; the admin token and anonymous callers each count as one.
    Consumer,
    /// The consumer, the JWT's user or subject, or else the client's address.
    Identity,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailMode {
    /// Answer as if the limit had room, with a log line (what users of a gateway expect).
    #[default]
    Open,
    /// Answer 503: the operator prefers refusing to running unlimited.
    Closed,
}
