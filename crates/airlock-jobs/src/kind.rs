//! What a kind of job does: the [`JobKind`] trait the runner calls once per
//! item, what it is told of the job ([`JobInfo`]) and what it answers
//! ([`ItemOutcome`]). Knows nothing of storage or scheduling.

use std::future::Future;
use std::pin::Pin;

use airlock_store::JobRecord;
use serde_json::Value;

/// A boxed future that can move between threads, as kinds return them.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a kind of job does with one item.
pub trait JobKind: Send + Sync + 'static {
    /// The kind's name, as jobs are submitted and stored with it
    /// ("pregenerate", ...).
    fn name(&self) -> &'static str;

    /// Runs one item and says how it went. Must not panic: a panic fails
    /// the item, with a reason saying so. An item whose run is interrupted
    /// (a restart, a shutdown past its grace) runs again from the start, so
    /// a run should be safe to repeat.
    fn run<'a>(&'a self, job: &'a JobInfo, item: &'a Value) -> BoxFuture<'a, ItemOutcome>;
}

/// What a kind is told of the job an item belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct JobInfo {
    pub id: String,
    /// The kind's name.
    pub kind: String,
    /// The project it runs for; `None` for the operator's own jobs.
    pub project_id: Option<String>,
    /// The kind's settings for this job, as submitted.
    pub params: Value,
}

impl From<&JobRecord> for JobInfo {
    fn from(job: &JobRecord) -> JobInfo {
        JobInfo {
            id: job.id.clone(),
            kind: job.kind.clone(),
            project_id: job.project_id.clone(),
            params: job.params.clone(),
        }
    }
}

/// How one item's run went.
#[derive(Debug, Clone, PartialEq)]
pub enum ItemOutcome {
    /// It succeeded: what it produced (small, in the kind's terms, such as
    /// a cache key) and what it spent (USD).
    Done {
        result: Option<Value>,
        spend_usd: f64,
    },
    /// It failed, for a reason a person can read, after spending this much
    /// (USD), with what the failure produced when the kind keeps it (small,
    /// in the kind's terms, such as the error answer). The job goes on with
    /// its other items.
    Failed {
        reason: String,
        result: Option<Value>,
        spend_usd: f64,
    },
    /// The whole job must stop (say, the project's budget is spent): this
    /// item goes back to pending, and the job ends `stopped` with the
    /// reason. Items already in flight finish; resuming the job runs the
    /// rest.
    StopJob { reason: String },
}

impl ItemOutcome {
    /// The outcome of an item that spends nothing: done with its result,
    /// or failed for the reason given.
    pub fn of(run: Result<Value, String>) -> ItemOutcome {
        match run {
            Ok(result) => ItemOutcome::Done {
                result: Some(result),
                spend_usd: 0.0,
            },
            Err(reason) => ItemOutcome::Failed {
                reason,
                result: None,
                spend_usd: 0.0,
            },
        }
    }
}
