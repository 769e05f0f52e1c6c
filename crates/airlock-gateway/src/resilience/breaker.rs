//! A circuit breaker per provider: after `failures_to_open` failures in a
//! row (errors and timeouts; a rate limit or a client's mistake is the
//! provider answering, and resets the count) the
//! provider is not called for `open_for`; then one call probes it (half
//! open): a success closes the circuit, a failure opens it again. While
//! it is open a request falls back at once, or is refused with 503 and
//! `Retry-After`, instead of waiting on a provider that is down.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// When a circuit opens, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerPolicy {
    /// Failures in a row that open it (0: never).
    pub failures_to_open: u32,
    pub open_for: Duration,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        BreakerPolicy {
            failures_to_open: 5,
            open_for: Duration::from_secs(10),
        }
    }
}

/// Each state keeps the failures in a row so far (those that opened the
/// circuit, and any since).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
        failures: u32,
    },
    /// One call is probing the provider, since then (a probe that never
    /// came back, its caller gone, is replaced after `open_for`).
    HalfOpen {
        since: Instant,
        failures: u32,
    },
}

/// A breaker's state at one moment, read without changing it (the admin
/// API's view).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSnapshot {
    /// `closed`, `open` or `half_open`.
    pub state: &'static str,
    /// Failed calls in a row: counting towards opening it while closed,
    /// those that opened it (and any since) otherwise.
    pub consecutive_failures: u32,
    /// While open, how long until a call may probe the provider (zero: the
    /// next call does).
    pub probe_in: Option<Duration>,
}

/// Whether a call may go to the provider now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    Allowed,
    /// The circuit is open for this much longer.
    Refused {
        retry_after: Duration,
    },
}

#[derive(Debug)]
pub struct Breaker {
    policy: BreakerPolicy,
    state: Mutex<State>,
}

