//! [`JobRunner`], the runner's handle: starting it (resuming what a
//! previous run left), submitting jobs, reading their progress, cancelling,
//! resuming, and shutting down.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use airlock_store::{
    JobItem, JobItemCounts, JobItemState, JobListing, JobRecord, JobState, NewJob, Store,
    StoreError,
};
use serde_json::Value;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinHandle;

use crate::kind::JobKind;
use crate::limits::RunnerLimits;
use crate::runs::Runs;
use crate::scheduler::{self, Shared, now_ms};

/// What can go wrong submitting a job.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("no job kind is named {0:?}")]
    UnknownKind(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A job as it stands: its row (state, counts, spend, times), its items by
/// state, and when it should end.
#[derive(Debug, Clone, PartialEq)]
pub struct JobProgress {
    pub job: JobRecord,
    pub items: JobItemCounts,
    /// Seconds until every item has ended, at the pace of the items ended
    /// since this runner began (or resumed) the job; `None` when the job is
    /// not running or no item has ended yet.
    pub eta_secs: Option<u64>,
}

/// Runs stored jobs in the background. One per process over a database:
/// starting puts back to pending every item a previous run left running.
/// Dropped without [`JobRunner::shutdown`], it stops at once, its items in
/// flight interrupted (they run again after the next start).
pub struct JobRunner {
    shared: Arc<Shared>,
    /// The loop's task; taken by `shutdown`, aborted on drop.
    scheduler: Option<JoinHandle<()>>,
}

impl JobRunner {
    /// Starts the runner: puts the items of unfinished jobs left running
    /// back to pending, then resumes running jobs and starts queued ones,
    /// at most `limits.concurrency` items at once across all jobs and
    /// `limits.per_job` per job. A later kind of the same name replaces an
    /// earlier one.
    pub async fn start(
        store: Store,
        kinds: Vec<Arc<dyn JobKind>>,
        limits: RunnerLimits,
    ) -> Result<JobRunner, StoreError> {
        let unfinished = [JobState::Running, JobState::Cancelled, JobState::Stopped];
        for job in store.jobs_in_states(&unfinished).await? {
            let reset = store.job_reset_running_items(&job.id, now_ms()).await?;
            if reset > 0 {
                tracing::info!(job = %job.id, items = reset, "job runner: items interrupted by the last stop will run again");
            }
        }
        let slots = limits.concurrency.clamp(1, Semaphore::MAX_PERMITS);
        let shared = Arc::new(Shared {
            store,
            kinds: kinds
                .into_iter()
                .map(|kind| (kind.name(), kind))
                .collect::<HashMap<_, _>>(),
            limits,
            wake: Notify::new(),
            slots: Arc::new(Semaphore::new(slots)),
            runs: Runs::default(),
            stopping: AtomicBool::new(false),
        });
        let scheduler = tokio::spawn(scheduler::run(shared.clone()));
        Ok(JobRunner {
            shared,
            scheduler: Some(scheduler),
        })
    }

    /// Stores a job of `kind` with its items, queued, and wakes the runner.
    /// `params` are the kind's settings; its [`crate::PARAM_CONCURRENCY`]
    /// may lower the job's bound. A kind the runner was not started with
    /// is refused.
    pub async fn submit(
        &self,
        kind: &str,
        project_id: Option<&str>,
        params: Value,
        items: &[Value],
    ) -> Result<JobProgress, JobError> {
        if !self.shared.kinds.contains_key(kind) {
            return Err(JobError::UnknownKind(kind.to_string()));
        }
        let job = NewJob {
            id: format!("job_{}", uuid::Uuid::now_v7().simple()),
            kind: kind.to_string(),
            project_id: project_id.map(str::to_string),
            params,
        };
        let job = self.shared.store.job_create(&job, items, now_ms()).await?;
        self.shared.wake.notify_one();
        Ok(JobProgress {
            items: JobItemCounts {
                pending: job.total,
                ..JobItemCounts::default()
            },
            eta_secs: None,
            job,
        })
    }

    /// The store jobs are kept in.
    pub(crate) fn store(&self) -> &Store {
        &self.shared.store
    }

    /// A job's progress, `None` when there is no such job.
    pub async fn get(&self, id: &str) -> Result<Option<JobProgress>, StoreError> {
        match self.shared.store.job_get(id).await? {
            Some(job) => Ok(Some(self.progress(job).await?)),
            None => Ok(None),
        }
    }

    /// The jobs a listing names with their progress, newest first.
    pub async fn list(&self, listing: &JobListing<'_>) -> Result<Vec<JobProgress>, StoreError> {
        let jobs = self.shared.store.job_list(listing).await?;
        let mut listed = Vec::with_capacity(jobs.len());
        for job in jobs {
            listed.push(self.progress(job).await?);
        }
        Ok(listed)
    }

    /// A job's items in order, only those in `state` when one is named
    /// (say, the failed ones with their reasons), `limit` of them after
    /// skipping `offset`.
    pub async fn items(
        &self,
        id: &str,
        state: Option<JobItemState>,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<JobItem>, StoreError> {
        self.shared.store.job_items(id, state, limit, offset).await
    }

    /// Cancels a queued or running job: no new item of it starts, items in
    /// flight finish and are recorded, pending items stay pending (resume
    /// runs them). A job that has ended is left as it is. `None` when there
    /// is no such job.
    pub async fn cancel(&self, id: &str) -> Result<Option<JobProgress>, StoreError> {
        let from = [JobState::Queued, JobState::Running];
        self.shared
            .store
            .job_set_state(id, &from, JobState::Cancelled, None, now_ms())
            .await?;
        self.get(id).await
    }

    /// Cancels a job, then deletes it with its items; items still in
    /// flight finish unrecorded. `false` when there was no such job.
    pub async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        self.cancel(id).await?;
        self.shared.store.job_delete(id).await
    }

    /// Runs a cancelled or stopped job again from its pending items (failed
    /// items stay failed); any other job is left as it is. `None` when
    /// there is no such job.
    pub async fn resume(&self, id: &str) -> Result<Option<JobProgress>, StoreError> {
        let from = [JobState::Cancelled, JobState::Stopped];
        let resumed = self
            .shared
            .store
            .job_set_state(id, &from, JobState::Running, None, now_ms())
            .await?;
        if resumed.is_some() {
            self.shared.runs.restart(id);
            self.shared.wake.notify_one();
        }
        self.get(id).await
    }

    /// Stops taking items and waits for those in flight, up to the limits'
    /// `shutdown_grace`; items still running then are interrupted and put
    /// back to pending. Jobs stay as they are, to resume at the next start.
    pub async fn shutdown(mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.shared.wake.notify_one();
        if let Some(scheduler) = self.scheduler.take()
            && let Err(error) = scheduler.await
        {
            tracing::error!(%error, "job runner: the loop ended abnormally");
        }
    }

    async fn progress(&self, job: JobRecord) -> Result<JobProgress, StoreError> {
        let items = self.shared.store.job_item_counts(&job.id).await?;
        let eta_secs = self.shared.runs.eta_secs(&job);
        Ok(JobProgress {
            job,
            items,
            eta_secs,
        })
    }
}

impl Drop for JobRunner {
    fn drop(&mut self) {
        if let Some(scheduler) = self.scheduler.take() {
            scheduler.abort();
        }
    }
}
