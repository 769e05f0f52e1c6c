//! A retry budget per provider: each call deposits a share of a retry,
//! each retry withdraws a whole one, so retries stay within a percentage
//! of the calls (a provider that fails everything is not called many times
//! over). A small reserve lets a quiet provider retry at all.

use std::sync::atomic::{AtomicI64, Ordering};

/// Thousandths of a retry.
const ONE_RETRY: i64 = 1000;
/// What a quiet provider may retry before its calls have paid for it, and
/// the most a busy one can save up.
const RESERVE_RETRIES: i64 = 10;

#[derive(Debug)]
pub struct RetryBudget {
    /// In thousandths of a retry.
    balance: AtomicI64,
    per_call: i64,
}

impl RetryBudget {
    /// Retries up to `percent` of the calls.
    pub fn new(percent: u32) -> Self {
        RetryBudget {
            balance: AtomicI64::new(RESERVE_RETRIES * ONE_RETRY),
            per_call: i64::from(percent) * ONE_RETRY / 100,
        }
    }

    /// A first attempt was made.
    pub fn deposit(&self) {
        let _ = self
            .balance
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |balance| {
                Some((balance + self.per_call).min(RESERVE_RETRIES * ONE_RETRY))
            });
    }

    /// The retries the budget holds now (at most the reserve, ten).
    pub fn available(&self) -> f64 {
        self.balance.load(Ordering::Relaxed) as f64 / ONE_RETRY as f64
    }

    /// Takes one retry, if the budget has it.
    pub fn withdraw(&self) -> bool {
        self.balance
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |balance| {
                (balance >= ONE_RETRY).then_some(balance - ONE_RETRY)
            })
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_stay_within_their_share_of_the_calls() {
        let budget = RetryBudget::new(20);
        // The reserve first.
        assert_eq!(budget.available(), RESERVE_RETRIES as f64);
        for _ in 0..RESERVE_RETRIES {
            assert!(budget.withdraw());
        }
        assert!(!budget.withdraw());
        assert_eq!(budget.available(), 0.0);
        budget.deposit();
        assert_eq!(budget.available(), 0.2);
        // Then one retry per five calls.
        let mut retried = 0;
        for _ in 0..100 {
            budget.deposit();
            if budget.withdraw() {
                retried += 1;
            }
        }
        assert_eq!(retried, 20);
        // Savings are capped at the reserve.
        for _ in 0..10_000 {
            budget.deposit();
        }
        let mut saved = 0;
        while budget.withdraw() {
            saved += 1;
        }
        assert_eq!(saved, RESERVE_RETRIES);
        // With no share, calls pay for nothing: only the reserve is left.
        let none = RetryBudget::new(0);
        for _ in 0..1_000 {
            none.deposit();
        }
        let mut retried = 0;
        while none.withdraw() {
            retried += 1;
        }
        assert_eq!(retried, RESERVE_RETRIES);
    }
}
