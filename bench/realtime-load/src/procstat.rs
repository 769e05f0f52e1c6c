//! Process and machine counters from /proc: CPU time, resident memory,
//! open descriptors, and the kernel's socket and slab memory.

use std::fs;

use serde_json::{Value, json};

/// Clock ticks per second in /proc/*/stat (USER_HZ, 100 on Linux).
pub const TICKS_PER_SEC: f64 = 100.0;

/// One reading of a process.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcSample {
    /// utime + stime, in clock ticks.
    pub cpu_ticks: u64,
    /// stime alone (time in the kernel on the process's behalf).
    pub sys_ticks: u64,
    pub rss_kib: u64,
    pub rss_anon_kib: u64,
    pub threads: u64,
}

/// Reads `/proc/{pid}/stat` and `/proc/{pid}/status` (`pid` may be "self").
pub fn sample(pid: &str) -> Option<ProcSample> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which may hold spaces: field 3 (state)
    // is the first; utime and stime are fields 14 and 15.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some(ProcSample {
        cpu_ticks: utime + stime,
        sys_ticks: stime,
        rss_kib: kib_field(&status, "VmRSS:").unwrap_or(0),
        rss_anon_kib: kib_field(&status, "RssAnon:").unwrap_or(0),
        threads: kib_field(&status, "Threads:").unwrap_or(0),
    })
}

/// Open descriptors of a process.
pub fn fds(pid: &str) -> Option<u64> {
    Some(fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64)
}

