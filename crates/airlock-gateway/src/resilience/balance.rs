//! Load balancing across a route's deployments (the same model behind
//! several providers: keys, base URLs, regions).
//!
//! Each provider keeps a [`Load`]: a peak-EWMA of its latency (time to an
//! answer's headers; a slower answer is taken at once, a faster one pulls
//! the average down over [`DECAY`]; a failure counts as a slow answer) and
//! its calls awaiting headers. [`choose`] picks a deployment by
//! [`Balance`]: `Weighted` draws by weight; `Latency` draws two by weight
//! and keeps the one with the lower cost (latency × (pending + 1) ÷
//! weight), the "power of two choices". A deployment whose circuit is open
//! is passed over while another is healthy.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How a route spreads its requests over its deployments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Balance {
    /// In proportion to their weights.
    Weighted,
    /// Two drawn by weight, the less loaded kept (peak-EWMA latency).
    #[default]
    Latency,
}

impl Balance {
    pub const ALL: [(&'static str, Balance); 2] = [
        ("weighted", Balance::Weighted),
        ("latency", Balance::Latency),
    ];

    pub fn parse(name: &str) -> Option<Balance> {
        Self::ALL
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, balance)| *balance)
    }
}

/// How fast an observation's weight fades: after `DECAY` it counts for
/// 1/e of what it did.
pub const DECAY: Duration = Duration::from_secs(10);

/// What a failed call counts as at least, so a provider that fails fast
/// does not look fast.
const FAILURE_PENALTY: Duration = Duration::from_secs(1);

/// One provider's load, as the balancer reads it.
#[derive(Debug)]
pub struct Load {
    latency: Mutex<Ewma>,
    pending: AtomicU32,
}

#[derive(Debug, Clone, Copy)]
struct Ewma {
    /// Nanoseconds; 0 until a call has been seen.
    nanos: f64,
    at: Instant,
}

impl Default for Load {
    fn default() -> Self {
        Load {
            latency: Mutex::new(Ewma {
                nanos: 0.0,
                at: Instant::now(),
            }),
            pending: AtomicU32::new(0),
        }
    }
}

impl Load {
    /// A call is on its way; it counts as pending until the guard drops.
    pub fn start(&self) -> Pending<'_> {
        self.pending.fetch_add(1, Ordering::Relaxed);
        Pending(self)
    }

    /// A call's answer came after `latency`.
    pub fn observe(&self, latency: Duration, now: Instant) {
        let mut ewma = self
            .latency
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let sample = latency.as_nanos() as f64;
        if sample > ewma.nanos {
            ewma.nanos = sample;
        } else {
            let elapsed = now.saturating_duration_since(ewma.at).as_secs_f64();
            let kept = (-elapsed / DECAY.as_secs_f64()).exp();
            ewma.nanos = ewma.nanos * kept + sample * (1.0 - kept);
        }
        ewma.at = now;
    }

    /// A call failed after `latency`: it counts as at least twice the
    /// average, and at least [`FAILURE_PENALTY`].
    pub fn failed(&self, latency: Duration, now: Instant) {
        let average = Duration::from_nanos(self.latency_nanos() as u64);
        let counted = latency.max(average * 2).max(FAILURE_PENALTY);
        self.observe(counted, now);
    }

    fn latency_nanos(&self) -> f64 {
        self.latency
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .nanos
    }

    /// Latency × (calls pending + 1): what one more call is expected to wait.
    pub fn cost(&self) -> f64 {
        let pending = self.pending.load(Ordering::Relaxed);
        self.latency_nanos() * f64::from(pending + 1)
    }

    /// The peak-EWMA latency, for the admin API.
    pub fn latency(&self) -> Duration {
        Duration::from_nanos(self.latency_nanos() as u64)
    }

    pub fn pending(&self) -> u32 {
        self.pending.load(Ordering::Relaxed)
    }
}

/// A pending call; dropping it says the answer's headers came (or never will).
pub struct Pending<'a>(&'a Load);

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.0.pending.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A deployment as the balancer sees it.
#[derive(Debug, Clone, Copy)]
pub struct Candidate {
    pub weight: u32,
    /// Its [`Load::cost`].
    pub cost: f64,
    /// Whether it may be called now (not tried already, circuit not open).
    pub healthy: bool,
}

