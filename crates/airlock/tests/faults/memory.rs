//! The gateway's resident memory (`VmRSS` in `/proc/PID/status`), sampled
//! while a scenario's load runs and held under a generous bound.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Samples a process's resident memory (`VmRSS`) until stopped.
pub struct RssWatch {
    stop: Arc<AtomicBool>,
    sampler: std::thread::JoinHandle<u64>,
}

/// The resident memory the gateway may reach under these loads: generous
/// (it serves them in a few tens of MB), so only a leak or an unbounded
/// buffer trips it.
pub const RSS_LIMIT_MB: u64 = 200;

impl RssWatch {
    pub fn start(pid: u32) -> RssWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let sampler = std::thread::spawn(move || {
            let mut peak_kb = 0;
            while !stopped.load(Ordering::Relaxed) {
                if let Some(kb) = rss_kb(pid) {
                    peak_kb = peak_kb.max(kb);
                }
                std::thread::sleep(Duration::from_millis(25));
            }
            peak_kb
        });
        RssWatch { stop, sampler }
    }

    /// Stops sampling; asserts the peak stayed under [`RSS_LIMIT_MB`] and
    /// that something was sampled.
    pub fn assert_bounded(self, what: &str) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let peak_mb = self.sampler.join().unwrap() / 1024;
        assert!(
            peak_mb > 0,
            "{what}: the gateway's memory was never sampled"
        );
        eprintln!("{what}: the gateway peaked at {peak_mb} MB resident");
        assert!(
            peak_mb < RSS_LIMIT_MB,
            "{what}: the gateway reached {peak_mb} MB resident (limit {RSS_LIMIT_MB} MB)"
        );
        peak_mb
    }
}

/// `VmRSS` of a live process, in kB.
fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}
