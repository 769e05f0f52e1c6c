//! Recurring jobs: a [`Schedule`] (a kind, whose it is, every how long and
//! at which offset from midnight UTC) says when a job is due, from the jobs
//! already stored: a period's job is the one whose settings name that
//! period's start ([`PARAM_PERIOD_MS`]), so a restart never runs a period
//! twice, and a period missed while nothing ran is run once at the next
//! look, not once per missed period. [`JobRunner::submit_due`] submits
//! what is due; the caller decides how often to look.

use std::time::Duration;

use airlock_store::{JobListing, StoreError};
use serde_json::Value;

use crate::runner::{JobError, JobProgress, JobRunner};

/// The job setting naming the start of the period a scheduled job is for
/// (milliseconds since the Unix epoch).
pub const PARAM_PERIOD_MS: &str = "period_ms";

/// When a kind of job recurs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// The kind's name.
    pub kind: &'static str,
    /// Whose jobs: a project's, or the operator's own (`None`).
    pub project_id: Option<String>,
    /// How often (at least a minute).
    pub every: Duration,
    /// Where periods start, from midnight UTC (`02:00` → two hours).
    pub offset: Duration,
}

/// A period that is due: its start, and the previous scheduled job's
/// (where an incremental job goes on from).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub period_ms: i64,
    pub previous_ms: Option<i64>,
}

impl Schedule {
    /// The start of the period `now_ms` falls in.
    pub fn period_start(&self, now_ms: i64) -> i64 {
        let every = i64::try_from(self.every.as_millis().max(60_000)).unwrap_or(i64::MAX);
        let offset = i64::try_from(self.offset.as_millis()).unwrap_or(0) % every;
        (now_ms - offset).div_euclid(every) * every + offset
    }
}

impl JobRunner {
    /// Whether `schedule`'s current period at `now_ms` has no job yet.
    pub async fn due(&self, schedule: &Schedule, now_ms: i64) -> Result<Option<Due>, StoreError> {
        let period_ms = schedule.period_start(now_ms);
        let listing = JobListing {
            kind: Some(schedule.kind),
            owner: Some(schedule.project_id.as_deref()),
            before: None,
            limit: 500,
        };
        let previous_ms = self
            .store()
            .job_list(&listing)
            .await?
            .iter()
            .filter_map(|job| job.params.get(PARAM_PERIOD_MS).and_then(Value::as_i64))
            .max();
        match previous_ms {
            Some(previous) if previous >= period_ms => Ok(None),
            _ => Ok(Some(Due {
                period_ms,
                previous_ms,
            })),
        }
    }

    /// Submits `schedule`'s job for the current period at `now_ms` when it
    /// is due, its settings and items made by `make` (the period's start is
    /// added to the settings); the job, when one was submitted.
    pub async fn submit_due(
        &self,
        schedule: &Schedule,
        now_ms: i64,
        make: impl FnOnce(Due) -> (Value, Vec<Value>),
    ) -> Result<Option<JobProgress>, JobError> {
        let Some(due) = self.due(schedule, now_ms).await? else {
            return Ok(None);
        };
        let (mut params, items) = make(due);
        if let Some(params) = params.as_object_mut() {
            params.insert(PARAM_PERIOD_MS.into(), due.period_ms.into());
        }
        let job = self
            .submit(
                schedule.kind,
                schedule.project_id.as_deref(),
                params,
                &items,
            )
            .await?;
        Ok(Some(job))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR_MS: i64 = 3_600_000;
    const DAY_MS: i64 = 24 * HOUR_MS;

    fn nightly_at(hours: u64) -> Schedule {
        Schedule {
            kind: "export",
            project_id: None,
            every: Duration::from_secs(24 * 3600),
            offset: Duration::from_secs(hours * 3600),
        }
    }

    #[test]
    fn a_period_starts_at_the_offset_from_midnight_and_lasts_its_length() {
        let at_two = nightly_at(2);
        let day = 20_000 * DAY_MS;
        assert_eq!(at_two.period_start(day + 2 * HOUR_MS), day + 2 * HOUR_MS);
        assert_eq!(at_two.period_start(day + 5 * HOUR_MS), day + 2 * HOUR_MS);
        // Before two in the morning, the period began yesterday.
        assert_eq!(
            at_two.period_start(day + HOUR_MS),
            day - DAY_MS + 2 * HOUR_MS
        );
        let hourly = Schedule {
            every: Duration::from_secs(3600),
            offset: Duration::ZERO,
            ..at_two
        };
        assert_eq!(hourly.period_start(day + 90 * 60_000), day + HOUR_MS);
    }

    #[test]
    fn a_schedule_shorter_than_a_minute_runs_each_minute() {
        let eager = Schedule {
            every: Duration::from_secs(1),
            offset: Duration::ZERO,
            ..nightly_at(0)
        };
        assert_eq!(eager.period_start(90_000), 60_000);
    }
}
