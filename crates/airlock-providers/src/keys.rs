//! The provider key pool: several keys per provider, spread round-robin.
//!
//! A key the provider rejects (401/403, or Google's API_KEY_INVALID) leaves the
//! rotation for good and is reported once; a key answered with 429 rests for
//! the provider's Retry-After while requests move on to the next key, and so
//! does one whose quota the provider says is spent inside a realtime session
//! (for [`SPENT_QUOTA_REST`]). Keys are known by their ids (`gemini#0`), which
//! are safe to log; the secrets stay in [`Secret`].

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::Secret;

/// How long a key rests when a provider said inside a realtime session that
/// its quota is spent (Gemini Live's close 1011 RESOURCE_EXHAUSTED, OpenAI
/// Realtime's `insufficient_quota`): no Retry-After comes with those, and
/// the providers' quotas are counted per minute.
pub const SPENT_QUOTA_REST: Duration = Duration::from_secs(60);

struct PoolEntry {
    id: String,
    secret: Secret,
    rejected: AtomicBool,
    /// Milliseconds since the pool's epoch until which the key rests.
    resting_until_ms: AtomicU64,
}

pub struct KeyPool {
    provider: String,
    entries: Vec<PoolEntry>,
    cursor: AtomicUsize,
    epoch: Instant,
}

/// A key picked for one attempt.
pub struct KeyLease<'a> {
    pub index: usize,
    pub id: &'a str,
    pub secret: &'a Secret,
}

/// Why no key could be picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickError {
    /// No key is left to try: every key was rejected by the provider, or
    /// already tried by this request.
    NoUsableKey,
    /// The keys not rejected are all resting (a key this request just
    /// rate-limited included); the soonest is free after this long.
    AllResting { retry_after: Duration },
}

/// A key's state as reported by health checks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyStatus {
    pub id: String,
    /// `active`, `resting` or `rejected`.
    pub state: &'static str,
    /// When a resting key is used again (Unix milliseconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resting_until_ms: Option<u64>,
}