/// The index of the candidate to call: among the healthy ones if any are,
/// else among all; `None` when there are none.
pub fn choose(
    balance: Balance,
    candidates: &[Candidate],
    rng: &mut fastrand::Rng,
) -> Option<usize> {
    let any_healthy = candidates.iter().any(|c| c.healthy && c.weight > 0);
    let eligible = |c: &Candidate| c.weight > 0 && (c.healthy || !any_healthy);
    let first = draw(candidates, |i, c| eligible(c).then_some(i), rng)?;
    if balance == Balance::Weighted {
        return Some(first);
    }
    let Some(second) = draw(
        candidates,
        |i, c| (i != first && eligible(c)).then_some(i),
        rng,
    ) else {
        return Some(first);
    };
    let score = |i: usize| candidates[i].cost / f64::from(candidates[i].weight);
    Some(if score(second) < score(first) {
        second
    } else {
        first
    })
}

/// One index drawn in proportion to weight among those `eligible` keeps.
fn draw(
    candidates: &[Candidate],
    eligible: impl Fn(usize, &Candidate) -> Option<usize>,
    rng: &mut fastrand::Rng,
) -> Option<usize> {
    let total: u64 = candidates
        .iter()
        .enumerate()
        .filter_map(|(i, c)| eligible(i, c).map(|_| u64::from(c.weight)))
        .sum();
    if total == 0 {
        return None;
    }
    let mut point = rng.u64(0..total);
    for (i, candidate) in candidates.iter().enumerate() {
        if eligible(i, candidate).is_none() {
            continue;
        }
        let weight = u64::from(candidate.weight);
        if point < weight {
            return Some(i);
        }
        point -= weight;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(weight: u32, cost: f64) -> Candidate {
        Candidate {
            weight,
            cost,
            healthy: true,
        }
    }

    fn counts(balance: Balance, candidates: &[Candidate], draws: usize) -> Vec<usize> {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut counts = vec![0; candidates.len()];
        for _ in 0..draws {
            counts[choose(balance, candidates, &mut rng).unwrap()] += 1;
        }
        counts
    }

    #[test]
    fn weighted_draws_follow_the_weights() {
        let counts = counts(
            Balance::Weighted,
            &[candidate(3, 0.0), candidate(1, 0.0)],
            10_000,
        );
        assert!((7_000..8_000).contains(&counts[0]), "{counts:?}");
    }

    #[test]
    fn latency_prefers_the_cheaper_of_two_and_still_samples_the_other() {
        let counts = counts(
            Balance::Latency,
            &[candidate(1, 100.0), candidate(1, 10.0), candidate(1, 50.0)],
            9_000,
        );
        // The cheapest wins every pair it is drawn into (2/3 of draws);
        // the dearest wins none.
        assert!((5_500..6_500).contains(&counts[1]), "{counts:?}");
        assert_eq!(counts[0], 0, "{counts:?}");
        assert!(counts[2] > 2_000, "{counts:?}");
    }

    #[test]
    fn unhealthy_candidates_are_passed_over_unless_all_are() {
        let mut sick = candidate(5, 0.0);
        sick.healthy = false;
        let healthy_only = counts(Balance::Latency, &[sick, candidate(1, 1e9)], 1_000);
        assert_eq!(healthy_only, [0, 1_000]);
        let mut also_sick = candidate(1, 0.0);
        also_sick.healthy = false;
        let all_sick = counts(Balance::Weighted, &[sick, also_sick], 1_000);
        assert_eq!(all_sick[0] + all_sick[1], 1_000);
        assert!(all_sick[0] > 0 && all_sick[1] > 0);
        assert_eq!(
            choose(Balance::Latency, &[], &mut fastrand::Rng::new()),
            None
        );
    }

    #[test]
    fn peak_ewma_jumps_to_a_slow_answer_and_decays_toward_fast_ones() {
        let load = Load::default();
        let start = Instant::now();
        load.observe(Duration::from_millis(100), start);
        load.observe(Duration::from_millis(500), start);
        assert_eq!(load.latency(), Duration::from_millis(500), "peaks at once");
        load.observe(Duration::from_millis(100), start + DECAY);
        let after = load.latency().as_millis();
        // 500/e + 100(1 - 1/e) ≈ 247.
        assert!((240..255).contains(&after), "{after}");
        let pending = load.start();
        assert_eq!(load.pending(), 1);
        assert!((load.cost() - 2.0 * load.latency().as_nanos() as f64).abs() < 1e3);
        drop(pending);
        assert_eq!(load.pending(), 0);
        load.failed(Duration::from_millis(1), start + DECAY);
        assert!(
            load.latency() >= Duration::from_millis(490),
            "a failure looks slow"
        );
    }
}
