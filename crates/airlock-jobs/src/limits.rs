//! How much the runner does at once: [`RunnerLimits`], and a job's own,
//! lower, bound read from its settings.

use std::time::Duration;

use serde_json::Value;

/// The key of a job's settings that lowers its own concurrency: a whole
/// number of items at once, at least 1 (`{"concurrency": 2}`). It never
/// raises it above [`RunnerLimits::per_job`].
pub const PARAM_CONCURRENCY: &str = "concurrency";

/// How much the runner does at once, and how it waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunnerLimits {
    /// Items running at once across all jobs (at least 1).
    pub concurrency: usize,
    /// Items of one job running at once (at least 1); a job's settings
    /// may lower it ([`PARAM_CONCURRENCY`]).
    pub per_job: usize,
    /// How often the runner looks for work when nothing woke it (another
    /// instance's jobs, a missed wake-up).
    pub poll_interval: Duration,
    /// How long a shutdown waits for items in flight; those still running
    /// then are interrupted and run again after the next start.
    pub shutdown_grace: Duration,
}

impl Default for RunnerLimits {
    fn default() -> RunnerLimits {
        RunnerLimits {
            concurrency: 8,
            per_job: 4,
            poll_interval: Duration::from_secs(5),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

impl RunnerLimits {
    /// How many of a job's items may run at once, given its settings.
    pub(crate) fn for_job(&self, params: &Value) -> usize {
        let per_job = self.per_job.max(1);
        match params.get(PARAM_CONCURRENCY).and_then(Value::as_u64) {
            Some(asked) => usize::try_from(asked)
                .unwrap_or(usize::MAX)
                .clamp(1, per_job),
            None => per_job,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_jobs_concurrency_setting_lowers_its_bound_but_never_raises_it_or_goes_below_one() {
        let limits = RunnerLimits {
            per_job: 4,
            ..RunnerLimits::default()
        };
        assert_eq!(limits.for_job(&json!({})), 4);
        assert_eq!(limits.for_job(&json!({"concurrency": 2})), 2);
        assert_eq!(limits.for_job(&json!({"concurrency": 10})), 4);
        assert_eq!(limits.for_job(&json!({"concurrency": 0})), 1);
        assert_eq!(limits.for_job(&json!({"concurrency": "2"})), 4);
        assert_eq!(limits.for_job(&json!([1, 2])), 4);
    }

    #[test]
    fn a_per_job_bound_of_zero_still_runs_one_item_at_a_time() {
        let limits = RunnerLimits {
            per_job: 0,
            ..RunnerLimits::default()
        };
        assert_eq!(limits.for_job(&json!({})), 1);
    }
}