impl KeyPool {
    /// `provider` names the keys: the i-th key's id is `{provider}#{i}`.
    pub fn new(provider: &str, secrets: Vec<Secret>) -> Self {
        let entries = secrets
            .into_iter()
            .enumerate()
            .map(|(i, secret)| PoolEntry {
                id: format!("{provider}#{i}"),
                secret,
                rejected: AtomicBool::new(false),
                resting_until_ms: AtomicU64::new(0),
            })
            .collect();
        // Expose the event counters at zero so a provider's first event shows as an increase.
        for event in ["rejected", "rate_limited"] {
            metrics::counter!("airlock_provider_key_events_total", "provider" => provider.to_string(), "event" => event)
                .absolute(0);
        }
        KeyPool {
            provider: provider.to_string(),
            entries,
            cursor: AtomicUsize::new(0),
            epoch: Instant::now(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// The next usable key in round-robin order, skipping those in `tried`.
    pub fn pick(&self, tried: &[usize]) -> Result<KeyLease<'_>, PickError> {
        let count = self.entries.len();
        if count == 0 {
            return Err(PickError::NoUsableKey);
        }
        let now = self.now_ms();
        let start = self.cursor.fetch_add(1, Ordering::Relaxed);
        let mut soonest_rest: Option<u64> = None;
        for offset in 0..count {
            let index = (start + offset) % count;
            let entry = &self.entries[index];
            if entry.rejected.load(Ordering::Relaxed) {
                continue;
            }
            let resting_until = entry.resting_until_ms.load(Ordering::Relaxed);
            if resting_until > now {
                soonest_rest = Some(soonest_rest.map_or(resting_until, |s| s.min(resting_until)));
                continue;
            }
            if tried.contains(&index) {
                continue;
            }
            return Ok(KeyLease {
                index,
                id: &entry.id,
                secret: &entry.secret,
            });
        }
        match soonest_rest {
            Some(until) => Err(PickError::AllResting {
                retry_after: Duration::from_millis(until - now),
            }),
            None => Err(PickError::NoUsableKey),
        }
    }

    /// Takes a key out of rotation; logs the first time only.
    pub fn reject(&self, index: usize, status: u16) {
        let entry = &self.entries[index];
        if !entry.rejected.swap(true, Ordering::Relaxed) {
            self.count_event("rejected");
            tracing::error!(key_id = %entry.id, status, "provider rejected a key; it is out of rotation");
        }
    }

    /// Rests a key for `retry_after`.
    pub fn rest(&self, index: usize, retry_after: Duration) {
        let until = self.now_ms() + retry_after.as_millis() as u64;
        self.entries[index]
            .resting_until_ms
            .fetch_max(until, Ordering::Relaxed);
        self.count_event("rate_limited");
        tracing::warn!(key_id = %self.entries[index].id, retry_after_ms = retry_after.as_millis() as u64, "provider rate-limited a key; resting it");
    }

    /// Rests the key known as `id` for `retry_after`; whether the pool has it.
    pub fn rest_id(&self, id: &str, retry_after: Duration) -> bool {
        let index = self.entries.iter().position(|entry| entry.id == id);
        if let Some(index) = index {
            self.rest(index, retry_after);
        }
        index.is_some()
    }

    fn count_event(&self, event: &'static str) {
        metrics::counter!("airlock_provider_key_events_total", "provider" => self.provider.clone(), "event" => event)
            .increment(1);
    }

    /// Every key's state, for readiness and metrics.
    pub fn statuses(&self) -> Vec<KeyStatus> {
        let now = self.now_ms();
        let wall_now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_millis() as u64);
        self.entries
            .iter()
            .map(|entry| {
                let resting_until = entry.resting_until_ms.load(Ordering::Relaxed);
                let (state, resting_until_ms) = if entry.rejected.load(Ordering::Relaxed) {
                    ("rejected", None)
                } else if resting_until > now {
                    ("resting", Some(wall_now + (resting_until - now)))
                } else {
                    ("active", None)
                };
                KeyStatus {
                    id: entry.id.clone(),
                    state,
                    resting_until_ms,
                }
            })
            .collect()
    }

    /// Whether any key can still be used (now or after a rest).
    pub fn has_usable_key(&self) -> bool {
        self.entries
            .iter()
            .any(|entry| !entry.rejected.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(n: usize) -> KeyPool {
        KeyPool::new("p", (0..n).map(|i| Secret::new(format!("k{i}"))).collect())
    }

    #[test]
    fn round_robins_over_keys() {
        let pool = pool(3);
        let ids: Vec<_> = (0..6)
            .map(|_| pool.pick(&[]).unwrap().id.to_string())
            .collect();
        assert_eq!(ids, ["p#0", "p#1", "p#2", "p#0", "p#1", "p#2"]);
    }

    #[test]
    fn rejected_keys_leave_the_rotation() {
        let pool = pool(2);
        pool.reject(0, 401);
        for _ in 0..4 {
            assert_eq!(pool.pick(&[]).unwrap().id, "p#1");
        }
        pool.reject(1, 403);
        assert_eq!(pool.pick(&[]).err(), Some(PickError::NoUsableKey));
        assert!(!pool.has_usable_key());
    }

    #[test]
    fn resting_keys_are_skipped_and_reported_with_the_soonest_wait() {
        let pool = pool(2);
        pool.rest(0, Duration::from_secs(30));
        assert_eq!(pool.pick(&[]).unwrap().id, "p#1");
        assert_eq!(pool.pick(&[]).unwrap().id, "p#1");
        pool.rest(1, Duration::from_secs(5));
        match pool.pick(&[]) {
            Err(PickError::AllResting { retry_after }) => {
                assert!(
                    retry_after <= Duration::from_secs(5) && retry_after > Duration::from_secs(4)
                )
            }
            _ => panic!("expected all resting"),
        }
        assert_eq!(pool.statuses()[0].state, "resting");
        let until = pool.statuses()[0]
            .resting_until_ms
            .expect("when it is used again");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        assert!(until > now, "{until} is in the future of {now}");
    }

    #[test]
    fn tried_keys_are_not_picked_again_by_the_same_request() {
        let pool = pool(2);
        let first = pool.pick(&[]).unwrap().index;
        let second = pool.pick(&[first]).unwrap().index;
        assert_ne!(first, second);
        assert_eq!(
            pool.pick(&[first, second]).err(),
            Some(PickError::NoUsableKey)
        );
    }

    #[test]
    fn keys_rate_limited_by_this_request_report_their_rest() {
        let pool = pool(2);
        let first = pool.pick(&[]).unwrap().index;
        pool.rest(first, Duration::from_secs(2));
        let second = pool.pick(&[first]).unwrap().index;
        pool.rest(second, Duration::from_secs(1));
        assert!(matches!(
            pool.pick(&[first, second]),
            Err(PickError::AllResting { .. })
        ));
    }

    #[test]
    fn keys_are_rested_by_id() {
        let pool = pool(2);
        assert!(pool.rest_id("p#0", SPENT_QUOTA_REST));
        assert!(!pool.rest_id("p#9", SPENT_QUOTA_REST));
        assert!(!pool.rest_id("q#0", SPENT_QUOTA_REST));
        for _ in 0..4 {
            assert_eq!(pool.pick(&[]).unwrap().id, "p#1");
        }
        let states: Vec<_> = pool.statuses().iter().map(|s| s.state).collect();
        assert_eq!(states, ["resting", "active"]);
    }

    #[test]
    fn an_empty_pool_has_no_key() {
        assert_eq!(pool(0).pick(&[]).err(), Some(PickError::NoUsableKey));
    }
}
