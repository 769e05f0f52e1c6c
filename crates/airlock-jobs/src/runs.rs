//! What the runner holds in memory of the jobs it is running: each job's
//! items in flight (for its bound, and to know what a shutdown
//! interrupted) and the pace of its current run (for the ETA). Everything
//! else about a job is in the store.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use airlock_store::{JobRecord, JobState};

/// One job's run in this process.
#[derive(Debug)]
struct Run {
    /// Items claimed and not yet recorded.
    in_flight: usize,
    /// When this run began: the first claim since the runner started or
    /// the job was resumed.
    started: Instant,
    /// Items recorded done or failed since then.
    ended: u64,
}

/// The runs of the jobs this runner has claimed items of.
#[derive(Debug, Default)]
pub(crate) struct Runs {
    jobs: Mutex<HashMap<String, Run>>,
}

impl Runs {
    /// The map; a panic elsewhere while it was held leaves plain counts,
    /// still usable.
    fn jobs(&self) -> MutexGuard<'_, HashMap<String, Run>> {
        self.jobs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A job's items in flight.
    pub(crate) fn in_flight(&self, job_id: &str) -> usize {
        self.jobs().get(job_id).map_or(0, |run| run.in_flight)
    }

    /// Notes `count` items of a job claimed; its run begins now if none is
    /// under way.
    pub(crate) fn claimed(&self, job_id: &str, count: usize) {
        let mut jobs = self.jobs();
        let run = jobs.entry(job_id.to_string()).or_insert_with(|| Run {
            in_flight: 0,
            started: Instant::now(),
            ended: 0,
        });
        run.in_flight += count;
    }

    /// Notes an item of a job no longer in flight; `recorded` when its
    /// outcome was stored as done or failed (it counts towards the pace).
    pub(crate) fn ended(&self, job_id: &str, recorded: bool) {
        if let Some(run) = self.jobs().get_mut(job_id) {
            run.in_flight = run.in_flight.saturating_sub(1);
            if recorded {
                run.ended += 1;
            }
        }
    }

    /// A resumed job's pace starts again (the pause is not work).
    pub(crate) fn restart(&self, job_id: &str) {
        if let Some(run) = self.jobs().get_mut(job_id) {
            run.started = Instant::now();
            run.ended = 0;
        }
    }

    /// Forgets runs with nothing in flight whose job is not `running`.
    pub(crate) fn retain_running(&self, running: &[JobRecord]) {
        self.jobs()
            .retain(|id, run| run.in_flight > 0 || running.iter().any(|job| &job.id == id));
    }

    /// The jobs with items still in flight.
    pub(crate) fn with_items_in_flight(&self) -> Vec<String> {
        self.jobs()
            .iter()
            .filter(|(_, run)| run.in_flight > 0)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Seconds until a running job's items have all ended, at the pace of
    /// its current run; `None` for a job not running, or before an item of
    /// this run has ended.
    pub(crate) fn eta_secs(&self, job: &JobRecord) -> Option<u64> {
        if job.state != JobState::Running {
            return None;
        }
        let jobs = self.jobs();
        let run = jobs.get(&job.id).filter(|run| run.ended > 0)?;
        let remaining = job.total.saturating_sub(job.done + job.failed);
        let per_item = run.started.elapsed().as_secs_f64() / run.ended as f64;
        // Float to integer saturates; a remaining count is far below 2^52.
        Some((per_item * remaining as f64).ceil() as u64)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn job(state: JobState, total: u64, done: u64, failed: u64) -> JobRecord {
        JobRecord {
            id: "job_a".into(),
            kind: "test".into(),
            project_id: None,
            state,
            stop_reason: None,
            params: json!({}),
            total,
            done,
            failed,
            spend_usd: 0.0,
            created_at_ms: 0,
            started_at_ms: Some(0),
            updated_at_ms: 0,
            finished_at_ms: None,
        }
    }

    #[test]
    fn in_flight_counts_claims_less_ended_items_per_job() {
        let runs = Runs::default();
        runs.claimed("job_a", 3);
        runs.claimed("job_b", 1);
        runs.ended("job_a", true);
        runs.ended("job_a", false);
        assert_eq!(runs.in_flight("job_a"), 1);
        assert_eq!(runs.in_flight("job_b"), 1);
        assert_eq!(runs.in_flight("job_c"), 0);
        let mut busy = runs.with_items_in_flight();
        busy.sort();
        assert_eq!(busy, ["job_a", "job_b"]);
    }

    #[test]
    fn there_is_no_eta_before_an_item_ends_nor_for_a_job_not_running() {
        let runs = Runs::default();
        runs.claimed("job_a", 2);
        assert_eq!(runs.eta_secs(&job(JobState::Running, 10, 0, 0)), None);
        runs.ended("job_a", true);
        assert!(runs.eta_secs(&job(JobState::Running, 10, 1, 0)).is_some());
        assert_eq!(runs.eta_secs(&job(JobState::Cancelled, 10, 1, 0)), None);
        assert_eq!(runs.eta_secs(&job(JobState::Completed, 10, 10, 0)), None);
        // An item put back (the job stopping) does not set the pace.
        runs.restart("job_a");
        runs.ended("job_a", false);
        assert_eq!(runs.eta_secs(&job(JobState::Running, 10, 1, 0)), None);
    }

    #[test]
    fn runs_of_jobs_no_longer_running_are_forgotten_once_nothing_is_in_flight() {
        let runs = Runs::default();
        runs.claimed("job_running", 1);
        runs.claimed("job_busy", 1);
        runs.claimed("job_idle", 1);
        runs.ended("job_running", true);
        runs.ended("job_idle", true);
        runs.retain_running(&[JobRecord {
            id: "job_running".into(),
            ..job(JobState::Running, 1, 1, 0)
        }]);
        let jobs = runs.jobs();
        let mut kept: Vec<&String> = jobs.keys().collect();
        kept.sort();
        assert_eq!(kept, ["job_busy", "job_running"]);
    }
}
