//! Percentiles from exact samples (microseconds), sorted once at the end.

use serde_json::{Value, json};

/// Exact percentiles of `samples` (in µs), reported in milliseconds.
pub fn summary(samples: &mut [u32]) -> Value {
    if samples.is_empty() {
        return json!({ "count": 0 });
    }
    samples.sort_unstable();
    let sum: u64 = samples.iter().map(|&v| u64::from(v)).sum();
    let mean = sum as f64 / samples.len() as f64;
    json!({
        "count": samples.len(),
        "min": ms(samples[0]),
        "p50": ms(percentile(samples, 0.50)),
        "p90": ms(percentile(samples, 0.90)),
        "p99": ms(percentile(samples, 0.99)),
        "p999": ms(percentile(samples, 0.999)),
        "max": ms(samples[samples.len() - 1]),
        "mean": round3(mean / 1000.0),
    })
}

/// The nearest-rank percentile of sorted samples.
fn percentile(sorted: &[u32], q: f64) -> u32 {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(us: u32) -> f64 {
    round3(f64::from(us) / 1000.0)
}

pub fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let sorted: Vec<u32> = (1..=1000).collect();
        assert_eq!(percentile(&sorted, 0.5), 500);
        assert_eq!(percentile(&sorted, 0.99), 990);
        assert_eq!(percentile(&sorted, 0.999), 999);
        assert_eq!(percentile(&[7], 0.999), 7);
        let mut samples = vec![3000, 1000, 2000];
        let s = summary(&mut samples);
        assert_eq!(s["p50"], 2.0);
        assert_eq!(s["max"], 3.0);
        assert_eq!(s["mean"], 2.0);
    }
}
