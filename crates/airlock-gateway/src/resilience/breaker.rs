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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One call is probing the provider, since then (a probe that never
    /// came back, its caller gone, is replaced after `open_for`).
    HalfOpen {
        since: Instant,
    },
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
            State::Open { until } if now >= until => {
                *state = State::HalfOpen { since: now };
                Permit::Allowed
            }
            State::HalfOpen { since } if now >= since + self.policy.open_for => {
                *state = State::HalfOpen { since: now };
                Permit::Allowed
            }
            State::Open { until } => Permit::Refused {
                retry_after: until - now,
            },
            // The probe is out: the others wait for its verdict.
            State::HalfOpen { .. } => Permit::Refused {
                retry_after: Duration::from_secs(1),
            },
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
        let opens = match *state {
            State::Closed { failures } => {
                let failures = failures + 1;
                *state = State::Closed { failures };
                self.policy.failures_to_open > 0 && failures >= self.policy.failures_to_open
            }
            State::HalfOpen { .. } => true,
            State::Open { .. } => false,
        };
        if opens {
            *state = State::Open {
                until: now + self.policy.open_for,
            };
        }
        opens
    }

    /// `closed`, `open` or `half_open`, for `/readyz`, `/metrics` and the
    /// admin API.
    pub fn state_name(&self) -> &'static str {
        match *self.state() {
            State::Closed { .. } => "closed",
            State::Open { .. } => "open",
            State::HalfOpen { .. } => "half_open",
        }
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
        assert!(breaker.failed(now), "the third in a row opens it");
        assert_eq!(breaker.state_name(), "open");
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