impl Breaker {
    pub fn new(policy: BreakerPolicy) -> Self {
        Breaker {
            policy,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether a call may go now; the first call after the open time is
    /// the probe.
    pub fn permit(&self, now: Instant) -> Permit {
        let mut state = self.state();
        match *state {
            State::Closed { .. } => Permit::Allowed,
            State::Open { until, failures } if now >= until => {
                *state = State::HalfOpen {
                    since: now,
                    failures,
                };
                Permit::Allowed
            }
            State::HalfOpen { since, failures } if now >= since + self.policy.open_for => {
                *state = State::HalfOpen {
                    since: now,
                    failures,
                };
                Permit::Allowed
            }
            State::Open { until, .. } => Permit::Refused {
                retry_after: until - now,
            },
            // The probe is out: the others wait for its verdict.
            State::HalfOpen { .. } => Permit::Refused {
                retry_after: Duration::from_secs(1),
            },
        }
    }

    /// Whether a call now would be refused (without taking the probe).
    pub fn refuses(&self, now: Instant) -> bool {
        match *self.state() {
            State::Closed { .. } => false,
            State::Open { until, .. } => now < until,
            State::HalfOpen { since, .. } => now < since + self.policy.open_for,
        }
    }

    /// A call succeeded (or failed for a reason of the client's own);
    /// returns whether this closed an open circuit.
    pub fn succeeded(&self) -> bool {
        let mut state = self.state();
        let was_open = !matches!(*state, State::Closed { .. });
        *state = State::Closed { failures: 0 };
        was_open
    }

    /// A call failed; returns whether this opened the circuit.
    pub fn failed(&self, now: Instant) -> bool {
        let mut state = self.state();
        let (failures, opens) = match *state {
            State::Closed { failures } => {
                let failures = failures.saturating_add(1);
                let opens =
                    self.policy.failures_to_open > 0 && failures >= self.policy.failures_to_open;
                (failures, opens)
            }
            State::HalfOpen { failures, .. } => (failures.saturating_add(1), true),
            State::Open { until, failures } => {
                // A call that was under way when the circuit opened.
                *state = State::Open {
                    until,
                    failures: failures.saturating_add(1),
                };
                return false;
            }
        };
        *state = if opens {
            State::Open {
                until: now + self.policy.open_for,
                failures,
            }
        } else {
            State::Closed { failures }
        };
        opens
    }

    /// The state at `now`, as it is: reading it lets no probe through.
    pub fn snapshot(&self, now: Instant) -> BreakerSnapshot {
        match *self.state() {
            State::Closed { failures } => BreakerSnapshot {
                state: "closed",
                consecutive_failures: failures,
                probe_in: None,
            },
            State::Open { until, failures } => BreakerSnapshot {
                state: "open",
                consecutive_failures: failures,
                probe_in: Some(until.saturating_duration_since(now)),
            },
            State::HalfOpen { failures, .. } => BreakerSnapshot {
                state: "half_open",
                consecutive_failures: failures,
                probe_in: None,
            },
        }
    }

    /// `closed`, `open` or `half_open`, for `/readyz`, `/metrics` and the
    /// admin API.
    pub fn state_name(&self) -> &'static str {
        self.snapshot(Instant::now()).state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> BreakerPolicy {
        BreakerPolicy {
            failures_to_open: 3,
            open_for: Duration::from_secs(10),
        }
    }

    #[test]
    fn opens_after_failures_in_a_row_and_a_success_resets_the_count() {
        let breaker = Breaker::new(policy());
        let now = Instant::now();
        assert!(!breaker.failed(now));
        assert!(!breaker.failed(now));
        breaker.succeeded();
        assert!(!breaker.failed(now));
        assert!(!breaker.failed(now));
        assert_eq!(breaker.permit(now), Permit::Allowed);
        assert!(!breaker.refuses(now));
        assert!(breaker.failed(now), "the third in a row opens it");
        assert_eq!(breaker.state_name(), "open");
        assert!(breaker.refuses(now));
        assert!(!breaker.refuses(now + policy().open_for));
        assert_eq!(
            breaker.permit(now + Duration::from_secs(4)),
            Permit::Refused {
                retry_after: Duration::from_secs(6)
            }
        );
    }

    #[test]
    fn after_the_open_time_one_probe_decides() {
        let breaker = Breaker::new(policy());
        let now = Instant::now();
        for _ in 0..3 {
            breaker.failed(now);
        }
        let later = now + Duration::from_secs(10);
        assert_eq!(breaker.permit(later), Permit::Allowed, "the probe");
        assert_eq!(breaker.state_name(), "half_open");
        assert!(
            matches!(breaker.permit(later), Permit::Refused { .. }),
            "only one probe"
        );
        assert!(breaker.failed(later), "a failed probe opens it again");
        assert!(matches!(breaker.permit(later), Permit::Refused { .. }));
        let again = later + Duration::from_secs(10);
        assert_eq!(breaker.permit(again), Permit::Allowed);
        assert!(breaker.succeeded(), "the probe's success closes it");
        assert_eq!(breaker.state_name(), "closed");
        assert!(!breaker.succeeded());
        assert_eq!(breaker.permit(again), Permit::Allowed);
    }

    #[test]
    fn a_probe_that_never_comes_back_is_replaced() {
        let breaker = Breaker::new(policy());
        let now = Instant::now();
        for _ in 0..3 {
            breaker.failed(now);
        }
        let probe = now + Duration::from_secs(10);
        assert_eq!(breaker.permit(probe), Permit::Allowed);
        // Its caller went away: no verdict ever comes.
        assert!(matches!(
            breaker.permit(probe + Duration::from_secs(9)),
            Permit::Refused { .. }
        ));
        assert_eq!(
            breaker.permit(probe + Duration::from_secs(10)),
            Permit::Allowed
        );
    }

    #[test]
    fn a_snapshot_reads_the_state_without_moving_it() {
        let breaker = Breaker::new(policy());
        let now = Instant::now();
        let snapshot = |at| breaker.snapshot(at);
        assert_eq!(
            snapshot(now),
            BreakerSnapshot {
                state: "closed",
                consecutive_failures: 0,
                probe_in: None
            }
        );
        breaker.failed(now);
        breaker.failed(now);
        assert_eq!(snapshot(now).consecutive_failures, 2);
        assert_eq!(snapshot(now).state, "closed");
        breaker.failed(now);
        let later = now + Duration::from_secs(4);
        assert_eq!(
            snapshot(later),
            BreakerSnapshot {
                state: "open",
                consecutive_failures: 3,
                probe_in: Some(Duration::from_secs(6))
            }
        );
        // Past the open time, a snapshot says a probe may go, and lets none
        // through itself: the next call is still the probe.
        let due = now + Duration::from_secs(12);
        assert_eq!(snapshot(due).probe_in, Some(Duration::ZERO));
        assert_eq!(snapshot(due).state, "open");
        assert_eq!(breaker.permit(due), Permit::Allowed, "the probe");
        assert_eq!(
            snapshot(due),
            BreakerSnapshot {
                state: "half_open",
                consecutive_failures: 3,
                probe_in: None
            }
        );
        breaker.failed(due);
        assert_eq!(snapshot(due).consecutive_failures, 4);
        assert_eq!(snapshot(due).state, "open");
        breaker.succeeded();
        assert_eq!(snapshot(due).consecutive_failures, 0);
        assert_eq!(snapshot(due).state, "closed");
    }

    #[test]
    fn a_policy_of_zero_never_opens() {
        let breaker = Breaker::new(BreakerPolicy {
            failures_to_open: 0,
            open_for: Duration::from_secs(10),
        });
        for _ in 0..100 {
            assert!(!breaker.failed(Instant::now()));
        }
        assert_eq!(breaker.state_name(), "closed");
    }
}