/// The number after `name` on its line (`VmRSS:   1234 kB`).
fn kib_field(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// One reading of the machine.
#[derive(Debug, Clone, Copy, Default)]
pub struct MachineSample {
    /// All CPUs' ticks, and the busy ones (not idle or iowait).
    pub total_ticks: u64,
    pub busy_ticks: u64,
    /// Of the busy ticks: kernel (system), softirq and steal (the VM's host).
    pub system_ticks: u64,
    pub softirq_ticks: u64,
    pub steal_ticks: u64,
    pub cpus: u64,
    /// TCP sockets in use, and the kernel's TCP buffer memory (KiB).
    pub tcp_inuse: u64,
    pub tcp_mem_kib: u64,
    /// Kernel slab memory (KiB): socket, file and epoll structures live here.
    pub slab_kib: u64,
}

pub fn machine() -> MachineSample {
    let mut sample = MachineSample::default();
    if let Ok(stat) = fs::read_to_string("/proc/stat") {
        for line in stat.lines() {
            if let Some(rest) = line.strip_prefix("cpu ") {
                let values: Vec<u64> = rest
                    .split_whitespace()
                    .take(8)
                    .filter_map(|v| v.parse().ok())
                    .collect();
                if values.len() == 8 {
                    sample.total_ticks = values.iter().sum();
                    sample.busy_ticks = sample.total_ticks - values[3] - values[4];
                    sample.system_ticks = values[2];
                    sample.softirq_ticks = values[6];
                    sample.steal_ticks = values[7];
                }
            } else if line.starts_with("cpu") {
                sample.cpus += 1;
            }
        }
    }
    if let Ok(sockstat) = fs::read_to_string("/proc/net/sockstat")
        && let Some(tcp) = sockstat.lines().find_map(|l| l.strip_prefix("TCP:"))
    {
        let words: Vec<&str> = tcp.split_whitespace().collect();
        for pair in words.chunks(2) {
            if let [name, value] = pair {
                let value: u64 = value.parse().unwrap_or(0);
                match *name {
                    "inuse" => sample.tcp_inuse = value,
                    "mem" => sample.tcp_mem_kib = value * 4,
                    _ => {}
                }
            }
        }
    }
    if let Ok(meminfo) = fs::read_to_string("/proc/meminfo") {
        sample.slab_kib = kib_field(&meminfo, "Slab:").unwrap_or(0);
    }
    sample
}

/// A watched process: its readings before the sessions, at the start and
/// end of the measured window, and its peak memory in the window.
#[derive(Debug, Clone)]
pub struct Watched {
    pub name: String,
    pub pid: String,
    pub before: Option<ProcSample>,
    pub start: Option<ProcSample>,
    pub end: Option<ProcSample>,
    pub peak_rss_kib: u64,
    pub fds_before: Option<u64>,
    pub fds_end: Option<u64>,
}

impl Watched {
    pub fn new(name: &str, pid: &str) -> Self {
        Watched {
            name: name.to_string(),
            pid: pid.to_string(),
            before: None,
            start: None,
            end: None,
            peak_rss_kib: 0,
            fds_before: None,
            fds_end: None,
        }
    }

    pub fn take_before(&mut self) {
        self.before = sample(&self.pid);
        self.fds_before = fds(&self.pid);
    }

    pub fn take_start(&mut self) {
        self.start = sample(&self.pid);
        self.note_peak(self.start);
    }

    pub fn take_peak(&mut self) {
        self.note_peak(sample(&self.pid));
    }

    pub fn take_end(&mut self) {
        self.end = sample(&self.pid);
        self.note_peak(self.end);
        self.fds_end = fds(&self.pid);
    }

    fn note_peak(&mut self, sample: Option<ProcSample>) {
        if let Some(sample) = sample {
            self.peak_rss_kib = self.peak_rss_kib.max(sample.rss_kib);
        }
    }

    /// CPU cores used over the window.
    pub fn cores(&self, window_secs: f64) -> Option<f64> {
        let (start, end) = (self.start?, self.end?);
        Some(end.cpu_ticks.saturating_sub(start.cpu_ticks) as f64 / TICKS_PER_SEC / window_secs)
    }

    /// The report; `per_session_of` divides the memory growth since
    /// "before" by that many sessions.
    pub fn report(&self, window_secs: f64, per_session_of: usize) -> Value {
        let rss = |s: Option<ProcSample>| s.map(|s| s.rss_kib);
        let growth = match (self.before, self.end) {
            (Some(before), Some(end)) => Some(end.rss_kib as i64 - before.rss_kib as i64),
            _ => None,
        };
        let anon_growth = match (self.before, self.end) {
            (Some(before), Some(end)) => Some(end.rss_anon_kib as i64 - before.rss_anon_kib as i64),
            _ => None,
        };
        let per_session = growth
            .filter(|_| per_session_of > 0)
            .map(|g| crate::stats::round3(g as f64 / per_session_of as f64));
        let cpu_secs = match (self.start, self.end) {
            (Some(start), Some(end)) => {
                Some(end.cpu_ticks.saturating_sub(start.cpu_ticks) as f64 / TICKS_PER_SEC)
            }
            _ => None,
        };
        let sys_cores = match (self.start, self.end) {
            (Some(start), Some(end)) => Some(crate::stats::round3(
                end.sys_ticks.saturating_sub(start.sys_ticks) as f64 / TICKS_PER_SEC / window_secs,
            )),
            _ => None,
        };
        json!({
            "pid": self.pid,
            "cpu_cores": self.cores(window_secs).map(crate::stats::round3),
            "cpu_secs": cpu_secs,
            "cpu_sys_cores": sys_cores,
            "rss_kib_before": rss(self.before),
            "rss_kib_start": rss(self.start),
            "rss_kib_end": rss(self.end),
            "rss_kib_peak": self.peak_rss_kib,
            "rss_growth_kib": growth,
            "rss_anon_growth_kib": anon_growth,
            "rss_growth_per_session_kib": per_session,
            "threads": self.end.map(|s| s.threads),
            "fds_before": self.fds_before,
            "fds_end": self.fds_end,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = sample("self").expect("/proc/self");
        assert!(me.rss_kib > 0);
        assert!(me.threads >= 1);
        assert!(fds("self").unwrap() >= 3);
        assert_eq!(
            kib_field("Name: x\nVmRSS:\t  1234 kB\n", "VmRSS:"),
            Some(1234)
        );
        let m = machine();
        assert!(m.cpus >= 1 && m.total_ticks >= m.busy_ticks);
    }
}
