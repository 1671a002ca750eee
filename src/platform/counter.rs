//! The counting a rate limit's counter does (CONTRACT section 6): at most `requests` requests in any
//! `period` seconds, per counter. The Worker runs it inside the counter's Durable Object (one
//! object per limit and key, its window in the object's storage); the in-memory platform runs the
//! same code for the native tests.
//!
//! A sliding window in buckets: the period is cut into at most [`BUCKETS_PER_PERIOD`] buckets, and
//! a request is counted at the *end* of its bucket. A request so stays counted a little longer than
//! exactly `period` (at most one bucket), never shorter, so no `period`-long stretch of time ever
//! holds more than `requests` allowed requests, while the window holds at most 61 pairs of numbers
//! whatever the limit (a daily quota of 10,000 included).

/// How finely a period is cut: a minute in seconds, a day in 24-minute buckets.
pub const BUCKETS_PER_PERIOD: u64 = 60;

/// One request to spend from a counter.
#[derive(Debug, Clone, PartialEq)]
pub struct CounterCharge {
    /// The counter's name: the limit's name and a digest of the key (see `limits`).
    pub counter: String,
    pub requests: u32,
    pub period: u32,
}

/// A counter's answer to a charge.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spent {
    /// Whether the request was within the limit (and so counted).
    pub allowed: bool,
    /// Requests left in the window after this one.
    pub remaining: u32,
    /// Seconds until the window next frees a request (the Retry-After of a refused one).
    pub reset: u64,
    /// Where the request was counted (a bucket's end), to give it back; 0 when not counted.
    pub counted_at: f64,
}

/// A counter's window: `(bucket end, requests)` pairs, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Window {
    buckets: Vec<(f64, u32)>,
}

impl Window {
    /// The window from its stored form, `[end, count, end, count, ...]`; malformed pairs are dropped.
    pub fn from_flat(flat: &[f64]) -> Window {
        let buckets = flat
            .chunks_exact(2)
            .filter(|pair| pair[0].is_finite() && pair[1].is_finite() && pair[1] >= 1.0)
            .map(|pair| (pair[0], pair[1].min(u32::MAX as f64) as u32))
            .collect();
        Window { buckets }
    }

    /// The stored form (see [`Window::from_flat`]).
    pub fn to_flat(&self) -> Vec<f64> {
        self.buckets.iter().flat_map(|&(end, count)| [end, count as f64]).collect()
    }

    /// True when nothing is counted any more: the counter's storage may be deleted.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// When the last counted request leaves the window (seconds since the epoch).
    pub fn expires_at(&self, period: u32) -> Option<f64> {
        self.buckets.last().map(|&(end, _)| end + f64::from(period))
    }

    /// Spends one request at time `now` if fewer than `requests` are in the window.
    pub fn spend(&mut self, now: f64, requests: u32, period: u32) -> Spent {
        let period_seconds = f64::from(period.max(1));
        self.buckets.retain(|&(end, _)| end + period_seconds > now);
        let counted: u64 = self.buckets.iter().map(|&(_, count)| u64::from(count)).sum();
        if counted >= u64::from(requests) {
            let reset = self.seconds_until_below(requests, now, period_seconds);
            return Spent { allowed: false, remaining: 0, reset, counted_at: 0.0 };
        }
        let width = (u64::from(period.max(1))).div_ceil(BUCKETS_PER_PERIOD) as f64;
        let end = ((now / width).floor() + 1.0) * width;
        match self.buckets.last_mut() {
            Some((last_end, count)) if *last_end == end => *count = count.saturating_add(1),
            _ => self.buckets.push((end, 1)),
        }
        let remaining = u64::from(requests) - counted - 1;
        let reset = self.seconds_until_below(requests.max(1), now, period_seconds).max(1);
        Spent { allowed: true, remaining: remaining as u32, reset, counted_at: end }
    }

    /// Takes back one request counted at `counted_at` (a request another limit refused).
    pub fn give_back(&mut self, counted_at: f64) {
        if let Some(index) = self.buckets.iter().position(|&(end, _)| end == counted_at) {
            self.buckets[index].1 -= 1;
            if self.buckets[index].1 == 0 {
                self.buckets.remove(index);
            }
        }
    }

