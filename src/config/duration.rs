//! MaxBot's two time forms: a timeout (seconds, or httpx's `{default, connect, read, write, pool}`)
//! and a time delta (seconds, or `{weeks, days, hours, minutes, seconds, milliseconds}`).

use serde::Deserialize;

/// A request timeout. A Worker has one deadline per request, so the phases collapse to the longest.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Timeout {
    Seconds(f64),
    Phases(TimeoutPhases),
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutPhases {
    #[serde(default = "default_timeout")]
    pub default: f64,
    pub connect: Option<f64>,
    pub read: Option<f64>,
    pub write: Option<f64>,
    pub pool: Option<f64>,
}

fn default_timeout() -> f64 {
    5.0
}

impl Timeout {
    pub fn seconds(&self) -> f64 {
        match self {
            Timeout::Seconds(seconds) => *seconds,
            Timeout::Phases(p) => [p.connect, p.read, p.write, p.pool]
                .into_iter()
                .map(|phase| phase.unwrap_or(p.default))
                .fold(0.0, f64::max),
        }
    }
}

/// A time delta, as Python's `timedelta`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum TimeDelta {
    Seconds(u64),
    Parts(TimeDeltaParts),
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TimeDeltaParts {
    pub weeks: u64,
    pub days: u64,
    pub hours: u64,
    pub minutes: u64,
    pub seconds: u64,
    pub milliseconds: u64,
    pub microseconds: u64,
}

impl TimeDelta {
    pub fn as_seconds(&self) -> f64 {
        match self {
            TimeDelta::Seconds(seconds) => *seconds as f64,
            TimeDelta::Parts(p) => {
                let whole = p.weeks * 604_800 + p.days * 86_400 + p.hours * 3_600 + p.minutes * 60 + p.seconds;
                whole as f64 + p.milliseconds as f64 / 1e3 + p.microseconds as f64 / 1e6
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_forms() {
        let plain: Timeout = serde_json::from_str("2.5").unwrap();
        assert_eq!(plain.seconds(), 2.5);
        let phases: Timeout = serde_json::from_str(r#"{"default": 3, "read": 10}"#).unwrap();
        assert_eq!(phases.seconds(), 10.0);
        let only_default: Timeout = serde_json::from_str(r#"{"default": 3}"#).unwrap();
        assert_eq!(only_default.seconds(), 3.0);
    }

    #[test]
    fn time_delta_forms() {
        let plain: TimeDelta = serde_json::from_str("90").unwrap();
        assert_eq!(plain.as_seconds(), 90.0);
        let parts: TimeDelta = serde_json::from_str(r#"{"hours": 1, "minutes": 2, "milliseconds": 500}"#).unwrap();
        assert_eq!(parts.as_seconds(), 3720.5);
        assert!(serde_json::from_str::<TimeDelta>(r#"{"fortnights": 1}"#).is_err());
    }
}
