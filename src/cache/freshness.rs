//! How long a stored answer may answer: fresh for the service's `cache` seconds (a HIT), then,
//! for a service with `stale_if_error`, kept that much longer to answer only when the origin fails
//! (RFC 5861's stale-if-error). The record travels with the Cache API copy in one header, read and
//! stripped before anything answers from it.

/// The header carrying the record on the Cache API copy: the end of freshness (Unix seconds), and
/// for an entry kept past it, when it was stored and until when it is kept: `"<fresh until>"` or
/// `"<fresh until> <stored> <kept until>"`. An entry without a stale window costs nothing more.
pub const FRESHNESS_HEADER: &str = "x-gateway-expires";

/// Instants on the platform's clock, in seconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Freshness {
    pub stored: f64,
    pub fresh_until: f64,
    /// Equal to `fresh_until` for an entry without a stale window.
    pub kept_until: f64,
}

impl Freshness {
    /// An entry stored at `now`, fresh for `fresh` seconds and kept `stale` more.
    pub fn new(now: f64, fresh: u64, stale: u64) -> Self {
        let fresh_until = now + fresh as f64;
        Freshness { stored: now, fresh_until, kept_until: fresh_until + stale as f64 }
    }

    /// Seconds the Cache API keeps the entry.
    pub fn ttl(&self) -> u64 {
        (self.kept_until - self.stored).ceil().max(0.0) as u64
    }

    pub fn is_fresh(&self, now: f64) -> bool {
        now < self.fresh_until
    }

    /// Whether the entry still exists at `now`, fresh or not.
    pub fn is_kept(&self, now: f64) -> bool {
        now < self.kept_until
    }

    /// Whether the entry may answer for a failed origin at `now`: kept, and expired at most
    /// `stale_if_error` seconds ago (the service's setting now, which may be shorter than the one
    /// it was stored with). A fresh entry may too: a client that asked for a fresh answer
    /// (`no-cache`) gets it when the origin fails.
    pub fn may_answer_error(&self, now: f64, stale_if_error: f64) -> bool {
        self.is_kept(now) && now <= self.fresh_until + stale_if_error
    }

    /// Whole seconds since the entry was stored (the `Age` header, RFC 9111).
    pub fn age(&self, now: f64) -> u64 {
        (now - self.stored).floor().max(0.0) as u64
    }

    pub fn header_value(&self) -> String {
        if self.kept_until > self.fresh_until {
            format!("{} {} {}", self.fresh_until, self.stored, self.kept_until)
        } else {
            format!("{}", self.fresh_until)
        }
    }

    /// The record of a header value; `None` when it is not one.
    pub fn parse(value: &str) -> Option<Freshness> {
        let mut numbers = value.split(' ').map(|n| n.parse::<f64>().ok().filter(|n| n.is_finite()));
        let fresh_until = numbers.next()??;
        match (numbers.next(), numbers.next(), numbers.next()) {
            // Without a stale window the time it was stored is never needed.
            (None, None, None) => Some(Freshness { stored: fresh_until, fresh_until, kept_until: fresh_until }),
            (Some(Some(stored)), Some(Some(kept_until)), None)
                if stored <= fresh_until && fresh_until <= kept_until =>
            {
                Some(Freshness { stored, fresh_until, kept_until })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_fresh_then_stale_then_gone() {
        let entry = Freshness::new(1000.0, 10, 60);
        assert_eq!(entry.ttl(), 70);
        // (now, fresh, may answer an origin failure with stale_if_error 60, age)
        for (now, fresh, answers, age) in [
            (1000.0, true, true, 0),
            (1009.9, true, true, 9),
            (1010.0, false, true, 10),
            (1070.0, false, false, 70),
            (1100.0, false, false, 100),
        ] {
            assert_eq!(entry.is_fresh(now), fresh, "{now}");
            assert_eq!(entry.may_answer_error(now, 60.0), answers, "{now}");
            assert_eq!(entry.age(now), age, "{now}");
        }
        // The service's window now, when it was shortened since the entry was stored.
        assert!(entry.may_answer_error(1020.0, 10.0));
        assert!(!entry.may_answer_error(1020.5, 10.0));
    }

    #[test]
    fn without_a_stale_window_the_record_is_one_number_and_the_entry_dies_fresh() {
        let entry = Freshness::new(1000.0, 10, 0);
        assert_eq!(entry.header_value(), "1010");
        assert_eq!(entry.ttl(), 10);
        assert!(!entry.is_kept(1010.0));
        assert!(!entry.may_answer_error(1010.0, 60.0));
        assert_eq!(Freshness::parse("1010").map(|f| (f.fresh_until, f.kept_until)), Some((1010.0, 1010.0)));
    }

    #[test]
    fn the_record_survives_its_header_and_nonsense_is_no_record() {
        let entry = Freshness::new(1000.5, 10, 60);
        assert_eq!(Freshness::parse(&entry.header_value()), Some(entry));
        for bad in ["", "x", "1010 1000", "1010 1000 1070 1", "1010 1020 1070", "1010 1000 1005", "NaN", "1e999"] {
            assert_eq!(Freshness::parse(bad), None, "{bad:?}");
        }
    }
}
