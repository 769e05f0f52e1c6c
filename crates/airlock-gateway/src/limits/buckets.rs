//! Token buckets: the in-process counters behind rate limits.
//!
//! A bucket holds up to `capacity` tokens and refills at `capacity` per
//! `period`; a request takes its cost or is refused with the wait until it
//! could be taken. A full bucket admits exactly `capacity` at once, and
//! settling (refund or extra charge) adjusts the level afterwards. Cluster
//! mode runs the same arithmetic in Redis (`airlock-cluster`'s scripts).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The answer to one take.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u64,
    /// Whole tokens left after this take.
    pub remaining: u64,
    /// Until the bucket is full again.
    pub reset_after: Duration,
    /// Until this take could succeed (zero when allowed).
    pub retry_after: Duration,
}

struct Bucket {
    level: f64,
    updated: Instant,
}

/// Buckets are dropped once full and idle, past this many.
const PRUNE_ABOVE: usize = 100_000;

#[derive(Default)]
pub struct Buckets {
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Buckets {
    /// Takes `cost` tokens from the bucket named `name` (created full).
    /// A cost above the capacity is charged as the capacity, so a large
    /// request waits for a full bucket rather than forever.
    pub fn take(
        &self,
        name: &str,
        capacity: u64,
        period: Duration,
        cost: u64,
        now: Instant,
    ) -> Decision {
        let rate = capacity as f64 / period.as_secs_f64().max(1e-9);
        let capacity_f = capacity as f64;
        let cost = cost.min(capacity) as f64;
        let Ok(mut buckets) = self.buckets.lock() else {
            return Decision {
                allowed: true,
                limit: capacity,
                remaining: capacity,
                reset_after: Duration::ZERO,
                retry_after: Duration::ZERO,
            };
        };
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, b| {
                b.level + now.saturating_duration_since(b.updated).as_secs_f64() * rate < capacity_f
            });
        }
        let bucket = buckets.entry(name.to_string()).or_insert(Bucket {
            level: capacity_f,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.level = (bucket.level + elapsed * rate).min(capacity_f);
        bucket.updated = now;
        let allowed = bucket.level >= cost;
        let retry_after = if allowed {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((cost - bucket.level) / rate)
        };
        if allowed {
            bucket.level -= cost;
        }
        Decision {
            allowed,
            limit: capacity,
            remaining: bucket.level.max(0.0).floor() as u64,
            reset_after: Duration::from_secs_f64(((capacity_f - bucket.level) / rate).max(0.0)),
            retry_after,
        }
    }

    /// Charges (`delta > 0`) or refunds (`delta < 0`) a bucket after the fact;
    /// a charge may leave it below zero, delaying what comes next.
    pub fn adjust(&self, name: &str, capacity: u64, delta: i64) {
        if let Ok(mut buckets) = self.buckets.lock()
            && let Some(bucket) = buckets.get_mut(name)
        {
            bucket.level = (bucket.level - delta as f64).min(capacity as f64);
        }
    }
}

/// Counts requests in flight per name.
#[derive(Default)]
pub struct InFlight {
    counts: Mutex<HashMap<String, u32>>,
}

impl InFlight {
    /// Counts one more request under `name` unless `max` are already in flight.
    pub fn try_acquire(self: &std::sync::Arc<Self>, name: &str, max: u32) -> Option<InFlightGuard> {
        let mut counts = self.counts.lock().ok()?;
        let count = counts.entry(name.to_string()).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(InFlightGuard {
            owner: self.clone(),
            name: name.to_string(),
        })
    }
}

/// Releases its slot when dropped (the request, or its stream, ended).
pub struct InFlightGuard {
    owner: std::sync::Arc<InFlight>,
    name: String,
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if let Ok(mut counts) = self.owner.counts.lock()
            && let Some(count) = counts.get_mut(&self.name)
        {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn a_full_bucket_admits_exactly_its_capacity_then_refills() {
        let buckets = Buckets::default();
        let start = Instant::now();
        let admitted = (0..10)
            .filter(|_| buckets.take("k", 5, MINUTE, 1, start).allowed)
            .count();
        assert_eq!(admitted, 5);
        let refused = buckets.take("k", 5, MINUTE, 1, start);
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after, Duration::from_secs(12));
        assert!(
            buckets
                .take("k", 5, MINUTE, 1, start + Duration::from_secs(12))
                .allowed
        );
        assert!(
            !buckets
                .take("k", 5, MINUTE, 1, start + Duration::from_secs(12))
                .allowed
        );
    }

    #[test]
    fn settling_refunds_and_charges() {
        let buckets = Buckets::default();
        let now = Instant::now();
        assert_eq!(buckets.take("t", 100, MINUTE, 80, now).remaining, 20);
        buckets.adjust("t", 100, -50);
        assert_eq!(buckets.take("t", 100, MINUTE, 0, now).remaining, 70);
        buckets.adjust("t", 100, 200);
        let decision = buckets.take("t", 100, MINUTE, 1, now);
        assert!(!decision.allowed);
        assert_eq!(decision.remaining, 0);
    }

    #[test]
    fn in_flight_counts_are_released_on_drop() {
        let in_flight = Arc::new(InFlight::default());
        let first = in_flight.try_acquire("k", 2).unwrap();
        let _second = in_flight.try_acquire("k", 2).unwrap();
        assert!(in_flight.try_acquire("k", 2).is_none());
        drop(first);
        assert!(in_flight.try_acquire("k", 2).is_some());
    }
}
