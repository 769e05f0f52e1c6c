//! What the request path does when a provider fails, while nothing of the
//! answer has reached the client: it retries the same provider (backoff
//! with jitter, the provider's `Retry-After`, and a budget per provider so
//! a failing one is not hammered), then falls back to the next model the
//! route names, through whichever provider serves it.
//!
//! `failure.rs` reads an attempt's outcome (what failed, whether a retry
//! may help, what the provider asked to wait); `budget.rs` is the retry
//! budget, `breaker.rs` the circuit breaker and `balance.rs` the load a
//! balancer reads, one each per provider ([`ProviderHealth`]), and how a
//! route picks among its deployments. The loop itself is
//! `dispatch::dispatch`.

pub mod balance;
pub mod breaker;
pub mod budget;
pub mod failure;

use std::time::Duration;

use airlock_providers::Timeouts;
use tokio::time::Instant;

pub use balance::{Balance, Load};
pub use breaker::{Breaker, BreakerPolicy, Permit};
pub use budget::RetryBudget;
pub use failure::{Failure, Trigger};

/// What the request path keeps of one provider's health.
#[derive(Debug)]
pub struct ProviderHealth {
    pub retry_budget: RetryBudget,
    pub breaker: Breaker,
    pub load: Load,
}

impl ProviderHealth {
    pub fn new(retries: &RetryPolicy, breaker: BreakerPolicy) -> Self {
        ProviderHealth {
            retry_budget: RetryBudget::new(retries.budget_percent),
            breaker: Breaker::new(breaker),
            load: Load::default(),
        }
    }
}

/// The limits on reading the answer of the call that served a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallLimits {
    /// The longest the answer's body may send nothing.
    pub idle: Duration,
    /// The route's total timeout, and when the call ends by it.
    pub total: Option<(Duration, Instant)>,
}

impl CallLimits {
    /// `timeouts`' limits on a call sent at `sent`.
    pub fn of(timeouts: &Timeouts, sent: Instant) -> Self {
        CallLimits {
            idle: timeouts.idle,
            total: timeouts.total.map(|total| (total, sent + total)),
        }
    }
}

/// The default timeouts' limits (no total, so no deadline to read).
impl Default for CallLimits {
    fn default() -> Self {
        CallLimits {
            idle: Timeouts::default().idle,
            total: None,
        }
    }
}

impl CallLimits {
    /// `timeouts`' limits on a call sent now.
    pub fn from_now(timeouts: &Timeouts) -> Self {
        CallLimits::of(timeouts, Instant::now())
    }
}

/// How failed calls are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries of one provider call after the first attempt (0: none).
    pub max_retries: u32,
    /// The first retry's delay; each next one doubles it, up to `max_delay`.
    pub base_delay: Duration,
    /// The longest wait before a retry: a provider asking to wait longer
    /// (`Retry-After`) is not retried, but fallen back from.
    pub max_delay: Duration,
    /// Retries may add at most this share of a provider's calls (20: 20%).
    pub budget_percent: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            budget_percent: 20,
        }
    }
}

impl RetryPolicy {
    /// How long to wait before retry number `retry` (0 for the first), with
    /// "full jitter" over the upper half of the exponential step, and never
    /// less than the provider asked; `None` when the provider asked for
    /// longer than `max_delay`.
    pub fn delay(&self, retry: u32, asked: Option<Duration>) -> Option<Duration> {
        if asked.is_some_and(|asked| asked > self.max_delay) {
            return None;
        }
        let step = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(retry))
            .min(self.max_delay);
        let half = step / 2;
        let jittered = half + half.mul_f64(fastrand::f64());
        Some(jittered.max(asked.unwrap_or_default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_within_bounds_and_honour_the_provider() {
        let policy = RetryPolicy::default();
        for (retry, step) in [(0, 100), (1, 200), (2, 400), (5, 2000), (30, 2000)] {
            let delay = policy.delay(retry, None).unwrap();
            let step = Duration::from_millis(step);
            assert!(delay >= step / 2 && delay <= step, "{retry}: {delay:?}");
        }
        let asked = Duration::from_millis(1500);
        assert!(policy.delay(0, Some(asked)).unwrap() >= asked);
        assert_eq!(policy.delay(0, Some(Duration::from_secs(30))), None);
    }
}
