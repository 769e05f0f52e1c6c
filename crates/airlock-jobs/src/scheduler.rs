//! The runner's loop: one task that moves queued jobs to running, claims
//! pending items within the bounds and runs each on a task of its own,
//! which stores the item's outcome. It looks for work when woken (a job
//! submitted or resumed, an item ended) and every `poll_interval`; on
//! shutdown it stops claiming and waits for items in flight.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use airlock_store::{JobItem, JobItemEnd, JobState, Store, StoreError};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinError, JoinHandle, JoinSet};

use crate::kind::{ItemOutcome, JobInfo, JobKind};
use crate::limits::RunnerLimits;
use crate::runs::Runs;

/// How many times an item's outcome is offered to the store before it is
/// given up (the item then stays running, and runs again after a restart).
const RECORD_ATTEMPTS: u32 = 6;
/// The wait before the second attempt; it doubles after each.
const RECORD_FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// What the runner's handle, its loop and its item tasks share.
pub(crate) struct Shared {
    pub(crate) store: Store,
    pub(crate) kinds: HashMap<&'static str, Arc<dyn JobKind>>,
    pub(crate) limits: RunnerLimits,
    /// Wakes the loop to look for work.
    pub(crate) wake: Notify,
    /// One permit per item that may run at once, across all jobs.
    pub(crate) slots: Arc<Semaphore>,
    pub(crate) runs: Runs,
    /// Set once shutdown has begun: no more claims.
    pub(crate) stopping: AtomicBool,
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        })
}

/// Runs until shutdown begins, then waits for items in flight.
pub(crate) async fn run(shared: Arc<Shared>) {
    let mut tasks = JoinSet::new();
    while !shared.stopping.load(Ordering::SeqCst) {
        while tasks.try_join_next().is_some() {}
        if let Err(error) = look_for_work(&shared, &mut tasks).await {
            tracing::warn!(%error, "job runner: cannot read jobs from the store; trying again");
        }
        tokio::select! {
            () = shared.wake.notified() => {}
            () = tokio::time::sleep(shared.limits.poll_interval) => {}
        }
    }
    drain(&shared, tasks).await;
}

/// Starts queued jobs, then claims and starts what the bounds allow of
/// each running job's pending items, oldest job first. A running job with
/// nothing pending and nothing in flight is completed.
async fn look_for_work(shared: &Arc<Shared>, tasks: &mut JoinSet<()>) -> Result<(), StoreError> {
    let store = &shared.store;
    for job in store.jobs_in_states(&[JobState::Queued]).await? {
        if shared.kinds.contains_key(job.kind.as_str()) {
            let now = now_ms();
            store
                .job_set_state(&job.id, &[JobState::Queued], JobState::Running, None, now)
                .await?;
        }
    }
    let running = store.jobs_in_states(&[JobState::Running]).await?;
    for job in &running {
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        // A job of a kind this runner does not know waits for one that does.
        let Some(kind) = shared.kinds.get(job.kind.as_str()) else {
            continue;
        };
        let in_flight = shared.runs.in_flight(&job.id);
        let room = shared.limits.for_job(&job.params).saturating_sub(in_flight);
        let permits: Vec<OwnedSemaphorePermit> = (0..room)
            .map_while(|_| shared.slots.clone().try_acquire_owned().ok())
            .collect();
        if permits.is_empty() {
            continue;
        }
        let wanted = u32::try_from(permits.len()).unwrap_or(u32::MAX);
        let items = store.job_claim_items(&job.id, wanted, now_ms()).await?;
        if items.is_empty() {
            if in_flight == 0 {
                store.job_complete_if_finished(&job.id, now_ms()).await?;
            }
            continue;
        }
        shared.runs.claimed(&job.id, items.len());
        let info = Arc::new(JobInfo::from(job));
        // Permits left over when fewer items were pending are dropped here.
        for (item, permit) in items.into_iter().zip(permits) {
            tasks.spawn(run_item(
                shared.clone(),
                kind.clone(),
                info.clone(),
                item,
                permit,
            ));
        }
    }
    shared.runs.retain_running(&running);
    Ok(())
}

/// A task's handle that aborts the task when dropped: a kind's run ends
/// with the item task that awaits it (a dropped runner, a shutdown past
/// its grace).
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(context)
    }
}

