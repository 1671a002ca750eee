//! Per-minute request statistics (CONTRACT section 9), as plain data that merges by addition: an
//! isolate adds each finished request to a [`Batch`] in its memory, the runtime stores batches by
//! adding them to what is stored, and a read adds up what every isolate stored. Nothing here
//! depends on who adds: the counts of any number of isolates and flushes sum to the same numbers.
//!
//! A batch crosses to storage as JSON rows `[minute, route, counts]`, `counts` being
//! [`MinuteStats::to_counts`]'s flat list of numbers, so the Durable Object that stores them keeps
//! one row per minute and route and merges with [`merge_counts`].

mod histogram;

use std::collections::BTreeMap;

pub use histogram::{Histogram, BUCKETS};

/// The cache statuses counted, in the stored order.
pub const CACHE_STATUSES: [&str; 4] = ["HIT", "MISS", "BYPASS", "STALE"];
/// The status classes counted, in the stored order.
pub const STATUS_CLASSES: [&str; 4] = ["2xx", "3xx", "4xx", "5xx"];

/// One finished request, as analytics count it.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    /// When it finished, seconds since the Unix epoch.
    pub finished_at: f64,
    /// `webhook`, `models/<service>`, `pi/<service>`, `rasa` or `other`.
    pub route: String,
    pub status: u16,
    /// The `x-cache-status` it carried, if any.
    pub cache: Option<&'static str>,
    /// Refused by a rate limit (a 429 of the limit phase).
    pub limited: bool,
    pub duration_ms: f64,
}

/// A minute's numbers for one route.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MinuteStats {
    pub requests: u32,
    /// By [`STATUS_CLASSES`]; other statuses count only in `requests`.
    pub statuses: [u32; 4],
    /// By [`CACHE_STATUSES`].
    pub cache: [u32; 4],
    pub limited: u32,
    pub durations: Histogram,
}

/// The fields before the histogram in the flat form.
const HEAD: usize = 10;

impl MinuteStats {
    pub fn add(&mut self, record: &RequestRecord) {
        let bump = |n: &mut u32| *n = n.saturating_add(1);
        bump(&mut self.requests);
        if let 200..=599 = record.status {
            bump(&mut self.statuses[usize::from(record.status / 100 - 2)]);
        }
        if let Some(at) = record.cache.and_then(|cache| CACHE_STATUSES.iter().position(|&s| s == cache)) {
            bump(&mut self.cache[at]);
        }
        if record.limited {
            bump(&mut self.limited);
        }
        self.durations.add(record.duration_ms);
    }

    pub fn merge(&mut self, other: &MinuteStats) {
        let add = |mine: &mut u32, theirs: u32| *mine = mine.saturating_add(theirs);
        add(&mut self.requests, other.requests);
        self.statuses.iter_mut().zip(other.statuses).for_each(|(m, t)| add(m, t));
        self.cache.iter_mut().zip(other.cache).for_each(|(m, t)| add(m, t));
        add(&mut self.limited, other.limited);
        self.durations.merge(&other.durations);
    }

    /// The stored form: requests, the four status classes, the four cache statuses, limited,
    /// then the histogram's buckets.
    pub fn to_counts(&self) -> Vec<u32> {
        let mut counts = Vec::with_capacity(HEAD + BUCKETS);
        counts.push(self.requests);
        counts.extend(self.statuses);
        counts.extend(self.cache);
        counts.push(self.limited);
        counts.extend(self.durations.counts());
        counts
    }

    /// From the stored form; missing numbers count 0.
    pub fn from_counts(counts: &[u32]) -> MinuteStats {
        let at = |i: usize| counts.get(i).copied().unwrap_or(0);
        MinuteStats {
            requests: at(0),
            statuses: [at(1), at(2), at(3), at(4)],
            cache: [at(5), at(6), at(7), at(8)],
            limited: at(9),
            durations: Histogram::from_counts(counts.get(HEAD..).unwrap_or(&[])),
        }
    }
}

/// Two stored forms added up (what the storage does when a batch reaches a row it already has).
pub fn merge_counts(stored: &[u32], added: &[u32]) -> Vec<u32> {
    let mut stats = MinuteStats::from_counts(stored);
    stats.merge(&MinuteStats::from_counts(added));
    stats.to_counts()
}

/// Minutes since the Unix epoch of a time in seconds.
pub fn minute_of(seconds: f64) -> i64 {
    (seconds / 60.0).floor() as i64
}

/// Why stored analytics could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnalyticsUnavailable {
    /// The runtime has no analytics storage bound: analytics are off.
    Off,
    /// The storage did not answer.
    Failed,
}

