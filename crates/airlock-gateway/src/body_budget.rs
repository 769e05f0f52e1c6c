//! The bytes of request bodies held at once across the server: a budget
//! each request's body takes from as it is read, and gives back when the
//! request no longer holds it. Twenty bodies of 19 MiB read at once would
//! otherwise hold hundreds of megabytes; over the budget a request is
//! answered 503 with `Retry-After` instead.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use metrics::{Gauge, gauge};

use crate::metrics::REQUEST_BODY_BYTES_HELD;

/// The budget: bytes held now against the most allowed.
pub(crate) struct BodyBudget {
    capacity: usize,
    held: AtomicUsize,
    held_gauge: Gauge,
}

impl BodyBudget {
    pub(crate) fn new(capacity: usize) -> Arc<Self> {
        Arc::new(BodyBudget {
            capacity,
            held: AtomicUsize::new(0),
            held_gauge: gauge!(REQUEST_BODY_BYTES_HELD),
        })
    }

    /// Takes `bytes` if they fit.
    fn take(&self, bytes: usize) -> bool {
        let taken = self
            .held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                held.checked_add(bytes)
                    .filter(|total| *total <= self.capacity)
            })
            .is_ok();
        if taken {
            self.held_gauge.increment(bytes as f64);
        }
        taken
    }

    fn give_back(&self, bytes: usize) {
        self.held.fetch_sub(bytes, Ordering::AcqRel);
        self.held_gauge.decrement(bytes as f64);
    }
}

/// What one request's body holds of the budget; shared by the body and its
/// request, and given back when both are gone.
pub(crate) struct Reservation {
    budget: Arc<BodyBudget>,
    bytes: AtomicUsize,
}

impl Reservation {
    pub(crate) fn new(budget: Arc<BodyBudget>) -> Arc<Self> {
        Arc::new(Reservation {
            budget,
            bytes: AtomicUsize::new(0),
        })
    }

    /// Holds at least `total` bytes; `false` (holding what it held) when
    /// the budget has no room for the rest.
    pub(crate) fn grow_to(&self, total: usize) -> bool {
        let held = self.bytes.load(Ordering::Acquire);
        if total <= held {
            return true;
        }
        if !self.budget.take(total - held) {
            return false;
        }
        self.bytes.store(total, Ordering::Release);
        true
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.give_back(*self.bytes.get_mut());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_share_the_budget_and_give_it_back() {
        let budget = BodyBudget::new(100);
        let first = Reservation::new(budget.clone());
        assert!(first.grow_to(60));
        assert!(first.grow_to(50), "already held");
        let second = Reservation::new(budget.clone());
        assert!(!second.grow_to(50), "60 + 50 is over 100");
        assert!(second.grow_to(40));
        drop(first);
        assert!(second.grow_to(100));
        drop(second);
        assert_eq!(budget.held.load(Ordering::Acquire), 0);
    }
}
