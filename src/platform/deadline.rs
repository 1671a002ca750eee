//! A deadline: the instant, on the platform's clock, by which a whole exchange must be done: a
//! request sent, its answer's headers received and its body read (a timeout that stopped at the
//! headers let an origin that sent half a body hold a reply for as long as it liked), or every
//! call of a chat message.

/// An instant on the platform's clock (seconds since the Unix epoch, as [`Platform::now`]).
///
/// [`Platform::now`]: super::Platform::now
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Deadline {
    at: f64,
}

impl Deadline {
    /// `timeout_ms` after `now`.
    pub fn after(now: f64, timeout_ms: u64) -> Deadline {
        Deadline { at: now + timeout_ms as f64 / 1000.0 }
    }

    /// The sooner of two deadlines.
    pub fn min(self, other: Deadline) -> Deadline {
        if other.at < self.at {
            other
        } else {
            self
        }
    }

    /// Whole milliseconds left at `now` (rounded up, so a deadline not yet passed leaves at least
    /// one); 0 once it has passed. Counted from whole microseconds: the clock's rounding error
    /// must not add a millisecond to a timeout.
    pub fn remaining_ms(self, now: f64) -> u64 {
        let micros = ((self.at - now) * 1_000_000.0).round();
        (micros / 1000.0).ceil().max(0.0) as u64
    }

    pub fn has_passed(self, now: f64) -> bool {
        now >= self.at
    }

    /// The instant itself, in seconds on the platform's clock.
    pub fn seconds(self) -> f64 {
        self.at
    }
}

#[cfg(test)]
mod tests {
    use super::Deadline;

    #[test]
    fn a_deadline_counts_down_to_zero_and_the_sooner_one_wins() {
        let deadline = Deadline::after(100.0, 2_000);
        assert_eq!(deadline.remaining_ms(100.0), 2_000);
        assert_eq!(deadline.remaining_ms(101.5), 500);
        assert_eq!(deadline.remaining_ms(101.9999), 1);
        assert!(!deadline.has_passed(101.9999));
        assert_eq!(deadline.remaining_ms(102.0), 0);
        assert_eq!(deadline.remaining_ms(500.0), 0);
        assert!(deadline.has_passed(102.0));
        // A clock in fractional seconds, as a Worker's: the timeout comes back whole.
        assert_eq!(Deadline::after(1_763_000_000.123, 5_000).remaining_ms(1_763_000_000.123), 5_000);
        let sooner = Deadline::after(100.0, 500);
        assert_eq!(deadline.min(sooner), sooner);
        assert_eq!(sooner.min(deadline), sooner);
    }
}