    /// Seconds from `now` until the window holds fewer than `requests`, or until its oldest request
    /// leaves when it already does (when one more request becomes possible, either way).
    fn seconds_until_below(&self, requests: u32, now: f64, period: f64) -> u64 {
        let mut counted: u64 = self.buckets.iter().map(|&(_, count)| u64::from(count)).sum();
        for &(end, count) in &self.buckets {
            counted -= u64::from(count);
            if counted < u64::from(requests) {
                return (end + period - now).ceil().max(1.0) as u64;
            }
        }
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: f64 = 1_800_000_000.0;

    #[test]
    fn allows_requests_up_to_the_limit_then_refuses_with_the_wait() {
        let mut window = Window::default();
        let spent: Vec<Spent> = (0..3).map(|_| window.spend(NOW, 3, 60)).collect();
        assert!(spent.iter().all(|s| s.allowed));
        assert_eq!(spent.iter().map(|s| s.remaining).collect::<Vec<_>>(), [2, 1, 0]);
        let refused = window.spend(NOW + 10.0, 3, 60);
        assert!(!refused.allowed);
        assert_eq!(refused.remaining, 0);
        // Counted at the end of the one-second bucket: free again 60 s after NOW + 1.
        assert_eq!(refused.reset, 51);
        assert_eq!(refused.counted_at, 0.0);
    }

    #[test]
    fn a_refused_request_is_not_counted() {
        let mut window = Window::default();
        window.spend(NOW, 1, 60);
        for second in 1..50 {
            assert!(!window.spend(NOW + f64::from(second), 1, 60).allowed);
        }
        assert!(window.spend(NOW + 61.0, 1, 60).allowed, "refusals never pushed the window forward");
    }

    #[test]
    fn no_period_long_stretch_ever_holds_more_than_the_limit() {
        // One request attempt every 0.7 s for ten periods: in every 60 s span, at most 5 allowed.
        let mut window = Window::default();
        let mut allowed = Vec::new();
        for step in 0..900 {
            let now = NOW + f64::from(step) * 0.7;
            if window.spend(now, 5, 60).allowed {
                allowed.push(now);
            }
        }
        for (i, &start) in allowed.iter().enumerate() {
            let in_span = allowed[i..].iter().take_while(|&&t| t < start + 60.0).count();
            assert!(in_span <= 5, "{in_span} allowed within 60 s of {start}");
        }
        assert!(allowed.len() >= 5 * 9, "the limit is not stricter than one bucket per period: {}", allowed.len());
    }

    #[test]
    fn a_daily_quota_keeps_at_most_sixty_one_buckets() {
        let mut window = Window::default();
        for minute in 0..(24 * 60) {
            window.spend(NOW + f64::from(minute) * 60.0, 10_000, 86_400);
        }
        assert!(window.to_flat().len() <= 2 * 61);
        let spent = window.spend(NOW + 86_400.0, 10_000, 86_400);
        assert!(spent.allowed);
        assert!(spent.remaining < 10_000 - 1300, "a day's requests still count: {}", spent.remaining);
    }

    #[test]
    fn a_request_given_back_frees_its_place() {
        let mut window = Window::default();
        let first = window.spend(NOW, 1, 60);
        assert!(!window.spend(NOW, 1, 60).allowed);
        window.give_back(first.counted_at);
        assert!(window.is_empty());
        assert!(window.spend(NOW, 1, 60).allowed);
        window.give_back(12345.0); // nothing counted there: no change
        assert!(!window.is_empty());
    }

    #[test]
    fn the_stored_form_round_trips_and_drops_what_is_malformed() {
        let mut window = Window::default();
        window.spend(NOW, 5, 60);
        window.spend(NOW + 2.0, 5, 60);
        assert_eq!(Window::from_flat(&window.to_flat()), window);
        let mut malformed = window.to_flat();
        malformed.extend([f64::NAN, 3.0, NOW, 0.0, 7.0]);
        assert_eq!(Window::from_flat(&malformed), window);
        assert_eq!(window.expires_at(60), Some(NOW + 3.0 + 60.0));
    }

    #[test]
    fn expired_buckets_leave_the_window() {
        let mut window = Window::default();
        window.spend(NOW, 2, 10);
        let later = window.spend(NOW + 100.0, 2, 10);
        assert_eq!(later.remaining, 1);
        assert_eq!(window.to_flat().len(), 2);
    }
}