/// Statistics by minute and route.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    rows: BTreeMap<(i64, String), MinuteStats>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn add(&mut self, record: &RequestRecord) {
        let key = (minute_of(record.finished_at), record.route.clone());
        self.rows.entry(key).or_default().add(record);
    }

    pub fn merge(&mut self, other: &Batch) {
        for ((minute, route), stats) in &other.rows {
            self.merge_row(*minute, route, stats);
        }
    }

    fn merge_row(&mut self, minute: i64, route: &str, stats: &MinuteStats) {
        self.rows.entry((minute, route.to_string())).or_default().merge(stats);
    }

    /// The routes of one minute, by name.
    pub fn minute(&self, minute: i64) -> impl Iterator<Item = (&str, &MinuteStats)> {
        self.rows.range((minute, String::new())..(minute + 1, String::new())).map(|((_, route), s)| (route.as_str(), s))
    }

    /// Only the minutes `from..=to`.
    pub fn within(&self, from: i64, to: i64) -> Batch {
        let rows = self.rows.range((from, String::new())..(to.saturating_add(1), String::new()));
        Batch { rows: rows.map(|(key, stats)| (key.clone(), stats.clone())).collect() }
    }

    /// The rows as JSON, `[[minute, route, counts], ...]`.
    pub fn to_json(&self) -> String {
        let rows: Vec<(i64, &str, Vec<u32>)> =
            self.rows.iter().map(|((minute, route), stats)| (*minute, route.as_str(), stats.to_counts())).collect();
        serde_json::to_string(&rows).unwrap_or_else(|_| "[]".into())
    }

    /// Rows as [`to_json`](Batch::to_json) writes them; rows of one minute and route add up.
    /// `None` when the text is not such rows.
    pub fn from_json(text: &str) -> Option<Batch> {
        let rows: Vec<(i64, String, Vec<u32>)> = serde_json::from_str(text).ok()?;
        let mut batch = Batch::default();
        for (minute, route, counts) in rows {
            batch.merge_row(minute, &route, &MinuteStats::from_counts(&counts));
        }
        Some(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(at: f64, route: &str, status: u16, cache: Option<&'static str>, duration_ms: f64) -> RequestRecord {
        RequestRecord { finished_at: at, route: route.into(), status, cache, limited: status == 429, duration_ms }
    }

    #[test]
    fn a_minute_counts_statuses_cache_and_limited_per_route() {
        let mut batch = Batch::default();
        let minute = 60.0 * 29_000_000.0;
        for r in [
            record(minute + 1.0, "pi/livingroom", 200, Some("HIT"), 3.0),
            record(minute + 59.9, "pi/livingroom", 200, Some("MISS"), 30.0),
            record(minute + 2.0, "pi/livingroom", 502, Some("STALE"), 300.0),
            record(minute + 3.0, "webhook", 429, None, 1.0),
            record(minute + 4.0, "other", 101, None, 1.0),
            record(minute + 60.0, "webhook", 200, None, 1.0),
        ] {
            batch.add(&r);
        }
        let first: Vec<_> = batch.minute(29_000_000).collect();
        assert_eq!(first.iter().map(|(route, _)| *route).collect::<Vec<_>>(), ["other", "pi/livingroom", "webhook"]);
        let pi = first[1].1;
        assert_eq!((pi.requests, pi.statuses, pi.cache, pi.limited), (3, [2, 0, 0, 1], [1, 1, 0, 1], 0));
        assert_eq!(pi.durations.percentile(0.5), Some(29.34));
        let webhook = first[2].1;
        assert_eq!((webhook.requests, webhook.statuses, webhook.limited), (1, [0, 0, 1, 0], 1));
        assert_eq!(first[0].1.statuses, [0; 4], "a 101 counts as a request only");
        assert_eq!(batch.minute(29_000_001).count(), 1);
        assert_eq!(batch.within(29_000_001, 29_000_010).minute(29_000_000).count(), 0);
    }

    #[test]
    fn batches_merge_by_addition_in_any_order_and_through_the_stored_form() {
        let mut a = Batch::default();
        let mut b = Batch::default();
        a.add(&record(60.0, "webhook", 200, None, 12.0));
        a.add(&record(61.0, "rasa", 504, Some("BYPASS"), 5000.0));
        b.add(&record(62.0, "webhook", 404, None, 2.0));
        let mut ab = a.clone();
        ab.merge(&b);
        let mut ba = b.clone();
        ba.merge(&a);
        assert_eq!(ab, ba);
        assert_eq!(ab.minute(1).find(|(r, _)| *r == "webhook").unwrap().1.requests, 2);
        // Stored, merged row by row, and read back: the same numbers.
        assert_eq!(Batch::from_json(&ab.to_json()), Some(ab.clone()));
        let stats = |batch: &Batch| batch.minute(1).find(|(r, _)| *r == "webhook").unwrap().1.to_counts();
        assert_eq!(merge_counts(&stats(&a), &stats(&b)), stats(&ab));
        assert_eq!(Batch::from_json("{\"not\": \"rows\"}"), None);
        assert_eq!(MinuteStats::from_counts(&[]), MinuteStats::default());
    }
}
