//! A circuit breaker for one origin, as the isolate sees it: after `failures` consecutive failed
//! tries the origin is not asked for `cooldown` seconds; then one request probes it (half-open),
//! and its outcome closes the circuit or opens it again.
//!
//! Like Envoy's outlier detection (per host, per proxy), this is a local view of an origin's
//! health, kept in the isolate's memory: other isolates find out for themselves. A failure is one
//! of the kinds a retry answers (unreachable, timeout, 502/503/504); any other answer is a success.
//!
//! Pure: it is told the time and what happened, and says what changed; the caller logs it.

/// A service's `circuit`, resolved.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CircuitPolicy {
    pub failures: u32,
    pub cooldown_seconds: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// Asked freely; `failures` consecutive failures so far.
    Closed { failures: u32 },
    /// Not asked until then.
    Open { until: f64 },
    /// One request is probing, since then.
    Probing { since: f64 },
}

/// Whether a request may go to the origin now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Admission {
    Send,
    /// The one request that probes the origin after its cooldown.
    Probe,
    /// The circuit is open (or another request is probing) until about then.
    Refuse {
        until: f64,
    },
}

/// A change worth a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Opened,
    Probing,
    Closed,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Opened => "opened",
            Change::Probing => "probing",
            Change::Closed => "closed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Circuit {
    state: State,
}

impl Default for Circuit {
    fn default() -> Self {
        Circuit { state: State::Closed { failures: 0 } }
    }
}

impl Circuit {
    /// Whether a request may be sent at `now`. `probe_lease` (seconds) is how long a probe may take
    /// before another request may probe instead: a probe whose request was abandoned (its client
    /// went away) must not hold the circuit half-open for ever.
    pub fn admit(&mut self, now: f64, probe_lease: f64) -> (Admission, Option<Change>) {
        match self.state {
            State::Closed { .. } => (Admission::Send, None),
            State::Open { until } if now < until => (Admission::Refuse { until }, None),
            State::Open { .. } => {
                self.state = State::Probing { since: now };
                (Admission::Probe, Some(Change::Probing))
            }
            State::Probing { since } if now < since + probe_lease => {
                (Admission::Refuse { until: since + probe_lease }, None)
            }
            State::Probing { .. } => {
                self.state = State::Probing { since: now };
                (Admission::Probe, None)
            }
        }
    }

    /// A try answered without failing.
    pub fn succeeded(&mut self) -> Option<Change> {
        match self.state {
            State::Probing { .. } => {
                self.state = State::Closed { failures: 0 };
                Some(Change::Closed)
            }
            State::Closed { .. } => {
                self.state = State::Closed { failures: 0 };
                None
            }
            // A request sent before the circuit opened: the cooldown still runs its course.
            State::Open { .. } => None,
        }
    }

    /// A try failed at `now`.
    pub fn failed(&mut self, now: f64, policy: &CircuitPolicy) -> Option<Change> {
        let open = State::Open { until: now + policy.cooldown_seconds };
        match self.state {
            State::Closed { failures } if failures + 1 >= policy.failures => {
                self.state = open;
                Some(Change::Opened)
            }
            State::Closed { failures } => {
                self.state = State::Closed { failures: failures + 1 };
                None
            }
            State::Probing { .. } => {
                self.state = open;
                Some(Change::Opened)
            }
            State::Open { .. } => None,
        }
    }

    pub fn is_open(&self) -> bool {
        !matches!(self.state, State::Closed { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: CircuitPolicy = CircuitPolicy { failures: 3, cooldown_seconds: 30.0 };
    const LEASE: f64 = 5.0;

    #[test]
    fn opens_after_consecutive_failures_only() {
        let mut circuit = Circuit::default();
        assert_eq!(circuit.failed(0.0, &POLICY), None);
        assert_eq!(circuit.failed(0.0, &POLICY), None);
        assert_eq!(circuit.succeeded(), None, "a success resets the count");
        assert_eq!(circuit.failed(1.0, &POLICY), None);
        assert_eq!(circuit.failed(1.0, &POLICY), None);
        assert_eq!(circuit.admit(1.0, LEASE), (Admission::Send, None));
        assert_eq!(circuit.failed(1.0, &POLICY), Some(Change::Opened));
        assert!(circuit.is_open());
        assert_eq!(circuit.admit(30.9, LEASE), (Admission::Refuse { until: 31.0 }, None));
    }

    #[test]
    fn one_probe_after_the_cooldown_and_its_outcome_decides() {
        let mut circuit = Circuit::default();
        let one = CircuitPolicy { failures: 1, ..POLICY };
        assert_eq!(circuit.failed(0.0, &one), Some(Change::Opened));
        assert_eq!(circuit.admit(30.0, LEASE), (Admission::Probe, Some(Change::Probing)));
        // While the probe is out, nobody else is sent.
        assert_eq!(circuit.admit(31.0, LEASE), (Admission::Refuse { until: 35.0 }, None));
        // The probe fails: open again, for a whole cooldown.
        assert_eq!(circuit.failed(32.0, &one), Some(Change::Opened));
        assert_eq!(circuit.admit(61.9, LEASE), (Admission::Refuse { until: 62.0 }, None));
        assert_eq!(circuit.admit(62.0, LEASE), (Admission::Probe, Some(Change::Probing)));
        assert_eq!(circuit.succeeded(), Some(Change::Closed));
        assert_eq!(circuit.admit(62.0, LEASE), (Admission::Send, None));
        assert!(!circuit.is_open());
    }

    #[test]
    fn an_abandoned_probe_is_replaced_after_its_lease() {
        let mut circuit = Circuit::default();
        circuit.failed(0.0, &CircuitPolicy { failures: 1, ..POLICY });
        assert_eq!(circuit.admit(30.0, LEASE).0, Admission::Probe);
        assert_eq!(circuit.admit(35.0, LEASE), (Admission::Probe, None));
    }

    #[test]
    fn a_late_answer_does_not_cut_the_cooldown_short() {
        let mut circuit = Circuit::default();
        circuit.failed(0.0, &CircuitPolicy { failures: 1, ..POLICY });
        assert_eq!(circuit.succeeded(), None);
        assert_eq!(circuit.failed(10.0, &POLICY), None);
        assert_eq!(circuit.admit(29.0, LEASE), (Admission::Refuse { until: 30.0 }, None));
    }
}