/// Runs one item on a task of its own (so a panic is caught as the task's
/// end), stores its outcome, frees its slot and wakes the loop.
async fn run_item(
    shared: Arc<Shared>,
    kind: Arc<dyn JobKind>,
    job: Arc<JobInfo>,
    item: JobItem,
    permit: OwnedSemaphorePermit,
) {
    let seq = item.seq;
    let run = {
        let job = job.clone();
        AbortOnDrop(tokio::spawn(
            async move { kind.run(&job, &item.payload).await },
        ))
    };
    let outcome = match run.await {
        Ok(outcome) => outcome,
        Err(error) if error.is_panic() => ItemOutcome::Failed {
            reason: "the job's code panicked on this item".to_string(),
            result: None,
            spend_usd: 0.0,
        },
        // Cancelled: the runtime is going away; the item runs again later.
        Err(_) => {
            shared.runs.ended(&job.id, false);
            return;
        }
    };
    let recorded = record(&shared.store, &job.id, seq, &outcome).await;
    shared.runs.ended(&job.id, recorded);
    drop(permit);
    shared.wake.notify_one();
}

/// Stores an item's outcome, trying again with a growing wait while the
/// store fails; whether it was stored as done or failed.
async fn record(store: &Store, job_id: &str, seq: u64, outcome: &ItemOutcome) -> bool {
    let mut backoff = RECORD_FIRST_BACKOFF;
    for attempt in 1..=RECORD_ATTEMPTS {
        match record_once(store, job_id, seq, outcome).await {
            Ok(recorded) => return recorded,
            Err(error) if attempt < RECORD_ATTEMPTS => {
                tracing::warn!(%error, job = job_id, seq, attempt, "job runner: cannot store an item's outcome; trying again");
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
            Err(error) => {
                tracing::error!(%error, job = job_id, seq, "job runner: cannot store an item's outcome; the item runs again after a restart");
            }
        }
    }
    false
}

async fn record_once(
    store: &Store,
    job_id: &str,
    seq: u64,
    outcome: &ItemOutcome,
) -> Result<bool, StoreError> {
    let now = now_ms();
    match outcome {
        ItemOutcome::Done { result, spend_usd } => {
            let end = JobItemEnd::Done {
                result: result.as_ref(),
            };
            store
                .job_item_finish(job_id, seq, end, spend(*spend_usd), now)
                .await
        }
        ItemOutcome::Failed {
            reason,
            result,
            spend_usd,
        } => {
            let end = JobItemEnd::Failed {
                reason,
                result: result.as_ref(),
            };
            store
                .job_item_finish(job_id, seq, end, spend(*spend_usd), now)
                .await
        }
        ItemOutcome::StopJob { reason } => {
            store.job_item_release(job_id, seq, now).await?;
            store
                .job_set_state(
                    job_id,
                    &[JobState::Running],
                    JobState::Stopped,
                    Some(reason),
                    now,
                )
                .await?;
            Ok(false)
        }
    }
}

/// A spend as counted: a kind's negative or non-finite figure counts as 0.
fn spend(spend_usd: f64) -> f64 {
    if spend_usd.is_finite() && spend_usd > 0.0 {
        spend_usd
    } else {
        0.0
    }
}

/// Waits up to the grace for items in flight; then interrupts those left
/// and puts their items back to pending.
async fn drain(shared: &Shared, mut tasks: JoinSet<()>) {
    let all_ended = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(shared.limits.shutdown_grace, all_ended)
        .await
        .is_ok()
    {
        return;
    }
    tasks.shutdown().await;
    let now = now_ms();
    for job_id in shared.runs.with_items_in_flight() {
        match shared.store.job_reset_running_items(&job_id, now).await {
            Ok(reset) => {
                tracing::info!(job = %job_id, items = reset, "job runner: items interrupted by the shutdown will run again")
            }
            Err(error) => {
                tracing::warn!(%error, job = %job_id, "job runner: cannot put interrupted items back; the next start will")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_negative_or_non_finite_spend_counts_as_nothing() {
        assert_eq!(spend(0.25), 0.25);
        assert_eq!(spend(-1.0), 0.0);
        assert_eq!(spend(f64::NAN), 0.0);
        assert_eq!(spend(f64::INFINITY), 0.0);
    }
}
